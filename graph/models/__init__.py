"""The GNN zoo: one interface, ``op = model.propagation(adj)`` then ``model(x, op)``.

Models take a dense (differentiable) or torch sparse adjacency and dense or sparse features,
so the same model condenses on a small synthetic graph and evaluates on a large real one.
Look models up by name with :func:`create_model`; importing this package registers them.
"""

from __future__ import annotations

from condensekit.graph.models.appnp import APPNP
from condensekit.graph.models.base import GraphModel
from condensekit.graph.models.cheb import ChebNet
from condensekit.graph.models.gcn import GCN
from condensekit.graph.models.mlp import MLP
from condensekit.graph.models.registry import MODELS, create_model, register_model
from condensekit.graph.models.sage import GraphSAGE
from condensekit.graph.models.sgc import SGC

__all__ = [
    "APPNP",
    "GCN",
    "MLP",
    "MODELS",
    "SGC",
    "ChebNet",
    "GraphModel",
    "GraphSAGE",
    "create_model",
    "register_model",
]
