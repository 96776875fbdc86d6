"""Node-classification condensation benchmark on the Planetoid graphs (GCond Table 2 protocol).

For every (dataset, method, budget): condense with the method's paper defaults, select the set by
validation accuracy during condensation, then train the evaluation models from scratch on it
(GCN: 2 layers, hidden 256, dropout 0.5, weight decay 5e-4, lr 0.01, 600 epochs, best validation
epoch) and report test accuracy over ``--runs`` runs. Results are merged into
``benchmarks/results/graph_node.json`` (written atomically after every entry, so an interrupted
benchmark resumes where it stopped; ``--force`` recomputes). ``--table`` prints the Markdown table
that BENCHMARKS.md carries.

Examples::

    python benchmarks/graph_node.py --datasets cora --methods gcond --budgets 70
    python benchmarks/graph_node.py --datasets cora --methods gcond,doscond --budgets 70 \\
        --models gcn,sgc,appnp,cheb,sage,mlp --key cross
    python benchmarks/graph_node.py --table
"""

from __future__ import annotations

import argparse
import fcntl
import functools
import inspect
import json
import os
import platform
import shlex
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import torch

from condensekit.core.atomic import free_name, write_json
from condensekit.core.evaluate import format_summary
from condensekit.core.parallel import auto_workers
from condensekit.graph.condense import CondensedGraph, condense_nodes, prepare_task
from condensekit.graph.evaluate import NodeEvalConfig, evaluate_node

warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)
warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")

RESULTS = Path(__file__).resolve().parent / "results" / "graph_node.json"
REPO = Path(__file__).resolve().parent.parent
# Condensed sets of default-config runs (not committed), reused by --reuse (e.g. the cross table).
ARTIFACTS = Path(__file__).resolve().parent.parent / "runs" / "benchmarks"
BUDGETS = {"cora": [35, 70, 140], "citeseer": [30, 60, 120]}
METHODS = ["random", "herding", "kcenter", "gcdm", "doscond", "gcond", "gcondx", "gcsntk"]

# Published figures (GCond ICLR 2022 Table 2; SFGC NeurIPS 2023; GEOM ICML 2024), test accuracy %.
PAPER = {
    "cora": {
        "random": [62.6, 72.8, 76.8],
        "herding": [67.0, 73.4, 76.8],
        "kcenter": [64.0, 73.2, 76.7],
        "gcond": [79.8, 80.1, 79.3],
        "gcondx": [75.9, 75.7, 76.0],
        "sfgc": [80.1, 81.7, 81.6],
        "geom": [82.5, 83.6, 82.8],
        "whole": [81.2, 81.2, 81.2],
    },
    "citeseer": {
        "random": [54.4, 64.2, 69.1],
        "herding": [57.1, 66.7, 69.0],
        "kcenter": [52.4, 64.3, 69.1],
        "gcond": [70.5, 70.6, 69.8],
        "gcondx": [71.4, 69.8, 69.4],
        "sfgc": [71.4, 72.4, 70.6],
        "geom": [73.0, 74.3, 73.3],
        "whole": [71.7, 71.7, 71.7],
    },
}
# GraphSlim 1.2.1 on this machine (2 CPU cores, its default configs), from the issue: accuracy, seconds.
PEER = {
    ("cora", 70): {
        "random": (71.5, 41),
        "herding": (72.6, 54),
        "kcenter": (71.3, 50),
        "gcdm": (81.0, 210),
        "doscond": (79.4, 768),
        "gcond": (81.0, 2400),
    },
    ("citeseer", 60): {
        "random": (63.9, 94),
        "herding": (65.5, 118),
        "kcenter": (60.9, 118),
        "gcdm": (71.7, 552),
        "doscond": (70.3, 2142),
        "gcond": (72.4, 2400),
    },
}


#: Environment variables that choose the CPU's math kernels (instruction set), recorded when set.
KERNEL_ENV = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS", "MKL_CBWR")


