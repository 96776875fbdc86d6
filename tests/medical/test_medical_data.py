import numpy as np
import pytest
import torch

from condensekit.medical.data import FLAGS_2D, load_medmnist


def _write(root, flag, *, n=(12, 4, 6), shape=(28, 28), labels=2, cols=1, size=28, drop=None, dtype=np.uint8):
    folder = root / "medmnist"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {}
    for split, k in zip(("train", "val", "test"), n, strict=True):
        arrays[f"{split}_images"] = rng.integers(0, 256, (k, *shape)).astype(dtype)
        arrays[f"{split}_labels"] = rng.integers(0, labels, (k, cols)).astype(np.uint8)
    if drop:
        arrays.pop(drop)
    name = f"{flag}.npz" if size == 28 else f"{flag}_{size}.npz"
    np.savez(folder / name, **arrays)
    return arrays


def test_flags_are_the_2d_ones():
    assert "pneumoniamnist" in FLAGS_2D and "chestmnist" in FLAGS_2D
    assert not any(f.endswith("3d") for f in FLAGS_2D)


def test_binary_grey_normalised_per_channel(tmp_path):
    arrays = _write(tmp_path, "breastmnist")
    d = load_medmnist("breastmnist", tmp_path)
    assert d.x_train.shape == (12, 1, 28, 28) and d.y_train.dtype == torch.int64 and d.task == "binary-class"
    assert torch.allclose(d.x_train.mean(), torch.tensor(0.0), atol=1e-4)
    back = d.denormalise(d.x_test) * 255
    assert torch.allclose(back.squeeze(1), torch.from_numpy(arrays["test_images"]).float(), atol=1e-2)


def test_rgb_ordinal_and_other_size(tmp_path):
    _write(tmp_path, "retinamnist", shape=(64, 64, 3), labels=5, size=64)
    d = load_medmnist("retinamnist", tmp_path, size=64)
    assert d.x_train.shape == (12, 3, 64, 64) and len(d.mean) == 3
    assert d.task == "ordinal-regression" and d.num_classes == 5 and d.y_train.dim() == 1


def test_multilabel_chest(tmp_path):
    _write(tmp_path, "chestmnist", cols=14)
    d = load_medmnist("chestmnist", tmp_path)
    assert d.multilabel and d.y_train.shape == (12, 14) and d.y_train.dtype == torch.float32


def test_unknown_flag_lists_valid():
    with pytest.raises(ValueError, match="pneumoniamnist"):
        load_medmnist("nosuchmnist")


def test_missing_size_without_download(tmp_path):
    _write(tmp_path, "breastmnist")
    with pytest.raises(FileNotFoundError, match="breastmnist.npz"):
        load_medmnist("breastmnist", tmp_path, size=64)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"drop": "val_labels"}, "lacks the keys"),
        ({"shape": (28, 27)}, "shape"),
        ({"dtype": np.float32}, "dtype"),
        ({"labels": 7}, "range"),
    ],
)
def test_corrupt_npz(tmp_path, kwargs, match):
    _write(tmp_path, "breastmnist", **kwargs)
    with pytest.raises(ValueError, match=match):
        load_medmnist("breastmnist", tmp_path)


def test_not_an_npz(tmp_path):
    (tmp_path / "medmnist").mkdir()
    (tmp_path / "medmnist" / "breastmnist.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ValueError, match="not a readable npz"):
        load_medmnist("breastmnist", tmp_path)


@pytest.mark.real_data
def test_real_pneumonia():
    d = load_medmnist("pneumoniamnist")
    assert d.x_train.shape == (4708, 1, 28, 28) and d.x_test.shape[0] == 624


@pytest.mark.parametrize("n", [(0, 4, 6), (12, 0, 6), (12, 4, 0)])
def test_empty_split_named(tmp_path, n):
    # An empty training split used to surface as "x_val contains NaN" (normalised by an empty mean); an empty
    # validation or test split loaded and failed only when a model was selected or scored on it.
    _write(tmp_path, "breastmnist", n=n)
    split = ("train", "val", "test")[n.index(0)]
    with pytest.raises(ValueError, match=f"{split}_images has no images"):
        load_medmnist("breastmnist", tmp_path)


def test_failed_download_is_a_clear_error(tmp_path, monkeypatch):
    import medmnist.dataset

    def offline(self):
        raise RuntimeError("Automatic download failed! Please download breastmnist.npz manually.")

    monkeypatch.setattr(medmnist.dataset.MedMNIST, "download", offline)
    with pytest.raises(FileNotFoundError, match="could not be downloaded.*download breastmnist.npz manually"):
        load_medmnist("breastmnist", tmp_path, download=True)


def test_a_file_that_is_no_zip_archive_says_so(tmp_path):
    # np.load took a file that is not a zip archive for a pickle: "This file contains pickled (object) data"
    (tmp_path / "medmnist").mkdir()
    (tmp_path / "medmnist" / "breastmnist.npz").write_bytes(b"<html>not found</html>" * 8)
    with pytest.raises(ValueError, match=r"not a readable npz file \(not a zip archive") as err:
        load_medmnist("breastmnist", tmp_path)
    assert "pickle" not in str(err.value)


def test_a_damaged_compressed_member_is_a_clear_error(tmp_path):
    # the official files are compressed (savez_compressed): bytes damaged inside a member raised zlib.error out of
    # np.load, a traceback with exit status 1 on the command line, where a truncated file gave a clear error
    import zipfile

    arrays = _write(tmp_path, "breastmnist")
    path = tmp_path / "medmnist" / "breastmnist.npz"
    np.savez_compressed(path, **arrays)
    raw = bytearray(path.read_bytes())
    info = zipfile.ZipFile(path).getinfo("train_images.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 20  # inside the deflated data
    raw[start : start + 64] = bytes(b ^ 0xFF for b in raw[start : start + 64])
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"breastmnist.npz' is not a readable npz file \(.*\); fetch it again"):
        load_medmnist("breastmnist", tmp_path)
