"""Graph-level verbs on the graph CLI: ``graph condense --task graph``, ``graph evaluate`` of a
graph-level artifact, ``graph show ARTIFACT --png``, ``graph methods --task graph``.

:func:`register_graph_level` extends the node-level parsers of :mod:`condensekit.graph.cli`
(it adds ``--task`` and ``--gpc`` and dispatches on them), so the node-level code stays as it is; the flags'
way into the condensation call, the method config, the result table and the evaluation's record are that
module's.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

from condensekit.core.artifact import CARD_FILE, check_artifact_target, check_evaluation_targets
from condensekit.core.atomic import atomic_path, check_file_target, write_json
from condensekit.core.registry import check_int
from condensekit.core.report import format_table
from condensekit.graph.cli import _engine_options, _method_config, _print_eval, _report_eval
from condensekit.graph.level.condense import TASK, CondensedGraphSet, condense_graphs, num_edges, prepare_graphs
from condensekit.graph.level.data import GRAPH_DATASETS
from condensekit.graph.level.evaluate import GraphEvalConfig, evaluate_graphs
from condensekit.graph.level.methods import GRAPH_METHODS
from condensekit.graph.level.models import GRAPH_MODELS

TASKS = ("node", "graph")
Handler = Callable[[argparse.Namespace], int]


def register_graph_level(verbs: argparse._SubParsersAction) -> None:
    """Add the graph-level options and the ``show`` verb to the ``graph`` sub-commands."""
    c = verbs.choices["condense"]
    c.add_argument("--task", choices=TASKS, default="node", help="node or graph classification (default: node)")
    size = c._mutually_exclusive_groups[0]  # --budget | --ratio: --gpc joins them
    size.add_argument("--gpc", type=int, help="synthetic graphs per class (--task graph)")
    c.add_argument(
        "--split-seed",
        type=int,
        default=None,
        help="--task graph: seed of the stratified 80/10/10 split (default 0, the benchmark's split; --seed seeds "
        "only the condensation and evaluation)",
    )
    c.set_defaults(func=_by_task(c.get_default("func"), _condense))

    e = verbs.choices["evaluate"]
    e.add_argument("--task", choices=TASKS, default=None, help="the artifact's task (default: read from its card)")
    e.set_defaults(func=_by_card(e.get_default("func"), _evaluate), models=None, epochs=None)

    m = verbs.choices["methods"]
    m.add_argument("--task", choices=TASKS, default="node")
    m.set_defaults(func=_by_task(m.get_default("func"), _methods))

    s = verbs.add_parser("show", help="draw a few condensed graphs per class of a graph-level artifact")
    s.add_argument("artifact", help="artifact folder written by `graph condense --task graph`")
    s.add_argument("--png", required=True, help="output image")
    s.add_argument("--per-class", type=int, default=3, help="graphs drawn per class")
    s.set_defaults(func=_show)


def _by_task(node: Handler, graph: Handler) -> Handler:
    def dispatch(ns: argparse.Namespace) -> int:
        if ns.task == "graph":
            return graph(ns)
        dataset = str(getattr(ns, "dataset", "")).lower()
        if dataset in GRAPH_DATASETS:  # the node loader's error listed only node datasets, with no word of --task
            raise ValueError(
                f"Invalid value {ns.dataset!r} for argument --dataset: it is a graph-classification dataset; add "
                "--task graph (with --gpc N), or give a node-classification dataset"
            )
        if getattr(ns, "gpc", None) is not None:
            raise ValueError("--gpc is for graph classification: add --task graph (node-level takes --budget/--ratio)")
        if getattr(ns, "split_seed", None) is not None:
            raise ValueError("--split-seed is for graph classification: add --task graph (node sets keep their split)")
        return node(ns)

    return dispatch


def _card_task(path: str) -> str | None:
    try:
        return json.loads((Path(path) / CARD_FILE).read_text()).get("task")
    except (OSError, ValueError, AttributeError):
        return None  # the loaders below give the precise error


def _by_card(node: Handler, graph: Handler) -> Handler:
    def dispatch(ns: argparse.Namespace) -> int:
        if ns.epochs is not None:  # not `or`-ed into the node-level default below
            check_int("--epochs", ns.epochs, 1)
        task = ns.task or ("graph" if _card_task(ns.artifact) == TASK else "node")
        if task == "graph":
            return graph(ns)
        ns.models = "gcn" if ns.models is None else ns.models  # an empty --models "" is refused, not read as gcn
        ns.epochs = ns.epochs or 600
        return node(ns)

    return dispatch


def _methods(ns: argparse.Namespace) -> int:
    rows = [[n, GRAPH_METHODS.get(n).description] for n in GRAPH_METHODS.names()]
    print(format_table(["method", "what"], rows))
    return 0


def _condense(ns: argparse.Namespace) -> int:
    if ns.gpc is None:
        raise ValueError("--task graph needs --gpc N (graphs per class), not --budget/--ratio")
    if ns.dataset.lower() not in GRAPH_DATASETS:
        raise ValueError(
            f"Unknown value {ns.dataset!r} for argument --dataset with --task graph. "
            f"Valid values are {{{', '.join(GRAPH_DATASETS)}}}"
        )
    check_int("--eval-runs", ns.eval_runs, 0)  # before the condensation, not after it (no artifact was written)
    out = Path(ns.out or f"artifacts/{ns.dataset.lower()}-{ns.method}-gpc{ns.gpc}")
    # before the condensation (save refuses it too, after the work): a file, a folder that is not an artifact, a
    # folder that cannot be written; the same for the JSON and the checkpoint
    check_artifact_target(out, argument="--out")
    if not ns.json:  # core's main has checked a given one
        check_file_target(str(out) + ".json", argument="--json")
    if ns.checkpoint:
        check_file_target(ns.checkpoint, argument="--checkpoint")
    cfg = _method_config(ns, GRAPH_METHODS)
    split_seed = 0 if ns.split_seed is None else ns.split_seed
    check_int("--split-seed", split_seed, 0)
    graphs = prepare_graphs(ns.dataset, root=ns.root, seed=split_seed, device=ns.device, download=ns.download)
    cs = condense_graphs(
        graphs,
        ns.method,
        gpc=ns.gpc,
        config=cfg,
        **_engine_options(ns),
    )
    res = None
    if ns.eval_runs:
        res = evaluate_graphs(graphs, cs.tensors(), config=GraphEvalConfig(runs=ns.eval_runs, seed=ns.seed))
        cs.card["metrics"]["test"] = {m: s.to_dict() for m, s in res.items()}
    cs.save(out)
    val = cs.card["metrics"]["val_selected"]
    print(
        format_table(
            ["method", "dataset", "graphs", "nodes", "edges", "best step", "val (%)", "time (s)", "peak MB"],
            [
                [
                    ns.method,
                    ns.dataset,
                    len(cs),
                    cs.card["budget"]["nodes"],
                    num_edges(cs),
                    cs.card["metrics"]["best_step"],
                    "-" if val is None else f"{val:.2f}",
                    cs.card["cost"]["wall_time_s"],
                    cs.card["cost"]["peak_memory_mb"],
                ]
            ],
        )
    )
    if res is not None:
        _print_eval("", res)
    path = ns.json or str(out) + ".json"
    write_json(
        path,
        {
            "artifact": str(out),
            "method": ns.method,
            "dataset": ns.dataset,
            "budget": cs.card["budget"],
            "cost": cs.card["cost"],
            "metrics": cs.card["metrics"],
        },
    )
    print(f"artifact: {out}   json: {path}")
    return 0


def _evaluate(ns: argparse.Namespace) -> int:
    cs = CondensedGraphSet.load(ns.artifact, purpose="`graph evaluate --task graph`")
    check_evaluation_targets(ns.artifact, ns.json)
    models = GRAPH_MODELS.parse_names("gcn,gin" if ns.models is None else ns.models, "--models")
    seed = cs.card["source"].get("split", {}).get("seed", 0)
    if seed is None:
        raise ValueError(
            f"Invalid artifact {ns.artifact!r} for `graph evaluate --task graph`: its card records no split seed (it "
            "was condensed from a GraphSet built by hand), so its test split cannot be re-drawn; evaluate it in "
            "Python with evaluate_graphs(graphs, cs.tensors()) on that GraphSet"
        )
    if str(cs.card["source"]["dataset"]).lower() not in GRAPH_DATASETS:
        raise ValueError(
            f"Invalid artifact {ns.artifact!r} for `graph evaluate --task graph`: it was condensed from "
            f"{cs.card['source']['dataset']!r}, not a dataset this command loads ({{{', '.join(GRAPH_DATASETS)}}}); "
            "evaluate it in Python with evaluate_graphs(graphs, cs.tensors()) on the graphs it was condensed from"
        )
    graphs = prepare_graphs(
        cs.card["source"]["dataset"], root=ns.root, seed=seed, device=ns.device, download=ns.download
    )
    src = cs.card["source"]
    for key, have in (("num_graphs", graphs.num_graphs), ("num_train", int(graphs.train_idx.numel()))):
        if src.get(key) is not None and src[key] != have:  # the seed would draw another split over other graphs
            raise ValueError(
                f"Invalid artifact {ns.artifact!r} for `graph evaluate --task graph`: it was condensed from "
                f"{src['dataset']!r} with {key}={src[key]}, but the real {src['dataset']!r} data loads with "
                f"{key}={have}, so split seed {seed} draws another split, whose test graphs may be ones the set was "
                "condensed from; pass the --root it was condensed from"
            )
    t0 = time.perf_counter()
    res = evaluate_graphs(
        graphs, cs.tensors(), models=models, config=GraphEvalConfig(runs=ns.runs, seed=ns.seed, epochs=ns.epochs)
    )
    elapsed = time.perf_counter() - t0
    protocol = {"runs": ns.runs, "epochs": ns.epochs or "protocol"}
    return _report_eval(ns, cs.card, f"{len(cs)} graphs", res, protocol, elapsed)


def _show(ns: argparse.Namespace) -> int:
    check_int("--per-class", ns.per_class, 1)
    # before matplotlib's import (half a second): a --png that is a folder, lies under a file or in a folder that
    # cannot be written was found once the drawing was made, as a traceback
    check_file_target(ns.png, argument="--png")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx
    from torch_geometric.utils import to_networkx

    cs = CondensedGraphSet.load(ns.artifact, purpose="`graph show`")
    graphs = cs.to_data_list()
    classes = sorted({int(g.y) for g in graphs})
    cols = ns.per_class
    fig, axes = plt.subplots(len(classes), cols, figsize=(2.6 * cols, 2.6 * len(classes)), squeeze=False)
    for r, c in enumerate(classes):
        members = [g for g in graphs if int(g.y) == c][:cols]
        for k in range(cols):
            ax = axes[r][k]
            ax.axis("off")
            if k >= len(members):
                continue
            g = to_networkx(members[k], to_undirected=True)
            nx.draw_networkx(g, pos=nx.spring_layout(g, seed=0), ax=ax, node_size=25, with_labels=False, width=0.6)
            ax.set_title(f"class {c}: {g.number_of_nodes()} nodes, {g.number_of_edges()} edges", fontsize=7)
    fig.suptitle(f"{cs.card['method']} on {cs.card['source']['dataset']} ({cs.card['budget']['gpc']} per class)")
    fig.tight_layout()
    with atomic_path(ns.png) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    print(f"png: {ns.png} ({len(classes)} classes × up to {cols} graphs)")
    return 0


__all__ = ["register_graph_level"]
