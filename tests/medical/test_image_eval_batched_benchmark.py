"""``benchmarks/image_eval_batched.py``: the medical students one at a time against trained together."""

from __future__ import annotations

import json

import pytest
import torch

from tests.bench_script import load_bench
from tests.medical.test_medical_data import _write


def test_the_set_is_the_first_images_of_every_class(monkeypatch):
    mod = load_bench("image_eval_batched.py", monkeypatch)
    y = torch.tensor([1, 0, 1, 1, 0, 0, 1])
    assert mod.first_per_class(y.reshape(-1, 1), 2).tolist() == [1, 4, 0, 2]
    with pytest.raises(ValueError, match="--per-class"):
        mod.first_per_class(y, 4)


def test_both_modes_give_the_same_runs_and_are_recorded(tmp_path, monkeypatch, capsys):
    mod = load_bench("image_eval_batched.py", monkeypatch)
    _write(tmp_path, "breastmnist", n=(16, 6, 8))
    monkeypatch.setenv("CONDENSEKIT_DATA", str(tmp_path))
    results = tmp_path / "image_eval_batched.json"
    monkeypatch.setattr(mod, "RESULTS", results)
    argv = [
        "--per-class",
        "2",
        "--model",
        "mlp",
        "--runs",
        "2",
        "--epochs",
        "3",
        "--val-every",
        "1",
        "--device",
        "cpu",
        "--drift-epochs",
        "2",
    ]
    assert mod.main(argv) == 0
    ((key, entry),) = json.loads(results.read_text())["entries"].items()
    assert key == "breastmnist/first2pc/mlp/runs2/epochs3/val1/seed0/cpu" and entry["images"] == 4
    assert entry["modes"]["batched"]["acc"]["runs"] == entry["modes"]["alone"]["acc"]["runs"]
    epochs = entry["modes"]["alone"]["best_epochs"]  # each run's selected epoch, recorded in both modes
    assert len(epochs) == 2 and all(0 <= e < 3 for e in epochs) and entry["modes"]["batched"]["best_epochs"] == epochs
    assert entry["max_run_acc_gap"] == 0 and entry["command"].startswith("python benchmarks/image_eval_batched.py")
    (d,) = entry["drift"]
    assert d["epochs"] == 2 and len(d["batched"]["test_label_flips"]) == len(d["nudged_1ulp"]["test_label_flips"]) == 2
    # The ACC runs above agree with a wrong replay too (an MLP, 3 epochs, 8 test images); the weights do not.
    assert d["batched"]["max_weight_gap"] < 1e-5
    assert mod.main(["--table"]) == 0 and key in capsys.readouterr().out
    with pytest.raises(ValueError, match="--modes"):
        mod.main(["--modes", "alone,vmap"])
    for flag, bad in (("--drift-epochs", "60,x"), ("--drift-runs", "0"), ("--val-every", "-1")):
        with pytest.raises(ValueError, match=flag):  # refused before the minutes-long timed runs, not after them
            mod.main([flag, bad])
