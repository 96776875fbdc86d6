"""Validation accuracy and feature drift along one graph-level condensation run, every ``--every`` steps.

The graph-level counterpart of ``graph_node_trace.py``: at step 0, ``every``, 2·``every``, … the current
condensed graphs are scored by ``--runs`` fresh models per ``--models`` entry, trained with the benchmark
protocol and scored on the real **validation** graphs (the test graphs are not read); the first model's mean
drives the engine's selection. The entry records the loss of step 0 (the objective at the initial set);
each point also records the matching loss of the step just taken (DosCond:
the mean relative gradient error per class), the mean absolute feature value and its drift from step 0, the
number of edges of the discretised graphs and how many node pairs flipped (edge to none or back) since
step 0, the mean feature row sum of the nodes that started as real nodes and as padding, and (DosCond) the
mean |gradient| of the edge logits in the step just taken and the fraction of logits with |g| > 1e-8.
It shows whether a method's objective and its students' accuracy move together. Results go to
``benchmarks/results/graph_level_trace.json`` under
``DATASET/METHOD/gpcN/LABEL``.

``--starts`` instead compares the step-0 sets (seed 0) of the random coreset, of ``--method``'s random start
with ``--set`` and (DosCond) of its ``start=coreset``: which real graphs each holds (sizes, truncation, padding
a mean pooling counts, overlap with the random coreset) and their validation accuracy (key
``DATASET/METHOD/gpcN/starts-LABEL``).

``--splits N`` instead trains the whole-data models (``--runs`` each, seeds 1000..) on the splits of seeds
0..N-1 and records their validation and test accuracy per split, with each split's majority rates and graph
sizes per class (key ``DATASET/whole/splits-LABEL``): whether one split's validation graphs disagree with its
test graphs. No hyper-parameter or set is chosen on it.

Example (DosCond on PROTEINS at 10 graphs per class, the figures BENCHMARKS.md quotes)::

    python benchmarks/graph_level_trace.py --dataset proteins --method doscond --gpc 10 --steps 150 --every 50
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch
from common import hardware, parse_overrides, records_command, save_entry
from graph_level import reference_settings  # benchmarks/ is on sys.path when run as a script

from condensekit.core.engine import EngineConfig, run
from condensekit.core.evaluate import repeat
from condensekit.core.seed import seed_everything
from condensekit.graph.level.condense import make_graph_config, prepare_graphs
from condensekit.graph.level.evaluate import PROTOCOLS, train_on_condensed, train_on_real
from condensekit.graph.level.methods import GRAPH_METHODS
from condensekit.graph.level.methods.base import real_picks

RESULTS = Path(__file__).resolve().parent / "results" / "graph_level_trace.json"


def trace(
    dataset: str,
    method: str,
    gpc: int,
    *,
    steps: int,
    every: int,
    runs: int,
    models: list[str],
    overrides: dict,
    seed: int = 0,
) -> dict[str, Any]:
    graphs = prepare_graphs(dataset, seed=0, device="cpu")
    # the benchmark's per-dataset reference settings (e.g. DosCond's lr_adj 0.1 on MUTAG) under the overrides
    cfg = make_graph_config(method, reference_settings(dataset, method, gpc) | overrides)
    algo = GRAPH_METHODS.get(method).cls(graphs, gpc, cfg)
    points: list[dict[str, Any]] = []
    x0: list[torch.Tensor] = []
    a0: list[torch.Tensor] = []
    last_loss: list[float] = []
    first_loss: list[float] = []
    adj_grad: dict[str, float] = {}
    step_fn = algo.step

    def logged_step(step: int) -> dict[str, float]:
        logs = step_fn(step)
        last_loss[:] = [logs.get("loss", float("nan"))]
        parts = getattr(algo, "parts", None)  # DosCond's edge logits, one tensor per width
        grads = [p.logits.grad.flatten() for p in parts or [] if p.logits.grad is not None]
        g = torch.cat(grads) if grads else None
        if g is not None:
            adj_grad.clear()
            adj_grad["adj_grad_abs_mean"] = float(g.abs().mean())
            adj_grad["adj_grad_frac_gt_1e-8"] = round(float((g.abs() > 1e-8).float().mean()), 4)
        if step == 0:
            first_loss.append(last_loss[0])  # the objective at the initial set
        return logs

    algo.step = logged_step  # type: ignore[method-assign]

    def evaluate(cond: dict[str, torch.Tensor]) -> float:
        x = cond["x"].float()
        if not x0:
            x0.append(x.clone())
            a0.append(cond["adj"].clone())
        pad = x0[0].abs().sum(-1) == 0  # nodes that started as zero-feature padding
        rows = x.sum(-1)
        val = {
            m: round(repeat(lambda _s, m=m: train_on_condensed(graphs, m, cond, PROTOCOLS[m], test=False).val,
                            runs=runs, seed=100).mean, 2)
            for m in models
        }  # fmt: skip
        points.append(
            {
                "step": len(points) * every,
                "val": val,
                "loss": round(last_loss[0], 6) if last_loss else None,
                "x_abs_mean": round(float(x.abs().mean()), 4),
                "x_drift": round(float((x - x0[0]).abs().mean()), 4),
                "edges": int(cond["adj"].sum()) // 2,
                "edges_changed": int((cond["adj"] != a0[0]).sum()) // 2,  # flipped pairs since step 0
                "x_row_sum_real": round(float(rows[~pad].mean()), 4),
                "x_row_sum_pad": round(float(rows[pad].mean()), 4) if bool(pad.any()) else None,
                **{k: float(f"{v:.3g}") for k, v in adj_grad.items()},  # of the step just taken
            }
        )
        print(f"step {points[-1]['step']}: {points[-1]}", flush=True)
        return val[models[0]]

    t0, c0 = time.perf_counter(), time.process_time()
    result = run(algo, EngineConfig(steps=steps, seed=seed, device="cpu", eval_every=every, progress=False), evaluate)
    return {
        "dataset": dataset,
        "method": method,
        "gpc": gpc,
        "overrides": overrides,
        "reference_settings": reference_settings(dataset, method, gpc),
        "seed": seed,
        "steps": steps,
        "every": every,
        "runs": runs,
        "models": models,
        "first_step_loss": round(first_loss[0], 6) if first_loss else None,
        "points": points,
        "best_step": result.best_step,
        "time_s": round(time.perf_counter() - t0, 1),
        "cpu_s": round(time.process_time() - c0, 1),
        "load": "shared",
        "hardware": hardware(),
        "date": time.strftime("%Y-%m-%d"),
    }


def draws(
    dataset: str, method: str, gpc: int, *, n: int, runs: int, models: list[str], overrides: dict
) -> dict[str, Any]:
    """Validation accuracy of ``n`` sets of one method condensed with seeds ``0..n-1`` at step 0 (for ``random``:
    ``n`` random coresets; for a learned method: its initialisations): how much the score of a row moves with the
    draw alone. Each set is scored by ``runs`` fresh models per entry of ``models`` (validation split only)."""
    graphs = prepare_graphs(dataset, seed=0, device="cpu")
    cfg = make_graph_config(method, reference_settings(dataset, method, gpc) | overrides)
    per: dict[str, list[float]] = {m: [] for m in models}
    t0 = time.perf_counter()
    for seed in range(n):
        algo = GRAPH_METHODS.get(method).cls(graphs, gpc, cfg)
        result = run(algo, EngineConfig(steps=0, seed=seed, device="cpu", progress=False), None)
        cond = result.condensed
        for m in models:
            score = repeat(lambda _s, m=m, c=cond: train_on_condensed(graphs, m, c, PROTOCOLS[m], test=False).val,
                           runs=runs, seed=100).mean  # fmt: skip
            per[m].append(round(score, 2))
        last = {m: v[-1] for m, v in per.items()}
        print(f"draw {seed}: {last}", flush=True)
    summary = {m: {"mean": round(float(torch.tensor(v).mean()), 2), "std": round(float(torch.tensor(v).std()), 2),
                   "draws": v} for m, v in per.items()}  # fmt: skip
    return {
        "dataset": dataset,
        "method": method,
        "gpc": gpc,
        "overrides": overrides,
        "draws": n,
        "runs": runs,
        "val": summary,
        "time_s": round(time.perf_counter() - t0, 1),
        "hardware": hardware(),
        "date": time.strftime("%Y-%m-%d"),
    }


def _start_stats(graphs: Any, algo: Any, cond: dict[str, torch.Tensor], coreset: set[int]) -> dict[str, Any]:
    """Which real graphs a method's step-0 set holds and how they are padded, per class."""
    cfg = getattr(algo, "config", None)
    width = int(cond["mask"].shape[1])
    seed_everything(0)  # the engine's seeding before setup: the same random stream picks the same graphs
    if getattr(cfg, "init", "random") != "random":
        raise ValueError(f"Invalid value {cfg.init!r} for argument init: --starts compares random starts only")
    if not hasattr(cfg, "node_multiplier") or getattr(cfg, "start", "reference") == "coreset":  # a coreset
        largest = int(graphs.num_nodes[graphs.train_idx].max())
        picks = real_picks(graphs, algo.gpc, "random", largest)
    else:  # DosCond's reference start (init_fit) or KiDD's (cut at node_multiplier x the mean size)
        n = algo.syn_nodes(cfg.node_multiplier)
        picks = real_picks(graphs, algo.gpc, "random", n, fit=getattr(cfg, "init_fit", False))
    sizes = graphs.num_nodes[graphs.train_idx[picks]]
    x, _, _ = graphs.padded(graphs.train_idx[picks], width)
    assert torch.equal(x * cond["mask"].unsqueeze(-1), cond["x"] * cond["mask"].unsqueeze(-1))
    real_rows = (cond["x"].abs().sum(-1) > 0).sum(1)  # nodes of the real graph kept (one-hot rows are non-zero)
    out: dict[str, Any] = {"width": width, "shared_with_random_coreset": sum(int(i) in coreset for i in picks)}
    for c in range(graphs.num_classes):
        sel = cond["y"] == c
        counted = cond["mask"][sel].sum(1)  # nodes a mean pooling counts
        out[f"class{c}"] = {
            "real_size_mean": round(float(sizes[sel].float().mean()), 1),
            "real_size_max": int(sizes[sel].max()),
            "truncated": int((sizes[sel] > width).sum()),
            "kept_nodes_mean": round(float(real_rows[sel].float().mean()), 1),
            "pooled_nodes_mean": round(float(counted.mean()), 1),
            "padding_pooled_share": round(float(1 - real_rows[sel].sum() / counted.sum()), 3),
        }
    return out


