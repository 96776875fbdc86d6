"""MedMNIST v2 (Yang et al., Scientific Data 2023) 2D subsets, offline, as :class:`ImageSplits`.

Every 2D flag of ``medmnist.INFO`` works (the table gives the task, channels and label names): the loader
reads ``<root>/medmnist/{flag}.npz`` (28×28) or ``{flag}_{size}.npz`` (64, 128, 224) with the official
``{train,val,test}_{images,labels}`` keys and keeps the official splits. Images are scaled to [0, 1] and
normalised per channel with the training split's mean and standard deviation.

Tasks, handled explicitly:

* ``multi-class`` and ``binary-class``: int64 labels N, cross-entropy (binary as 2 classes).
* ``multi-label, binary-class`` (ChestMNIST): float labels N×L in {0, 1}, binary cross-entropy per label.
* ``ordinal-regression`` (RetinaMNIST, grades 0–4): int64 labels N, trained as 5-class classification with
  cross-entropy and scored with medmnist's ordinal ACC/AUC (argmax accuracy, one-vs-rest AUC), exactly as
  MedMNIST v2's own baselines do; the ordinal order of the grades is not used by the loss.

Nothing is downloaded unless ``download=True`` (then medmnist's own downloader fetches the file).
"""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch
from medmnist import INFO

from condensekit.core.data import resolve_root
from condensekit.core.vision.splits import ImageSplits

FLAGS_2D: tuple[str, ...] = tuple(sorted(k for k in INFO if not k.endswith("3d")))
SIZES = (28, 64, 128, 224)
SPLITS = ("train", "val", "test")


def medmnist_info(flag: str) -> dict:
    """``medmnist.INFO[flag]`` for a 2D flag; unknown flags raise ``ValueError`` listing the valid ones."""
    if not isinstance(flag, str):  # an ImageSplits passed by mistake printed as ~10,000 characters of tensors
        raise ValueError(
            f"Invalid value of type {type(flag).__name__} for argument flag. Valid values are the 2D flag names "
            f"{{{', '.join(FLAGS_2D)}}}"
        )
    key = flag.lower()
    if key not in FLAGS_2D:
        raise ValueError(f"Unknown value {flag!r} for argument flag. Valid values are {{{', '.join(FLAGS_2D)}}}")
    return INFO[key]


def npz_path(flag: str, root: str | os.PathLike[str] | None = None, *, size: int = 28) -> Path:
    """``<root>/medmnist/{flag}.npz`` (size 28) or ``{flag}_{size}.npz``."""
    medmnist_info(flag)
    if size not in SIZES:
        raise ValueError(f"Invalid value {size!r} for argument size. Valid values are {set(SIZES)}")
    name = f"{flag.lower()}.npz" if size == 28 else f"{flag.lower()}_{size}.npz"
    return resolve_root(root) / "medmnist" / name


def _download(flag: str, folder: Path, size: int) -> None:
    import medmnist

    folder.mkdir(parents=True, exist_ok=True)
    cls = getattr(medmnist, INFO[flag]["python_class"])
    try:
        cls(split="train", root=str(folder), download=True, size=size)
    except RuntimeError as err:  # medmnist's downloader reports every failure (offline, bad MD5) this way
        raise FileNotFoundError(
            f"MedMNIST file for flag {flag!r}, size {size} could not be downloaded to {str(folder)!r}: "
            f"{' '.join(str(err).split())}"
        ) from err


