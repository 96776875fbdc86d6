"""``benchmarks/privacy.py --table`` prints each figure rounded once, from the runs: the accuracy cells (1 place) and
a selection's per-model validation means (1 place) printed the record's ``mean`` and ``std``, which
``Summary.to_dict`` had rounded to 4 places, rounded again; a selection point's ``mean`` column (2 places) printed its
recorded ``score``, the mean of those rounded means rounded to 3 places, a third rounding."""

from __future__ import annotations

import json

import pytest

from condensekit.core.evaluate import Summary
from tests.bench_script import load_bench, table_cells

RECORD = Summary([10.0, 12.5001]).to_dict()  # mean 11.25005, std 1.25005: recorded 11.25 and 1.25 (11.2 ± 1.2)
# mean 61.87499 (10 runs of k / 112), recorded 61.875: 61.88 at 2 places, 61.87 from the runs
VAL = Summary([60.7143, 60.7143, 61.6071, 61.6071, 62.5, 66.9643, 61.6071, 62.5, 59.8214, 60.7143]).to_dict()
assert (RECORD["mean"], RECORD["std"], VAL["mean"]) == (11.25, 1.25, 61.875)


@pytest.fixture
def bench(monkeypatch):
    return load_bench("privacy.py", monkeypatch)


def test_accuracy_selection_and_score_cells_are_the_runs_rounded_once(bench):
    entry = {"dataset": "mnist", "method": "dp-merf", "epsilon": 1.0, "images": 100, "privacy": None,
             "test": {"lr": RECORD, "cnn": RECORD}, "cost": {"wall_time_s": 1.0, "peak_memory_mb": 1.0}}  # fmt: skip
    point = {"overrides": {"n_features": 100}, "val": {"lr": VAL, "mlp": VAL}, "cost": {"cpu_s": 3.0},
             "score": round((VAL["mean"] + VAL["mean"]) / 2, 3)}  # fmt: skip
    other = point | {"overrides": {"n_features": 200}, "val": {"lr": RECORD}, "score": RECORD["mean"]}
    selection = {"method": "dp-merf", "kind": "selection", "grid": {"n_features": ["100", "200"]}, "complete": True,
                 "protocol": {"val_runs": {"lr": 1, "mlp": 1}, "fixed": {}}, "points": [point, other],
                 "chosen": point["overrides"]}  # fmt: skip
    results = json.loads(json.dumps({"entries": {"mnist/dp-merf/eps1": entry, "selection/mnist/dp-merf/eps1":
                                                 selection}}))  # fmt: skip
    text = bench.table(results)
    (row,) = [table_cells(r) for r in text.splitlines() if r.startswith("| dp-merf (ours")]
    assert row[2:5] == ["11.3 ± 1.3", "-", "11.3 ± 1.3"]  # was 11.2 ± 1.2; no MLP
    selection = [table_cells(r) for r in text.split("Selection `", 1)[1].splitlines()]
    rows = {r[0]: r for r in selection if r[0] in ("100", "200")}
    assert rows["100"][1:] == ["61.9", "61.9", "-", "**61.87**", "3"]  # score 61.875 printed **61.88**
    assert rows["200"][1:] == ["11.3", "-", "-", "11.25", "3"]  # LR mean was 11.2; the one model's mean 11.25005
