"""One registry of image datasets by name, shared by every image domain.

An artifact's card names its real data (``source.dataset``), and commands take ``--dataset``; both resolve
here, so no domain reads another domain's loader. MNIST is built in; other datasets come from the
``condensekit.image_datasets`` entry-point group, each entry a ``register(registry)`` callable that adds its
names (the medical domain registers every 2D MedMNIST flag). Plug-ins are loaded the first time a name is
not found, so asking for ``"mnist"`` imports no domain.

A loader is called as ``loader(root, size=size, seed=seed)`` and returns :class:`ImageSplits`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib.metadata import entry_points

from condensekit.core.registry import Registry
from condensekit.core.vision.mnist import load_mnist
from condensekit.core.vision.splits import ImageSplits

__all__ = ["IMAGE_DATASETS", "ImageLoader", "image_dataset_names", "load_image_dataset"]

ImageLoader = Callable[..., ImageSplits]
PLUGIN_GROUP = "condensekit.image_datasets"

IMAGE_DATASETS: Registry[ImageLoader] = Registry("dataset")
_plugins_loaded = False


def _mnist(root: str | os.PathLike[str] | None = None, *, size: int = 28, seed: int = 0) -> ImageSplits:
    if size != 28:
        raise ValueError(f"Invalid value {size!r} for argument size. MNIST images are 28×28: valid values are {{28}}")
    return load_mnist(root, seed=seed)


IMAGE_DATASETS.register("mnist", _mnist)


def _load_plugins() -> None:
    """Let every installed ``condensekit.image_datasets`` entry point register its datasets (once)."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        ep.load()(IMAGE_DATASETS)


def image_dataset_names() -> list[str]:
    """Every dataset name the installed domains provide (``mnist`` and, with the medical domain, the 2D
    MedMNIST flags)."""
    _load_plugins()
    return IMAGE_DATASETS.names()


def load_image_dataset(
    name: str, *, root: str | os.PathLike[str] | None = None, size: int = 28, seed: int = 0
) -> ImageSplits:
    """The image dataset registered as ``name`` (case-insensitive) as :class:`ImageSplits`.

    Args:
        name: ``"mnist"`` or a name an installed domain registers (``"pneumoniamnist"``).
        root: the data root (see :func:`condensekit.core.data.resolve_root`).
        size: image side, for datasets stored at several sizes (MedMNIST: 28, 64, 128, 224).
        seed: the seed of a split the loader draws itself (MNIST's validation split).

    Raises:
        ValueError: an unknown name (the message lists the valid ones) or a size the dataset lacks.
    """
    if str(name).lower() not in IMAGE_DATASETS:
        _load_plugins()
    return IMAGE_DATASETS.get(name)(root, size=size, seed=seed)
