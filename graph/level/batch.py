"""A batch of graphs as graph-level models consume it, in one of two layouts.

* **sparse**: real graphs concatenated, ``x`` ``(T, d)``, one block-diagonal sparse CSR
  adjacency ``(T, T)`` and ``batch`` ``(T)`` (the graph of each node), cut from a
  :class:`~condensekit.graph.level.data.GraphSet` without Python loops over graphs;
* **dense**: synthetic (or padded) graphs, ``x`` ``(B, n, d)``, a dense ``adj`` ``(B, n, n)``
  that gradients flow to, and a node ``mask`` ``(B, n)``.

Models never branch on the layout: they call :meth:`GraphBatch.propagate` with an operator from
:meth:`GraphBatch.op` and pool with :meth:`GraphBatch.pool`, and both layouts give the same
numbers for the same graphs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from condensekit.core.registry import check_choice
from condensekit.graph.adjacency import add_self_loops, normalize, spmm, to_csr, to_sparse_adj
from condensekit.graph.level.data import GraphSet

__all__ = ["OPERATORS", "POOLINGS", "GraphBatch"]

#: ``"gcn"``: :math:`D^{-1/2}(A+I)D^{-1/2}` (Kipf & Welling); ``"sum"``: :math:`A + I` (GIN-0).
OPERATORS = ("gcn", "sum")
POOLINGS = ("mean", "sum", "max")


@dataclass
class GraphBatch:
    """Graphs in the sparse or the dense layout (see the module docstring)."""

    x: Tensor
    adj: Tensor
    num_graphs: int
    batch: Tensor | None = None
    mask: Tensor | None = None
    #: sparse layout: ``adj`` is known to hold no self loop (its GCN operator adds them without a coalesce)
    loop_free: bool = False
    _ops: dict[str, Tensor] = field(default_factory=dict, repr=False)

    @classmethod
    def from_graphset(cls, graphs: GraphSet, idx: Tensor, sizes: tuple[int, int] | None = None) -> GraphBatch:
        """Graphs ``idx`` of ``graphs`` in the sparse layout (``sizes``: their node and edge totals when known on
        the host, from :meth:`GraphSet.batch_sizes`; else :meth:`GraphSet.select` reads them back)."""
        x, edge_index, batch = graphs.select(idx, sizes)
        canonical = graphs.canonical_edges  # then the batch's edges are coalesced and loop-free as cut
        # renumbered by select: valid ids
        adj = to_sparse_adj(edge_index, x.shape[0], layout="coo", check_ids=False, coalesced=canonical)
        return cls(x=x, adj=adj, num_graphs=int(idx.numel()), batch=batch, loop_free=graphs.loop_free_edges)

    @classmethod
    def sparse_from_dense(cls, x: Tensor, adj: Tensor, mask: Tensor | None = None) -> GraphBatch:
        """Dense padded graphs (no gradients needed) in the sparse layout, padding nodes dropped:
        the cheap way to train on a coreset padded to its largest graph."""
        keep = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device) if mask is None else mask > 0
        new_id = torch.cumsum(keep.reshape(-1), 0) - 1
        b, i, j = (adj > 0).nonzero(as_tuple=True)
        ok = keep[b, i] & keep[b, j]
        n = x.shape[1]
        src, dst = new_id[b[ok] * n + i[ok]], new_id[b[ok] * n + j[ok]]
        total = int(keep.sum())
        values = adj[b[ok], i[ok], j[ok]]
        sp = torch.sparse_coo_tensor(torch.stack([src, dst]), values, (total, total), check_invariants=False)
        batch = torch.arange(x.shape[0], device=x.device).unsqueeze(1).expand_as(keep)[keep]
        return cls(x=x[keep], adj=sp.coalesce(), num_graphs=int(x.shape[0]), batch=batch)

    @classmethod
    def dense(cls, x: Tensor, adj: Tensor, mask: Tensor | None = None) -> GraphBatch:
        """Dense graphs: ``x`` ``(B, n, d)``, ``adj`` ``(B, n, n)``, optional ``mask`` ``(B, n)``."""
        if x.dim() != 3 or adj.shape != (x.shape[0], x.shape[1], x.shape[1]):
            raise ValueError(
                f"dense graphs need x (B, n, d) and adj (B, n, n), got {tuple(x.shape)} and {tuple(adj.shape)}"
            )
        if mask is not None and mask.shape != x.shape[:2]:
            raise ValueError(f"mask must have shape {tuple(x.shape[:2])}, got {tuple(mask.shape)}")
        return cls(x=x, adj=adj, num_graphs=int(x.shape[0]), mask=None if mask is None else mask.to(x.dtype))

    @property
    def is_dense(self) -> bool:
        return self.x.dim() == 3

    def op(self, kind: str) -> Tensor:
        """The propagation operator of ``kind`` (cached; dense ones stay differentiable in ``adj``,
        so they are rebuilt for every new batch object, never reused across steps)."""
        check_choice("operator", kind, OPERATORS)
        if kind not in self._ops:
            self._ops[kind] = self._dense_op(kind) if self.is_dense else self._sparse_op(kind)
        return self._ops[kind]

    def loop_op(self, weight: float) -> Tensor:
        """:math:`A + w I` (cached per ``w``; the LiteGNTK's aggregation uses a tiny ``w``)."""
        key = f"loops:{weight!r}"
        if key not in self._ops:
            self._ops[key] = self._dense_loops(weight) if self.is_dense else self._sparse_loops(weight)
        return self._ops[key]

    def _dense_loops(self, weight: float) -> Tensor:
        n = self.adj.shape[-1]
        return self.adj + weight * torch.eye(n, dtype=self.adj.dtype, device=self.adj.device)

    def _sparse_loops(self, weight: float) -> Tensor:
        return to_csr(add_self_loops(self.adj, weight, loop_free=self.loop_free))

    def _dense_op(self, kind: str) -> Tensor:
        a = self.loop_op(1.0)
        if kind == "sum":
            return a
        d = a.sum(-1).clamp_min(1e-12).rsqrt()
        return d.unsqueeze(-1) * a * d.unsqueeze(-2)

    def _sparse_op(self, kind: str) -> Tensor:
        if kind == "gcn":
            return normalize(to_csr(self.adj), kind="sym", loop_free=self.loop_free)
        return self.loop_op(1.0)

    def propagate(self, op: Tensor, h: Tensor) -> Tensor:
        """``op @ h`` per graph."""
        return torch.bmm(op, h) if self.is_dense else spmm(op, h)

    def mask_nodes(self, h: Tensor) -> Tensor:
        """Zero the padding nodes of the dense layout (identity otherwise)."""
        return h if self.mask is None else h * self.mask.unsqueeze(-1)

    def pool(self, h: Tensor, how: str) -> Tensor:
        """Graph embeddings ``(B, d)`` from node embeddings: ``"mean"``, ``"sum"`` or ``"max"``
        over each graph's (real) nodes; a graph without nodes pools to 0 with every reduction (as PyG's
        global pools; ``"max"`` gave ``-inf``, and the classifier NaN)."""
        check_choice("pooling", how, POOLINGS)
        if self.is_dense:
            m = torch.ones_like(h[..., 0]) if self.mask is None else self.mask
            if how == "max":
                empty = (m.sum(1) == 0).unsqueeze(-1)
                return h.masked_fill(m.unsqueeze(-1) == 0, float("-inf")).amax(1).masked_fill(empty, 0.0)
            total = (h * m.unsqueeze(-1)).sum(1)
            return total / m.sum(1, keepdim=True).clamp_min(1.0) if how == "mean" else total
        assert self.batch is not None
        out = h.new_zeros(self.num_graphs, h.shape[-1])
        if how == "max":
            idx = self.batch.unsqueeze(-1).expand_as(h)
            return out.scatter_reduce(0, idx, h, reduce="amax", include_self=False)  # a graph without nodes: 0
        out = out.index_add(0, self.batch, h)
        if how == "mean":
            # bincount's counts without its host sync on CUDA (it reads the largest index to size its output)
            ones = torch.ones_like(self.batch)
            counts = self.batch.new_zeros(self.num_graphs).index_add(0, self.batch, ones).clamp_min(1).to(h.dtype)
            out = out / counts.unsqueeze(-1)
        return out
