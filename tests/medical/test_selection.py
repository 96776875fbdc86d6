from dataclasses import replace

import pytest
import torch

from condensekit.core.vision.experts import ExpertConfig, generate_experts
from condensekit.core.vision.train import ImageTrainConfig
from condensekit.medical.condense import condense_medical
from condensekit.medical.evaluate import validation_selector
from tests.core.vision.conftest import make_tiny_images

FAST = ImageTrainConfig(epochs=3, val_every=1, batch_size=8)


def test_selector_scores_on_validation_reproducibly():
    data = make_tiny_images()
    score = validation_selector(data, FAST, model="mlp")
    tensors = {"x": data.x_train[:4], "y": data.y_train[:4]}
    s = score(tensors)
    assert 0.0 <= s <= 1.0 and s == score(tensors)  # same seeds every call: a set's score is reproducible


def test_selection_trains_with_the_learned_lr_and_scores_validation(monkeypatch):
    import condensekit.medical.evaluate as ev

    seen = []
    real = ev.evaluate_image_set

    def spy(x, y, splits, **kw):
        assert splits.x_test is data.x_val and splits.y_test is data.y_val  # scored on validation, never test
        seen.append(kw["config"].lr)
        return real(x, y, splits, **kw)

    monkeypatch.setattr(ev, "evaluate_image_set", spy)
    data = make_tiny_images()
    score = validation_selector(data, FAST, model="mlp")
    score({"x": data.x_train[:4], "y": data.y_train[:4], "lr": torch.tensor(0.037)})
    score({"x": data.x_train[:4], "y": data.y_train[:4]})
    assert seen == [pytest.approx(0.037), FAST.lr]


def test_condense_medical_keeps_the_validation_best_set(tmp_path, monkeypatch):
    import condensekit.medical.profiles as profiles

    data = make_tiny_images()
    buf = generate_experts(data, tmp_path / "buf", ExpertConfig(num_experts=2, epochs=2, model="mlp"))
    cpu = profiles.PROFILES.get("cpu")
    monkeypatch.setitem(profiles.PROFILES._items, "cpu", replace(cpu, evaluation=FAST))
    small = {"iterations": 5, "syn_steps": 2, "expert_epochs": 1, "max_start_epoch": 1, "lr_lr": 1e-8,
             "model": "mlp", "overlap_every": 0}  # fmt: skip
    ci = condense_medical(data, "ptm", ipc=2, profile="cpu", overrides=small, experts=buf, device="cpu",
                          progress=False, select_every=2)  # fmt: skip
    hist = ci.card["metrics"]["history"]
    assert [h["step"] for h in hist] == [0, 2, 4, 5]  # the real initial set, every 2 iterations, the last
    best = max(hist, key=lambda h: h["val"])
    assert ci.card["metrics"]["best_step"] == best["step"] and ci.card["selection"]["split"] == "val"
    ci = condense_medical(data, "ptm", ipc=2, profile="cpu", overrides=small, experts=buf, device="cpu",
                          progress=False, select_every=0)  # fmt: skip
    assert "selection" not in ci.card and ci.card["metrics"]["best_step"] == 5
    assert "selection" not in condense_medical(data, "random", ipc=2, profile="cpu", device="cpu", progress=False).card
    with pytest.raises(ValueError, match="select_every"):
        condense_medical(data, "random", ipc=2, profile="cpu", device="cpu", select_every=-1)
