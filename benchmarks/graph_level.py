"""Graph-classification condensation benchmark (TU datasets; DosCond and KiDD protocols).

For every (dataset, method, gpc): condense with the method's reference defaults (DosCond's
``lr_adj`` per dataset from its ``scripts/script.sh``), select the set during condensation by the
validation accuracy of the method's own evaluation model (DosCond: GCN, KiDD: GIN), then train
GCN (mean pooling, DosCond's protocol) and GIN (sum pooling, KiDD's) from scratch on it and
report test accuracy over ``--runs`` runs. ``--whole`` adds the whole-training-set row of the same
models (``method: "whole"``). ``--kernel-timing`` times one LiteGNTK evaluation against the
number of real graphs. Results are merged into ``benchmarks/results/graph_level.json`` under a
lock, entry by entry; ``--table`` prints the BENCHMARKS.md table.

Examples::

    python benchmarks/graph_level.py --datasets mutag,proteins --methods random,kidd,doscond --gpcs 1,10
    python benchmarks/graph_level.py --datasets proteins --gpcs 10 --methods kidd --device cuda --tag gpu
    python benchmarks/graph_level.py --datasets proteins --whole --runs 3
    python benchmarks/graph_level.py --datasets nci1 --whole --runs 3 --extend   # add runs 1..2 to a 1-run row
    python benchmarks/graph_level.py --datasets proteins --kernel-timing
    python benchmarks/graph_level.py --table
    python benchmarks/graph_level.py --datasets mutag --methods random,kcenter --gpcs 50 --validate 5
    python benchmarks/graph_level.py --datasets mutag --whole --validate 5

``--validate K`` scores a set on the **validation** split only, with the protocol ``--choose-runs K`` chooses
by (the mean validation accuracy of K runs, seeds 1000..; here of every ``--models`` entry), and never reads
the test graphs. Its entries (keys ending in ``|validateK``) record a fingerprint of the set as the evaluators
see it (:func:`set_fingerprint`), so two routes to the same graphs (a coreset, and DosCond's ``start=coreset``
at ``--steps 0``) can be checked to be one set.

``--tag T`` (the GPU visit's rows: ``--device cuda --tag gpu``) appends ``|T`` to every key, records ``tag`` in the
entry and ``-T`` in the saved set's folder, so a tagged row never replaces nor skips the untagged row of the same
setting; ``--table`` lists tagged rows apart, with the device that made them. ``--results PATH`` reads and writes
another results file (default ``benchmarks/results/graph_level.json``).

``--split-seed N`` draws the stratified 80/10/10 split with seed N (before sitting 15 the split followed ``--seed``,
which every recorded entry left at 0). Split 0 keeps the keys it always had; another split's keys end in
``|split=N``, its entries record ``split_seed`` and stay out of the split-0 table. ``--kept-recipe`` condenses with
the config recorded in the split-0 entry of the same dataset, method, gpc and seed (its kept candidate's, checked
against the reference settings and the kept candidate's overrides), chooses nothing, and records where the recipe
came from; the in-run selection on the split's own validation graphs stays, as it is part of each method.
``--table`` lists such rows per split beside the random coreset of the same split (:func:`splits_table`)::

    python benchmarks/graph_level.py --datasets mutag --methods doscond,random --gpcs 50 --split-seed 1 --kept-recipe
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from common import (  # benchmarks/ is on sys.path as a script
    hardware,
    load,
    parse_overrides,
    records_command,
    save_entry,
)

from condensekit.core.engine import peak_memory_mb, reset_peak_memory
from condensekit.core.evaluate import Summary, format_summary, repeat
from condensekit.graph.level.batch import GraphBatch
from condensekit.graph.level.condense import condense_graphs, make_graph_config, prepare_graphs
from condensekit.graph.level.evaluate import (
    PROTOCOLS,
    GraphEvalConfig,
    evaluate_graphs,
    train_on_condensed,
    train_on_real,
)
from condensekit.graph.level.kernel import lite_gntk, lite_gntk_stats

warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)
warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")

RESULTS = Path(__file__).resolve().parent / "results" / "graph_level.json"
ARTIFACTS = Path(__file__).resolve().parent.parent / "runs" / "benchmarks-graph-level"
# DosCond's scripts/script.sh: lr_adj per dataset (main.py's default 0.01 elsewhere).
DOSCOND_SETTINGS: dict[str, dict[str, Any]] = {
    "mutag": {"lr_adj": 0.1},
    "nci1": {"lr_adj": 1.0},
    "dd": {"lr_adj": 2.0},
}
# KiDD's commands.sh (KiDD-D) per dataset and gpc: anm (node_multiplier), lrA, lrX. MUTAG, ENZYMES and IMDB-BINARY
# are not in it: they run with the command-line defaults (lrA = lrX = 1e-6, at which the set stays at its start),
# and since sitting 11 their rows choose lr_feat on validation (--choose lr_feat=1e-6,1e-3).
KIDD_SETTINGS = {
    ("proteins", 1): {"node_multiplier": 4.0, "lr_adj": 0.0, "lr_feat": 1e-3},
    ("proteins", 10): {"node_multiplier": 4.0, "lr_adj": 1e-6, "lr_feat": 1e-3},
    ("proteins", 50): {"node_multiplier": 4.0, "lr_adj": 0.0, "lr_feat": 1e-3},
    ("nci1", 1): {"node_multiplier": 3.0, "lr_adj": 0.0, "lr_feat": 1e-4},
    ("nci1", 10): {"node_multiplier": 3.0, "lr_adj": 0.0, "lr_feat": 1e-4},
    ("nci1", 50): {"node_multiplier": 3.0, "lr_adj": 0.0, "lr_feat": 1e-4},
}
# KiDD's commands.sh (KiDD-LR) per dataset and gpc: anm, lrA, lrX and rank (its default rank 16 where not given).
KIDD_LR_SETTINGS = {
    ("proteins", 1): {"node_multiplier": 4.0, "lr_adj": 1e-5, "lr_feat": 1e-3, "rank": 32},
    ("proteins", 10): {"node_multiplier": 4.0, "lr_adj": 1e-6, "lr_feat": 1e-3, "rank": 16},
    ("proteins", 50): {"node_multiplier": 4.0, "lr_adj": 1e-5, "lr_feat": 1e-3, "rank": 32},
    ("nci1", 1): {"node_multiplier": 3.0, "lr_adj": 1e-5, "lr_feat": 1e-4, "rank": 24},
    ("nci1", 10): {"node_multiplier": 3.0, "lr_adj": 1e-5, "lr_feat": 1e-4, "rank": 24},
    ("nci1", 50): {"node_multiplier": 3.0, "lr_adj": 1e-5, "lr_feat": 1e-4, "rank": 24},
}
SELECTION_MODEL = {"kidd": "gin", "kidd-lr": "gin", "doscond": "gcn"}

# Published figures, test accuracy %, at 1 / 10 / 50 graphs per class (None: not reported).
PAPER: dict[str, dict[str, Any]] = {}


def _measured(res: dict[str, Any], t_eval: float, c_eval: float, ns: argparse.Namespace) -> dict[str, Any]:
    """The fields every accuracy entry shares: figures, evaluation wall and CPU time, runs, load, hardware."""
    return {
        "test": {m: s.to_dict() for m, s in res.items()},
        "eval_time_s": round(time.perf_counter() - t_eval, 1),
        "eval_cpu_s": round(time.process_time() - c_eval, 1),
        "runs": ns.runs,
        "load": "shared",  # timed on a 2-core machine shared with other jobs: re-time on an idle one
        "hardware": hardware(),
    }


def parse_choices(items: list[str]) -> list[dict[str, Any]]:
    """``--choose FIELD=V1,V2,...`` items as the grid of candidate overrides (product over fields, in
    the given order: on a tie of validation scores the earlier candidate is kept)."""
    grid: list[dict[str, Any]] = [{}]
    for item in items:
        k, sep, vs = item.partition("=")
        if not sep or not k or not vs:
            raise ValueError(f"Invalid value {item!r} for argument --choose. Valid values are FIELD=V1,V2,...")
        values = [parse_overrides([f"{k}={v}"])[k] for v in vs.split(",")]
        grid = [g | {k: v} for g in grid for v in values]
    return grid


def reference_settings(dataset: str, method: str, gpc: int) -> dict[str, Any]:
    """The per-dataset settings of the method's reference scripts (DosCond's ``script.sh``, KiDD's
    ``commands.sh``) that this benchmark applies under the command line's overrides."""
    if method == "doscond":
        return dict(DOSCOND_SETTINGS.get(dataset, {}))
    if method in ("kidd", "kidd-lr"):
        return dict((KIDD_SETTINGS if method == "kidd" else KIDD_LR_SETTINGS).get((dataset, gpc), {}))
    return {}


