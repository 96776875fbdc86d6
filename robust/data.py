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

__all__ = ["load_image_data", "data_for_card"]


def load_image_data(
    name: str, *, root: str | os.PathLike[str] | None = None, size: int = 28, seed: int = 0
) -> ImageSplits:
    """``"mnist"`` or a MedMNIST flag (``"pneumoniamnist"``) as :class:`ImageSplits`; unknown names raise
    ``ValueError`` listing the valid ones."""
    return load_image_dataset(name, root=root, size=size, seed=seed)


def data_for_card(card: dict[str, Any], *, root: str | os.PathLike[str] | None = None) -> ImageSplits:
    """The real data an image artifact was condensed from (its card's ``source``)."""
    src = card.get("source") or {}
    size = int((src.get("im_size") or [28])[0])
    data = load_image_data(str(src.get("dataset")), root=root, size=size)
    want = [src.get("channels"), *(src.get("im_size") or [])]
    have = [data.channels, *data.im_size]
    if want != have:
        raise ValueError(
            f"the artifact's images are {want} (channels, H, W) but the real {src.get('dataset')!r} data "
            f"loads as {have}; pass the data root it was condensed from"
        )
    if src.get("num_classes") not in (None, data.num_classes):
        raise ValueError(f"the artifact has {src.get('num_classes')} classes, the real data {data.num_classes}")
    return data