def cpu_model() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``), else ``platform.processor()``, else ``"unknown"``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def hardware() -> dict[str, Any]:
    """Where an entry ran. Seeds repeat a CPU run only on the same instruction set: oneDNN, MKL and ATen pick
    their kernels by it (AVX2 and AVX-512 round differently), so the CPU model, ATen's kernel capability and any
    variable that overrides the choice are recorded (sitting 20: rows of 12-03 did not repeat to the digit on
    12-04's AVX-512 machine, at the same commit)."""
    dev = "cuda:" + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return {
        "device": dev,
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "kernel_env": {k: os.environ[k] for k in KERNEL_ENV if k in os.environ},
    }


#: The command line of the benchmark ``main`` running now (set by :func:`records_command`), ``None`` outside one.
_COMMAND: ContextVar[str | None] = ContextVar("benchmark_command", default=None)


def records_command(main: Callable[[list[str] | None], int]) -> Callable[[list[str] | None], int]:
    """Decorate a benchmark script's ``main(argv=None)`` so that every entry it writes records ``command``: the
    command line that made it, ``python <script> <argv>`` shell-quoted (:func:`shlex.join`), with the script's path
    relative to the repository and its argv as given (``sys.argv[1:]`` when ``argv`` is ``None``; a test's explicit
    ``argv``, not pytest's, when given). E.g. ``python benchmarks/robust.py --dataset mnist --base dm --ipc 10``.

    The field is added where entries are written (:func:`save_entry`, :func:`with_command`), so an entry that a
    script *updates* (graph_level's ``--extend``, privacy's merge of another model's evaluation into an entry,
    a forced re-run) records the command that **last** wrote it, not the one that first made it: the earlier
    command is not kept. Copies made by :func:`archive_once` keep the entry they copy as it was (an entry written
    before sitting 21 has no ``command``, and its archive gains none). Outside a decorated ``main`` (a test calling
    a helper) nothing is added."""
    script = Path(inspect.getfile(main)).resolve()
    shown = script.relative_to(REPO).as_posix() if script.is_relative_to(REPO) else str(script)

    @functools.wraps(main)
    def run(argv: list[str] | None = None) -> int:
        args = sys.argv[1:] if argv is None else list(argv)
        token = _COMMAND.set(shlex.join(["python", shown, *args]))
        try:
            return main(argv)
        finally:
            _COMMAND.reset(token)

    return run


def with_command(entry: dict[str, Any]) -> dict[str, Any]:
    """``entry`` with ``command`` set to the running benchmark's command line (:func:`records_command`); ``entry``
    itself when no decorated ``main`` is running. For scripts that write an entry without :func:`save_entry`."""
    command = _COMMAND.get()
    return entry if command is None else entry | {"command": command}


def load(path: Path = RESULTS) -> dict[str, Any]:
    if path.exists():
        return json.loads(path.read_text())
    return {"entries": {}}


