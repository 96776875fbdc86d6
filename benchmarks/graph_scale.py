"""Node condensation at scale, on seeded synthetic stand-ins for ogbn-arxiv, Flickr and Reddit.

None of GCond's large graphs is on this machine's disk and no package here ships them, so each is
replaced by a *stand-in* with its node, edge, feature and class counts, built here at run time
(never committed): a degree-corrected stochastic block model (Karrer & Newman 2011) whose nodes
draw power-law degree propensities, whose edges stay inside the source's class with probability
``homophily`` (else go anywhere), and whose features are a class mean plus Gaussian noise. The
stand-ins measure cost (time per step, memory, how both grow with edges) and whether a method
runs; their accuracies say nothing about the real datasets.

Settings follow GCond (Jin et al., ICLR 2022): arxiv transductive (splits 54/18/28 %), Flickr and
Reddit inductive (condense from the training subgraph; select on the validation nodes' own subgraph and
test on the test nodes' own subgraph, GCond's ``adj_val`` / ``adj_test``: :meth:`NodeTask.held_out`;
splits 50/25/25 % and 66/10/24 %). ``--scales`` shrinks the arxiv stand-in (nodes and edges
together, so the mean degree stays) for the scaling curve.

Each entry of ``benchmarks/results/graph_scale.json``: dataset, scale, nodes, edges (columns of
the symmetric ``edge_index``), method, budget, setting, device, steps, sec_per_step (mean over the
steps, selection excluded), wall_time_s, peak_memory_mb (process peak RSS on CPU, peak allocated
on CUDA), start_to_first_step_s, the GCN test figure when evaluated (``--eval-runs``), the config
overrides, and ``load`` ("shared": timed on a machine shared with other jobs).

Examples::

    python benchmarks/graph_scale.py --dataset arxiv --scales 0.0625,0.125,0.25,0.5,1 \\
        --methods gcdm,doscond,gcsntk --steps 5 --set gcsntk.real_batch=64
    python benchmarks/graph_scale.py --dataset arxiv --methods gcdm --eval-runs 3   # the full run
    python benchmarks/graph_scale.py --startup          # command → first step, Cora (warm cache)
    python benchmarks/graph_scale.py --eval-speed       # 10 GCN runs: one at a time vs batched
    python benchmarks/graph_scale.py --plot --table
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from common import (  # benchmarks/ is on sys.path when run as a script
    hardware,
    load,
    parse_overrides,
    records_command,
    save_entry,
)
from torch_geometric.data import Data

from condensekit.core.evaluate import TrainConfig, format_summary
from condensekit.core.seed import resolve_device
from condensekit.graph.condense import condense_nodes, prepare_task
from condensekit.graph.evaluate import NodeEvalConfig, evaluate_node
from condensekit.graph.methods import NODE_METHODS
from condensekit.graph.task import NodeTask

RESULTS = Path(__file__).resolve().parent / "results" / "graph_scale.json"
PLOT = RESULTS.with_suffix(".png")


@dataclass(frozen=True)
class StandIn:
    """Counts of a real graph (as GCond's tables give them) and its setting."""

    nodes: int
    edges: int  # undirected pairs to draw
    features: int
    classes: int
    split: tuple[float, float, float]
    setting: str
    budget_ratio: float  # GCond's middle budget, fraction of all nodes


STANDINS = {
    # ogbn-arxiv: 1,166,243 (directed) citations, symmetrised for training as in GCond.
    "arxiv": StandIn(169_343, 1_166_243, 128, 40, (0.537, 0.176, 0.287), "transductive", 0.0025),
    # Flickr, Reddit: PyG's edge counts hold both directions.
    "flickr": StandIn(89_250, 899_756 // 2, 500, 7, (0.50, 0.25, 0.25), "inductive", 0.005),
    "reddit": StandIn(232_965, 114_615_892 // 2, 602, 41, (0.66, 0.10, 0.24), "inductive", 0.001),
}


# The references' own large-graph commands (GCond ``scripts/run_main.sh``; DosCond's
# ``KDD22_DosCond/README.md``), as our config fields: ``--sgc=1`` is the SGC backbone, ``--dis=ours``
# the ``dc`` metric, ``--inner``/``--outer`` the loops. Our defaults are their Cora/CiteSeer settings
# (GCN backbone for DosCond, 15 inner loops for GCond), which cost far more per step on a large graph.
# GCond's Flickr command uses ``--sgc=2`` (a variant we do not have), so Flickr keeps the loop counts only.
RECIPES: dict[str, dict[str, dict[str, Any]]] = {
    "arxiv": {
        "gcond": {"backbone": "sgc", "lr_feat": 0.01, "lr_adj": 0.01, "inner_loop": 3, "epochs": 1000},
        "doscond": {"backbone": "sgc", "metric": "dc", "lr_feat": 0.01, "lr_adj": 0.02, "epochs": 1000},
    },
    "flickr": {
        "gcond": {"lr_feat": 0.005, "lr_adj": 0.005, "inner_loop": 1, "outer_loop": 10, "epochs": 1000},
        "doscond": {"backbone": "gcn", "metric": "mse", "lr_feat": 0.005, "lr_adj": 0.005, "epochs": 1000},
    },
    "reddit": {
        "gcond": {"backbone": "sgc", "lr_feat": 0.1, "lr_adj": 0.1, "inner_loop": 1, "outer_loop": 10, "epochs": 1000},
    },
}


@functools.lru_cache(maxsize=1)
def standin(name: str, scale: float, seed: int) -> Data:
    """:func:`dcsbm` of ``STANDINS[name]``, kept for the next method at the same size."""
    return dcsbm(STANDINS[name], scale=scale, seed=seed)


def dcsbm(spec: StandIn, *, scale: float = 1.0, homophily: float = 0.8, signal: float = 0.15, seed: int = 0) -> Data:
    """A seeded degree-corrected SBM stand-in for ``spec`` (scaled), with masks; see the docstring."""
    g = torch.Generator().manual_seed(seed)
    n, m = max(int(spec.nodes * scale), 10 * spec.classes), max(int(spec.edges * scale), 1)
    c = spec.classes
    w = 1.0 / (torch.arange(c, dtype=torch.float64) + 1) ** 0.6  # unequal class sizes
    sizes = (w / w.sum() * n).floor().long()
    sizes[0] += n - int(sizes.sum())
    y = torch.repeat_interleave(torch.arange(c), sizes)[torch.randperm(n, generator=g)]
    theta = (1 - torch.rand(n, generator=g, dtype=torch.float64)).pow(-1 / 1.5).clamp(max=1e3)  # power law
    order = torch.argsort(y, stable=True)
    cum = torch.cumsum(theta[order], 0)
    bounds = torch.cat([torch.zeros(1, dtype=torch.float64), cum[torch.cumsum(sizes, 0) - 1]])
    total = float(cum[-1])

    def draw(lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
        u = lo + torch.rand(lo.shape, generator=g, dtype=torch.float64) * (hi - lo)
        return order[torch.searchsorted(cum, u).clamp(max=n - 1)]

    zeros = torch.zeros(m, dtype=torch.float64)
    src = draw(zeros, zeros + total)
    same = torch.rand(m, generator=g) < homophily
    cs = y[src]
    dst = draw(torch.where(same, bounds[cs], zeros), torch.where(same, bounds[cs + 1], zeros + total))
    keep = src != dst
    a, b = src[keep], dst[keep]
    key = torch.unique(torch.cat([a * n + b, b * n + a]))  # both directions, duplicates dropped, sorted
    ei = torch.stack([key // n, key % n])
    means = torch.randn(c, spec.features, generator=g)
    x = signal * means[y] + torch.randn(n, spec.features, generator=g)
    perm = torch.randperm(n, generator=g)
    n_tr, n_va = int(spec.split[0] * n), int(spec.split[1] * n)
    masks = [torch.zeros(n, dtype=torch.bool) for _ in range(3)]
    masks[0][perm[:n_tr]] = True
    masks[1][perm[n_tr : n_tr + n_va]] = True
    masks[2][perm[n_tr + n_va :]] = True
    return Data(x=x, edge_index=ei, y=y, train_mask=masks[0], val_mask=masks[1], test_mask=masks[2])


def _overrides(items: list[str], method: str) -> dict[str, Any]:
    """``--set METHOD.FIELD=VALUE`` items that apply to ``method``, parsed as graph_node's ``--set``."""
    mine = []
    for item in items:
        meth, dot, rest = item.partition(".")
        if not dot or "=" not in rest:
            raise ValueError(f"Invalid value {item!r} for argument --set. Valid values are METHOD.FIELD=VALUE")
        if meth == method:
            mine.append(rest)
    return parse_overrides(mine)


_LOAD_AT_START = os.getloadavg()[0]


def load_record() -> dict[str, Any]:
    """What else ran on the machine: the 1-minute load average when this script started (before its
    own work), and ``load`` ``"idle"`` when that was under 1, else ``"shared"``."""
    return {"load": "idle" if _LOAD_AT_START < 1.0 else "shared", "load_average_at_start": round(_LOAD_AT_START, 2)}


def run_entry(
    name: str,
    scale: float,
    method: str,
    *,
    steps: int,
    eval_runs: int,
    device: str,
    sets: list[str],
    seed: int,
    recipe: bool = False,
) -> dict[str, Any]:
    spec = STANDINS[name]
    t0 = time.perf_counter()
    data = standin(name, scale, seed)
    task = NodeTask.from_data(data, device=resolve_device(device))
    task.name = f"{name}-standin"
    build_s = time.perf_counter() - t0
    cond_task = task.training_subgraph() if spec.setting == "inductive" else task
    # GCond's budget, a fraction of all nodes; at least 2 per class (small scales), split proportionally.
    budget = max(int(round(spec.budget_ratio * task.x.shape[0])), 2 * spec.classes)
    config = (RECIPES.get(name, {}).get(method, {}) if recipe else {}) | _overrides(sets, method)
    if not getattr(NODE_METHODS.get(method).config(), "epochs", 0):
        steps = None  # a coreset selects in its set-up; it has no steps
    cg = condense_nodes(
        cond_task,
        method,
        budget=budget,
        seed=seed,
        steps=steps,
        eval_every=0,
        config=config or None,
        progress=sys.stderr.isatty(),
    )
    cost = cg.card["cost"]
    entry: dict[str, Any] = {
        "dataset": f"{name}-standin",
        "scale": scale,
        "nodes": int(task.x.shape[0]),
        "edges": int(task.adj.values().numel()),
        "features": task.num_features,
        "classes": task.num_classes,
        "setting": spec.setting,
        "condensed_from_nodes": int(cond_task.x.shape[0]),
        "method": method,
        "budget": int(cg.card["budget"]["nodes"]),
        "device": cost["device"],
        "steps": cost["steps"],
        "sec_per_step": cost.get("sec_per_step"),
        "cpu_sec_per_step": cost.get("cpu_sec_per_step"),
        "wall_time_s": cost["wall_time_s"],
        "peak_memory_mb": cost["peak_memory_mb"],
        "build_graph_s": round(build_s, 1),
        "config": config,
        "recipe": "reference" if recipe and method in RECIPES.get(name, {}) else "default",
        "test": None,
        **load_record(),
        "hardware": hardware(),
        "date": time.strftime("%Y-%m-%d"),
    }
    if eval_runs:
        t1 = time.perf_counter()
        # val_every 10: a validation pass over the judging graph every 10 of the 600 epochs (the
        # Planetoid rows validate every epoch; here that pass dominates the cost).
        cfg = NodeEvalConfig(runs=eval_runs, seed=seed, train=TrainConfig(val_every=10))
        judge = cond_task.judge  # the task itself (transductive) or GCond's held-out subgraphs (inductive)
        res = evaluate_node(judge, cg.tensors(), config=cfg)
        entry["test"] = {k: v.to_dict() for k, v in res.items()}
        entry["test_graph"] = "held-out subgraphs" if judge is not task else "full"
        entry["eval"] = {"runs": eval_runs, "val_every": 10, "time_s": round(time.perf_counter() - t1, 1)}
    return entry


def startup(runs: int = 2, device: str = "auto") -> dict[str, Any]:
    """``condensekit graph condense`` on Cora: process start → first step (the engine's
    ``start_to_first_step_s``) and the whole command, the last of ``runs`` (warm cache)."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            cmd = [
                sys.executable,
                "-c",
                "import sys; from condensekit.core.cli import main; sys.exit(main())",
                "graph",
                "condense",
                "--dataset",
                "cora",
                "--method",
                "gcdm",
                "--budget",
                "70",
                "--steps",
                "2",
                "--eval-every",
                "0",
                "--quiet",
                "--device",
                device,
                "--out",
                f"{tmp}/a{i}",
                "--json",
                f"{tmp}/a{i}.json",
            ]
            t, used = time.perf_counter(), _children_cpu_s()
            subprocess.run(cmd, check=True, capture_output=True)
            total, cpu = time.perf_counter() - t, _children_cpu_s() - used
            cost = json.loads(Path(f"{tmp}/a{i}.json").read_text())["cost"]
            # CPU seconds of the whole command: on a loaded machine, wall time counts others' work too.
            out = {"dataset": "cora", "method": "gcdm", "command_s": round(total, 2), "command_cpu_s": round(cpu, 2)}
            out |= cost | {"run": i + 1}
    return out | {**load_record(), "hardware": hardware(), "date": time.strftime("%Y-%m-%d")}


def _children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def eval_speed(runs: int = 10) -> dict[str, Any]:
    """Cora, random coreset of 70: ``runs`` GCN runs one at a time and batched, in this process."""
    task = prepare_task("cora", device="cpu")
    cg = condense_nodes(task, "random", budget=70, progress=False)
    out: dict[str, Any] = {"dataset": "cora", "runs": runs, "device": "cpu"}
    for mode in ("one_at_a_time", "batched"):
        t, c = time.perf_counter(), time.process_time()
        res = evaluate_node(task, cg.tensors(), config=NodeEvalConfig(runs=runs), batched=mode == "batched")
        out[mode] = {
            "time_s": round(time.perf_counter() - t, 2),
            "cpu_s": round(time.process_time() - c, 2),
            "test": res["gcn"].to_dict(),
        }
    return out | {**load_record(), "hardware": hardware(), "date": time.strftime("%Y-%m-%d")}


def table(results: dict[str, Any]) -> str:
    rows = [
        "| dataset | scale | nodes | edges | method | recipe | budget | device | steps | s/step | CPU s/step "
        "| wall (s) | peak MB | GCN test |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    entries = [e for k, e in results["entries"].items() if k.startswith("scale/")]
    for e in sorted(entries, key=lambda e: (e["dataset"], e["method"], e["edges"], e["steps"])):
        test = format_summary((e.get("test") or {}).get("gcn"), 1)  # rounded once, from the runs
        sps = "-" if e["sec_per_step"] is None else f"{e['sec_per_step']:.3g}"
        cps = "-" if e.get("cpu_sec_per_step") is None else f"{e['cpu_sec_per_step']:.3g}"
        rows.append(
            f"| {e['dataset']} | {e['scale']} | {e['nodes']} | {e['edges']} | {e['method']} "
            f"| {e.get('recipe', 'default')} | {e['budget']} | "
            f"{e['device']} | {e['steps']} | {sps} | {cps} | {e['wall_time_s']:.0f} | {e['peak_memory_mb']:.0f} "
            f"| {test} |"
        )
    return "\n".join(rows)


def plot(results: dict[str, Any], path: Path = PLOT) -> Path:
    """Seconds per step and peak memory against edges, one line per (dataset, method, device).
    On the CPU the step time is the process's CPU time (the machine is shared: wall time counts
    other jobs' load too); on CUDA the wall time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for key, e in results["entries"].items():
        if key.startswith("scale/") and e["sec_per_step"] is not None:
            name = e["method"] + (" (reference recipe)" if e.get("recipe") == "reference" else "")
            lines.setdefault((e["dataset"], name, e["device"]), []).append(e)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for (dataset, method, device), es in sorted(lines.items()):
        es = sorted(es, key=lambda e: e["edges"])
        # one point per size: the entry with the most steps
        by_edges: dict[int, dict[str, Any]] = {}
        for e in es:
            if e["edges"] not in by_edges or e["steps"] > by_edges[e["edges"]]["steps"]:
                by_edges[e["edges"]] = e
        es = [by_edges[k] for k in sorted(by_edges)]
        label = f"{method} ({dataset}, {device})"
        step = [
            e["cpu_sec_per_step"] if device == "cpu" and e.get("cpu_sec_per_step") else e["sec_per_step"] for e in es
        ]
        axes[0].plot([e["edges"] for e in es], step, "o-", label=label)
        axes[1].plot([e["edges"] for e in es], [e["peak_memory_mb"] for e in es], "o-", label=label)
    for ax, ylabel in zip(axes, ("seconds per step (CPU time on cpu)", "peak memory (MB)"), strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("edges (symmetric edge_index columns)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("Node condensation on DC-SBM stand-ins (2 shared CPU cores unless the label says cuda)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


@records_command
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="arxiv", choices=sorted(STANDINS))
    p.add_argument("--scales", default="1", help="comma-separated fractions of the stand-in's nodes and edges")
    p.add_argument("--methods", default="gcdm")
    p.add_argument("--steps", type=int, default=None, help="engine steps (default: the method's own)")
    p.add_argument("--eval-runs", type=int, default=0, help="GCN runs on the full graph (0: cost only)")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[], metavar="METHOD.FIELD=VALUE")
    p.add_argument(
        "--recipe",
        action="store_true",
        help="use the reference's own large-graph settings (RECIPES) for GCond/DosCond; --set still wins",
    )
    p.add_argument("--key", default="scale", help="result group (entries under 'scale/' are tabled and plotted)")
    p.add_argument("--startup", action="store_true", help="measure command → first step on Cora")
    p.add_argument("--eval-speed", action="store_true", help="10 GCN runs on Cora: one at a time vs batched")
    p.add_argument("--table", action="store_true")
    p.add_argument("--plot", action="store_true")
    ns = p.parse_args(argv)
    if ns.startup:
        save_entry(f"startup/cora/{resolve_device(ns.device).type}", e := startup(device=ns.device), RESULTS)
        print(json.dumps(e))
    if ns.eval_speed:
        save_entry(f"eval_speed/cora/{resolve_device(ns.device).type}", e := eval_speed(), RESULTS)
        print(json.dumps({k: v for k, v in e.items() if k != "hardware"}))
    if ns.table or ns.plot:
        results = load(RESULTS)
        if ns.table:
            print(table(results))
        if ns.plot:
            print(f"plot: {plot(results)}")
    if ns.startup or ns.eval_speed or ns.table or ns.plot:
        return 0
    for scale in [float(s) for s in ns.scales.split(",")]:
        for method in ns.methods.split(","):
            e = run_entry(
                ns.dataset,
                scale,
                method,
                steps=ns.steps,
                eval_runs=ns.eval_runs,
                device=ns.device,
                sets=ns.set,
                seed=ns.seed,
                recipe=ns.recipe,
            )
            tag = "/reference" if e["recipe"] == "reference" else ""
            key = f"{ns.key}/{e['dataset']}/{scale}/{method}{tag}/{e['device']}/{e['steps']}"
            save_entry(key, e, RESULTS)
            test = "" if not e["test"] else f", GCN {format_summary(e['test']['gcn'], 2)}"
            print(
                f"{key}: {e['nodes']} nodes, {e['edges']} edges, {e['sec_per_step']} s/step, "
                f"wall {e['wall_time_s']:.0f} s, peak {e['peak_memory_mb']:.0f} MB{test}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