def starts(dataset: str, method: str, gpc: int, *, runs: int, models: list[str], overrides: dict) -> dict[str, Any]:
    """Step-0 sets (seed 0) of the random coreset, ``method``'s start with ``overrides`` and (DosCond) its coreset
    start: the real graphs they hold (sizes, truncation, pooled padding, overlap with the random coreset) and
    their validation accuracy (``runs`` models per entry of ``models``; the test graphs are not read)."""
    graphs = prepare_graphs(dataset, seed=0, device="cpu")
    ref = reference_settings(dataset, method, gpc) | overrides
    sets = {"random": ("random", {}), method: (method, ref)}
    if method == "doscond":
        sets["doscond-coreset-start"] = ("doscond", ref | {"start": "coreset", "mask_padding": True})
    t0 = time.perf_counter()
    out: dict[str, Any] = {}
    conds: dict[str, dict[str, torch.Tensor]] = {}
    coreset: set[int] = set()
    for label, (method, over) in sets.items():
        algo = GRAPH_METHODS.get(method).cls(graphs, gpc, make_graph_config(method, over))
        cond = run(algo, EngineConfig(steps=0, seed=0, device="cpu", progress=False), None).condensed
        conds[label] = cond
        if label == "random":
            seed_everything(0)
            largest = int(graphs.num_nodes[graphs.train_idx].max())
            coreset = {int(i) for i in real_picks(graphs, gpc, "random", largest)}
        val = {
            m: round(repeat(lambda _s, m=m, c=cond: train_on_condensed(graphs, m, c, PROTOCOLS[m], test=False).val,
                            runs=runs, seed=100).mean, 2)
            for m in models
        }  # fmt: skip
        out[label] = {"overrides": over, "val": val, **_start_stats(graphs, algo, cond, coreset)}
        print(label, out[label], flush=True)
    last = list(conds)[-1]
    same = all(torch.equal(conds["random"][k].float(), conds[last][k].float()) for k in conds["random"])
    return {
        "dataset": dataset,
        "method": method,
        "gpc": gpc,
        "runs": runs,
        "models": models,
        "sets": out,
        f"{last}_equals_random_coreset": same,
        "time_s": round(time.perf_counter() - t0, 1),
        "hardware": hardware(),
        "date": time.strftime("%Y-%m-%d"),
    }


