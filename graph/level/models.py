"""Graph-classification GNNs: GCN with mean pooling (DosCond's) and GIN with sum pooling (KiDD's).

Both take a :class:`~condensekit.graph.level.batch.GraphBatch` (sparse real graphs or dense
synthetic ones) and return logits ``(B, C)``; look them up by name in :data:`GRAPH_MODELS`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from condensekit.core.registry import Registry, check_choice
from condensekit.graph.level.batch import POOLINGS, GraphBatch
from condensekit.graph.models.base import check_model_args

__all__ = ["GRAPH_MODELS", "GraphClassifier", "GraphGCN", "GraphGIN", "create_graph_model"]

GRAPH_MODELS: Registry[type[GraphClassifier]] = Registry("graph model")


class GraphClassifier(nn.Module):
    """Shared arguments: ``num_layers`` message-passing layers of width ``hidden_channels``,
    a ``pooling`` readout (``"mean"``, ``"sum"``, ``"max"``) and one linear classifier.

    Shapes:
        input: a :class:`GraphBatch` of ``B`` graphs with ``in_channels`` node features;
        output: ``(B, out_channels)`` logits; :meth:`embed`: ``(B, hidden_channels)``.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        out_channels: int,
        hidden_channels: int = 128,
        num_layers: int = 3,
        dropout: float = 0.0,
        pooling: str = "mean",
    ) -> None:
        super().__init__()
        check_model_args(
            in_channels=in_channels,
            out_channels=out_channels,
            hidden_channels=hidden_channels,
            num_layers=num_layers,
            dropout=dropout,
        )
        check_choice("pooling", pooling, POOLINGS)
        self.pooling = pooling
        self.dropout = dropout
        self.classifier = nn.Linear(hidden_channels, out_channels)

    def node_embeddings(self, g: GraphBatch) -> Tensor:
        raise NotImplementedError

    def embed(self, g: GraphBatch) -> Tensor:
        """Pooled graph embeddings ``(B, hidden_channels)``."""
        return g.pool(g.mask_nodes(self.node_embeddings(g)), self.pooling)

    def forward(self, g: GraphBatch) -> Tensor:
        return self.classifier(F.dropout(self.embed(g), self.dropout, self.training))


def register_graph_model(name: str) -> Any:
    def add(cls: type[GraphClassifier]) -> type[GraphClassifier]:
        GRAPH_MODELS.register(name, cls)
        return cls

    return add


@register_graph_model("gcn")
class GraphGCN(GraphClassifier):
    r"""GCN layers (`Kipf & Welling, ICLR 2017 <https://arxiv.org/abs/1609.02907>`_)
    :math:`H' = \mathrm{ReLU}(D^{-1/2}(A+I)D^{-1/2} H W + b)`, then pooling (DosCond's evaluation
    model: 3 layers, hidden 128, mean pooling)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        d_in, d_h = kwargs["in_channels"], kwargs.get("hidden_channels", 128)
        sizes = [d_in] + [d_h] * kwargs.get("num_layers", 3)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))

    def node_embeddings(self, g: GraphBatch) -> Tensor:
        op, h = g.op("gcn"), g.x
        for i, layer in enumerate(self.layers):
            if i > 0:
                h = F.dropout(h, self.dropout, self.training)
            h = torch.relu(g.propagate(op, F.linear(h, layer.weight)) + layer.bias)
        return h


@register_graph_model("gin")
class GraphGIN(GraphClassifier):
    r"""GIN-0 layers (`Xu et al., ICLR 2019 <https://arxiv.org/abs/1810.00826>`_)
    :math:`H' = \mathrm{ReLU}(\mathrm{MLP}((A + I) H))` with a two-layer MLP, then pooling (KiDD's
    evaluation model: 5 layers, hidden 64, sum pooling)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("hidden_channels", 64)
        kwargs.setdefault("num_layers", 5)
        kwargs.setdefault("pooling", "sum")
        super().__init__(**kwargs)
        d_in, d_h = kwargs["in_channels"], kwargs["hidden_channels"]
        sizes = [d_in] + [d_h] * kwargs["num_layers"]
        self.layers = nn.ModuleList(
            nn.Sequential(nn.Linear(a, b), nn.ReLU(), nn.Linear(b, b))
            for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        )

    def node_embeddings(self, g: GraphBatch) -> Tensor:
        op, h = g.op("sum"), g.x
        for i, mlp in enumerate(self.layers):
            if i > 0:
                h = F.dropout(h, self.dropout, self.training)
            h = torch.relu(mlp(g.propagate(op, h)))
        return h


def create_graph_model(name: str, **kwargs: Any) -> GraphClassifier:
    """Build the graph classifier registered as ``name`` (unknown names list the valid ones)."""
    return GRAPH_MODELS.get(name)(**kwargs)
