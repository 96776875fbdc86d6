"""Coreset baselines for node classification: random, herding and k-center.

As in GCond's ``train_coreset.py`` (Jin et al., ICLR 2022, Table 2 baselines): per class, pick
real training nodes (random; herding, Welling ICML 2009; greedy k-center, Sener & Savarese ICLR
2018) on the output embeddings of a GCN trained on the full graph, and keep the subgraph they
induce, with their original features and labels. The condensed graph needs zero engine steps;
the selection happens in :meth:`setup`. :class:`ZeroSteps` (a coreset's ``step``) serves the graph-level
coresets (:mod:`condensekit.graph.level.methods.coreset`) too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from condensekit.core.config import check_field_types
from condensekit.core.evaluate import TrainConfig, accuracy, train_select
from condensekit.core.registry import check_int
from condensekit.core.selection import select_per_class
from condensekit.graph.adjacency import induced_subgraph
from condensekit.graph.methods.base import NodeCondensation, register_node_method
from condensekit.graph.models.registry import create_model


@dataclass(frozen=True)
class CoresetConfig:
    """Coreset selection settings (the embedding GCN follows the evaluation protocol)."""

    epochs: int = field(default=0, metadata={"help": "engine steps (a coreset has none)"})
    embed_epochs: int = 600
    hidden: int = 256

    def __post_init__(self) -> None:
        check_field_types(self)  # numpy scalars stored as Python values (cards stay JSON); bool / Literal by kind


class ZeroSteps:
    """What every coreset of the graph package shares (node and graph level): the selection happens in
    ``setup``, so ``step`` refuses to run; nothing changes across steps, so ``stateful`` stays the engine's
    default (nothing to checkpoint). Put it before the method base class."""

    name: str

    def step(self, step: int) -> dict[str, float]:
        raise ValueError(f"Invalid steps for coreset {self.name!r}: a coreset has no condensation steps; use steps=0")


class NodeCoreset(ZeroSteps, NodeCondensation):
    """Selects real training nodes per class and keeps their induced subgraph."""

    selection: str = "random"
    config: CoresetConfig

    def _embeddings(self, device: torch.device) -> Tensor:
        """Log-softmax outputs of the training nodes under a GCN trained on the task's graph, selected
        on validation nodes: the task's own, or for a training subgraph (inductive, which has none)
        those of the graph it was cut from, as GCond's ``train_coreset_induct.py`` validates."""
        task = self.task
        judge = task.judge
        model = create_model(
            "gcn",
            in_channels=task.num_features,
            out_channels=task.num_classes,
            hidden_channels=self.config.hidden,
        ).to(device)
        op, op_val = task.op(model), judge.op(model)
        y_val = judge.y[judge.val_idx]
        train_select(
            model,
            train_loss=lambda m: F.cross_entropy(m(task.x_in, op)[task.train_idx], task.y_train),
            validate=lambda m: accuracy(m(judge.x_in, op_val)[judge.val_idx], y_val),
            test=lambda m: 0.0,
            config=TrainConfig(epochs=self.config.embed_epochs),
        )
        with torch.no_grad():
            return F.log_softmax(model(task.x_in, op), dim=-1)[task.train_idx]

    def setup(self, device: torch.device) -> None:
        task = self.task
        for name in ("embed_epochs", "hidden"):  # by name (TrainConfig said 'epochs'), for every selection
            check_int(name, getattr(self.config, name), 1)
        emb = task.x[task.train_idx] if self.selection == "random" else self._embeddings(device)
        local = select_per_class(self.selection, emb, task.y_train, self.budgets)
        self.nodes = task.train_idx[local]
        self.adj = induced_subgraph(task.adj, self.nodes).to_dense().float()

    def condensed(self) -> dict[str, Tensor]:
        return {
            "x": self.task.x[self.nodes].clone(),
            "adj": self.adj.clone(),
            "y": self.task.y[self.nodes].clone(),
        }


@register_node_method("random", CoresetConfig, "coreset: random training nodes per class, induced subgraph")
class RandomCoreset(NodeCoreset):
    selection = "random"


@register_node_method("herding", CoresetConfig, "coreset: herding on trained-GCN embeddings, induced subgraph")
class HerdingCoreset(NodeCoreset):
    selection = "herding"


@register_node_method("kcenter", CoresetConfig, "coreset: greedy k-center on trained-GCN embeddings")
class KCenterCoreset(NodeCoreset):
    selection = "kcenter"