def split_suffix(split_seed: int) -> str:
    """The key suffix of a split: none for split 0 (its keys predate ``--split-seed``), ``|split=N`` otherwise."""
    return "" if split_seed == 0 else f"|split={split_seed}"


def kept_recipe(done: dict[str, Any], dataset: str, method: str, gpc: int, ns: argparse.Namespace) -> dict[str, Any]:
    """``--kept-recipe``: the recipe kept on split 0 for (dataset, method, gpc, seed), as config overrides.

    The overrides are the split-0 entry's recorded ``config`` (every field). They are checked to be what the kept
    candidate's ``overrides`` (the entry's whole choice where it made one; none otherwise) give under the
    reference settings and the method's defaults, so the recipe is the kept candidate's and nothing else; a
    field added to the config after the entry was recorded keeps its default, which is the behaviour the entry ran
    with. Raises ``ValueError`` when the split-0 entry is missing or its config disagrees."""
    key0 = f"{dataset}|{method}|gpc{gpc}|seed{ns.seed}"
    if key0 not in done or "config" not in done[key0]:
        raise ValueError(f"--kept-recipe: no split-0 entry {key0!r} with a recorded config; run split 0 first")
    old = done[key0]
    kept = next((c for c in old.get("choice", {}).get("candidates", []) if c.get("kept")), {"overrides": {}})
    settings = reference_settings(dataset, method, gpc) | kept["overrides"]
    rebuilt = dataclasses.asdict(make_graph_config(method, settings))
    diff = {k: (v, rebuilt.get(k)) for k, v in old["config"].items() if rebuilt.get(k) != v}
    if diff:
        raise ValueError(f"--kept-recipe: {key0!r}'s recorded config differs from its kept candidate's "
                         f"{kept['overrides']} under the reference settings (recorded, rebuilt): {diff}")  # fmt: skip
    return {"from": key0, "kept_overrides": kept["overrides"], "config": dict(old["config"])}


def _condense(graphs: Any, dataset: str, method: str, gpc: int, overrides: dict[str, Any], ns: argparse.Namespace):
    overrides = reference_settings(dataset, method, gpc) | overrides
    t0, c0 = time.perf_counter(), time.process_time()
    cs = condense_graphs(
        graphs,
        method,
        gpc=gpc,
        config=overrides,
        seed=ns.seed,
        device=ns.device,
        steps=ns.kidd_steps if method.startswith("kidd") and ns.kidd_steps else ns.steps,
        eval_every=(ns.kidd_eval_every if method.startswith("kidd") else ns.eval_every)
        if method in SELECTION_MODEL
        else None,
        eval_model=SELECTION_MODEL.get(method, "gin"),
        progress=False,
    )
    return cs, round(time.perf_counter() - t0, 1), round(time.process_time() - c0, 1)


