from __future__ import annotations

import operator

import pytest

from condensekit.core.parallel import auto_workers, run_seeded


@pytest.mark.parametrize("workers", [1, 2])
def test_run_seeded_keeps_job_order(workers: int) -> None:
    # context = int("10"); each job returns context + seed (operator functions pickle by name)
    jobs = [(operator.add, s) for s in (5, 3, 9)] + [(operator.sub, 4)]
    assert run_seeded(jobs, int, ("10",), workers=workers) == [15.0, 13.0, 19.0, 6.0]


def test_run_seeded_rejects_bad_counts() -> None:
    with pytest.raises(ValueError, match="workers"):
        run_seeded([(operator.add, 0)], int, ("1",), workers=0)
    with pytest.raises(ValueError, match="threads"):
        run_seeded([(operator.add, 0)], int, ("1",), threads=0)
    assert run_seeded([], int, ("1",)) == []


def test_auto_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert auto_workers(1) == 1
    assert auto_workers(5) == 1  # a second worker would get 2 runs: not worth its start-up
    assert auto_workers(6) == 2
    assert auto_workers(60) == 2
    assert auto_workers(60, "cuda") == 1
