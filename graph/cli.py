"""``condensekit graph condense | evaluate | demo | methods``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from condensekit.core.artifact import check_artifact_target, check_evaluation_targets, evaluation_json, update_card
from condensekit.core.atomic import check_file_target, check_writable, write_json
from condensekit.core.cli import add_method_help
from condensekit.core.config import method_flags
from condensekit.core.evaluate import Summary, TrainConfig
from condensekit.core.parallel import auto_workers
from condensekit.core.registry import check_int
from condensekit.core.report import format_table
from condensekit.graph.condense import CondensedGraph, condense_nodes, prepare_task
from condensekit.graph.data import NODE_DATASETS
from condensekit.graph.evaluate import NodeEvalConfig, evaluate_node
from condensekit.graph.methods import NODE_METHODS
from condensekit.graph.models.registry import MODELS
from condensekit.graph.task import NodeTask

# The most accurate method on Cora at 70 nodes in BENCHMARKS.md, and one of the fastest.
DEMO_METHOD = "gcsntk"

#: The folder ``graph condense`` writes an artifact into without ``--out``.
DEFAULT_OUT = "artifacts"


def register(sub: argparse._SubParsersAction) -> None:
    graph = sub.add_parser(
        "graph", help="graph condensation (node classification; graph classification with --task graph)"
    )
    verbs = graph.add_subparsers(dest="verb", metavar="VERB")

    c = verbs.add_parser(
        "condense",
        help="condense a graph and write an artifact",
        description="Method-specific flags (e.g. --lr-feat) appear with --method X --help "
        "(graph-level methods with --task graph before --help).",
        add_help=False,
    )
    add_method_help(c, _condense_methods, hint=_other_task_method)
    c.add_argument(
        "--dataset",
        required=True,
        help=f"one of {{{', '.join(NODE_DATASETS)}}}, a graph file path/to/graph.npz (x, edge_index, y, "
        "train/val/test masks), a PyG alias (amazon-computers, coauthor-cs, wikics, ...) or ClassName[/name] "
        "of torch_geometric.datasets (with --download when missing); directed graphs are symmetrised. With --task "
        "graph: a TUDataset name (mutag, proteins, nci1, ...)",
    )
    c.add_argument(
        "--method",
        required=True,
        help=f"one of {{{', '.join(NODE_METHODS.names())}}}; with --task graph, a graph-level method "
        "(`condensekit graph methods --task graph` lists them)",
    )
    size = c.add_mutually_exclusive_group(required=True)
    size.add_argument("--budget", type=int, help="synthetic node count")
    size.add_argument("--ratio", type=float, help="fraction of the training nodes, in (0, 1]")
    _common(c)
    c.add_argument("--steps", type=int, default=None, help="engine steps (default: the method's epochs)")
    c.add_argument("--eval-every", type=int, default=None, help="validation-based selection every k steps")
    c.add_argument("--checkpoint", default=None, help="checkpoint file (resumes when it exists)")
    c.add_argument("--out", default=None, help="artifact folder (default: artifacts/DATASET-METHOD-N)")
    c.add_argument("--eval-runs", type=int, default=0, help="also evaluate with GCN for this many runs")
    c.set_defaults(func=_condense, accepts_extra=True)

    e = verbs.add_parser("evaluate", help="train GNNs on a condensed graph, test on the real one")
    e.add_argument("artifact", help="artifact folder written by `graph condense`")
    e.add_argument(
        "--models",
        default="gcn",
        help=f"comma-separated, from {{{', '.join(MODELS.names())}}} (default: gcn; a graph-level artifact: gcn,gin "
        "of its own zoo)",
    )
    e.add_argument("--runs", type=int, default=10, help="training runs per model")
    e.add_argument(
        "--epochs",
        type=int,
        default=600,
        help="training epochs per run (default: 600; a graph-level artifact: each model's protocol, GCN 500, GIN 200)",
    )
    _common(e)
    e.set_defaults(func=_evaluate)

    d = verbs.add_parser("demo", help=f"condense Cora to 70 nodes with {DEMO_METHOD} and evaluate it with GCN")
    _common(d)
    d.add_argument("--runs", type=int, default=3)
    d.add_argument("--out", default="artifacts/demo-cora-70")
    d.set_defaults(func=_demo)

    m = verbs.add_parser("methods", help="list the registered methods")
    m.set_defaults(
        func=lambda ns: print(
            format_table(["method", "what"], [[n, NODE_METHODS.get(n).description] for n in NODE_METHODS.names()])
        )
    )

    # Graph classification (condensekit.graph.level): --task graph on condense/evaluate, `graph show`.
    from condensekit.graph.level.cli import register_graph_level

    register_graph_level(verbs)


def _condense_methods(ns: argparse.Namespace) -> Any:
    """The methods ``graph condense --help`` lists flags for: graph-level ones under ``--task graph``."""
    if getattr(ns, "task", "node") == "graph":
        from condensekit.graph.level.methods import GRAPH_METHODS

        return GRAPH_METHODS
    return NODE_METHODS


def _other_task_method(ns: argparse.Namespace, method: str, *, at_help: bool = True) -> str:
    """What ``graph condense`` says of a method unknown to its task that the other task has (in ``--help``, or in
    the error of a run)."""
    from condensekit.graph.level.methods import GRAPH_METHODS

    if getattr(ns, "task", "node") == "graph":
        fix = "drop --task graph" + ("" if at_help else " (and give --budget N or --ratio R instead of --gpc)")
        return f"{method!r} is a node-level method: {fix}" if method in NODE_METHODS else ""
    fix = "put --task graph before --help" if at_help else "add --task graph (with --gpc N)"
    return f"{method!r} is a graph-level method: {fix}" if method in GRAPH_METHODS else ""


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", default=None, help="data root (default: $CONDENSEKIT_DATA, else ~/.cache/condensekit)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    p.add_argument("--json", default=None, help="where to write the JSON result")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--download", action="store_true", help="fetch a missing dataset with PyG's standard loader")
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="evaluation processes (0: one per CPU core with at least 3 runs each, 1 on a GPU; 1: in-process)",
    )


def _workers(ns: argparse.Namespace, task: NodeTask, runs: int) -> int:
    """``--workers``, or :func:`~condensekit.core.parallel.auto_workers` when it is 0."""
    check_int("--workers", ns.workers, 0)
    return ns.workers or auto_workers(runs, task.x.device)


def _method_config(ns: argparse.Namespace, registry: Any = NODE_METHODS) -> Any:
    try:
        entry = registry.get(ns.method)
    except ValueError as err:  # a method of the other task: say which flag it needs
        hint = _other_task_method(ns, ns.method, at_help=False)
        if not hint:
            raise
        raise ValueError(f"{err}; {hint}") from None
    prog = f"condensekit graph condense --method {ns.method}"
    given = method_flags(entry.config, ns, prog=prog, owner=f"method {ns.method!r}")
    return entry.config(**given)


def _engine_options(ns: argparse.Namespace) -> dict[str, Any]:
    """What ``graph condense`` passes from its flags to the condensation call of either task
    (:func:`~condensekit.graph.condense_nodes`, :func:`~condensekit.graph.level.condense_graphs`)."""
    return {
        "seed": ns.seed,
        "device": ns.device,
        "steps": ns.steps,
        "eval_every": ns.eval_every,
        "checkpoint": ns.checkpoint,
        "progress": not ns.quiet,
    }


def _print_eval(title: str, results: dict[str, Any]) -> None:
    """``title``, then one row per model: its test accuracy (mean ± std) and its runs (both tasks' verbs)."""
    print(title)
    print(format_table(["model", "test acc (%)", "runs"], [[m, str(s), len(s.values)] for m, s in results.items()]))


def _condense(ns: argparse.Namespace) -> int:
    check_int("--eval-runs", ns.eval_runs, 0)  # before the condensation, not after it
    if ns.out is not None:  # the default folder names the budget, known after the condensation
        check_artifact_target(ns.out, argument="--out")  # and its folder can be written
        if not ns.json:  # core's main has checked a given one
            check_file_target(ns.out + ".json", argument="--json")
    else:  # its folder, and the JSON's beside it, can be tried now
        check_writable(DEFAULT_OUT, argument="--out", inside=True)
    if ns.checkpoint:  # before the data is read (the engine checks it too, after)
        check_file_target(ns.checkpoint, argument="--checkpoint")
    cfg = _method_config(ns)
    task = prepare_task(ns.dataset, root=ns.root, device=ns.device, download=ns.download)
    cg = condense_nodes(
        task,
        ns.method,
        budget=ns.budget,
        ratio=ns.ratio,
        config=cfg,
        **_engine_options(ns),
    )
    n = cg.card["budget"]["nodes"]
    out = Path(ns.out or f"{DEFAULT_OUT}/{task.name.lower().replace('/', '-')}-{ns.method}-{n}")
    summary: dict[str, Any] = {
        "artifact": str(out),
        "method": ns.method,
        "dataset": ns.dataset,
        "budget": cg.card["budget"],
        "cost": cg.card["cost"],
        "val_selected": cg.card["metrics"]["val_selected"],
    }
    if ns.eval_runs:
        res = _evaluate_gcn(ns, task, cg, ns.eval_runs)
        summary["test"] = cg.card["metrics"]["test"]
    cg.save(out)
    print(
        format_table(
            ["method", "dataset", "nodes", "edges>0", "best step", "val (%)", "time (s)", "peak MB"],
            [
                [
                    ns.method,
                    ns.dataset,
                    n,
                    int((cg.adj > 0).sum()),
                    cg.card["metrics"]["best_step"],
                    "-" if cg.card["metrics"]["val_selected"] is None else f"{cg.card['metrics']['val_selected']:.2f}",
                    cg.card["cost"]["wall_time_s"],
                    cg.card["cost"]["peak_memory_mb"],
                ]
            ],
        )
    )
    if ns.eval_runs:
        _print_eval("", res)
    write_json(ns.json or str(out) + ".json", summary)
    print(f"artifact: {out}   json: {ns.json or str(out) + '.json'}")
    return 0


def _evaluate(ns: argparse.Namespace) -> int:
    models = MODELS.parse_names(ns.models, "--models")  # none: evaluating nothing replaced the card's test results
    cg = CondensedGraph.load(ns.artifact, purpose="`graph evaluate`")
    check_evaluation_targets(ns.artifact, ns.json)
    source = cg.card["source"].get("source_path") or cg.card["source"]["dataset"]  # a user's .npz: its path
    task = prepare_task(source, root=ns.root, device=ns.device, download=ns.download)
    inductive = cg.card["source"].get("setting") == "inductive"
    if inductive:  # GCond's inductive protocol: validated and tested on the held-out nodes' own subgraphs
        task = task.held_out()
    t0 = time.perf_counter()
    cfg = NodeEvalConfig(runs=ns.runs, seed=ns.seed, train=TrainConfig(epochs=ns.epochs))
    workers = _workers(ns, task, ns.runs * len(models))
    res = evaluate_node(task, cg.tensors(), models=models, config=cfg, workers=workers)
    elapsed = time.perf_counter() - t0
    protocol = {"runs": ns.runs, "epochs": ns.epochs, "graph": "held-out subgraphs" if inductive else "full"}
    return _report_eval(ns, cg.card, f"{cg.card['budget']['nodes']} nodes", res, protocol, elapsed)


def _report_eval(
    ns: argparse.Namespace, card: dict[str, Any], size: str, results: dict[str, Summary], protocol: Any, elapsed: float
) -> int:
    """What ``graph evaluate`` does with its results, for either task: the table (titled with the set's method,
    dataset and ``size``), the figures with ``protocol`` in the artifact's card (``metrics``: ``test``,
    ``eval_protocol``), and the same in the JSON file ``--json`` (default ``ARTIFACT.eval.json``) with the time."""
    _print_eval(f"{card['method']} on {card['source']['dataset']}, {size} ({ns.runs} runs, {elapsed:.1f} s)", results)
    metrics = {"test": {m: s.to_dict() for m, s in results.items()}, "eval_protocol": protocol}
    update_card(ns.artifact, metrics=metrics)
    path = evaluation_json(ns.artifact, ns.json)
    write_json(path, {"artifact": ns.artifact, "method": card["method"], **metrics, "eval_time_s": round(elapsed, 2)})
    print(f"json: {path}")
    return 0


def _evaluate_gcn(ns: argparse.Namespace, task: NodeTask, cg: CondensedGraph, runs: int) -> dict[str, Summary]:
    """``runs`` GCN runs of the protocol on ``cg``; the figures go into its card's metrics."""
    cfg = NodeEvalConfig(runs=runs, seed=ns.seed)
    res = evaluate_node(task, cg.tensors(), models=["gcn"], config=cfg, workers=_workers(ns, task, runs))
    cg.card["metrics"]["test"] = {m: s.to_dict() for m, s in res.items()}
    return res


def _demo(ns: argparse.Namespace) -> int:
    check_artifact_target(ns.out, argument="--out")  # before the download and the condensation, not at the save
    if not ns.json:  # core's main has checked a given one
        check_file_target(ns.out + ".json", argument="--json")
    t0 = time.perf_counter()
    # The demo fetches Cora with PyG's loader when the data root lacks it (never when it is there).
    task = prepare_task("cora", root=ns.root, device=ns.device, download=True)
    cg = condense_nodes(task, DEMO_METHOD, budget=70, seed=ns.seed, progress=not ns.quiet)
    res = _evaluate_gcn(ns, task, cg, ns.runs)
    cg.save(ns.out)
    total = time.perf_counter() - t0
    print(
        f"Cora → 70 synthetic nodes with {DEMO_METHOD} (condensation {cg.card['cost']['wall_time_s']:.0f} s, "
        f"total {total:.0f} s on {cg.card['cost']['device']})"
    )
    _print_eval("", res)
    path = ns.json or ns.out + ".json"
    write_json(
        path,
        {
            "artifact": ns.out,
            "method": DEMO_METHOD,
            "test": cg.card["metrics"]["test"],
            "cost": cg.card["cost"],
            "total_time_s": round(total, 1),
        },
    )
    print(f"artifact: {ns.out}   json: {path}")
    return 0
