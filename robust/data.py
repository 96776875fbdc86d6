"""The real image data behind an artifact or a command line: any name of core's image-dataset registry.

``mnist`` is built into core; MedMNIST flags (``pneumoniamnist``...) are registered by the medical domain
through the ``condensekit.image_datasets`` entry point (:mod:`condensekit.core.vision.datasets`), so robust
imports no other domain.
"""

from __future__ import annotations

import os
from typing import Any

from condensekit.core.vision import ImageSplits
from condensekit.core.vision.datasets import load_image_dataset
from condensekit.core.vision.imageset import load_source_data

__all__ = ["load_image_data", "data_for_card"]


def load_image_data(
    name: str, *, root: str | os.PathLike[str] | None = None, size: int = 28, seed: int = 0
) -> ImageSplits:
    """``"mnist"`` or a MedMNIST flag (``"pneumoniamnist"``) as :class:`ImageSplits`; unknown names raise
    ``ValueError`` listing the valid ones."""
    return load_image_dataset(name, root=root, size=size, seed=seed)


def data_for_card(card: dict[str, Any], *, root: str | os.PathLike[str] | None = None) -> ImageSplits:
    """The real data an image artifact was condensed from (its card's ``source``), split as it was (the card's split
    seed; :func:`~condensekit.core.vision.imageset.load_source_data`, which refuses data that does not match)."""
    return load_source_data(card, root=root)
