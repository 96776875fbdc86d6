"""``benchmarks/medical.py``'s tables print each mean and std rounded once, from the entry's runs: they printed the
record's ``mean`` and ``std``, which ``Summary.to_dict`` had rounded to 4 places, rounded again to 3 (an AUC std of
0.01646 printed 0.017); the seeds table's set-means cell was the spread of those rounded means, rounded twice more."""

from __future__ import annotations

import json

import pytest

from tests.bench_script import load_bench, table_cells
from tests.medical.test_benchmark_medical import _entry_of

# benchmarks/results/medical.json, breastmnist/mtt/ipc10/cpu/convnet: its ConvNet test AUC, as recorded
AUC = {"mean": 0.8298, "std": 0.0165, "runs": [0.8523, 0.8454, 0.815, 0.8256, 0.8106]}


@pytest.fixture
def mod(monkeypatch):
    return load_bench("medical.py", monkeypatch)


def test_the_auc_cell_is_the_runs_std_rounded_once(mod):
    base = {"dataset": "breastmnist", "method": "mtt", "ipc": 10}
    acc = {"mean": 0.8, "std": 0.0, "runs": [0.8, 0.8]}
    want = mod.profile_recipe(base | {"profile": "cpu"})
    e = _entry_of(mod, want, **base, test={"convnet": {"acc": acc, "auc": AUC}})
    (row,) = [r for r in mod.table({"entries": {"breastmnist/mtt/ipc10/cpu/convnet": e}}).splitlines()
              if r.startswith("| breastmnist")]  # fmt: skip
    assert table_cells(row)[6] == "0.830 ± 0.016"  # was 0.830 ± 0.017
    assert mod._fmt(AUC) == "0.830 ± 0.016" and mod._fmt(None) == "-"


def test_the_seeds_table_spreads_the_set_means_of_the_runs(mod):
    base = {"dataset": "breastmnist", "method": "ptm", "ipc": 10}
    want = mod.profile_recipe(base | {"profile": "cpu"})
    # set 1's mean is 0.83299, recorded 0.833: the spread of the recorded means (0.8, 0.833) is 0.0165 -> "0.017"
    sets = [{"mean": 0.8, "std": 0.0, "runs": [0.8, 0.8]}, {"mean": 0.833, "std": 0.0, "runs": [0.83299, 0.83299]}]
    entries = {}
    for seed, acc in enumerate(sets):
        key = "breastmnist/ptm/ipc10/cpu/convnet" + (f"/seed={seed}" if seed else "")
        entries[key] = _entry_of(mod, want, **base, seed=seed, test={"convnet": {"acc": acc, "auc": acc}})
    (row,) = [r for r in mod.seeds_table(json.loads(json.dumps({"entries": entries}))).splitlines()
              if r.startswith("| breastmnist")]  # fmt: skip
    cells = table_cells(row)
    assert cells[5] == "0: 0.800 ± 0.000; 1: 0.833 ± 0.000" and cells[6] == "2"
    assert cells[7] == "0.816 ± 0.016"  # was 0.817 ± 0.017 (from the recorded means)
    assert cells[8] == "0.816 ± 0.016 (4)"