def wl_features(graphs: Any, iterations: int = 3) -> torch.Tensor:
    """Weisfeiler-Lehman subtree counts ``(G, colours)`` (Shervashidze et al., JMLR 2011), each row L2-normalised:
    a node's first colour is its feature row's argmax (the one-hot node label on MUTAG, NCI1 and PTC_MR), then
    ``iterations`` times its colour and its neighbours' sorted colours are relabelled. No GNN is involved."""
    colour = graphs.x.argmax(1).tolist()
    nbrs: list[list[int]] = [[] for _ in colour]
    for u, v in graphs.edge_index.t().tolist():
        nbrs[u].append(v)
    owner = torch.repeat_interleave(torch.arange(graphs.num_graphs), graphs.num_nodes.cpu()).tolist()
    vocab: dict[tuple, int] = {}
    cells: dict[tuple[int, int], int] = {}
    for it in range(iterations + 1):
        for node, c in enumerate(colour):
            col = vocab.setdefault((it, c), len(vocab))
            cells[(owner[node], col)] = cells.get((owner[node], col), 0) + 1
        names: dict[tuple, int] = {}
        colour = [names.setdefault((c, tuple(sorted(colour[u] for u in nbrs[node]))), len(names))
                  for node, c in enumerate(colour)]  # fmt: skip
    out = torch.zeros(graphs.num_graphs, len(vocab))
    for (g, col), k in cells.items():
        out[g, col] = k
    return out / out.norm(dim=1, keepdim=True).clamp_min(1e-12)


