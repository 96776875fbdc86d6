"""``benchmarks/graph_level.py --table`` prints each mean and std rounded once, from the entry's runs: the test table
(2 places), the tagged rows and the validation table (1 place) printed the record's ``mean`` and ``std``, which
``Summary.to_dict`` had rounded to 4 places, rounded again (PROTEINS 50's GIN mean 61.87499, recorded 61.875, printed
61.88)."""

from __future__ import annotations

import json

import pytest

from condensekit.core.evaluate import Summary
from tests.bench_script import load_bench, table_cells

# benchmarks/results/graph_level.json, proteins|random|gpc50|seed0: the GIN test accuracy of 10 runs
GIN = Summary([60.7143, 60.7143, 61.6071, 61.6071, 62.5, 66.9643, 61.6071, 62.5, 59.8214, 60.7143]).to_dict()
VAL = Summary([10.0, 12.5001]).to_dict()  # mean 11.25005, std 1.25005: recorded 11.25 and 1.25 (11.2 ± 1.2)
assert (GIN["mean"], VAL["mean"], VAL["std"]) == (61.875, 11.25, 1.25)


@pytest.fixture
def mod(monkeypatch):
    return load_bench("graph_level.py", monkeypatch)


def test_test_tagged_and_validation_cells_are_the_runs_rounded_once(mod):
    gcn = {"mean": 50.0, "std": 0.0, "runs": [50.0, 50.0]}
    entry = {"dataset": "proteins", "gpc": 50, "method": "random", "seed": 0, "split_seed": 0, "runs": 10,
             "test": {"gcn": gcn, "gin": GIN}}  # fmt: skip
    entries = {
        "proteins|random|gpc50|seed0": entry,
        "proteins|random|gpc50|seed0|gpu": entry | {"tag": "gpu", "hardware": {"device": "cuda"}},
        "proteins|random|gpc50|seed0|validate2": {
            "dataset": "proteins",
            "gpc": 50,
            "method": "random",
            "runs": 2,
            "overrides": {},
            "validate": {"gcn": VAL},
        },
    }
    text = mod.table(json.loads(json.dumps({"entries": entries})))
    head, _, rest = text.partition("Validation only")
    (row,) = [table_cells(r) for r in head.splitlines() if r.startswith("| proteins")]
    assert row[3:5] == ["50.00 ± 0.00", "61.87 ± 1.88"]  # was 61.88 ± 1.88
    val, _, tagged = rest.partition("Tagged rows")
    (row,) = [table_cells(r) for r in val.splitlines() if r.startswith("| proteins")]
    assert row[6:8] == ["11.3 ± 1.3", "-"]  # GCN val was 11.2 ± 1.2; no GIN
    (row,) = [table_cells(r) for r in tagged.splitlines() if r.startswith("| gpu")]
    assert row[6:8] == ["50.00 ± 0.00", "61.87 ± 1.88"]
