import pytest
import torch

from condensekit.core.artifact import save_artifact
from condensekit.core.vision import CondensedImages, ImageSplits, image_source
from tests.core.vision.conftest import make_tiny_images


def _card(data: ImageSplits) -> dict:
    return {"domain": "medical", "method": "random", "config": {}, "source": image_source(data), "budget": 4, "seed": 0}


def _data() -> ImageSplits:
    x = torch.randn(6, 1, 8, 8)
    y = torch.tensor([0, 1, 0, 1, 0, 1])
    return ImageSplits("toy", x, y, x, y, x, y, num_classes=2)


def test_round_trip_keeps_tensors_lr_and_source(tmp_path):
    data = _data()
    ci = CondensedImages(data.x_train[:4], data.y_train[:4], _card(data), lr=torch.tensor(0.01))
    ci.save(tmp_path / "a")
    back = CondensedImages.load(tmp_path / "a")
    assert torch.equal(back.x, ci.x) and torch.equal(back.y, ci.y)
    assert float(back.lr) == pytest.approx(0.01)
    assert back.card["task"] == "image_classification" and back.card["source"]["im_size"] == [8, 8]
    with pytest.raises(ValueError, match="'privacy' artifact"):
        CondensedImages.load(tmp_path / "a", domain="privacy")


def test_non_image_artifacts_are_refused(tmp_path):
    save_artifact(tmp_path / "g", {"x": torch.zeros(3, 4), "y": torch.zeros(3)}, {
        "domain": "graph", "task": "node_classification", "method": "gcond", "config": {},
        "source": {"dataset": "cora"}, "budget": 3, "seed": 0})  # fmt: skip
    with pytest.raises(ValueError, match="'graph' 'node_classification' set; `robust audit` needs an"):
        CondensedImages.load(tmp_path / "g", purpose="`robust audit`")


def test_renormalised_keeps_the_pixels_and_refuses_a_bad_constant():
    data = make_tiny_images(channels=3)
    again = data.renormalised(data.mean, data.std)
    assert again is data
    other = data.renormalised((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    assert (other.mean, other.std) == ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    for split in ("train", "val", "test"):
        x0, x1 = getattr(data, f"x_{split}"), getattr(other, f"x_{split}")
        assert torch.allclose(other.denormalise(x1), data.denormalise(x0), atol=1e-6)
    with pytest.raises(ValueError, match="one value per channel"):
        data.renormalised((0.5,), (0.5,))
    with pytest.raises(ValueError, match="std > 0"):
        data.renormalised((0.5,) * 3, (0.5, 0.0, 0.5))
