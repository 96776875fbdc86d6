"""Real datasets the privacy commands can load by name (an artifact's ``source.dataset``, ``--dataset``).

Names resolve in core's image-dataset registry (:mod:`condensekit.core.vision.datasets`): ``mnist`` is built
in, and other image domains add theirs through the ``condensekit.image_datasets`` entry point.
"""

from __future__ import annotations

import os

from condensekit.core.vision import ImageSplits
from condensekit.core.vision.datasets import image_dataset_names, load_image_dataset

__all__ = ["load_private_dataset", "private_dataset_names"]


def load_private_dataset(name: str, root: str | os.PathLike[str] | None = None) -> ImageSplits:
    """The dataset registered as ``name`` read from ``root`` (default: the data root)."""
    return load_image_dataset(name, root=root)


def private_dataset_names() -> list[str]:
    """The names ``load_private_dataset`` accepts."""
    return image_dataset_names()
