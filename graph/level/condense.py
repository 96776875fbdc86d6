"""Python API for graph-level condensation: ``condense_graphs(...)`` → :class:`CondensedGraphSet`.

Example::

    from condensekit.graph.level import condense_graphs, evaluate_graphs
    cs = condense_graphs("proteins", "kidd", gpc=10)
    graphs = cs.to_data_list()            # [Data(x, edge_index, y), ...], each validated
    cs.save("proteins-kidd-10")           # safetensors + JSON card, like node-level artifacts
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data

from condensekit.core.artifact import load_artifact, save_artifact
from condensekit.core.engine import CondensationResult, EngineConfig, method_steps, run
from condensekit.core.registry import check_int
from condensekit.core.seed import resolve_device
from condensekit.graph.condense import make_config, resolve_config
from condensekit.graph.level.data import GraphSet, graphset_from_list, load_graph_dataset
from condensekit.graph.level.evaluate import GraphEvalConfig, check_condensed_graphs, validation_score
from condensekit.graph.level.methods import GRAPH_METHODS, check_gpc

__all__ = [
    "DOMAIN",
    "SELECTION_MODEL",
    "TASK",
    "CondensedGraphSet",
    "check_binary",
    "condense_graphs",
    "prepare_graphs",
]

DOMAIN, TASK = "graph", "graph_classification"

#: The evaluation model of each method's paper, which selects its set by default: DosCond's GCN (mean pooling);
#: GIN (sum pooling, KiDD's) for the others. ``graph condense --eval-every`` selected DosCond's sets by GIN.
SELECTION_MODEL: dict[str, str] = {"doscond": "gcn"}


@dataclass
class CondensedGraphSet:
    """Condensed graphs for graph classification and where they came from.

    Attributes:
        x: ``(N, n, d)`` node features; adj: ``(N, n, n)`` binary symmetric adjacency;
        mask: ``(N, n)`` 1 for a node, 0 for padding; y: ``(N)`` labels.
        card: the artifact card.
    """

    x: Tensor
    adj: Tensor
    mask: Tensor
    y: Tensor
    card: dict[str, Any] = field(default_factory=dict)
    result: CondensationResult | None = None

    def tensors(self) -> dict[str, Tensor]:
        """``{"x": (N, n, d), "adj": (N, n, n) 0/1, "mask": (N, n) 0/1, "y": (N,) int64}``: what
        :func:`~condensekit.graph.level.evaluate_graphs` and :meth:`save` take."""
        return {"x": self.x, "adj": self.adj, "mask": self.mask, "y": self.y}

    def __len__(self) -> int:
        return int(self.y.numel())

    def to_data_list(self) -> list[Data]:
        """The condensed graphs as PyG ``Data(x, edge_index, y)`` (padding nodes dropped); each
        passes ``Data.validate()``."""
        out = []
        for i in range(len(self)):
            keep = self.mask[i] > 0
            a = self.adj[i][keep][:, keep]
            data = Data(
                x=self.x[i][keep].clone(),
                edge_index=(a > 0).nonzero().t().contiguous(),
                y=self.y[i].reshape(1).clone(),
                num_nodes=int(keep.sum()),
            )
            data.validate(raise_on_error=True)
            out.append(data)
        return out

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the artifact folder ``path`` (``tensors.safetensors`` + ``card.json``) and return it."""
        return save_artifact(path, self.tensors(), self.card)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, purpose: str | None = None) -> CondensedGraphSet:
        """The graph-level artifact at ``path``, checked (checksum, shapes, 0/1 ``adj`` and ``mask``); a node-level
        or another domain's artifact raises ``ValueError``."""
        hint = " (node-level artifacts go to `graph evaluate` without --task graph)"
        art = load_artifact(path, domain=DOMAIN, purpose=purpose, task=TASK, hint=hint)
        t = art.tensors
        check_condensed_graphs(t, int(t["x"].shape[2]), int(art.card["source"]["num_classes"]))
        check_binary(t, where=f"graph-level artifact {str(path)!r}")
        return cls(t["x"], t["adj"], t["mask"], t["y"], art.card)