def wl_logistic(graphs: Any, feats: torch.Tensor, *, l2: float = 1e-3) -> dict[str, float]:
    """Accuracy (%) on the validation and test graphs of a multinomial logistic regression on ``feats`` (L2 ``l2``,
    full-batch L-BFGS from zeros, so deterministic) fitted to the training graphs: a baseline outside the GNNs."""
    w = torch.zeros(feats.shape[1], graphs.num_classes, requires_grad=True)
    b = torch.zeros(graphs.num_classes, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=500, line_search_fn="strong_wolfe")
    x, y = feats[graphs.train_idx], graphs.y[graphs.train_idx]

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ w + b, y) + l2 * w.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return {part: round(100 * float(((feats[idx] @ w + b).argmax(1) == graphs.y[idx]).float().mean()), 1)
                for part, idx in (("train", graphs.train_idx), ("val", graphs.val_idx), ("test", graphs.test_idx))}


def whole_runs(graphs: Any, model: str, runs: int) -> list[Any]:
    """``runs`` whole-data runs of ``model`` seeded as :func:`~condensekit.core.evaluate.repeat` seeds them (1000..),
    each run's whole result kept (``repeat`` keeps one score; a split row needs validation and test)."""
    res: list[Any] = []

    def one(_seed: int) -> float:
        res.append(train_on_real(graphs, model, PROTOCOLS[model])[0])
        return res[-1].val

    repeat(one, runs=runs, seed=1000)
    return res


