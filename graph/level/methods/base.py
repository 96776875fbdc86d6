"""What every graph-level condensation method shares: the real graphs, the per-class budget (graphs
per class, ``gpc``), the synthetic labels and the dense synthetic graphs.

A condensed set is four tensors: ``x`` ``(N, n, d)`` node features, ``adj`` ``(N, n, n)`` binary
symmetric adjacency, ``mask`` ``(N, n)`` (1 for a node, 0 for padding) and ``y`` ``(N)``, grouped
by class. Methods are registered by name in :data:`GRAPH_METHODS` (its own registry: the node-level
``doscond`` and ``random`` are other methods).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
from torch import Tensor

from condensekit.core.engine import CondensationMethod
from condensekit.core.registry import (
    MethodEntry,
    Registry,
    check_choice,
    check_int,
    check_nonnegative,
    check_positive,
    method_registrar,
    type_name,
)
from condensekit.core.selection import select_per_class
from condensekit.graph.level.data import GraphSet

__all__ = [
    "GRAPH_METHODS",
    "GraphCondensation",
    "GraphMethodEntry",
    "check_gpc",
    "dense_real_init",
    "fitting_candidates",
    "real_coreset",
    "real_picks",
    "register_graph_method",
]


#: Config fields that are weights, checked like the learning rates (finite, >= 0): a NaN passed every check and
#: turned the synthetic set into NaN (beta) or failed as "the kernel matrix holds NaN" (ridge).
NON_NEGATIVE = ("ridge", "orth_reg", "beta")
#: How the initial real graphs are picked (``init``; herding and k-center on a trained GCN's embeddings).
INITS = ("random", "herding", "kcenter")

GraphMethodEntry = MethodEntry
GRAPH_METHODS: Registry[MethodEntry] = Registry("graph-level method")
register_graph_method = method_registrar(GRAPH_METHODS)
"""Class decorator ``@register_graph_method(name, config, description)``."""


def check_gpc(graphs: GraphSet, gpc: int) -> None:
    """``gpc`` graphs per class must exist among each class's training graphs."""
    check_int("gpc", gpc, 1)
    counts = torch.bincount(graphs.y_train.cpu(), minlength=graphs.num_classes)
    short = [(c, int(counts[c])) for c in range(graphs.num_classes) if int(counts[c]) < gpc]
    if short:
        detail = ", ".join(f"class {c} has {n}" for c, n in short)
        raise ValueError(
            f"Invalid value {gpc} for argument gpc: {detail} training graphs in {graphs.name!r} "
            f"(at most {int(counts.min())} graphs per class are possible)"
        )


def dense_real_init(
    graphs: GraphSet, gpc: int, how: str, n_nodes: int, emb: Tensor | None = None, *, fit: bool = False
) -> tuple[Tensor, Tensor, Tensor]:
    """``gpc`` real training graphs per class picked by ``how`` (``"random"``, ``"herding"``,
    ``"kcenter"``; the last two on ``emb``), as padded ``(x, adj, mask)`` truncated to
    ``n_nodes`` nodes, grouped by class.

    With ``fit=True`` the picks come from the graphs of at most ``n_nodes`` nodes, so none is cut
    (DosCond's ``get_graphs(c, max_node_size=nnodes_syn)``); where a class has fewer than ``gpc``
    such graphs, its smallest larger graphs fill the candidates up to ``gpc`` (and are truncated).
    """
    return graphs.padded(graphs.train_idx[real_picks(graphs, gpc, how, n_nodes, emb, fit=fit)], n_nodes)


def real_picks(
    graphs: GraphSet, gpc: int, how: str, n_nodes: int, emb: Tensor | None = None, *, fit: bool = False
) -> Tensor:
    """Positions in the training split of the graphs :func:`dense_real_init` picks (same arguments,
    same random stream), grouped by class."""
    budgets = torch.full((graphs.num_classes,), gpc, dtype=torch.long)
    feats = graphs.y_train.new_zeros(graphs.train_idx.numel(), 1).float() if emb is None else emb
    if not fit:
        return select_per_class(how, feats, graphs.y_train, budgets)
    cand = fitting_candidates(graphs, gpc, n_nodes)
    return cand[select_per_class(how, feats[cand], graphs.y_train[cand], budgets)]


