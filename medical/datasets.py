"""The medical domain's entry in core's image-dataset registry (entry point ``condensekit.image_datasets``).

Every 2D MedMNIST flag becomes a dataset name, so an artifact condensed from ``pneumoniamnist`` can be audited
or evaluated by any image domain through :func:`condensekit.core.vision.datasets.load_image_dataset` without
importing this package by name. MedMNIST's splits are the official ones, so the ``seed`` argument of the
registry's loader protocol is not used.
"""

from __future__ import annotations

import os
from functools import partial

from condensekit.core.registry import Registry
from condensekit.core.vision import ImageSplits
from condensekit.medical.data import FLAGS_2D, load_medmnist

__all__ = ["register_image_datasets"]


def _load(flag: str, root: str | os.PathLike[str] | None = None, *, size: int = 28, seed: int = 0) -> ImageSplits:
    del seed  # MedMNIST ships its own train/val/test split
    return load_medmnist(flag, root, size=size)


def register_image_datasets(registry: Registry) -> None:
    """Register a loader for every 2D flag of ``medmnist.INFO`` in ``registry``."""
    for flag in FLAGS_2D:
        if flag not in registry:
            registry.register(flag, partial(_load, flag))
