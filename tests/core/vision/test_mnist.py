import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from condensekit.core.vision import load_mnist


def _write_idx(path: Path, magic: int, arr: np.ndarray) -> None:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + arr.astype(np.uint8).tobytes())


def test_truncated_or_missing_files_are_named(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_mnist(tmp_path)
    _write_idx(raw / "train-images-idx3-ubyte.gz", 2051, np.zeros((10, 28, 28)))
    with pytest.raises(ValueError, match="truncated"):
        load_mnist(tmp_path)
    with pytest.raises(ValueError, match="argument val_size"):
        load_mnist(tmp_path, val_size=-1)


@pytest.mark.real_data
def test_real_mnist_splits():
    root = os.environ.get("CONDENSEKIT_DATA")
    if not root or not (Path(root) / "MNIST" / "raw").exists():
        pytest.skip("MNIST not under CONDENSEKIT_DATA")
    data = load_mnist(val_size=5000)
    assert data.x_train.shape == (55000, 1, 28, 28) and data.x_test.shape == (10000, 1, 28, 28)
    assert data.x_val.shape[0] == 5000
    counts = torch.bincount(data.y_val, minlength=10)
    assert int(counts.min()) >= 450  # stratified: every digit has about 500
    raw_mean = float(data.denormalise(data.x_train[:1000]).mean())
    assert 0.1 < raw_mean < 0.16


@pytest.mark.parametrize("val_size", [100.5, True, 60000])
def test_val_size_is_an_integer_below_the_training_set(tmp_path, val_size):
    """100.5 passed the range check and failed later while slicing the per-class counts; True held out one image."""
    with pytest.raises(ValueError, match=rf"Invalid value {val_size!r} for argument val_size"):
        load_mnist(tmp_path, val_size=val_size)


@pytest.mark.parametrize("damage", ["cut", "flip", "not_gzip"])
def test_a_damaged_gz_file_is_named(tmp_path, damage):
    # a download cut short (or damaged) raised EOFError / zlib.error / gzip.BadGzipFile out of gzip: a traceback with
    # exit status 1 on the command line (`privacy condense --dataset mnist`), not the clear error of a short file
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    path = raw / "train-images-idx3-ubyte.gz"
    _write_idx(path, 2051, np.random.default_rng(0).integers(0, 256, (50, 28, 28)))
    blob = bytearray(path.read_bytes())
    if damage == "cut":
        blob = blob[: len(blob) // 2]
    elif damage == "flip":
        blob[40:80] = bytes(b ^ 0xFF for b in blob[40:80])
    else:
        blob[:2] = b"PK"
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz.* could not be read .*; fetch it again"):
        load_mnist(tmp_path)
