"""Graph-level coresets: random, herding and k-center real training graphs per class.

Herding (Welling, ICML 2009) and greedy k-center (Sener & Savarese, ICLR 2018) run on the pooled
embeddings of a GCN (the DosCond evaluation model) trained on the training graphs, as the
coreset baselines of DosCond and KiDD do; random needs no model. The selected graphs are kept
whole (padded to the largest of them, with a node mask); there are no engine steps (``step`` is the
node-level coresets' :class:`~condensekit.graph.methods.coreset.ZeroSteps`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from condensekit.core.config import check_field_types
from condensekit.graph.level.methods.base import GraphCondensation, real_coreset, register_graph_method
from condensekit.graph.methods.coreset import ZeroSteps


@dataclass(frozen=True)
class GraphCoresetConfig:
    """Coreset settings (the embedding GCN follows the GCN evaluation protocol, fewer epochs)."""

    steps: int = field(default=0, metadata={"help": "engine steps (a coreset has none)"})
    embed_epochs: int = field(default=50, metadata={"help": "epochs of the GCN whose embeddings herding/k-center use"})

    def __post_init__(self) -> None:
        check_field_types(self)  # numpy scalars stored as Python values (cards stay JSON); bool / Literal by kind


class GraphCoreset(ZeroSteps, GraphCondensation):
    selection = "random"
    config: GraphCoresetConfig

    def setup(self, device: torch.device) -> None:
        emb = None
        if self.selection != "random":
            from condensekit.graph.level.evaluate import real_embeddings

            emb = real_embeddings(self.graphs, epochs=self.config.embed_epochs)
        self.x, self.adj, self.mask = real_coreset(self.graphs, self.gpc, self.selection, emb)
        self.y = self.labels(self.x.device)

    def condensed(self) -> dict[str, Tensor]:
        return {"x": self.x.clone(), "adj": self.adj.clone(), "mask": self.mask.float(), "y": self.y.clone()}


@register_graph_method("random", GraphCoresetConfig, "coreset: random training graphs per class")
class RandomGraphCoreset(GraphCoreset):
    selection = "random"


@register_graph_method("herding", GraphCoresetConfig, "coreset: herding on pooled embeddings of a trained GCN")
class HerdingGraphCoreset(GraphCoreset):
    selection = "herding"


@register_graph_method("kcenter", GraphCoresetConfig, "coreset: greedy k-center on pooled embeddings of a trained GCN")
class KCenterGraphCoreset(GraphCoreset):
    selection = "kcenter"
