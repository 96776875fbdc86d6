"""Sampled real nodes and the neighbourhood they need: real-graph terms on a large graph.

Gradient matching and distribution matching compare the synthetic graph with the *real training
nodes of each class*, seen through a GNN. On Cora that is one full-graph pass; on a graph with
millions of edges (Reddit: 114.6 M) a full pass per update is what dominates time and memory.
GCond's recipe for large graphs (Jin et al., ICLR 2022, ``retrieve_class_sampler``) computes the
real terms on a random batch of each class's training nodes, with their sampled neighbourhood.

:func:`receptive_subgraph` does that in pure PyTorch (no compiled sampler): starting from the
batch, it gathers the rows of the propagation operator for ``hops`` hops (keeping at most
``fanout`` random entries per row, rescaled by ``degree / fanout`` so each row's sum stays an
unbiased estimate of the full one; 0 keeps every entry, which makes the batch's outputs exact).
The result is a square operator on the nodes reached, whose rows are those of the real operator
for the nodes within ``hops - 1`` hops and empty for the outermost ring, so a model with
``hops`` propagations gives the batch the outputs it has on the full graph.

Gradient matching gives each class's batch its own subgraph (a class's backward pass then costs
its subgraph, as with GCond's per-class sampler); GCDM's embeddings need no backward on the real
side, so all classes' batches share one subgraph and one forward pass.

Deviation from GCond: one fanout for every hop (GCond passes per-layer sizes such as [15, 10]),
and the kept entries are reweighted (PyG's ``NeighborSampler`` keeps the normalised values).
"""

from __future__ import annotations

import torch
from torch import Tensor

from condensekit.graph.adjacency import to_sparse_adj

__all__ = ["receptive_subgraph", "sample_per_class"]


def sample_per_class(
    members: dict[int, Tensor], size: int, generator: torch.Generator | None = None
) -> dict[int, Tensor]:
    """Up to ``size`` random nodes (or rows) of each class (all when it has fewer), without replacement.

    Drawn on the CPU with ``generator`` (default: the global RNG), so runs repeat across devices."""
    out = {}
    for c, nodes in members.items():
        if nodes.shape[0] <= size:
            out[c] = nodes
        else:
            pick = torch.randperm(nodes.shape[0], generator=generator, device="cpu")[:size].to(nodes.device)
            out[c] = nodes[pick]
    return out


def _rows(op: Tensor, rows: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The non-zeros of ``op``'s ``rows`` (CSR): local row index, column, value."""
    crow, col, val = op.crow_indices(), op.col_indices(), op.values()
    start, count = crow[rows], crow[rows + 1] - crow[rows]
    total = int(count.sum())  # one host read for both outputs' length (each would read it back on CUDA)
    local = torch.repeat_interleave(torch.arange(rows.numel(), device=rows.device), count, output_size=total)
    first = torch.repeat_interleave(start - (torch.cumsum(count, 0) - count), count, output_size=total)
    pos = first + torch.arange(local.numel(), device=rows.device)
    return local, col[pos], val[pos]


def _keep_fanout(
    local: Tensor, values: Tensor, fanout: int, generator: torch.Generator | None
) -> tuple[Tensor, Tensor]:
    """Per row, a random ``fanout`` of its entries (all when it has fewer), values times
    ``degree / kept``; returns the mask of kept entries and their new values."""
    n = local.numel()
    keys = torch.rand(n, generator=generator, device="cpu").to(local.device)  # the CPU stream, on any device
    order = torch.argsort(local.to(torch.float64) + keys.to(torch.float64))  # by row, random within a row
    deg = torch.bincount(local)
    starts = torch.cumsum(deg, 0) - deg
    rank = torch.empty(n, dtype=torch.long, device=local.device)
    rank[order] = torch.arange(n, device=local.device) - starts[local[order]]
    keep = rank < fanout
    kept = deg.clamp(max=fanout)
    scale = deg.to(values.dtype) / kept.clamp(min=1).to(values.dtype)
    return keep, values * scale[local]


def receptive_subgraph(
    op: Tensor | None,
    nodes: Tensor,
    hops: int,
    *,
    fanout: int = 0,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor | None, Tensor]:
    """The nodes ``hops`` propagations of ``op`` reach from ``nodes``, and ``op`` restricted to them.

    Args:
        op: the real graph's ``n × n`` propagation operator (sparse CSR), or ``None`` (no graph).
        nodes: the batch (global ids, distinct).
        hops: the model's :attr:`~condensekit.graph.models.base.GraphModel.hops`.
        fanout: entries kept per row (0: all, exact outputs for the batch).
        generator: RNG of the fanout draw (CPU; default the global one).

    Returns:
        ``(sub, op_sub, pos)``: the reached nodes (global ids, the batch first), the square CSR
        operator on them (``None`` when ``op`` is or ``hops`` is 0), and the batch's positions in ``sub``
        (``arange(len(nodes))``).
    """
    pos = torch.arange(nodes.numel(), device=nodes.device)
    if op is None or hops == 0:
        return nodes, None, pos  # a model that does not propagate needs no operator
    n = op.size(0)
    local_of = torch.full((n,), -1, dtype=torch.long, device=nodes.device)
    local_of[nodes] = pos
    sub = nodes
    frontier = nodes
    rows_r, cols_r, vals_r = [], [], []
    for _ in range(hops):
        local, col, val = _rows(op, frontier)
        if fanout > 0:
            keep, val = _keep_fanout(local, val, fanout, generator)
            local, col, val = local[keep], col[keep], val[keep]
        rows_r.append(local_of[frontier][local])
        new = torch.unique(col[local_of[col] < 0])
        local_of[new] = torch.arange(sub.numel(), sub.numel() + new.numel(), device=nodes.device)
        sub = torch.cat([sub, new])
        cols_r.append(col)
        vals_r.append(val)
        frontier = new
    rows, cols = torch.cat(rows_r), local_of[torch.cat(cols_r)]
    # local ids of reached nodes: in [0, len(sub)) by construction, no host read to check them
    return sub, to_sparse_adj(torch.stack([rows, cols]), sub.numel(), torch.cat(vals_r), check_ids=False), pos