@contextmanager
def results_lock(path: Path = RESULTS) -> Iterator[None]:
    """Hold the lock of a results file (``<path>.lock``) while reading and writing it: several benchmark processes
    may run. Not re-entrant: ``save_entry`` inside it would wait for itself."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def save_entry(key: str, entry: dict[str, Any], path: Path = RESULTS) -> None:
    """Merge one entry into a results file under a lock (several benchmark processes may run), with the command
    line of the running benchmark (:func:`records_command`, :func:`with_command`)."""
    with results_lock(path):
        results = load(path)
        results["entries"][key] = with_command(entry)
        write_json(path, results)


def archive_once(
    key: str, suffix: str, reason: str | None = None, extra: dict[str, Any] | None = None, path: Path = RESULTS, *,
    when: Callable[[dict[str, Any]], bool] | None = None, folder: Path | None = None, root: Path | None = None,
) -> str | None:  # fmt: skip
    """Before a new entry replaces ``key``: copy the entry there, **once**, to ``key + "/" + suffix``, with ``extra``'s
    fields, ``archived_from`` (``key``) and, when given, ``archive_reason`` set. Nothing is copied when there is no
    entry, the archive key exists already (archived once) or ``when(entry)`` is false; the check and the copy
    happen under the results lock (:func:`results_lock`), so two processes cannot both archive, nor archive an
    entry another one has just replaced.

    ``folder``: the saved set the new run is about to write. When it exists it is moved to ``folder-{suffix}`` and the
    copy's ``artifact`` points to it (relative to ``root`` when given), so the archived entry keeps its set instead
    of naming a folder the new set overwrites. When that name is taken (a set archived there before), the set goes
    to the first free ``folder-{suffix}-2``, ``-3``... and the copy's ``artifact_note`` says why. A ``folder`` not
    under ``root`` is refused (``ValueError``) before anything moves or is written. Returns the archive key, ``None``
    when nothing was archived. Nothing is deleted."""
    if folder is not None and root is not None and not folder.is_relative_to(root):
        raise ValueError(
            f"Invalid value {str(folder)!r} for argument folder: the set to archive must lie under root "
            f"{str(root)!r}, which the archived entry's artifact is written relative to"
        )
    archive = f"{key}/{suffix}"
    with results_lock(path):
        results = load(path)
        old = results["entries"].get(key)
        if old is None or archive in results["entries"] or (when is not None and not when(old)):
            return None
        record = old | (extra or {}) | {"archived_from": key} | ({} if reason is None else {"archive_reason": reason})
        if folder is not None and folder.exists():
            target = folder.with_name(f"{folder.name}-{suffix}")
            moved = free_name(target)
            if moved != target:
                record["artifact_note"] = (
                    f"the set was moved to {moved.name}: {target.name} already held another set when it was archived"
                )
            record["artifact"] = str(moved if root is None else moved.relative_to(root))
            folder.rename(moved)
        results["entries"][archive] = record
        write_json(path, results)
    return archive


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``--set FIELD=VALUE`` items as config overrides; a VALUE that parses as JSON (numbers,
    ``true``/``false``, lists) is taken as that, anything else as a string."""
    overrides: dict[str, Any] = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise ValueError(f"Invalid value {item!r} for argument --set. Valid values are FIELD=VALUE")
        try:
            overrides[k] = json.loads(v)
        except json.JSONDecodeError:
            overrides[k] = v
    return overrides


def run_entry(
    dataset: str,
    method: str,
    budget: int,
    *,
    runs: int,
    models: list[str],
    seed: int,
    steps: int | None,
    overrides: dict[str, Any],
    reuse: bool = False,
) -> dict[str, Any]:
    """Condense (or, with ``reuse``, load the artifact an earlier main run saved) and evaluate."""
    t0 = time.perf_counter()
    task = prepare_task(dataset)
    saved = ARTIFACTS / f"{dataset}-{method}-{budget}-seed{seed}"
    reused = reuse and saved.exists()
    if reused:
        cg = CondensedGraph.load(saved)
    else:
        cg = condense_nodes(
            task, method, budget=budget, seed=seed, steps=steps, config=overrides or None, progress=sys.stderr.isatty()
        )
        if not overrides and steps is None:
            cg.save(saved)
    t1 = time.perf_counter()
    workers = auto_workers(runs * len(models), task.x.device)
    res = evaluate_node(task, cg.tensors(), models=models, config=NodeEvalConfig(runs=runs, seed=seed), workers=workers)
    t2 = time.perf_counter()
    return {
        "dataset": dataset,
        "method": method,
        "budget": budget,
        "seed": seed,
        "test": {m: s.to_dict() for m, s in res.items()},
        "val_selected": cg.card["metrics"]["val_selected"],
        "best_step": cg.card["metrics"]["best_step"],
        "condense": cg.card["cost"],
        "eval_time_s": round(t2 - t1, 2),
        "eval_workers": workers,
        "total_time_s": round(t2 - t0, 2),
        "config": cg.card["config"],
        "selection": {k: v for k, v in cg.card.get("selection", {}).items() if k != "history"},
        "edges": int((cg.adj > 0).sum()),
        "hardware": hardware(),
        "reused_artifact": reused,
        "date": time.strftime("%Y-%m-%d"),
    }


def _selection(e: dict[str, Any]) -> str:
    sel = e.get("selection")
    steps = e["condense"]["steps"]
    early = "" if sel is None or not sel.get("eval_steps") else "*"
    return f"{e['best_step']}/{steps}{early}"


