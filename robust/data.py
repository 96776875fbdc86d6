"""The real image data behind an artifact or a command line: MNIST, or a MedMNIST flag.

MNIST comes from :func:`condensekit.core.vision.load_mnist`; MedMNIST flags (``pneumoniamnist``...) from
the medical domain's public loader, imported only when asked for, so robust runs without it for MNIST.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from condensekit.core.vision import ImageSplits, load_mnist

__all__ = ["load_image_data", "data_for_card"]


def load_image_data(
    name: str, *, root: str | os.PathLike[str] | None = None, size: int = 28, seed: int = 0
) -> ImageSplits:
    """``"mnist"`` or a MedMNIST flag (``"pneumoniamnist"``) as :class:`ImageSplits`."""
    key = str(name).lower()
    if key == "mnist":
        if size != 28:
            raise ValueError(f"Invalid value {size!r} for argument size. MNIST images are 28×28")
        return load_mnist(root, seed=seed)
    if not key.endswith("mnist"):
        raise ValueError(f"Unknown dataset {name!r}. Valid values are mnist or a MedMNIST flag (e.g. pneumoniamnist)")
    try:
        medical: Any = importlib.import_module("condensekit.medical")
        loader = medical.load_medmnist
    except (ImportError, AttributeError) as err:
        raise ValueError(
            f"dataset {name!r} needs the medical domain's MedMNIST loader (condensekit.medical.load_medmnist), "
            "which this installation lacks"
        ) from err
    return loader(key, root=root, size=size)


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
