"""The image entry points refuse what a notebook user may pass by mistake, before any training, by name."""

import pytest
import torch

from condensekit.core.vision import ImageTrainConfig, evaluate_image_set
from condensekit.core.vision.methods import condense_images
from condensekit.core.vision.train import check_image_set
from tests.core.vision.conftest import make_tiny_images

FAST = ImageTrainConfig(epochs=1)


def test_a_dataset_name_instead_of_loaded_data_is_refused() -> None:
    with pytest.raises(ValueError, match=r"Invalid value 'mnist' for argument data. Valid values are ImageSplits"):
        condense_images("mnist", "random", ipc=1, domain="test", progress=False)  # type: ignore[arg-type]
    x, y = torch.zeros(2, 1, 8, 8), torch.tensor([0, 1])
    with pytest.raises(ValueError, match="a ndarray for argument data"):
        evaluate_image_set(x, y, x.numpy(), config=FAST)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        (torch.zeros(4, 1, 8, 8), torch.tensor([0.0, 1.0, 0.0, 1.0]), r"float32; 'tiny' needs N integer class"),
        (torch.zeros(4, 1, 8, 8).numpy(), torch.tensor([0, 1, 0, 1]), "argument x: a ndarray"),
        (torch.zeros(4, 1, 8, 8), torch.tensor([0, 1, 0, 1]).numpy(), "argument y: a ndarray"),
        (torch.zeros(4, 1, 32, 32), torch.tensor([0, 1, 0, 1]), r"condensed images are \(4, 1, 32, 32\).*N×1×8×8"),
        (torch.full((4, 1, 8, 8), float("nan")), torch.tensor([0, 1, 0, 1]), "NaN or inf"),
        (torch.zeros(4, 1, 8, 8), torch.tensor([0, 1, 0, 7]), r"labels in \[0, 7\]; valid labels are 0 .. 1"),
        (torch.zeros(0, 1, 8, 8), torch.zeros(0, dtype=torch.long), "holds no image"),
        (torch.zeros(4, 1, 8, 8), torch.tensor([0, 1]), "4 images but y has 2"),
    ],
)
def test_a_bad_set_is_refused_before_training(x, y, message) -> None:
    data = make_tiny_images()
    with pytest.raises(ValueError, match=message):
        evaluate_image_set(x, y, data, runs=1, config=FAST)


def test_valid_sets_pass() -> None:
    data = make_tiny_images()
    x = data.x_train[:4]
    check_image_set(x, data.y_train[:4], data)
    check_image_set(x, torch.softmax(torch.randn(4, 2), 1), data)  # soft labels
    check_image_set(x, torch.zeros(4, 5), data, labels=False)  # a custom loss reads its own targets
    res = evaluate_image_set(x, data.y_train[:4], data, runs=1, config=FAST)
    assert len(res["acc"].values) == 1