def prior_candidates(old: dict[str, Any], method: str, dataset: str, gpc: int, ns: argparse.Namespace) -> list[dict]:
    """``--prior``: the candidates an existing entry was chosen from, with their recorded validation scores (one
    candidate, the entry's own set, where it made no choice), marked ``prior``. Its overrides are the entry's
    config where it differs from the method's defaults under the reference settings."""
    runs = ns.choose_runs if ns.choose_runs > 1 else 1
    if "choice" in old:
        on_runs = "val_choice" in old["choice"]["candidates"][0]
        if on_runs != (runs > 1):
            raise ValueError(f"--prior: the entry was chosen on {old['choice']['on']!r}; use the same --choose-runs")
        return [c | {"prior": True} for c in old["choice"]["candidates"]]
    if runs > 1:
        raise ValueError("--prior: the entry made no choice, so it has no mean of validation runs; omit --choose-runs")
    defaults = dataclasses.asdict(make_graph_config(method, reference_settings(dataset, method, gpc)))
    over = {k: v for k, v in old["config"].items() if defaults.get(k) != v}
    cost = old["cost"]
    return [{"overrides": over, "val_selected": old["val_selected"], "best_step": old["best_step"], "prior": True,
             "end_to_end_s": cost["end_to_end_s"], "end_to_end_cpu_s": cost["end_to_end_cpu_s"]}]  # fmt: skip


def run_entry(
    dataset: str,
    method: str,
    gpc: int,
    ns: argparse.Namespace,
    old: dict[str, Any] | None = None,
    recipe: dict[str, Any] | None = None,
):
    """Condense (with ``--choose``: every candidate, keeping the best validation score of the
    method's selection model; the test split is read only for the kept set), then evaluate.

    With ``old`` (``--prior``) the existing entry's candidates compete by their recorded scores, ahead of the new
    ones (a tie keeps the earlier); if one of them is kept, the entry keeps its recorded set and figures (the
    condensation and evaluation are seeded, so re-running them gives the same) and gains the new candidates.
    With ``recipe`` (``--kept-recipe``, :func:`kept_recipe`) the set is condensed with the recipe's config only."""
    graphs = prepare_graphs(dataset, seed=ns.split_seed, device=ns.device)
    overrides = parse_overrides(ns.set) if recipe is None else dict(recipe["config"])
    candidates = [] if old is None else prior_candidates(old, method, dataset, gpc, ns)
    best = None
    for i, prior in enumerate(candidates):
        score = round(prior.get("val_choice", prior["val_selected"]), 4)
        if best is None or score > best[0]:
            best = (score, None, None, None, i)
    for cand in parse_choices(ns.choose):
        cs, wall, cpu = _condense(graphs, dataset, method, gpc, overrides | cand, ns)
        score = cs.card["metrics"]["val_selected"]
        step = cs.card["metrics"]["best_step"]
        candidates.append({"overrides": overrides | cand, "val_selected": score, "best_step": step,
                           "end_to_end_s": wall, "end_to_end_cpu_s": cpu})  # fmt: skip
        if ns.choose and ns.choose_runs > 1:  # the choice on the mean of K validation runs of the kept set
            t0, c0 = time.perf_counter(), time.process_time()
            model, cond = SELECTION_MODEL.get(method, "gin"), cs.tensors()
            score = repeat(lambda _s, m=model, c=cond: train_on_condensed(graphs, m, c, PROTOCOLS[m], test=False).val,
                           runs=ns.choose_runs, seed=1000).mean  # fmt: skip
            candidates[-1] |= {"val_choice": round(score, 2), "choice_s": round(time.perf_counter() - t0, 1),
                               "choice_cpu_s": round(time.process_time() - c0, 1)}  # fmt: skip
        print(f"{dataset}|{method}|gpc{gpc} candidate {cand}: val {score} (step {candidates[-1]['best_step']})",
              flush=True)  # fmt: skip
        if score is not None:
            score = round(score, 4)  # a float-rounding difference is a tie (the earlier candidate is kept)
        if best is None or (score is not None and (best[0] is None or score > best[0])):
            best = (score, cs, wall, cpu, len(candidates) - 1)
    assert best is not None
    _, cs, wall, cpu, kept = best
    for c in candidates:
        c.pop("kept", None)
    candidates[kept]["kept"] = True
    choice = {
        "grid": ns.choose,
        "on": f"validation accuracy of one {SELECTION_MODEL.get(method, 'gin').upper()} run (val_selected)"
        if ns.choose_runs <= 1
        else f"mean validation accuracy of {ns.choose_runs} {SELECTION_MODEL.get(method, 'gin').upper()} runs "
        "of each candidate's selected set (val_choice; seeds 1000..)",
        "candidates": candidates,
        "all_candidates_cpu_s": round(sum(c["end_to_end_cpu_s"] + c.get("choice_cpu_s", 0) for c in candidates), 1),
        "all_candidates_s": round(sum(c["end_to_end_s"] + c.get("choice_s", 0) for c in candidates), 1),
    }
    if old is not None:
        choice["prior"] = "candidates marked prior: the existing entry's, by their recorded scores (--prior)"
    if cs is None:  # a prior candidate is kept: the recorded set and its figures stand
        assert old is not None
        return old | {"choice": choice}
    split = "" if ns.split_seed == 0 else f"-split{ns.split_seed}"
    cs.save(ARTIFACTS / f"{dataset}-{method}-{gpc}-s{ns.seed}{split}{f'-{ns.tag}' if ns.tag else ''}")
    t1, c1 = time.perf_counter(), time.process_time()
    # evaluation runs seeded from --seed ("condensation and evaluation seed"; was always 0..runs-1)
    res = evaluate_graphs(
        graphs, cs.tensors(), models=ns.models.split(","), config=GraphEvalConfig(runs=ns.runs, seed=ns.seed)
    )
    entry = {
        "dataset": dataset,
        "method": method,
        "gpc": gpc,
        "seed": ns.seed,
        "split_seed": ns.split_seed,
        "config": cs.card["config"],
        "graphs": cs.card["budget"]["graphs"],
        "nodes": cs.card["budget"]["nodes"],
        "val_selected": cs.card["metrics"]["val_selected"],
        "best_step": cs.card["metrics"]["best_step"],
        # end_to_end_s: wall (shared machine); end_to_end_cpu_s: this process's CPU time (1 thread)
        "cost": cs.card["cost"] | {"end_to_end_s": wall, "end_to_end_cpu_s": cpu},
        **_measured(res, t1, c1, ns),
    }
    if ns.choose or old is not None:
        entry["choice"] = choice
    if recipe is not None:
        entry["recipe"] = {"from": recipe["from"], "kept_overrides": recipe["kept_overrides"],
                           "rule": "the config kept on split 0; no choice on this split; the in-run validation "
                           "selection on this split's validation graphs stays"}  # fmt: skip
    return entry