def splits(dataset: str, n: int, *, runs: int, models: list[str]) -> dict[str, Any]:
    """Whole-data ``models`` (``runs`` each, seeds 1000..) on the splits of seeds ``0..n-1``: validation and test
    accuracy per split, the majority class's share of each split and its mean graph size per class; the model
    ``wl`` is a logistic regression on WL-subtree counts (:func:`wl_features`, :func:`wl_logistic`), no GNN. It
    measures how far one split's validation and test disagree for the same model; it chooses nothing."""
    t0, c0 = time.perf_counter(), time.process_time()
    rows = []
    for seed in range(n):
        graphs = prepare_graphs(dataset, seed=seed, device="cpu")
        row: dict[str, Any] = {"split_seed": seed}
        for part, idx in (("val", graphs.val_idx), ("test", graphs.test_idx)):
            y, size = graphs.y[idx], graphs.num_nodes[idx].float()
            row[f"{part}_majority"] = round(100 * float(torch.bincount(y).max()) / y.numel(), 1)
            row[f"{part}_size_per_class"] = [round(float(size[y == c].mean()), 1) for c in range(graphs.num_classes)]
        for m in models:
            if m == "wl":
                wl = wl_logistic(graphs, wl_features(graphs))
                row[m] = {part: [wl[part]] * runs for part in ("val", "test")} | {"train": wl["train"]}
                continue
            res = whole_runs(graphs, m, runs)
            row[m] = {part: [round(getattr(r, part), 1) for r in res] for part in ("val", "test")}
        rows.append(row)
        print(row, flush=True)
    mean = {m: {part: round(sum(sum(r[m][part]) / runs for r in rows) / n, 1) for part in ("val", "test")}
            for m in models}  # fmt: skip
    return {
        "dataset": dataset,
        "method": "whole",
        "splits": n,
        "runs": runs,
        "models": models,
        "rows": rows,
        "mean_over_splits": mean,
        "time_s": round(time.perf_counter() - t0, 1),
        "cpu_s": round(time.process_time() - c0, 1),
        "load": "shared",
        "hardware": hardware(),
        "date": time.strftime("%Y-%m-%d"),
    }


@records_command
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="proteins")
    p.add_argument("--method", default="doscond")
    p.add_argument("--gpc", type=int, default=10)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--every", type=int, default=50)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--models", default="gcn")
    p.add_argument("--label", default="default")
    p.add_argument("--seed", type=int, default=0, help="the condensation's seed (trace only; key suffix -seedN if > 0)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="config override")
    p.add_argument("--draws", type=int, default=0, help="instead of a trace: validation of N step-0 sets, seeds 0..N-1")
    p.add_argument("--starts", action="store_true", help="instead of a trace: DosCond's step-0 sets vs the coreset")
    p.add_argument("--splits", type=int, default=0, help="instead of a trace: whole-data val/test on N split seeds")
    ns = p.parse_args(argv)
    overrides = parse_overrides(ns.set)
    if ns.splits:
        entry = splits(ns.dataset, ns.splits, runs=ns.runs, models=ns.models.split(","))
        save_entry(f"{ns.dataset}/whole/splits-{ns.label}", entry, RESULTS)
        print(entry["mean_over_splits"])
        return 0
    if ns.starts:
        entry = starts(ns.dataset, ns.method, ns.gpc, runs=ns.runs, models=ns.models.split(","), overrides=overrides)
        save_entry(f"{ns.dataset}/{ns.method}/gpc{ns.gpc}/starts-{ns.label}", entry, RESULTS)
        return 0
    if ns.draws:
        entry = draws(ns.dataset, ns.method, ns.gpc, n=ns.draws, runs=ns.runs, models=ns.models.split(","),
                      overrides=overrides)  # fmt: skip
        save_entry(f"{ns.dataset}/{ns.method}/gpc{ns.gpc}/draws-{ns.label}", entry, RESULTS)
        print({m: (v["mean"], v["std"]) for m, v in entry["val"].items()})
        return 0
    entry = trace(ns.dataset, ns.method, ns.gpc, steps=ns.steps, every=ns.every, runs=ns.runs,
                  models=ns.models.split(","), overrides=overrides, seed=ns.seed)  # fmt: skip
    suffix = f"-seed{ns.seed}" if ns.seed else ""
    save_entry(f"{ns.dataset}/{ns.method}/gpc{ns.gpc}/{ns.label}{suffix}", entry, RESULTS)
    print(f"best step {entry['best_step']}; {entry['time_s']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
