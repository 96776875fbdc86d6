"""Real datasets the privacy commands can load by name (an artifact's ``source.dataset``, ``--dataset``), in a
normalisation that does not come from the private data.

Names resolve in core's image-dataset registry (:mod:`condensekit.core.vision.datasets`): ``mnist`` is built
in, and other image domains add theirs through the ``condensekit.image_datasets`` entry point.

Normalisation. A loader may normalise with statistics of the training split (the MedMNIST loader does). For a
private method those statistics are private: a released set stored as ``(x - mean) / std`` with its card's
``source.mean`` / ``source.std`` would publish them unprotected (the mean moves by up to 1/n when one record
changes), and PSG's per-sample gradients, taken on normalised images, would each depend on every record. So
the privacy domain reads every dataset in constants fixed in code (:func:`public_normalisation`): MNIST's
published ones (:data:`PUBLIC_NORMALISATION`), else 0.5 / 0.5 per channel; :func:`load_private_dataset` returns
that view and :func:`~condensekit.privacy.base.condense_private` refuses data in any other.
"""

from __future__ import annotations

import os

from condensekit.core.vision import ImageSplits
from condensekit.core.vision.datasets import image_dataset_names, load_image_dataset
from condensekit.core.vision.mnist import MNIST_MEAN, MNIST_STD

__all__ = [
    "PUBLIC_NORMALISATION",
    "load_private_dataset",
    "private_dataset_names",
    "public_constants",
    "public_normalisation",
]

#: Datasets whose normalisation constants are fixed in code (published, not computed at load time): name →
#: (mean, std). Every other dataset is read with 0.5 / 0.5 per channel.
PUBLIC_NORMALISATION: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "mnist": ((MNIST_MEAN,), (MNIST_STD,)),
}


def public_constants(data: ImageSplits) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The (mean, std) the privacy domain uses for ``data``: :data:`PUBLIC_NORMALISATION`, else 0.5 / 0.5."""
    c = data.channels
    return PUBLIC_NORMALISATION.get(data.name.lower(), ((0.5,) * c, (0.5,) * c))


def public_normalisation(data: ImageSplits) -> ImageSplits:
    """``data`` in the privacy domain's constants (:func:`public_constants`)."""
    return data.renormalised(*public_constants(data))


def load_private_dataset(name: str, root: str | os.PathLike[str] | None = None, *, seed: int = 0) -> ImageSplits:
    """The dataset registered as ``name`` read from ``root`` (default: the data root), in
    :func:`public_normalisation`; ``seed``: the seed of a split the loader draws (MNIST's validation hold-out; an
    artifact's is :func:`~condensekit.core.vision.imageset.source_split_seed` of its card)."""
    return public_normalisation(load_image_dataset(name, root=root, seed=seed))


def private_dataset_names() -> list[str]:
    """The names ``load_private_dataset`` accepts."""
    return image_dataset_names()
