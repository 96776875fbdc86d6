"""``benchmarks/graph_node.py --table`` and ``benchmarks/graph_scale.py --table`` print each mean and std rounded once,
from the entry's runs: they printed the record's ``mean`` and ``std``, which ``Summary.to_dict`` had rounded to 4
places, rounded again to 1 (a mean of 11.25005, recorded 11.25, printed 11.2)."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from condensekit.core.evaluate import Summary
from tests.bench_script import BENCH, load_bench, table_cells

# mean 11.25005 and std 1.25005: recorded 11.25 and 1.25, which print 11.2 ± 1.2 at 1 place; the runs, 11.3 ± 1.3
RECORD = Summary([10.0, 12.5001]).to_dict()
assert (RECORD["mean"], RECORD["std"]) == (11.25, 1.25)


def _rows(text: str, start: str) -> list[list[str]]:
    return [table_cells(r) for r in text.splitlines() if r.startswith(start)]


@pytest.fixture
def node(monkeypatch):
    return load_bench("graph_node.py", monkeypatch)


@pytest.fixture
def scale(monkeypatch):
    """``benchmarks/graph_scale.py``, registered in ``sys.modules`` for the test (its dataclass looks itself up
    there, so ``load_bench`` cannot load it)."""
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_graph_scale", BENCH / "graph_scale.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, mod)
    spec.loader.exec_module(mod)
    return mod


def test_graph_node_main_and_cross_cells_are_the_runs_rounded_once(node):
    main = {"dataset": "cora", "budget": 35, "method": "gcond", "test": {"gcn": RECORD}, "best_step": 10,
            "condense": {"steps": 20, "wall_time_s": 5.0, "peak_memory_mb": 100.0}, "total_time_s": 6.0,
            "hardware": {"torch_threads": 1}}  # fmt: skip
    cross = main | {"test": {"gcn": RECORD, "sgc": {"mean": 50.0, "std": 0.0, "runs": [50.0]}}}
    results = json.loads(json.dumps({"entries": {"main/cora/gcond/35": main, "cross/cora/gcond/35": cross}}))
    main_row, cross_row = _rows(node.table(results), "| cora | 35 | gcond |")  # the main table's, then cross's
    assert len(main_row) == 11 and main_row[3] == "11.3 ± 1.3"  # was 11.2 ± 1.2
    assert cross_row[3:] == ["11.3 ± 1.3", "50.0 ± 0.0"]


def test_graph_scale_gcn_cell_is_the_runs_rounded_once(scale):
    e = {"dataset": "arxiv-standin", "scale": 1.0, "nodes": 100, "edges": 400, "method": "gcdm", "budget": 10,
         "device": "cpu", "steps": 2, "sec_per_step": 0.5, "cpu_sec_per_step": 0.4, "wall_time_s": 3.0,
         "peak_memory_mb": 50.0, "test": {"gcn": RECORD}}  # fmt: skip
    results = json.loads(json.dumps({"entries": {"scale/a/1.0/gcdm/cpu/2": e, "scale/a/1.0/random/cpu/0":
                                                 e | {"method": "random", "test": None}}}))  # fmt: skip
    rows = {r[4]: r for r in _rows(scale.table(results), "| arxiv-standin")}
    assert rows["gcdm"][-1] == "11.3 ± 1.3"  # was 11.2 ± 1.2
    assert rows["random"][-1] == "-"  # no evaluation