def real_coreset(graphs: GraphSet, gpc: int, how: str, emb: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """The ``how`` coreset (``gpc`` real training graphs per class, see :func:`dense_real_init`) as
    whole graphs: padded ``(x, adj, mask)`` of the width of the largest graph kept, none cut.
    What the coreset methods return and what DosCond's ``start="coreset"`` starts from."""
    largest = int(graphs.num_nodes[graphs.train_idx].max())
    x, adj, mask = dense_real_init(graphs, gpc, how, largest, emb)
    keep = int(mask.sum(1).max())  # pad to the largest selected graph only
    return x[:, :keep], adj[:, :keep, :keep], mask[:, :keep]


def fitting_candidates(graphs: GraphSet, gpc: int, n_nodes: int) -> Tensor:
    """Positions in the training split of each class's graphs with at most ``n_nodes`` nodes, or,
    where fewer than ``gpc`` fit, of its ``gpc`` smallest graphs (ascending ``train_idx`` order)."""
    sizes = graphs.num_nodes[graphs.train_idx]
    keep = []
    for c in range(graphs.num_classes):
        members = (graphs.y_train == c).nonzero(as_tuple=True)[0]
        fits = members[sizes[members] <= n_nodes]
        if fits.numel() < gpc:
            order = torch.sort(sizes[members], stable=True).indices
            fits = members[order[:gpc]].sort().values
        keep.append(fits)
    return torch.cat(keep)


class GraphCondensation(CondensationMethod):
    """Base of graph-level methods: the real graphs, ``gpc`` and the synthetic labels.

    Args:
        graphs: the real graphs with their splits.
        gpc: synthetic graphs per class (checked against each class's training graphs).
        config: the method's config dataclass instance.
    """

    def __init__(self, graphs: GraphSet, gpc: int, config: Any) -> None:
        check_gpc(graphs, gpc)
        for f in dataclasses.fields(config) if dataclasses.is_dataclass(config) else ():
            value = getattr(config, f.name)
            if isinstance(f.default, bool) and not isinstance(value, (bool, np.bool_)):
                # a switch given as a string ("false", "no") or a number was truthy: mask_padding="false" masked;
                # np.bool_ is a bool (the engine stores it as one, core.config.check_field_types)
                raise ValueError(
                    f"Invalid value {value!r} for argument {f.name}. Valid values are True and False (got "
                    f"{type_name(value)})"
                )
            if f.name.startswith("lr_") or f.name in NON_NEGATIVE:
                # else torch's optimiser says "Invalid learning rate", without the flag, after the set-up
                check_nonnegative(f.name, value)
        # named here, before any set-up: the embedding GCN's check said "argument epochs", the selector's
        # "Unknown selection method"
        if hasattr(config, "embed_epochs"):
            check_int("embed_epochs", config.embed_epochs, 1)
        if hasattr(config, "init"):
            check_choice("init", config.init, INITS)
        self.graphs = graphs
        self.gpc = gpc
        self.config = config

    @property
    def n_syn(self) -> int:
        return self.gpc * self.graphs.num_classes

    def labels(self, device: torch.device) -> Tensor:
        return torch.arange(self.graphs.num_classes, device=device).repeat_interleave(self.gpc)

    def syn_nodes(self, multiplier: float) -> int:
        """Nodes of each synthetic graph: ``multiplier`` × the mean training-graph size, rounded."""
        check_positive("node_multiplier", multiplier)  # inf was an OverflowError, NaN a ValueError of int()
        mean = float(self.graphs.num_nodes[self.graphs.train_idx].float().mean())
        return max(1, int(round(multiplier * mean)))

    def steps(self) -> int:
        return int(getattr(self.config, "steps", 0))

    #: The model whose validation accuracy selects the set (``condense_graphs`` sets it when it selects).
    selection_model: str | None = None

    def data_setting(self) -> dict[str, Any]:
        g = self.graphs
        info = {"dataset": g.name, "num_graphs": g.num_graphs, "num_features": g.num_features}
        info |= {"split_seed": g.split_seed, "gpc": self.gpc}
        # only when selecting, so checkpoints of runs without selection resume as before
        return info if self.selection_model is None else info | {"selection_model": self.selection_model}
