"""The medical evaluation's students trained together (``batched=True``, ``--batched``) give the one-at-a-time
ACC and AUC per run: same seeds, same initialisations, each run's DSA draws replayed from its own stream (the
weight-level tolerance is tests/core/vision/test_batched_fit.py's)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from condensekit.core.cli import main
from condensekit.core.vision.train import ImageTrainConfig
from condensekit.medical.evaluate import evaluate_medical, validation_selector
from tests.core.vision.conftest import make_tiny_images
from tests.medical.test_medical_data import _write

FAST = ImageTrainConfig(epochs=6, val_every=2, batch_size=8, lr=0.05)


def _hard():
    """The tiny images with strong noise: the runs' ACC and AUC differ (on the clean ones every run scores 1.0)."""
    data = make_tiny_images(seed=5)
    gen = torch.Generator().manual_seed(0)
    noisy = {k: getattr(data, k) + 3.0 * torch.randn(getattr(data, k).shape, generator=gen)
             for k in ("x_train", "x_val", "x_test")}  # fmt: skip
    return replace(data, **noisy)


def test_evaluate_medical_batched_gives_the_one_at_a_time_runs():
    data = _hard()
    kw = {"models": ["convnet_bn_small", "mlp"], "runs": 3, "config": FAST}
    fits = {False: [], True: []}
    alone = evaluate_medical(data.x_train, data.y_train, data, on_fit=lambda m, f: fits[False].append((m, f)), **kw)
    together = evaluate_medical(data.x_train, data.y_train, data, batched=True,
                                on_fit=lambda m, f: fits[True].append((m, f)), **kw)  # fmt: skip
    epochs = {b: [(m, f.best_epoch) for m, f in fits[b]] for b in fits}
    assert epochs[True] == epochs[False] and [m for m, _ in epochs[True]] == ["convnet_bn_small"] * 3 + ["mlp"] * 3
    for model in kw["models"]:
        assert together[model]["acc"].values == alone[model]["acc"].values
        assert together[model]["auc"].values == pytest.approx(alone[model]["auc"].values, abs=1e-6)
    assert len(set(alone["convnet_bn_small"]["auc"].values)) > 1  # the runs differ


def test_validation_selector_batched_gives_the_one_at_a_time_score():
    data = _hard()
    idx = torch.cat([torch.arange(4), torch.arange(12, 16)])  # the training split is ordered by class
    # both classes: with one class only every student would predict it and score 0.5 whatever the replay
    assert data.y_train[idx].unique().numel() == 2
    tensors = {"x": data.x_train[idx], "y": data.y_train[idx]}
    alone = validation_selector(data, FAST, runs=3, model="convnet_bn_small")(tensors)
    together = validation_selector(data, FAST, runs=3, model="convnet_bn_small", batched=True)(tensors)
    assert together == pytest.approx(alone, abs=1e-9)


def test_medical_evaluate_batched_flag(tmp_path):
    root = tmp_path / "data"
    _write(root, "breastmnist", n=(16, 6, 6))
    art = tmp_path / "art"
    assert main(["medical", "condense", "--flag", "breastmnist", "--root", str(root), "--method", "random", "--ipc",
                 "3", "--profile", "cpu", "--out", str(art), "--quiet", "--device", "cpu"]) == 0  # fmt: skip
    results = []
    for extra in ([], ["--batched"]):
        args = ["medical", "evaluate", str(art), "--root", str(root), "--models", "mlp", "--runs", "2", "--epochs",
                "4", "--profile", "cpu", "--device", "cpu", *extra]  # fmt: skip
        assert main(args) == 0
        card = json.loads((art / "card.json").read_text())
        assert card["metrics"]["eval_protocol"]["batched"] is bool(extra)
        results.append(card["metrics"]["test"]["mlp"])
    assert results[1]["acc"]["runs"] == results[0]["acc"]["runs"]
    assert results[1]["auc"]["runs"] == pytest.approx(results[0]["auc"]["runs"], abs=1e-6)


@pytest.fixture
def students(monkeypatch):
    """Record which routine trains the students: ``"one"`` per ``fit_images`` call (one student), and the number of
    students per ``fit_images_batched`` call; both still train (the recorders call the routines they replace)."""
    import condensekit.core.vision.batched as batched_mod
    import condensekit.core.vision.train as train_mod

    calls: list[object] = []
    one, together = train_mod.fit_images, batched_mod.fit_images_batched

    def fit_one(*args, **kw):
        calls.append("one")
        return one(*args, **kw)

    def fit_together(models, *args, **kw):
        calls.append(len(models))
        return together(models, *args, **kw)

    monkeypatch.setattr(train_mod, "fit_images", fit_one)
    monkeypatch.setattr(batched_mod, "fit_images_batched", fit_together)
    return calls


def test_medical_condense_batched_trains_the_selection_and_eval_students_together(tmp_path, monkeypatch, students):
    """``medical condense --batched``: each validation check's students and the ``--eval-runs`` students are trained by
    ``fit_images_batched``; without the flag by ``fit_images``, one at a time. Same checks, same scores (tiny set, 2
    epochs: no rounding reaches a prediction), and the card says which ran."""
    import condensekit.medical.profiles as profiles

    cpu = profiles.PROFILES.get("cpu")
    fast = ImageTrainConfig(epochs=2, val_every=1)
    monkeypatch.setitem(profiles.PROFILES._items, "cpu", replace(cpu, evaluation=fast))
    root = tmp_path / "data"
    _write(root, "breastmnist", n=(16, 12, 6))  # 12 validation images: finer scores than 6, so the checks can differ
    cards = {}
    for extra in ([], ["--batched"]):
        art = tmp_path / f"art{len(extra)}"
        students.clear()
        assert main(["medical", "condense", "--flag", "breastmnist", "--root", str(root), "--method", "dm", "--ipc",
                     "2", "--profile", "cpu", "--iterations", "2", "--select-every", "1", "--eval-runs", "2", "--out",
                     str(art), "--quiet", "--device", "cpu", *extra]) == 0  # fmt: skip
        checks, runs = 3, 2  # validation at iterations 0, 1, 2 with the profile's select_runs students; 2 test runs
        if extra:
            assert students == [cpu.select_runs] * checks + [runs]
        else:
            assert students == ["one"] * (cpu.select_runs * checks + runs)
        cards[bool(extra)] = json.loads((art / "card.json").read_text())
        summary = json.loads((tmp_path / f"art{len(extra)}.json").read_text())
        assert summary["eval_protocol"] == cards[bool(extra)]["metrics"]["eval_protocol"]
    assert "batched" not in cards[False]["selection"] and cards[True]["selection"]["batched"] is True
    assert cards[False]["metrics"]["eval_protocol"] == {"runs": 2, "profile": "cpu", "epochs": None, "batched": False}
    assert cards[True]["metrics"]["eval_protocol"]["batched"] is True
    history = {b: [(h["step"], h["val"]) for h in c["metrics"]["history"]] for b, c in cards.items()}
    assert [s for s, _ in history[True]] == [s for s, _ in history[False]] == [0, 1, 2]
    assert [v for _, v in history[True]] == pytest.approx([v for _, v in history[False]], abs=1e-9)
    assert len({v for _, v in history[False]}) > 1  # the checks' scores differ: a mixed-up order would show
    test = {b: c["metrics"]["test"]["convnet"]["acc"]["runs"] for b, c in cards.items()}
    assert test[True] == test[False]
