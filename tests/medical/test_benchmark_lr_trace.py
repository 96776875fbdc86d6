"""``benchmarks/medical_lr_trace.py`` replays the first updates of a benchmark run exactly (same config, expert
buffer, seeding), and records a divergence instead of hiding it."""

import json

import pytest

from tests.bench_script import load_bench
from tests.medical.test_benchmark_medical import bench  # noqa: F401  (fixture)

RUN = ["--flags", "breastmnist", "--methods", "mtt", "--ipcs", "2", "--runs", "1"]
ARGS = ["--set", "syn_steps=2", "--set", "max_start_epoch=1", "--expert-epochs", "2", "--experts", "2"]


@pytest.fixture
def trace(bench, monkeypatch):  # noqa: F811
    mod, tmp = bench
    tr = load_bench("medical_lr_trace.py", monkeypatch)
    monkeypatch.setattr(tr, "RESULTS", tmp / "trace.json")
    monkeypatch.setattr(tr, "RUNS", tmp / "runs")
    monkeypatch.setenv("CONDENSEKIT_DATA", str(tmp))
    return mod, tr, tmp


def test_trace_replays_the_benchmark_run(trace):
    mod, tr, tmp = trace
    run = [*RUN, "--seed", "1", "--set", "iterations=3", "--select-every", "0"]  # 0: the last set is kept
    assert mod.main([*run, "--root", str(tmp), *ARGS]) == 0
    (entry,) = json.loads((tmp / "results.json").read_text())["entries"].values()
    assert tr.main(["--flag", "breastmnist", "--method", "mtt", "--ipc", "2", "--seeds", "1", "--updates", "3",
                    *ARGS]) == 0  # fmt: skip
    (row,) = json.loads((tmp / "trace.json").read_text())["entries"].values()
    assert row["diverged"] is None and [r["update"] for r in row["rows"]] == [0, 1, 2]
    assert row["rows"][-1]["lr_after"] == pytest.approx(entry["learned_lr"], rel=1e-6)  # the same run, replayed
    assert all(r["lr_grad"] is not None and r["loss"] > 0 for r in row["rows"])


def test_trace_records_a_divergence(trace):
    mod, tr, tmp = trace
    assert mod.main([*RUN, "--set", "iterations=1", "--root", str(tmp), *ARGS]) == 0  # makes the expert buffer
    assert tr.main(["--flag", "breastmnist", "--method", "mtt", "--ipc", "2", "--updates", "5",
                    "--set", "lr_lr=1e3", *ARGS]) == 0  # fmt: skip
    (row,) = json.loads((tmp / "trace.json").read_text())["entries"].values()
    assert "diverged" in row["diverged"] and row["rows"][-1]["lr_after"] <= 0 and len(row["rows"]) < 5
    with pytest.raises(ValueError, match="--updates"):
        tr.main(["--flag", "breastmnist", "--ipc", "2", "--updates", "0", *ARGS])


def test_trace_keeps_a_trace_of_another_recipe_under_its_key(trace):
    mod, tr, tmp = trace
    assert mod.main([*RUN, "--set", "iterations=1", "--root", str(tmp), *ARGS]) == 0  # makes the expert buffer
    cmd = ["--flag", "breastmnist", "--method", "mtt", "--ipc", "2", "--updates", "1", *ARGS]
    assert tr.main(cmd) == 0
    results = json.loads((tmp / "trace.json").read_text())
    (key,) = results["entries"]
    results["entries"][key]["config"]["lr_lr"] = 0.5  # as if the profile's lr_lr changed since it was traced
    (tmp / "trace.json").write_text(json.dumps(results))
    with pytest.raises(ValueError, match=r"lr_lr: 0.5 recorded, 1e-05 now.*--set"):
        tr.main(cmd)
    assert json.loads((tmp / "trace.json").read_text()) == results  # kept as it was
    assert tr.main([*cmd, "--seeds", "1"]) == 0  # another key: traced as before
