"""``benchmarks/robust.py --table`` prints every figure BENCHMARKS.md's robust tables quote: the audit's wall /
CPU seconds of each row, and the rows pooled over seeds (every evaluation model of every seed together)."""

import json
import statistics
from pathlib import Path

import pytest

from tests.bench_script import load_bench


@pytest.fixture
def robust_bench(monkeypatch):
    mod = load_bench("robust.py", monkeypatch)
    return mod


def _entry(lam: float, seed: int, attack: str, eps: str, runs: list[float], audit: tuple[float, float]) -> dict:
    return {
        "dataset": "mnist", "method": "sre2l", "model": "mlp", "ipc": 1, "curvature": lam > 0, "lambda": lam,
        "h": 3.0, "mode": "teacher", "seed": seed, "attack": attack, "eps": eps,
        "mean": round(statistics.fmean(runs), 4), "std": round(statistics.pstdev(runs), 4), "runs": runs,
        "audit_config": {"eps": ["0.1", "0.2"]}, "sanity": {"ok": True, "issues": []},
        "cost": {"audit": {"wall_time_s": audit[0], "cpu_time_s": audit[1]}},
    }  # fmt: skip


def _write(tmp_path: Path, entries: dict) -> Path:
    path = tmp_path / "robust.json"
    path.write_text(json.dumps({"entries": entries}))
    return path


def test_table_pools_the_seeds_of_an_arm_and_prints_the_audit_cost(robust_bench, tmp_path):
    runs = {  # (λ, seed) -> clean runs, pgd 0.1 runs
        (0.0, 0): ([90.0, 91.0, 92.0], [10.0, 12.0, 14.0]),
        (0.0, 1): ([88.0, 89.0, 90.0], [20.0, 22.0, 30.0]),
        (100.0, 0): ([80.0, 81.0, 82.0], [40.0, 41.0, 45.0]),  # one seed only: not pooled
    }
    entries = {}
    for (lam, seed), (clean, pgd) in runs.items():
        audit = (120.5 + seed, 60.25 + seed)
        entries[f"{lam}/{seed}/clean/0"] = _entry(lam, seed, "clean", "0", clean, audit)
        entries[f"{lam}/{seed}/pgd/0.1"] = _entry(lam, seed, "pgd", "0.1", pgd, audit)
    # seed 0's pgd at 0.2 comes from a later audit (another cost); seed 1 has no pgd 0.2, so the pooled row skips it
    entries["0.0/0/pgd/0.2"] = _entry(0.0, 0, "pgd", "0.2", [1.0, 2.0, 3.0], (30.0, 15.5))
    text = robust_bench.table(_write(tmp_path, entries))

    rows = [line for line in text.splitlines() if line.startswith("| mnist")]
    seed0 = next(r for r in rows if "| 0 | - | - | - | 0 |" in r)
    assert seed0.endswith("| 120.5 / 60.25; 30 / 15.5 |")  # both audits of the row, in column order
    assert any(r.endswith("| 121.5 / 61.25 |") for r in rows)

    assert "Pooled over seeds" in text
    pooled = text.split("Pooled over seeds", 1)[1]
    head = next(line for line in pooled.splitlines() if line.startswith("| dataset"))
    assert head.endswith("| seeds | models | clean | pgd 0.1 |")  # pgd 0.2: seed 1 lacks it
    body = [line for line in pooled.splitlines() if line.startswith("| mnist")]
    assert len(body) == 1  # λ 100 has one seed
    clean = [90.0, 91.0, 92.0, 88.0, 89.0, 90.0]
    pgd = [10.0, 12.0, 14.0, 20.0, 22.0, 30.0]
    cells = [f"{statistics.fmean(v):.1f} ± {statistics.pstdev(v):.1f}" for v in (clean, pgd)]
    assert body[0].endswith(f"| 0, 1 | 6 | {cells[0]} | {cells[1]} |")
    assert cells == ["90.0 ± 1.3", "18.0 ± 6.8"]  # population std (sample std: 1.4, 7.5)


def test_table_has_no_pooled_section_without_a_second_seed(robust_bench, tmp_path):
    entries = {
        "a/clean/0": _entry(0.0, 0, "clean", "0", [90.0, 92.0], (10.0, 5.0)),
        "b/clean/0": _entry(100.0, 0, "clean", "0", [80.0, 82.0], (10.0, 5.0)),
    }
    entries["b/clean/0"].pop("cost")  # an entry without a recorded audit cost
    text = robust_bench.table(_write(tmp_path, entries))
    assert "Pooled" not in text
    rows = [line for line in text.splitlines() if line.startswith("| mnist")]
    assert rows[0].endswith("| 10 / 5 |") and rows[1].endswith("| - |")
