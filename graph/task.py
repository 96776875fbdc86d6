"""A node-classification task prepared once: the real graph in the forms the methods need.

Condensation and evaluation touch the real graph thousands of times. :class:`NodeTask` holds it
ready: features as a sparse CSR tensor when they are sparse (Cora's bag of words is ~1% dense,
so the first layer costs ~1% of a dense product), the sparse adjacency, and each model family's
propagation operator computed once and cached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import coalesce, is_undirected, to_undirected

from condensekit.graph.adjacency import induced_subgraph, spmm, to_csr, to_sparse_adj
from condensekit.graph.data import validate_node_data
from condensekit.graph.models.base import GraphModel
from condensekit.graph.models.sgc import SGC

SPARSE_FEATURE_DENSITY = 0.1


def model_input(x: Tensor) -> Tensor:
    """``x`` as models should be fed it: sparse CSR when under 10 % of it is non-zero on the CPU
    (a bag-of-words row costs its non-zeros in the first layer, forward and backward), else ``x``."""
    density = float((x != 0).sum()) / max(x.numel(), 1)
    return to_csr(x) if density < SPARSE_FEATURE_DENSITY and x.device.type == "cpu" else x


def symmetrize(
    edge_index: Tensor, edge_weight: Tensor | None, num_nodes: int
) -> tuple[Tensor, Tensor | None, dict[str, Any]]:
    """The edge list made undirected when it is not, and what was done.

    Every model here propagates with a symmetric operator (GCN's :math:`D^{-1/2}(A+I)D^{-1/2}`)
    and a condensed graph must be symmetric, so a directed graph (PyG's Actor, a user's citation
    list) is read as undirected: the union of both directions, where both exist keeping the larger
    weight (1 for unweighted graphs); a repeated edge is likewise kept once. The returned record goes into
    the card.
    """
    edges_in = int(edge_index.size(1))
    # a repeated edge is kept once (the larger weight), as to_undirected does for a directed list: summed into
    # weight 2 in a symmetric list only, the same graph propagated two ways by how it was listed
    edge_index, edge_weight = coalesce(edge_index, edge_weight, num_nodes=num_nodes, reduce="max")
    directed = not is_undirected(edge_index, edge_weight, num_nodes=num_nodes)
    meta: dict[str, Any] = {"directed_input": directed, "symmetrized": directed, "edges_in": edges_in}
    if directed:
        if edge_weight is None:
            edge_index = to_undirected(edge_index, num_nodes=num_nodes)
        else:
            edge_index, edge_weight = to_undirected(edge_index, edge_weight, num_nodes=num_nodes, reduce="max")
    meta["edges_used"] = int(edge_index.size(1))
    return edge_index, edge_weight, meta


@dataclass
class NodeTask:
    """The real graph of a transductive node-classification task.

    Attributes:
        x: N×d dense features.
        x_in: the features models are fed (sparse CSR when density < 10 %, else ``x``).
        adj: N×N sparse adjacency (COO, coalesced, weights from ``edge_weight`` or 1).
        y: N labels.
        train_idx, val_idx, test_idx: node indices of the splits.
        num_classes: C.
        name: dataset name.
        meta: how the graph was read (``directed_input``, ``symmetrized``, edge counts, the
            split, the source file), recorded in the card's ``source``.
        full: for a training subgraph (:meth:`training_subgraph`), the task it was cut from (``None``
            otherwise); its :meth:`held_out` graph judges what is trained on the subgraph (:attr:`judge`).
    """

    x: Tensor
    x_in: Tensor
    adj: Tensor
    y: Tensor
    train_idx: Tensor
    val_idx: Tensor
    test_idx: Tensor
    num_classes: int
    name: str = "graph"
    meta: dict[str, Any] = field(default_factory=dict)
    full: NodeTask | None = field(default=None, repr=False)
    _ops: dict[str, Tensor | None] = field(default_factory=dict, repr=False)
    _held_out: NodeTask | None = field(default=None, init=False, repr=False, compare=False)  # not replace()d

    @property
    def judge(self) -> NodeTask:
        """The task whose validation nodes judge a set made from this one: for a training subgraph (inductive,
        no validation nodes of its own) the held-out graph of the task it was cut from (``full.held_out()``),
        as GCond validates; else itself."""
        if self.full is None or self.val_idx.numel() > 0:
            return self
        return self.full.held_out()

    def held_out(self) -> NodeTask:
        """GCond's inductive evaluation graph: the subgraph the validation nodes induce and the one the test nodes
        induce, side by side as one task, computed once.

        GCond (``utils_graphsaint.py``, ``adj_val`` / ``adj_test``; ``fit_with_val(noval=True)`` and
        ``predict(feat_test, adj_test)`` in ``gcond_agent_induct.py``) validates a model trained on the condensed
        graph on the validation nodes' own subgraph and tests it on the test nodes' own subgraph: no edge to a
        training node or to the other split. Here the two subgraphs are the two blocks of one block-diagonal
        graph (no edge between them), so a GNN gives each block exactly what it gives that block alone, and
        every evaluation routine runs on it unchanged: its ``val_idx`` are its first ``V`` nodes (this task's
        validation nodes, in order), its ``test_idx`` the next ``T``; it has no training nodes.

        Shapes:
            output ``x``: ``(V + T, d)``; ``adj``: ``(V + T, V + T)``.
        """
        if self._held_out is None:
            if self.val_idx.numel() == 0 or self.test_idx.numel() == 0:
                raise ValueError(
                    f"held_out needs validation and test nodes; task {self.name!r} has {self.val_idx.numel()} and "
                    f"{self.test_idx.numel()}"
                )
            nodes = torch.cat([self.val_idx, self.test_idx])
            v = self.val_idx.numel()
            sub = induced_subgraph(self.adj, nodes)
            ind = sub.indices()
            inside = (ind[0] < v) == (ind[1] < v)  # both ends in the validation block, or both in the test block
            adj = to_sparse_adj(ind[:, inside], nodes.numel(), sub.values()[inside])
            self._held_out = self._on(
                nodes,
                adj,
                train_idx=nodes.new_empty(0),
                val_idx=torch.arange(v, device=nodes.device),
                test_idx=torch.arange(v, nodes.numel(), device=nodes.device),
                meta={"setting": "inductive held-out", "held_out_edges": int(adj.values().numel())},
            )
        return self._held_out

    @classmethod
    def from_data(
        cls, data: Data, *, device: torch.device | str = "cpu", validate: bool = True, num_classes: int | None = None
    ) -> NodeTask:
        """Validate ``data`` (x, y, edge_index, train/val/test masks) and prepare it.

        ``validate=False`` and ``num_classes`` are for rebuilding a task already prepared (a worker process's copy,
        :func:`~condensekit.graph.evaluate.task_payload`): a held-out task (:meth:`held_out`) has no training nodes,
        which validation refuses, and its labels need not reach the task's last class."""
        if validate:
            validate_node_data(data)
        device = torch.device(device)
        x = data.x.float().to(device)
        n = x.shape[0]
        weight = getattr(data, "edge_weight", None)
        edge_index, weight, meta = symmetrize(data.edge_index, None if weight is None else weight.float(), n)
        for key in ("split", "source_path"):
            if getattr(data, key, None) is not None:
                meta[key] = getattr(data, key)
        adj = to_sparse_adj(edge_index.to(device), n, None if weight is None else weight.to(device))
        x_in = model_input(x)
        y = data.y.long().to(device)
        return cls(
            x=x,
            x_in=x_in,
            adj=adj,
            y=y,
            train_idx=data.train_mask.nonzero(as_tuple=True)[0].to(device),
            val_idx=data.val_mask.nonzero(as_tuple=True)[0].to(device),
            test_idx=data.test_mask.nonzero(as_tuple=True)[0].to(device),
            num_classes=int(y.max()) + 1 if num_classes is None else num_classes,
            name=str(getattr(data, "name", "graph")),
            meta=meta,
        )

    def training_subgraph(self) -> NodeTask:
        """The graph the training nodes induce, as a task of its own: GCond's *inductive* setting
        (Flickr, Reddit), where condensation sees only the training subgraph and the condensed
        graph is validated and tested on the held-out subgraphs (:meth:`held_out`). Its nodes are all training
        nodes (no val/test); :attr:`full` keeps this task, whose held-out graph judges models trained on the
        subgraph (:attr:`judge`)."""
        nodes = self.train_idx
        sub = induced_subgraph(self.adj, nodes)
        empty = nodes.new_empty(0)
        return self._on(
            nodes,
            to_sparse_adj(sub.indices(), nodes.numel(), sub.values()),
            train_idx=torch.arange(nodes.numel(), device=nodes.device),
            val_idx=empty,
            test_idx=empty,
            meta={"setting": "inductive", "subgraph_edges": int(sub.values().numel())},
            full=self,
        )

    def _on(
        self,
        nodes: Tensor,
        adj: Tensor,
        *,
        train_idx: Tensor,
        val_idx: Tensor,
        test_idx: Tensor,
        meta: dict[str, Any],
        full: NodeTask | None = None,
    ) -> NodeTask:
        """A task on ``nodes`` of this one (features, labels, classes, name and meta carried over) with the
        structure ``adj`` and the given splits (indices into ``nodes``); ``meta`` is added to this task's."""
        x = self.x[nodes]
        return NodeTask(
            x=x,
            x_in=model_input(x),
            adj=adj,
            y=self.y[nodes],
            train_idx=train_idx,
            val_idx=val_idx,
            test_idx=test_idx,
            num_classes=self.num_classes,
            name=self.name,
            meta=self.meta | meta,
            full=full,
        )

    @property
    def num_features(self) -> int:
        """Feature width ``d`` (``x`` is ``(N, d)``)."""
        return self.x.shape[1]

    @property
    def y_train(self) -> Tensor:
        """Labels of the training nodes, ``(len(train_idx),)`` int64."""
        return self.y[self.train_idx]

    def smooth(self, x: Tensor, hops: int) -> Tensor:
        """:math:`\\hat A^{k} x` with GCN's operator :math:`D^{-1/2}(A+I)D^{-1/2}` (no gradient).

        Shapes:
            ``x``: ``(N, d)`` dense; output ``(N, d)``.
        """
        op = self.op(SGC)
        with torch.no_grad():
            for _ in range(hops):
                x = spmm(op, x)
        return x

    def op(self, model: type[GraphModel] | GraphModel) -> Tensor | None:
        """The real graph's propagation operator for ``model``'s family, computed once."""
        cls = model if isinstance(model, type) else type(model)
        kind = cls.propagation_kind
        key = str(kind)
        if key not in self._ops:
            op = cls.propagation(self.adj)
            self._ops[key] = to_csr(op) if op is not None and op.layout == torch.sparse_coo else op
        return self._ops[key]
