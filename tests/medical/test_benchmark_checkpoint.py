"""``benchmarks/medical.py`` checkpoints each condensation beside its set: a run killed midway resumes when the same
command runs again, and the checkpoint is gone once the entry is saved."""

import json

import pytest
import torch

from condensekit.core.vision.imageset import CondensedImages
from tests.medical.test_benchmark_medical import bench  # noqa: F401  (bench: a pytest fixture)

ARGS = ["--methods", "dm", "--ipcs", "2", "--runs", "1", "--set", "iterations=4"]


class Killed(Exception):
    pass


def test_a_run_killed_during_evaluation_resumes_from_its_checkpoint(bench, monkeypatch):  # noqa: F811
    mod, tmp = bench
    args = ["--flags", "breastmnist", "--root", str(tmp), *ARGS]
    real_eval = mod.evaluate_medical

    def killed(*a, **k):
        raise Killed

    monkeypatch.setattr(mod, "evaluate_medical", killed)
    with pytest.raises(Killed):
        mod.main(args)
    (ckpt,) = (tmp / "runs" / "checkpoints").iterdir()
    (folder,) = (tmp / "runs" / "benchmarks").iterdir()
    assert ckpt.name == folder.name + ".pt"  # not inside the folder save_artifact replaces
    first = CondensedImages.load(folder)

    monkeypatch.setattr(mod, "evaluate_medical", real_eval)
    assert mod.main(args) == 0
    (entry,) = json.loads((tmp / "results.json").read_text())["entries"].values()
    assert entry["cost"]["resumed_from_checkpoint"] is True
    assert not ckpt.exists()
    again = CondensedImages.load(folder)
    assert torch.equal(first.x, again.x)  # the finished run's set, not a new one

    # an uninterrupted run records no resume and leaves no checkpoint
    assert mod.main([*args, "--seed", "1"]) == 0
    entries = json.loads((tmp / "results.json").read_text())["entries"]
    assert [e["cost"].get("resumed_from_checkpoint") for e in entries.values()].count(None) == 1
    assert not any((tmp / "runs" / "checkpoints").iterdir())