def set_fingerprint(cond: dict[str, torch.Tensor]) -> str:
    """sha256 (first 16 hex digits) of a condensed set as the evaluation models see it: the real nodes' features,
    the edges among them and their weights, each node's graph, and the labels (the sparse layout that
    ``train_on_condensed`` trains on), so padding width and padded values do not change it."""
    b = GraphBatch.sparse_from_dense(cond["x"].float().cpu(), cond["adj"].float().cpu(), cond["mask"].float().cpu())
    adj = b.adj.coalesce()
    h = hashlib.sha256()
    for t in (b.x, adj.indices(), adj.values(), b.batch, cond["y"].long().cpu()):
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def validate_key(dataset: str, method: str, gpc: int | None, ns: argparse.Namespace) -> str:
    """The results key of a ``--validate K`` entry: the setting, its ``--set`` overrides and ``--steps`` (the
    whole-data model takes neither)."""
    key = f"{dataset}|whole|seed{ns.seed}" if gpc is None else f"{dataset}|{method}|gpc{gpc}|seed{ns.seed}"
    over = "" if gpc is None else " ".join(f"{k}={v}" for k, v in parse_overrides(ns.set).items())
    steps = "" if ns.steps is None or gpc is None else f"|steps{ns.steps}"
    key = f"{key}|{over}{steps}|validate{ns.validate}" if over else f"{key}{steps}|validate{ns.validate}"
    return key + split_suffix(ns.split_seed)


def validate_entry(dataset: str, method: str, gpc: int | None, ns: argparse.Namespace) -> dict[str, Any]:
    """``--validate K``: the mean validation accuracy of K runs (seeds 1000.., the ``--choose-runs`` protocol) of
    each ``--models`` entry trained on the set of ``method`` at ``gpc`` (``gpc None``: on all training graphs, the
    whole-data model); the test graphs are never read. The set is condensed as a benchmark row is (reference
    settings, ``--set``, ``--steps``) and recorded by its :func:`set_fingerprint`."""
    graphs = prepare_graphs(dataset, seed=ns.split_seed, device=ns.device)
    models = ns.models.split(",")
    entry: dict[str, Any] = {"dataset": dataset, "method": "whole" if gpc is None else method, "gpc": gpc,
                             "seed": ns.seed, "split_seed": ns.split_seed}  # fmt: skip
    if gpc is None:

        def score(m: str, _s: int) -> float:
            return train_on_real(graphs, m, PROTOCOLS[m], test=False)[0].val
    else:
        cs, wall, cpu = _condense(graphs, dataset, method, gpc, parse_overrides(ns.set), ns)
        cond = cs.tensors()
        entry |= {"overrides": parse_overrides(ns.set), "steps": ns.steps, "config": cs.card["config"],
                  "set_fingerprint": set_fingerprint(cond), "graphs": cs.card["budget"]["graphs"],
                  "nodes": cs.card["budget"]["nodes"], "val_selected": cs.card["metrics"]["val_selected"],
                  "best_step": cs.card["metrics"]["best_step"],
                  "cost": cs.card["cost"] | {"end_to_end_s": wall, "end_to_end_cpu_s": cpu}}  # fmt: skip

        def score(m: str, _s: int) -> float:
            return train_on_condensed(graphs, m, cond, PROTOCOLS[m], test=False).val

    t0, c0 = time.perf_counter(), time.process_time()
    val = {m: repeat(lambda s, m=m: score(m, s), runs=ns.validate, seed=1000).to_dict() for m in models}
    return entry | {
        "validate": val,
        "on": f"mean validation accuracy of {ns.validate} runs per model (seeds 1000..); the test split is not read",
        "runs": ns.validate,
        "eval_time_s": round(time.perf_counter() - t0, 1),
        "eval_cpu_s": round(time.process_time() - c0, 1),
        "load": "shared",
        "hardware": hardware(),
    }


def _or_dash(value: Any) -> Any:
    """A cost figure for a table cell: ``-`` when it was not recorded."""
    return "-" if value is None else value