#: The binary tensors of a condensed graph set and what their two values mean.
BINARY = {"adj": "0: no edge, 1: an edge", "mask": "0: padding, 1: a node"}


def check_binary(tensors: dict[str, Tensor], *, where: str = "condensed graphs") -> None:
    """Every method writes ``adj`` and ``mask`` as 0/1 (the discretised structure is what is evaluated); a
    tensor holding anything else (a weighted edge, half a node: a tampered or foreign artifact) is refused,
    naming the tensor, the first bad value, its index and the valid values. One host read per tensor."""
    for name, meaning in BINARY.items():
        t = tensors[name]
        bad = (t != 0) & (t != 1)  # NaN is bad too
        if bool(bad.any()):
            index = tuple(int(i) for i in bad.nonzero()[0].tolist())
            value = float(t[index])
            raise ValueError(
                f"{where}: tensor {name!r} holds {value:g} at index {index}; valid values are 0 and 1 ({meaning})"
            )


def prepare_graphs(
    data: str | Sequence[Data] | GraphSet,
    *,
    root: str | None = None,
    seed: int = 0,
    device: str = "auto",
    download: bool = False,
) -> GraphSet:
    """A :class:`GraphSet` from a TU dataset name (fetched when missing only with ``download``), a list of
    PyG graphs (split 80/10/10 by ``seed``) or a prepared set."""
    dev = resolve_device(device)
    if isinstance(data, GraphSet):
        data.check_features()  # built by hand: not validated as loaded datasets and graph lists are
        data.check_splits()
        return data.to(dev)
    if isinstance(data, str):
        return load_graph_dataset(data, root=root, seed=seed, device=dev, download=download)
    if isinstance(data, Sequence):
        return graphset_from_list(data, seed=seed, device=dev)
    raise ValueError(f"data must be a dataset name, a list of torch_geometric Data or a GraphSet, got {type(data)}")


def make_graph_config(method: str, overrides: dict[str, Any] | None = None) -> Any:
    """The graph-level method's config dataclass with ``overrides`` (unknown keys are an error)."""
    return make_config(method, overrides, registry=GRAPH_METHODS)


