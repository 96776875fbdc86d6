"""MNIST from the four official IDX files, offline.

Reads ``<root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`` (torchvision's layout; the
``.gz`` files are read directly, no extraction). The last official split is kept as the test set; a
seeded, stratified ``val_size`` images of the 60,000 training images become the validation split.
Images are scaled to [0, 1] and normalised with the usual MNIST constants (0.1307, 0.3081).
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np
import torch

from condensekit.core.data import resolve_root
from condensekit.core.registry import check_int
from condensekit.core.vision.splits import ImageSplits

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
_FILES = {
    "train_images": ("train-images-idx3-ubyte", 2051, (60000, 28, 28)),
    "train_labels": ("train-labels-idx1-ubyte", 2049, (60000,)),
    "test_images": ("t10k-images-idx3-ubyte", 2051, (10000, 28, 28)),
    "test_labels": ("t10k-labels-idx1-ubyte", 2049, (10000,)),
}


def _read_idx(folder: Path, stem: str, magic: int, shape: tuple[int, ...]) -> np.ndarray:
    for path, opener in ((folder / f"{stem}.gz", gzip.open), (folder / stem, open)):
        if path.exists():
            try:
                with opener(path, "rb") as fh:
                    raw = fh.read()
            except (EOFError, zlib.error, gzip.BadGzipFile) as err:  # a download cut short or damaged
                raise ValueError(f"{str(path)!r} could not be read ({err}); fetch it again") from err
            break
    else:
        raise FileNotFoundError(
            f"MNIST file {stem}[.gz] not found in {str(folder)!r}; put the four official files in <root>/MNIST/raw/"
        )
    got_magic = int.from_bytes(raw[:4], "big")
    if got_magic != magic:
        raise ValueError(f"{path}: IDX magic {got_magic}, expected {magic}; the file is not {stem}")
    header = 4 + 4 * len(shape)
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(len(shape)))
    if dims != shape or len(raw) != header + int(np.prod(shape)):
        raise ValueError(f"{path}: shape {dims} with {len(raw)} bytes, expected {shape}; the file is truncated")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def load_mnist(root: str | os.PathLike[str] | None = None, *, val_size: int = 5000, seed: int = 0) -> ImageSplits:
    """MNIST as :class:`ImageSplits` (1×28×28, 10 classes).

    Args:
        root: the data root (see :func:`condensekit.core.data.resolve_root`).
        val_size: training images held out for validation (stratified, seeded); 0 keeps all 60,000 for
            training and validates on nothing (``x_val`` is empty).
        seed: the split's seed.
    """
    check_int("val_size", val_size, 0)
    if val_size >= 60000:
        raise ValueError(f"Invalid value {val_size!r} for argument val_size. Valid values are integers in [0, 60000)")
    folder = resolve_root(root) / "MNIST" / "raw"
    arrays = {key: _read_idx(folder, *spec) for key, spec in _FILES.items()}
    x = torch.from_numpy(arrays["train_images"].copy()).float().div_(255).sub_(MNIST_MEAN).div_(MNIST_STD)
    y = torch.from_numpy(arrays["train_labels"].astype(np.int64))
    xt = torch.from_numpy(arrays["test_images"].copy()).float().div_(255).sub_(MNIST_MEAN).div_(MNIST_STD)
    yt = torch.from_numpy(arrays["test_labels"].astype(np.int64))
    gen = torch.Generator().manual_seed(seed)
    val_mask = torch.zeros(60000, dtype=torch.bool)
    if val_size:
        counts = torch.bincount(y, minlength=10)
        per_class = (counts.double() * val_size / 60000).floor().long()
        per_class[: val_size - int(per_class.sum())] += 1
        for c in range(10):
            members = (y == c).nonzero(as_tuple=True)[0]
            val_mask[members[torch.randperm(members.numel(), generator=gen)[: int(per_class[c])]]] = True
    return ImageSplits(
        name="mnist",
        x_train=x[~val_mask].unsqueeze(1), y_train=y[~val_mask],
        x_val=x[val_mask].unsqueeze(1), y_val=y[val_mask],
        x_test=xt.unsqueeze(1), y_test=yt,
        num_classes=10, task="multi-class", mean=(MNIST_MEAN,), std=(MNIST_STD,),
        info={"source": str(folder), "val_size": val_size, "split_seed": seed},
    )  # fmt: skip