def whole_entry(dataset: str, ns: argparse.Namespace, old: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The whole-data row: ``ns.runs`` runs, or with ``old`` (``--extend``) the runs ``old`` lacks.

    Run ``i`` is seeded with ``--seed + i`` (:func:`~condensekit.core.evaluate.repeat`), so an entry of ``k`` runs
    extended by runs ``k..runs-1`` equals one ``runs``-run call; each call's cost is kept in ``sessions``
    and ``cost`` sums them. Returns ``None`` when ``old`` already has ``ns.runs`` runs."""
    models = ns.models.split(",")
    have = 0 if old is None else int(old["runs"])
    if old is not None and sorted(old["test"]) != sorted(models):
        raise ValueError(f"--extend: the {dataset} whole entry has models {sorted(old['test'])}, not {models}")
    if have >= ns.runs:
        return None
    graphs = prepare_graphs(dataset, seed=ns.split_seed, device=ns.device)
    reset_peak_memory(graphs.device)
    t0, c0 = time.perf_counter(), time.process_time()
    # seeded from --seed: a --seed 1 row was seed 0's runs again under a key naming seed 1
    config = GraphEvalConfig(runs=ns.runs - have, seed=ns.seed + have)
    res = evaluate_graphs(graphs, None, models=models, config=config)
    measured = _measured(res, t0, c0, ns)
    session = {
        "runs": ns.runs - have,
        "first_seed": ns.seed + have,
        "end_to_end_s": measured["eval_time_s"],
        "end_to_end_cpu_s": measured["eval_cpu_s"],
        "peak_memory_mb": round(peak_memory_mb(graphs.device), 1),
    }
    sessions = [session]
    if old is not None:
        # entries written before ``cost`` existed keep their evaluation's time and CPU time at the top level
        prior = old.get("cost") or {"end_to_end_s": old.get("eval_time_s"), "end_to_end_cpu_s": old.get("eval_cpu_s")}
        first = {"runs": have, "first_seed": ns.seed} | {k: prior.get(k) for k in session if k in prior}
        sessions = old.get("sessions", [first]) + [session]
        for m, summ in res.items():
            summ.values[:0] = old["test"][m]["runs"]
        measured = _measured(res, t0, c0, ns)
    # a total over sessions one of which did not record it (entries before CPU time was kept) is unknown, not a sum
    total = {
        k: None if any(x.get(k) is None for x in sessions) else round(sum(x[k] for x in sessions), 1)
        for k in ("end_to_end_s", "end_to_end_cpu_s")
    }
    return {
        "dataset": dataset,
        "method": "whole",
        "gpc": None,
        "seed": ns.seed,
        "split_seed": ns.split_seed,
        "graphs": int(graphs.train_idx.numel()),
        # the whole row condenses nothing: its cost is the evaluation's (all models, all runs, all sessions)
        "cost": total | {"peak_memory_mb": max(x.get("peak_memory_mb") or 0 for x in sessions)},
        "sessions": sessions,
        **measured,
        "eval_time_s": total["end_to_end_s"],
        "eval_cpu_s": total["end_to_end_cpu_s"],
    }


def kernel_timing(dataset: str, ns: argparse.Namespace) -> dict[str, Any]:
    """Seconds of one LiteGNTK evaluation (16 synthetic graphs of 2× the mean size against M real
    training graphs, forward and forward+backward), and the peak memory of the largest."""
    graphs = prepare_graphs(dataset, seed=ns.split_seed, device=ns.device)
    dev = graphs.device
    n = int(round(2 * float(graphs.num_nodes[graphs.train_idx].float().mean())))
    x = torch.rand(16, n, graphs.num_features, device=dev, requires_grad=True)
    a = (torch.rand(16, n, n, device=dev) > 0.9).float()
    a = ((a + a.transpose(1, 2)) > 0).float().requires_grad_(True)
    real = lite_gntk_stats(GraphBatch.from_graphset(graphs, graphs.train_idx))
    rows = []
    for m in [16, 32, 64, 128, 256, 512]:
        if m > graphs.train_idx.numel():
            break
        idx = torch.arange(m, device=dev)
        sub = real.subset(idx)
        row: dict[str, Any] = {
            "real_graphs": m,
            "real_nodes": int(sub.z.shape[0]),
            "pair_tensor": [16, n, int(sub.z.shape[0])],
        }
        for fused in (False, True):
            lite_gntk(lite_gntk_stats(GraphBatch.dense(x, a)), sub, fused=fused).sum().backward()  # warm-up / compile
            times_f, times_fb, cpu_fb = [], [], []
            reset_peak_memory(dev)
            for _ in range(3):
                t, c = time.perf_counter(), time.process_time()
                s = lite_gntk_stats(GraphBatch.dense(x, a))
                k = lite_gntk(s, sub, fused=fused)
                times_f.append(time.perf_counter() - t)
                k.sum().backward()
                times_fb.append(time.perf_counter() - t)
                cpu_fb.append(time.process_time() - c)
            tag = "fused_" if fused else ""
            row |= {
                f"{tag}forward_s": round(min(times_f), 4),
                f"{tag}forward_backward_s": round(min(times_fb), 4),
                f"{tag}forward_backward_cpu_s": round(min(cpu_fb), 4),
                f"{tag}peak_memory_mb": round(peak_memory_mb(dev), 1),
            }
        rows.append(row)
    return {
        "dataset": dataset,
        "method": "litegntk-timing",
        "gpc": None,
        "split_seed": ns.split_seed,
        "synthetic_graphs": 16,
        "synthetic_nodes": n,
        "rows": rows,
        "load": "shared",
        "hardware": hardware(),
    }


def _cell(entry: dict[str, Any], model: str) -> str:
    return format_summary(entry["test"].get(model), 2)  # rounded once, from the runs


def _overrides(overrides: dict[str, Any]) -> str:
    """A candidate's settings as ``k=v`` words; ``the defaults`` when it sets none."""
    return " ".join(f"{k}={v}" for k, v in overrides.items()) or "the defaults"


def validate_table(results: dict[str, Any]) -> list[str]:
    """The ``--validate K`` entries: validation accuracy only (mean ± std of K runs), with each set's fingerprint."""
    val = sorted((e for e in results["entries"].values()
                  if "validate" in e and not e.get("split_seed") and not e.get("tag")),
                 key=lambda e: (e["dataset"], e["gpc"] or 10**6, e["method"], str(e.get("overrides"))))  # fmt: skip
    if not val:
        return []
    lines = ["", "Validation only (`--validate K`: mean ± std of K runs per model, seeds 1000..; test not read):", "",
             "| dataset | gpc | method | settings | steps | set fingerprint | GCN val | GIN val | runs |",
             "|---|---:|---|---|---:|---|---|---|---:|"]  # fmt: skip
    for e in val:
        cells = {m: format_summary(e["validate"].get(m), 1) for m in ("gcn", "gin")}
        settings = "-" if e["gpc"] is None else _overrides(e.get("overrides", {}))
        steps = "-" if e.get("steps") is None else e["steps"]
        fp = e.get("set_fingerprint", "-")
        lines.append(f"| {e['dataset']} | {e['gpc'] or 'all'} | {e['method']} | {settings} | {steps} | {fp} "
                     f"| {cells['gcn']} | {cells['gin']} | {e['runs']} |")  # fmt: skip
    return lines


def split_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each (dataset, gpc, method, seed) that has a ``--kept-recipe`` entry on some split N > 0, scored against the
    random coreset of the same split and seed, per split (0 included: the recorded rows), on the method's judged
    model (:data:`SELECTION_MODEL`: the issue judges DosCond on GCN and KiDD on GIN, the models each selects by; GCN
    for any other method). A split counts when both sides have the model; a split's score is the mean of the runs
    both sides have (the first ``min(runs)`` run seeds; every entry's run ``i`` is seeded with its ``seed + i``).

    The rule (BENCHMARKS.md, sitting 15): the verdict is on the mean over splits of the difference method −
    random; a mean gap whose size is below the split-to-split std of the difference (population std, as every ±
    here) is a tie."""
    entries = results["entries"]
    groups: dict[tuple, dict[int, dict[str, Any]]] = {}
    entries = {k: e for k, e in entries.items() if not e.get("tag")}
    for e in entries.values():
        if "test" in e and e.get("split_seed") and "recipe" in e and e["method"] != "random":
            groups.setdefault((e["dataset"], e["gpc"], e["method"], e.get("seed", 0)), {})
    rows = []
    for (dataset, gpc, method, seed), _ in sorted(groups.items()):
        model = SELECTION_MODEL.get(method, "gcn")
        per = []
        for e in entries.values():
            if (e.get("dataset"), e.get("gpc"), e.get("method"), e.get("seed", 0)) != (dataset, gpc, method, seed):
                continue
            if "test" not in e or model not in e["test"] or (e.get("split_seed") and "recipe" not in e):
                continue
            split = int(e.get("split_seed") or 0)
            rnd = entries.get(f"{dataset}|random|gpc{gpc}|seed{seed}{split_suffix(split)}")
            if rnd is None or model not in rnd.get("test", {}):
                continue
            a, b = e["test"][model]["runs"], rnd["test"][model]["runs"]
            n = min(len(a), len(b))
            m, r = sum(a[:n]) / n, sum(b[:n]) / n
            per.append({"split": split, "method": m, "random": r, "diff": m - r, "runs": n})
        per.sort(key=lambda x: x["split"])
        if len(per) < 2:
            continue
        diff = Summary([x["diff"] for x in per])
        verdict = "tie" if abs(diff.mean) < diff.std else ("win" if diff.mean > 0 else "loss")
        rows.append({"dataset": dataset, "gpc": gpc, "method": method, "seed": seed, "model": model, "per": per,
                     "method_mean": Summary([x["method"] for x in per]),
                     "random_mean": Summary([x["random"] for x in per]), "diff": diff, "verdict": verdict})  # fmt: skip
    return rows


def splits_table(results: dict[str, Any]) -> list[str]:
    """:func:`split_rows` as a table: per split, the method's and the random coreset's mean test accuracy on the
    judged model; the mean ± std over splits of each and of their difference; the verdict under the rule."""
    rows = split_rows(results)
    if not rows:
        return []
    lines = ["", "Other split seeds (`--split-seed N --kept-recipe`; the recipe kept on split 0, against the random "
             "coreset of the same split; judged model; split: method / random (runs)):", "",
             "| dataset | gpc | method | model | per split | method: mean ± std | random: mean ± std "
             "| difference: mean ± std | verdict |", "|---|---:|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        per = "; ".join(f"{x['split']}: {x['method']:.1f} / {x['random']:.1f} ({x['runs']})" for x in r["per"])
        lines.append(f"| {r['dataset']} | {r['gpc']} | {r['method']} | {r['model'].upper()} | {per} "
                     f"| {format_summary(r['method_mean'], 2)} | {format_summary(r['random_mean'], 2)} "
                     f"| {r['diff'].mean:+.2f} ± {r['diff'].std:.2f} "
                     f"| {r['verdict']} ({len(r['per'])} splits) |")  # fmt: skip
    return lines


def tagged_table(results: dict[str, Any]) -> list[str]:
    """The ``--tag`` rows (e.g. the GPU visit's, ``--tag gpu``), apart from the untagged ones, with the device that
    made each and its condensation cost (seconds per engine step beside the wall time; where the entry has them, the
    first step's seconds apart, ``first``, a ``torch.compile`` or GPU warm-up, and the later steps' mean)."""
    tagged = sorted(
        (e for e in results["entries"].values() if e.get("tag") and "test" in e),
        key=lambda e: (e["tag"], e["dataset"], e.get("split_seed") or 0, e["gpc"] or 10**6, e["method"]),
    )
    if not tagged:
        return []
    lines = [
        "",
        "Tagged rows (`--tag`; each on the device named, same protocol as the rows above):",
        "",
        "| tag | device | dataset | split | gpc | method | GCN (mean pool) | GIN (sum pool) | runs "
        "| condense wall s (s/step) | eval wall s | peak MB |",
        "|---|---|---|---:|---:|---|---|---|---:|---:|---:|---:|",
    ]
    for e in tagged:
        cost = e.get("cost", {})
        step = f" ({cost['sec_per_step']:.4f})" if cost.get("sec_per_step") else ""
        if cost.get("later_sec_per_step") is not None:
            step = f" ({cost['later_sec_per_step']:.4f}; first {cost['first_step_s']:.1f})"
        lines.append(
            f"| {e['tag']} | {e.get('hardware', {}).get('device', '-')} | {e['dataset']} "
            f"| {e.get('split_seed') or 0} | {e['gpc'] or 'all'} | {e['method']} | {_cell(e, 'gcn')} "
            f"| {_cell(e, 'gin')} | {e['runs']} | {_or_dash(cost.get('end_to_end_s'))}{step} "
            f"| {_or_dash(e.get('eval_time_s'))} | {_or_dash(cost.get('peak_memory_mb'))} |"
        )
    return lines


def table(results: dict[str, Any]) -> str:
    entries = [e for e in results["entries"].values() if "test" in e and not e.get("split_seed") and not e.get("tag")]
    order = {"whole": 9, "random": 0, "herding": 1, "kcenter": 2, "doscond": 3, "kidd": 4, "kidd-lr": 5}
    entries.sort(key=lambda e: (e["dataset"], e["gpc"] or 10**6, order.get(e["method"], 8)))
    lines = [
        "| dataset | gpc | method | GCN (mean pool) | GIN (sum pool) | runs | condense CPU s / wall s | peak MB |",
        "|---|---:|---|---|---|---:|---:|---:|",
    ]
    chosen = []
    for e in entries:
        cost = e.get("cost", {})
        mark = ""
        if "choice" in e:
            chosen.append(e)
            mark = f" [{len(chosen)}]"
        if e["method"] == "kidd" and e.get("config", {}).get("hops") != 5:
            mark += " †"  # KiDD-D before its reference's 5-layer kernel (sitting 11)
        lines.append(
            f"| {e['dataset']} | {e['gpc'] or 'all'} | {e['method']}{mark} | {_cell(e, 'gcn')} | {_cell(e, 'gin')} "
            f"| {e['runs']} | {_or_dash(cost.get('end_to_end_cpu_s'))} / {_or_dash(cost.get('end_to_end_s'))} "
            f"| {_or_dash(cost.get('peak_memory_mb'))} |"
        )
    if any(e["method"] == "kidd" and e.get("config", {}).get("hops") != 5 for e in entries):
        lines += ["", "† KiDD-D with sitting 10's code: a 3-layer LiteGNTK (`hops 3`) and `lr` defaults 1e-3, not its "
                  "reference's 5 layers and 1e-6 (fixed in sitting 11; this row was not re-run)."]  # fmt: skip
    if chosen:
        head = "Settings chosen on validation (`--choose`; cost above: the kept candidate's; test read only for it):"
        lines += ["", head, ""]
    for i, e in enumerate(chosen, 1):
        c = e["choice"]
        cands = "; ".join(
            f"{_overrides(x['overrides'])}: {x.get('val_choice', x['val_selected']):.1f}" for x in c["candidates"]
        )
        runs = "" if "val_choice" not in c["candidates"][0] else f", mean of {c['on'].split()[4]} runs"
        kept = next((x for x in c["candidates"] if x.get("kept")), None) or next(
            x for x in c["candidates"] if x["val_selected"] == e["val_selected"]
        )
        lines.append(
            f"- [{i}] {e['dataset']} {e['gpc']} {e['method']}: kept "
            f"{_overrides(kept['overrides'])} (validation % per candidate{runs}: "
            f"{cands}); all candidates {c['all_candidates_cpu_s']} CPU s / {c['all_candidates_s']} s"
        )
    lines += validate_table(results)
    lines += splits_table(results)
    lines += tagged_table(results)
    timing = [e for e in results["entries"].values() if e.get("method") == "litegntk-timing" and not e.get("tag")]
    for e in timing:
        lines += [
            "",
            f"LiteGNTK, {e['dataset']}: 16 synthetic graphs × {e['synthetic_nodes']} nodes against M real graphs",
            "",
            "| M real graphs | real nodes | pair tensor | forward s | fwd+bwd s (CPU s) | fused fwd+bwd s (CPU s) "
            "| peak MB eager / fused |",
            "|---:|---:|---|---:|---:|---:|---:|",
        ]
        for r in e["rows"]:
            lines.append(
                f"| {r['real_graphs']} | {r['real_nodes']} | {'×'.join(map(str, r['pair_tensor']))} "
                f"| {r['forward_s']} | {r['forward_backward_s']} ({r.get('forward_backward_cpu_s', '-')}) "
                f"| {r.get('fused_forward_backward_s', '-')} ({r.get('fused_forward_backward_cpu_s', '-')}) "
                f"| {r['peak_memory_mb']} / {r.get('fused_peak_memory_mb', '-')} |"
            )
    return "\n".join(lines)


@records_command
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default="mutag,proteins")
    p.add_argument("--methods", default="random,kidd,doscond")
    p.add_argument("--gpcs", default="1,10")
    p.add_argument("--models", default="gcn,gin")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0, help="condensation and evaluation seed")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the stratified 80/10/10 split (default 0)")
    p.add_argument(
        "--kept-recipe",
        action="store_true",
        help="condense with the config kept on split 0 (its entry's), choosing nothing; for --split-seed N > 0",
    )
    p.add_argument("--steps", type=int, default=None, help="engine steps of every method (default: each method's)")
    p.add_argument("--kidd-steps", type=int, default=None, help="engine steps of KiDD only")
    p.add_argument("--eval-every", type=int, default=200, help="selection period (steps) of DosCond")
    p.add_argument("--kidd-eval-every", type=int, default=100, help="selection period (steps) of KiDD")
    p.add_argument("--device", default="cpu")
    p.add_argument("--set", action="append", default=[], help="FIELD=VALUE config override")
    p.add_argument(
        "--choose",
        action="append",
        default=[],
        metavar="FIELD=V1,V2",
        help="condense with each value (grid over repeated options) and keep the best validation score",
    )
    p.add_argument(
        "--choose-runs",
        type=int,
        default=1,
        help="with --choose: score each candidate's selected set by the mean of K validation runs (default 1: its "
        "selection score)",
    )
    p.add_argument(
        "--prior",
        action="store_true",
        help="with --choose and --force: the existing entry's candidates compete by their recorded validation scores",
    )
    p.add_argument(
        "--validate",
        type=int,
        default=0,
        metavar="K",
        help="score each set (with --whole: the whole-data model) on validation only, mean of K runs per model",
    )
    p.add_argument("--whole", action="store_true", help="only the whole-data rows")
    p.add_argument("--kernel-timing", action="store_true", help="only the LiteGNTK timing")
    p.add_argument("--force", action="store_true", help="recompute entries already in the JSON")
    p.add_argument("--extend", action="store_true", help="whole rows: add the runs an existing entry lacks")
    p.add_argument("--table", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--tag", default="", help="key suffix |TAG and entry field 'tag' (e.g. gpu), beside untagged rows")
    p.add_argument("--results", type=Path, default=RESULTS, help="results JSON (default: results/graph_level.json)")
    ns = p.parse_args(argv)
    if ns.tag and not all(c.isalnum() or c in "-_." for c in ns.tag):
        raise ValueError(f"Invalid value {ns.tag!r} for argument --tag. Valid values are letters, digits, -, _, .")
    if ns.table:
        print(table(load(ns.results)))
        return 0
    if ns.split_seed < 0:
        raise ValueError(f"Invalid value {ns.split_seed!r} for argument --split-seed. Valid values are >= 0")
    if ns.kept_recipe and ns.split_seed == 0:
        raise ValueError("--kept-recipe re-runs split 0's recipe on another split: give --split-seed N with N > 0")
    if ns.kept_recipe and (ns.choose or ns.set or ns.prior or ns.validate or ns.whole or ns.kernel_timing
                           or ns.steps is not None or ns.kidd_steps is not None):  # fmt: skip
        raise ValueError("--kept-recipe takes the split-0 entry's config as it is: drop --choose, --set, --prior, "
                         "--steps, --kidd-steps, --validate, --whole and --kernel-timing")  # fmt: skip
    torch.set_num_threads(ns.threads)
    done = load(ns.results)["entries"]
    tag_suffix = f"|{ns.tag}" if ns.tag else ""
    suffix = split_suffix(ns.split_seed) + tag_suffix
    tag = {"tag": ns.tag} if ns.tag else {}
    for dataset in ns.datasets.split(","):
        if ns.kernel_timing:
            save_entry(f"{dataset}|litegntk-timing{suffix}", kernel_timing(dataset, ns) | tag, ns.results)
            continue
        if ns.validate:
            for gpc in [None] if ns.whole else [int(g) for g in ns.gpcs.split(",")]:
                for method in ["whole"] if ns.whole else ns.methods.split(","):
                    key = validate_key(dataset, method, gpc, ns) + tag_suffix
                    if key in done and not ns.force:
                        continue
                    entry = validate_entry(dataset, method, gpc, ns) | tag
                    save_entry(key, entry, ns.results)
                    print(key, {m: v["mean"] for m, v in entry["validate"].items()},
                          entry.get("set_fingerprint", ""), flush=True)  # fmt: skip
            continue
        if ns.whole:
            key = f"{dataset}|whole|seed{ns.seed}{suffix}"
            old = done.get(key) if ns.extend and not ns.force else None
            if key not in done or ns.force or old is not None:
                entry = whole_entry(dataset, ns, old)
                if entry is not None:
                    save_entry(key, entry | tag, ns.results)
                    print(key, {m: v["mean"] for m, v in entry["test"].items()}, entry["cost"], flush=True)
            continue
        for gpc in [int(g) for g in ns.gpcs.split(",")]:
            for method in ns.methods.split(","):
                key = f"{dataset}|{method}|gpc{gpc}|seed{ns.seed}{suffix}"
                if key in done and not ns.force:
                    continue
                if ns.prior and key not in done:
                    raise ValueError(f"--prior: no entry {key!r} to take the candidates of")
                recipe = kept_recipe(done, dataset, method, gpc, ns) if ns.kept_recipe else None
                try:
                    entry = run_entry(dataset, method, gpc, ns, done[key] if ns.prior else None, recipe)
                except ValueError as err:  # e.g. a class with fewer training graphs than gpc
                    print(f"{key}: skipped: {err}", file=sys.stderr, flush=True)
                    continue
                save_entry(key, entry | tag, ns.results)
                print(key, {m: v["mean"] for m, v in entry["test"].items()}, entry["cost"], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