def condense_graphs(
    data: str | Sequence[Data] | GraphSet,
    method: str,
    *,
    gpc: int,
    config: Any | dict[str, Any] | None = None,
    seed: int = 0,
    device: str = "auto",
    steps: int | None = None,
    eval_every: int | None = None,
    eval_model: str | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 50,
    progress: bool = True,
    root: str | None = None,
    download: bool = False,
    split_seed: int | None = None,
) -> CondensedGraphSet:
    """Condense a graph-classification dataset to ``gpc`` graphs per class.

    Args:
        data: a TU dataset name (``"proteins"``; see
            :data:`~condensekit.graph.level.data.GRAPH_DATASETS`), a list of PyG graphs, or a
            :class:`GraphSet`.
        method: a name in :data:`~condensekit.graph.level.methods.GRAPH_METHODS`.
        gpc: synthetic graphs per class; each class needs that many training graphs.
        config: the method's config dataclass, or a dict of overrides of its paper defaults.
        steps: engine steps (default: the config's ``steps``).
        eval_every: select the set by ``eval_model``'s validation accuracy every k steps.
        eval_model: the selection model (default: the method's own evaluation model, :data:`SELECTION_MODEL`:
            GCN for DosCond, GIN otherwise, as the benchmark selects).
        checkpoint: file that makes the run resumable bit for bit.
        download: fetch a missing TU dataset (``data`` a name) into the root; nothing is fetched otherwise.
        split_seed: seed of the stratified 80/10/10 split drawn when ``data`` is a name or a list (default 0, the
            split of ``graph condense --task graph`` and of the benchmark); ``seed`` seeds only the condensation, so
            runs of several seeds are scored on one test split. A :class:`GraphSet` keeps its own split: a
            ``split_seed`` that is not the one it was drawn with is an error.

    Returns:
        A :class:`CondensedGraphSet` with a full card; ``.to_data_list()`` gives PyG graphs. The card's ``steps``
        says what ran (:meth:`~condensekit.core.engine.CondensationResult.steps_record`); ``config`` keeps the
        method's config as built, so with ``steps=`` its ``steps`` is not the count that ran.
        (``metrics.best_step`` is the step whose set was kept by the selection.)
    """
    graphs = prepare_graphs(data, root=root, seed=_split_seed(data, split_seed), device=device, download=download)
    entry = GRAPH_METHODS.get(method)
    config = resolve_config(method, config, registry=GRAPH_METHODS)
    check_gpc(graphs, gpc)
    eval_model = SELECTION_MODEL.get(entry.cls.name, "gin") if eval_model is None else eval_model
    if eval_every:
        GraphEvalConfig().protocol(eval_model)  # before the set-up: an unknown name was a KeyError at step 0
    algo = entry.cls(graphs, gpc, config)
    # the selection model is part of what a checkpoint was written with: a resume under another one would mix
    # two models' validation scores in one selection
    algo.selection_model = str(eval_model).lower() if eval_every else None
    n_steps = method_steps(steps, method=method, planned=algo.steps(), no_steps="a coreset selects, it has no steps")
    engine = EngineConfig(
        steps=n_steps,
        seed=seed,
        device=str(graphs.device),
        eval_every=eval_every or 0,
        checkpoint=None if checkpoint is None else str(checkpoint),
        checkpoint_every=checkpoint_every,
        progress=progress,
    )

    def evaluate(cond: dict[str, Tensor]) -> float:
        return validation_score(graphs, cond, model=eval_model, seed=seed)

    result = run(algo, engine, evaluate if eval_every else None)
    cond = {k: v.detach().cpu() for k, v in result.condensed.items()}
    n_nodes = int(cond["mask"].sum())
    card = {
        "domain": DOMAIN,
        "task": TASK,
        "method": method,
        "config": dataclasses.asdict(config),
        "source": {
            "dataset": graphs.name,
            "num_graphs": graphs.num_graphs,
            "num_features": graphs.num_features,
            "num_classes": graphs.num_classes,
            "num_train": int(graphs.train_idx.numel()),
            "split": {"seed": graphs.split_seed, "fractions": [0.8, 0.1, 0.1], "stratified": True},
        },
        "budget": {
            "gpc": int(gpc),  # checked by check_gpc; a numpy integer is written as a Python one
            "graphs": int(cond["y"].numel()),
            "nodes": n_nodes,
            "ratio_of_train": round(int(cond["y"].numel()) / int(graphs.train_idx.numel()), 4),
        },
        "seed": engine.seed,  # the engine config stores a Python int (check_field_types)
        "metrics": {"val_selected": result.best_score, "best_step": result.best_step},
        "selection": {"model": eval_model, "eval_every": eval_every, "history": result.history},
        "steps": result.steps_record(algo.steps()),
        "cost": result.cost(),
    }
    return CondensedGraphSet(cond["x"], cond["adj"], cond["mask"].float(), cond["y"].long(), card, result)


def _split_seed(data: object, split_seed: int | None) -> int:
    """The split seed of :func:`condense_graphs` (checked before any data is read). It followed the condensation
    ``seed`` here while ``graph condense --task graph`` kept split 0, so ``condense_graphs(..., seed=s)`` scored
    every seed on another test split, and the API's and the CLI's runs of one seed were condensed from other
    training graphs."""
    if split_seed is None:
        return 0
    check_int("split_seed", split_seed, 0)
    if isinstance(data, GraphSet) and data.split_seed != split_seed:
        raise ValueError(
            f"Invalid value {split_seed!r} for argument split_seed: the GraphSet given as data was split with seed "
            f"{data.split_seed!r} and keeps its split; pass split_seed=None (or {data.split_seed!r}), or prepare the "
            "graphs with prepare_graphs(..., seed=split_seed)"
        )
    return split_seed


def is_graph_level(card: dict[str, Any]) -> bool:
    return card.get("domain") == DOMAIN and card.get("task") == TASK


def num_edges(cs: CondensedGraphSet) -> int:
    """Undirected edges of the condensed set."""
    return int(torch.count_nonzero(cs.adj)) // 2
