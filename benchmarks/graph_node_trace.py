"""Validation and test accuracy along one condensation run, every ``--every`` steps.

A diagnostic for a method's schedule: at step 0, ``every``, 2·``every``, … the current condensed
graph is evaluated with ``--runs`` GCN trainings (the benchmark protocol); the mean validation
accuracy drives the engine's selection, the test accuracy is only recorded. It shows whether a
method plateaus, oscillates or is still climbing when it stops, and how much the single-run
selection of the main benchmark can miss. Results go to ``benchmarks/results/graph_node_trace.json``
under ``DATASET/METHOD/BUDGET/LABEL``.

Example (DosCond on Cora at 70 nodes, its default joint update and GCond's alternation)::

    python benchmarks/graph_node_trace.py --dataset cora --method doscond --budget 70 --label joint
    python benchmarks/graph_node_trace.py --dataset cora --method doscond --budget 70 \\
        --label alternate --set joint_update=false
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch
from common import parse_overrides, records_command, save_entry  # benchmarks/ is on sys.path when run as a script

from condensekit.core.engine import EngineConfig, run
from condensekit.graph.condense import make_config, prepare_task
from condensekit.graph.evaluate import NodeEvalConfig, train_on_condensed
from condensekit.graph.methods import NODE_METHODS, node_budgets

RESULTS = Path(__file__).resolve().parent / "results" / "graph_node_trace.json"


def trace(dataset: str, method: str, budget: int, *, every: int, runs: int, overrides: dict[str, Any]) -> dict:
    task = prepare_task(dataset)
    cfg = make_config(method, overrides)
    algo = NODE_METHODS.get(method).cls(task, node_budgets(task, budget=budget), cfg)
    points: list[dict[str, Any]] = []

    def evaluate(cond: dict[str, torch.Tensor]) -> float:
        torch.manual_seed(0)  # the engine restores its own RNG stream afterwards
        res = [train_on_condensed(task, "gcn", cond, NodeEvalConfig(seed=0)) for _ in range(runs)]
        val = sum(r.val for r in res) / runs
        points.append(
            {
                "step": len(points) * every,
                "val": round(val, 2),
                "test": round(sum(r.test for r in res) / runs, 2),
                "val_runs": [round(r.val, 1) for r in res],
                "test_runs": [round(r.test, 1) for r in res],
            }
        )
        print(f"step {points[-1]['step']}: val {val:.2f} test {points[-1]['test']:.2f}", flush=True)
        return val

    t0 = time.perf_counter()
    result = run(algo, EngineConfig(steps=cfg.epochs, seed=0, eval_every=every, progress=False), evaluate)
    return {
        "dataset": dataset,
        "method": method,
        "budget": budget,
        "overrides": overrides,
        "every": every,
        "runs": runs,
        "points": points,
        "best_step": result.best_step,
        "best": next(p for p in points if p["step"] == result.best_step),
        "time_s": round(time.perf_counter() - t0, 1),
    }


@records_command
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="cora")
    p.add_argument("--method", default="doscond")
    p.add_argument("--budget", type=int, default=70)
    p.add_argument("--every", type=int, default=100)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--label", default="default")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="config override")
    ns = p.parse_args(argv)
    overrides = parse_overrides(ns.set)
    entry = trace(ns.dataset, ns.method, ns.budget, every=ns.every, runs=ns.runs, overrides=overrides)
    save_entry(f"{ns.dataset}/{ns.method}/{ns.budget}/{ns.label}", entry, RESULTS)
    print(f"best step {entry['best_step']}: {entry['best']}; {entry['time_s']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
