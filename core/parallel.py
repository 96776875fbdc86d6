"""Independent seeded runs spread over worker processes (CPU evaluation).

Training many small models from scratch (the evaluation protocol's N runs × architectures) uses
2 CPU cores poorly from one process: each run is a stream of small kernels that a second torch
thread barely speeds up. :func:`run_seeded` runs them in ``workers`` spawned processes with
``threads`` torch threads each instead. A worker builds its context (e.g. the real graph) once,
from ``build(*build_args)``, then runs ``run(context, seed)`` for the seeds it is handed, after
seeding every RNG with that seed, exactly as :func:`~condensekit.core.evaluate.repeat` does; the
values come back in job order.

Processes are started with ``spawn``, not ``fork``: a forked child of a process whose OpenMP
thread pool is running can deadlock. ``run``, ``build`` and their arguments must be picklable
(top-level functions, :func:`functools.partial` of them, tensors, dataclasses).

A worker exits when the process that started it dies, even by ``SIGKILL`` (which runs no clean-up):
a daemon thread in each worker polls its parent's pid every :data:`PARENT_POLL_S` seconds. Without
it the workers of a killed command stayed, idle, for ever (each holding its built context).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import torch

from condensekit.core.registry import check_int
from condensekit.core.seed import seed_everything

_CONTEXT: Any = None

PARENT_POLL_S = 0.5
"""How often a worker checks that the process that started it is alive."""


def _exit_with_parent(parent: int) -> None:
    """Leave this worker at once when ``parent`` is no longer its parent (it died and the worker was
    re-parented); ``os._exit``: the pool that would shut it down is gone with the parent."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(1)


def _init_worker(threads: int, build: Callable[..., Any], build_args: Sequence[Any], parent: int) -> None:
    global _CONTEXT
    if os.getppid() != parent:  # the parent died while this worker started
        os._exit(1)
    threading.Thread(target=_exit_with_parent, args=(parent,), name="exit-with-parent", daemon=True).start()
    torch.set_num_threads(threads)
    _CONTEXT = build(*build_args)


def _run_seed(run: Callable[[Any, int], float], seed: int) -> float:
    seed_everything(seed)
    return float(run(_CONTEXT, seed))


MIN_RUNS_PER_WORKER = 3


def auto_workers(runs: int, device: torch.device | str = "cpu") -> int:
    """Worker processes worth starting for ``runs`` CPU runs: one per core, as long as each gets
    at least :data:`MIN_RUNS_PER_WORKER` runs; 1 (in-process) on an accelerator or one core.

    Starting a worker (spawn, import torch, rebuild the graph) costs about one Cora run, so
    Cora's 3-run demo was 4 s slower on 2 workers than in-process, and its 10 runs 13 s faster."""
    if torch.device(device).type != "cpu":
        return 1
    return max(1, min(runs // MIN_RUNS_PER_WORKER, os.cpu_count() or 1))


def run_seeded(
    jobs: Sequence[tuple[Callable[[Any, int], float], int]],
    build: Callable[..., Any],
    build_args: Sequence[Any] = (),
    *,
    workers: int = 2,
    threads: int = 1,
) -> list[float]:
    """``run(context, seed)`` for every ``(run, seed)`` job, each after seeding every RNG with its
    seed, in ``workers`` processes; the values come back in job order.

    With ``workers == 1`` everything runs in this process (context built here, current thread
    count), giving the same values as :func:`~condensekit.core.evaluate.repeat`.
    """
    check_int("workers", workers, 1)
    check_int("threads", threads, 1)
    if not jobs:
        return []
    if workers == 1:
        context = build(*build_args)
        values = []
        for run, seed in jobs:
            seed_everything(seed)
            values.append(float(run(context, seed)))
        return values
    with spawn_pool(min(workers, len(jobs)), build, build_args, threads=threads) as pool:
        return list(pool.map(_run_seed, [run for run, _ in jobs], [seed for _, seed in jobs]))


def spawn_pool(
    workers: int, build: Callable[..., Any], build_args: Sequence[Any] = (), *, threads: int = 1
) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes with ``threads`` torch threads each, every one holding the
    context ``build(*build_args)`` (built once per worker; read it in a job with :func:`worker_context`).
    For callers that schedule their own jobs (e.g. the robust audit's dependent attack steps). Every worker
    exits when this process dies, however it dies."""
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(threads, build, tuple(build_args), os.getpid()),
    )


def worker_context() -> Any:
    """The context this worker process of :func:`spawn_pool` built."""
    return _CONTEXT
