from __future__ import annotations

import operator
import os
import signal
import subprocess
import sys
import time

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


def _alive(pid: int) -> bool:
    """``pid`` runs (a zombie left unreaped by a container's init counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


_POOL_OWNER = """
import os, sys, time
from condensekit.core.parallel import spawn_pool
pool = spawn_pool(2, int, ("1",))
list(pool.map(time.sleep, [0.5, 0.5]))  # both workers started
print(*pool._processes, flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_exit_when_the_parent_is_killed() -> None:
    # SIGKILL runs no clean-up: the pool's workers used to stay, idle, for ever
    owner = subprocess.Popen([sys.executable, "-c", _POOL_OWNER], stdout=subprocess.PIPE, text=True)
    try:
        workers = [int(p) for p in owner.stdout.readline().split()]
        assert len(workers) == 2 and all(_alive(p) for p in workers)
    finally:
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait()
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [p for p in workers if _alive(p)]
    for pid in left:  # do not leave them behind when the check fails
        os.kill(pid, signal.SIGKILL)
    assert not left, f"workers {left} outlived their killed parent"