def _read(path: Path, flag: str, size: int) -> dict[str, np.ndarray]:
    info = INFO[flag]
    channels, n_labels = info["n_channels"], len(info["label"])
    if not zipfile.is_zipfile(path):  # else np.load takes it for a pickle: "contains pickled (object) data"
        raise ValueError(f"{str(path)!r} is not a readable npz file (not a zip archive: truncated or another format); "
                         "fetch it again")  # fmt: skip
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError) as err:  # zlib: a damaged compressed member
        raise ValueError(f"{str(path)!r} is not a readable npz file ({err}); fetch it again") from err
    want = [f"{s}_{kind}" for s in SPLITS for kind in ("images", "labels")]
    missing = [k for k in want if k not in arrays]
    if missing:
        raise ValueError(f"{str(path)!r} lacks the keys {missing}; a MedMNIST npz has {want}")
    img_shape = (size, size) if channels == 1 else (size, size, channels)
    label_cols = n_labels if info["task"] == "multi-label, binary-class" else 1
    for s in SPLITS:
        x, y = arrays[f"{s}_images"], arrays[f"{s}_labels"]
        if x.ndim == 0 or x.shape[0] == 0:
            raise ValueError(f"{str(path)!r}: {s}_images has no images; a MedMNIST npz has every split non-empty")
        if x.dtype != np.uint8:
            raise ValueError(f"{str(path)!r}: {s}_images has dtype {x.dtype}; expected uint8")
        if x.shape[1:] != img_shape:
            want_shape = ", ".join(map(str, img_shape))
            raise ValueError(f"{str(path)!r}: {s}_images has shape {x.shape}; expected (N, {want_shape})")
        if y.ndim != 2 or y.shape != (x.shape[0], label_cols):
            raise ValueError(f"{str(path)!r}: {s}_labels has shape {y.shape}; expected ({x.shape[0]}, {label_cols})")
        if not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"{str(path)!r}: {s}_labels has dtype {y.dtype}; expected an integer dtype")
        hi = 1 if label_cols > 1 else n_labels - 1
        if y.size and (y.min() < 0 or y.max() > hi):
            raise ValueError(f"{str(path)!r}: {s}_labels range over [{y.min()}, {y.max()}]; expected [0, {hi}]")
    return arrays


def load_medmnist(
    flag: str, root: str | os.PathLike[str] | None = None, *, size: int = 28, download: bool = False
) -> ImageSplits:
    """One MedMNIST 2D subset as :class:`ImageSplits` (see the module docstring for the task handling).

    Args:
        flag: a 2D flag of ``medmnist.INFO`` (``pneumoniamnist``, ``breastmnist``, ``chestmnist``...).
        root: the data root (see :func:`condensekit.core.data.resolve_root`); files live in ``<root>/medmnist``.
        size: image side (28, 64, 128 or 224).
        download: fetch a missing file with medmnist's downloader (otherwise a missing file is an error).
    """
    info = medmnist_info(flag)
    key = flag.lower()
    path = npz_path(key, root, size=size)
    if not path.exists():
        if not download:
            present = sorted(p.name for p in path.parent.glob(f"{key}*.npz")) if path.parent.exists() else []
            raise FileNotFoundError(
                f"MedMNIST file {str(path)!r} (flag {key!r}, size {size}) not found; present for this flag: "
                f"{present or 'none'}. Put the official npz there or pass download=True (--download)"
            )
        _download(key, path.parent, size)
    arrays = _read(path, key, size)
    task = info["task"]
    multilabel = task == "multi-label, binary-class"

    def images(s: str) -> torch.Tensor:
        x = torch.from_numpy(arrays[f"{s}_images"].copy()).float().div_(255)
        return x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2).contiguous()

    def labels(s: str) -> torch.Tensor:
        y = torch.from_numpy(arrays[f"{s}_labels"].astype(np.int64))
        return y.float() if multilabel else y.reshape(-1)

    raw = {s: images(s) for s in SPLITS}
    # Rounded before use, so the card's constants denormalise exactly what was normalised.
    mean = raw["train"].mean(dim=(0, 2, 3)).double().round(decimals=6).float()
    std = raw["train"].std(dim=(0, 2, 3)).clamp_min(1e-6).double().round(decimals=6).float()

    def norm(x: torch.Tensor) -> torch.Tensor:
        return (x - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)

    return ImageSplits(
        name=key,
        x_train=norm(raw["train"]), y_train=labels("train"),
        x_val=norm(raw["val"]), y_val=labels("val"),
        x_test=norm(raw["test"]), y_test=labels("test"),
        num_classes=len(info["label"]), task=task,
        mean=tuple(float(m) for m in mean), std=tuple(float(s) for s in std),
        info={"source": str(path), "size": size, "labels": dict(info["label"]),
              "n_samples": {s: int(raw[s].shape[0]) for s in SPLITS}},
    )  # fmt: skip