def table(results: dict[str, Any]) -> str:
    """The BENCHMARKS.md tables: main (GCN) and cross-architecture; each mean ± std rounded once, from the runs
    (:func:`format_summary`)."""
    rows = [
        "| dataset | budget | method | ours (GCN, mean ± std) | paper | peer (GraphSlim, this machine) "
        "| selected step | condense time | peak MB | end-to-end | threads |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    main = [e for k, e in results["entries"].items() if k.startswith("main/")]
    timing = [e for k, e in results["entries"].items() if k.startswith("timing/")]
    rows += _rows(main)
    if timing:
        rows += ["", "Runs alone on the idle machine (2 torch threads), for the cost targets:", "", rows[0], rows[1]]
        rows += _rows(timing)
    cross = [e for k, e in results["entries"].items() if k.startswith("cross/")]
    if cross:
        models = list(cross[0]["test"])
        rows += [
            "",
            "| dataset | budget | method | " + " | ".join(models) + " |",
            "|---|---|---|" + "---|" * len(models),
        ]
        for e in sorted(cross, key=lambda e: (e["dataset"], e["budget"], e["method"])):
            cells = " | ".join(format_summary(e["test"][m], 1) for m in models)
            rows.append(f"| {e['dataset']} | {e['budget']} | {e['method']} | {cells} |")
    return "\n".join(rows)


def _threads(e: dict[str, Any]) -> str:
    """Torch threads of the run, plus ``eval 2×1`` when its evaluation ran in worker processes."""
    workers = e.get("eval_workers", 1)
    extra = f", eval {workers}×1" if workers > 1 else ""
    return f"{e['hardware']['torch_threads']}{extra}"


def _rows(entries: list[dict[str, Any]]) -> list[str]:
    rows = []
    entries.sort(
        key=lambda e: (e["dataset"], e["budget"], METHODS.index(e["method"]) if e["method"] in METHODS else 99)
    )
    for e in entries:
        d, b, m = e["dataset"], e["budget"], e["method"]
        g = e["test"]["gcn"]
        i = BUDGETS.get(d, []).index(b) if b in BUDGETS.get(d, []) else None
        paper = PAPER.get(d, {}).get(m)
        peer = PEER.get((d, b), {}).get(m)
        rows.append(
            f"| {d} | {b} | {m} | {format_summary(g, 1)} | "
            f"{'-' if paper is None or i is None else paper[i]} | "
            f"{'-' if peer is None else f'{peer[0]} ({peer[1]} s)'} | {_selection(e)} | "
            f"{e['condense']['wall_time_s']:.0f} s | {e['condense']['peak_memory_mb']:.0f} | "
            f"{e['total_time_s']:.0f} s | {_threads(e)} |"
        )
    return rows


@records_command
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default="cora,citeseer")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--budgets", default=None, help="comma-separated node counts (default: the paper's three)")
    p.add_argument("--models", default="gcn")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=None, help="override the paper's epochs (reported in the JSON)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="config override")
    p.add_argument("--key", default="main", help="result group: 'main' or 'cross' (cross-architecture)")
    p.add_argument("--force", action="store_true")
    p.add_argument("--reuse", action="store_true", help="evaluate the condensed set a default run saved")
    p.add_argument("--table", action="store_true", help="print the Markdown table and exit")
    ns = p.parse_args(argv)
    results = load()
    if ns.table:
        print(table(results))
        return 0
    overrides = parse_overrides(ns.set)
    models = ns.models.split(",")
    for d in ns.datasets.split(","):
        budgets = [int(b) for b in ns.budgets.split(",")] if ns.budgets else BUDGETS[d]
        for m in ns.methods.split(","):
            for b in budgets:
                key = f"{ns.key}/{d}/{m}/{b}"
                if key in results["entries"] and not ns.force:
                    print(f"skip {key} (in results; --force recomputes)")
                    continue
                e = run_entry(
                    d,
                    m,
                    b,
                    runs=ns.runs,
                    models=models,
                    seed=ns.seed,
                    steps=ns.steps,
                    overrides=overrides,
                    reuse=ns.reuse,
                )
                save_entry(key, e)
                accs = ", ".join(f"{k} {format_summary(v, 2)}" for k, v in e["test"].items())
                print(
                    f"{key}: {accs} | condense {e['condense']['wall_time_s']:.0f} s, total {e['total_time_s']:.0f} s",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
