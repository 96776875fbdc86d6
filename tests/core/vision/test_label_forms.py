"""Single-label targets as an npz may hold them (N×1, int32, uint8) become the documented int64 N: they failed in the
loss ("expected target dtype to be Long", "0D or 1D target tensor expected") while the checks let them through."""

from dataclasses import replace

import pytest
import torch

from condensekit.core.vision.train import ImageTrainConfig, evaluate_image_set
from tests.core.vision.conftest import make_tiny_images

FAST = ImageTrainConfig(epochs=5, batch_size=8, val_every=1)


@pytest.mark.parametrize("form", ["n1", "int32", "uint8"])
def test_image_splits_hold_int64_n_labels(form) -> None:
    data = make_tiny_images()
    conv = {"n1": lambda y: y.reshape(-1, 1), "int32": lambda y: y.int(), "uint8": lambda y: y.to(torch.uint8)}[form]
    odd = replace(data, **{f"y_{s}": conv(getattr(data, f"y_{s}")) for s in ("train", "val", "test")})
    for s in ("train", "val", "test"):
        y = getattr(odd, f"y_{s}")
        assert y.dtype == torch.int64 and y.dim() == 1
        assert torch.equal(y, getattr(data, f"y_{s}"))


def test_int64_n_labels_are_kept_as_the_same_tensor() -> None:
    data = make_tiny_images()
    again = replace(data)
    assert again.y_train is data.y_train


@pytest.mark.parametrize("form", ["n1", "int32"])
def test_evaluate_image_set_takes_n1_and_int32_class_indices(form) -> None:
    data = make_tiny_images()
    x, y = data.x_train[:6], data.y_train[:6]
    odd = y.reshape(-1, 1) if form == "n1" else y.int()
    want = evaluate_image_set(x, y, data, runs=1, config=FAST)
    got = evaluate_image_set(x, odd, data, runs=1, config=FAST)
    assert got["acc"].values == want["acc"].values
