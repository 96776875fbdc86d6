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
import sys
import time
from pathlib import Path
from typing import Any

from common import hardware, load, parse_overrides, records_command, save_entry  # benchmarks/ is on sys.path

from condensekit.core.evaluate import format_summary
from condensekit.core.parallel import auto_workers
from condensekit.graph.condense import CondensedGraph, condense_nodes, prepare_task
from condensekit.graph.evaluate import NodeEvalConfig, evaluate_node

RESULTS = Path(__file__).resolve().parent / "results" / "graph_node.json"
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
    results = load(RESULTS)
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
                save_entry(key, e, RESULTS)
                accs = ", ".join(f"{k} {format_summary(v, 2)}" for k, v in e["test"].items())
                print(
                    f"{key}: {accs} | condense {e['condense']['wall_time_s']:.0f} s, total {e['total_time_s']:.0f} s",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
