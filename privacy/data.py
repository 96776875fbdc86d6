"""Real datasets the privacy commands can load by name (an artifact's ``source.dataset``, ``--dataset``).

MNIST is built in; another image domain registers its loader (a zero-argument-or-``root`` callable returning
:class:`~condensekit.core.vision.ImageSplits`) with ``PRIVATE_DATASETS.register(name, loader)``.
"""

from __future__ import annotations

from collections.abc import Callable

from condensekit.core.registry import Registry
from condensekit.core.vision import ImageSplits, load_mnist

PRIVATE_DATASETS: Registry[Callable[..., ImageSplits]] = Registry("dataset")
PRIVATE_DATASETS.register("mnist", load_mnist)


def load_private_dataset(name: str, root: str | None = None) -> ImageSplits:
    """The dataset registered as ``name`` read from ``root`` (default: the data root)."""
    return PRIVATE_DATASETS.get(name)(root)
