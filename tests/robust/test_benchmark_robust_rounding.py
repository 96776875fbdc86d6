"""``benchmarks/robust.py --table`` prints each mean and std rounded once, from the entry's runs: a row's cells printed
the entry's ``mean`` and ``std``, which are rounded to 4 places, rounded again to 1 (a mean of 11.25005, recorded
11.25, printed 11.2). An entry without runs prints its recorded figures, and the pooled rows (from the runs already)
print through the same formatter."""

from __future__ import annotations

import json

import pytest

from condensekit.core.evaluate import Summary
from tests.bench_script import load_bench

RUNS = [10.0, 12.5001]  # mean 11.25005, std 1.25005: recorded 11.25 and 1.25, which print 11.2 ± 1.2 at 1 place
RECORD = Summary(RUNS).to_dict()
assert (RECORD["mean"], RECORD["std"]) == (11.25, 1.25)


@pytest.fixture
def robust_bench(monkeypatch):
    return load_bench("robust.py", monkeypatch)


def _entry(seed: int, attack: str, eps: str, record: dict) -> dict:
    return {"dataset": "mnist", "method": "dm", "model": "convnet", "ipc": 10, "curvature": False, "lambda": 0.0,
            "seed": seed, "attack": attack, "eps": eps, "audit_config": {"eps": ["0.1"]}, **record}  # fmt: skip


def test_row_and_pooled_cells_are_the_runs_rounded_once(robust_bench, tmp_path):
    entries = {f"s{s}/{a}": _entry(s, a, e, RECORD) for s in (0, 1) for a, e in (("clean", "0"), ("pgd", "0.1"))}
    entries["s1/pgd"] = _entry(1, "pgd", "0.1", {"mean": 11.25, "std": 1.25})  # no runs: printed as recorded
    path = tmp_path / "robust.json"
    path.write_text(json.dumps({"entries": entries}))
    text = robust_bench.table(path)
    table, _, pooled = text.partition("Pooled over seeds")
    rows = [r.strip("|").split("|") for r in table.splitlines() if r.startswith("| mnist")]
    assert [[c.strip() for c in r[-3:-1]] for r in rows] == [["11.3 ± 1.3", "11.3 ± 1.3"], ["11.3 ± 1.3", "11.2 ± 1.2"]]
    (row,) = [r for r in pooled.splitlines() if r.startswith("| mnist")]
    assert row.endswith("| 0, 1 | 4 | 11.3 ± 1.3 | 11.3 ± 1.3 |")  # seed 1's pgd entry has no runs: only seed 0's
