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
its subgraph, as with GCond's per-class sampler; :func:`receptive_subgraphs` grows them together, so
their host reads are shared); GCDM's embeddings need no backward on the real side, so all classes'
batches share one subgraph and one forward pass.

Host reads. A ring's size depends on the graph, so each ring costs one read of the device (a sync on
CUDA): ``hops + 1`` per subgraph, or per set of subgraphs grown together, and nothing else per update:
the sizes read are handed to ``nonzero_static`` and ``repeat_interleave``, the operator is assembled as
CSR without coalescing, and the CPU draws reach the device through pinned memory (:func:`to_device`).

Deviation from GCond: one fanout for every hop (GCond passes per-layer sizes such as [15, 10]),
and the kept entries are reweighted (PyG's ``NeighborSampler`` keeps the normalised values).
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

__all__ = ["receptive_subgraph", "receptive_subgraphs", "sample_per_class", "to_device"]


def to_device(t: Tensor, device: torch.device) -> Tensor:
    """A host tensor on ``device``, without a wait on CUDA: there a copy from pageable memory waits for the
    stream (a host sync), one from pinned memory does not (the pinned buffer is not reused before the copy ran).
    Elsewhere an ordinary ``.to``."""
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def sample_per_class(
    members: dict[int, Tensor], size: int, generator: torch.Generator | None = None
) -> dict[int, Tensor]:
    """Up to ``size`` random nodes (or rows) of each class (all when it has fewer), without replacement.

    Drawn on the CPU with ``generator`` (default: the global RNG), so runs repeat across devices: one
    ``randperm`` per class that has more than ``size``, in the order of ``members``. The picks reach the
    members' device in one copy that does not wait for it (:func:`to_device`)."""
    drawn = {
        c: torch.randperm(nodes.shape[0], generator=generator, device="cpu")[:size]
        for c, nodes in members.items()
        if nodes.shape[0] > size
    }
    if not drawn:
        return dict(members)
    first = members[next(iter(drawn))].device
    picks = dict(zip(drawn, to_device(torch.cat(list(drawn.values())), first).split(size), strict=True))
    return {c: nodes[picks[c].to(nodes.device)] if c in picks else nodes for c, nodes in members.items()}


def _rows(op: Tensor, rows: Tensor, total: int) -> tuple[Tensor, Tensor, Tensor]:
    """The non-zeros of ``op``'s ``rows`` (CSR): local row index, column, value; ``total`` is their number
    (read by the caller, so that no length is read back here)."""
    crow, col, val = op.crow_indices(), op.col_indices(), op.values()
    start, count = crow[rows], crow[rows + 1] - crow[rows]
    local = torch.repeat_interleave(torch.arange(rows.numel(), device=rows.device), count, output_size=total)
    first = torch.repeat_interleave(start - (torch.cumsum(count, 0) - count), count, output_size=total)
    pos = first + torch.arange(local.numel(), device=rows.device)
    return local, col[pos], val[pos]


def _keep_fanout(
    local: Tensor, values: Tensor, deg: Tensor, fanout: int, generator: torch.Generator | None
) -> tuple[Tensor, Tensor]:
    """Per row, a random ``fanout`` of its entries (all when it has fewer), values times
    ``degree / kept``; ``deg`` holds each row's entry count. Returns the mask of kept entries and their new
    values."""
    n = local.numel()
    keys = to_device(torch.rand(n, generator=generator, device="cpu"), local.device)  # the CPU stream, any device
    order = torch.argsort(local.to(torch.float64) + keys.to(torch.float64))  # by row, random within a row
    starts = torch.cumsum(deg, 0) - deg
    rank = torch.empty(n, dtype=torch.long, device=local.device)
    rank[order] = torch.arange(n, device=local.device) - starts[local[order]]
    keep = rank < fanout
    kept = deg.clamp(max=fanout)
    scale = deg.to(values.dtype) / kept.clamp(min=1).to(values.dtype)
    return keep, values * scale[local]


def _read(*parts: Tensor) -> list[int]:
    """Device counts (0-d or 1-d tensors) as host ints, in one read (one sync on CUDA however many)."""
    return [int(v) for v in torch.cat([p.reshape(-1) for p in parts]).tolist()]


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
        ``(sub, op_sub, pos)``: the reached nodes (global ids, the batch first, then each hop's new nodes in
        ascending id), the square CSR operator on them (``None`` when ``op`` is or ``hops`` is 0), and the batch's
        positions in ``sub`` (``arange(len(nodes))``).

    Host reads (each a sync on CUDA): ``hops + 1``, one per ring of the subgraph, whose sizes depend on the
    graph: the batch's entry count (and kept count, with a fanout), then per hop the number of new nodes read
    with the next hop's counts. The operator is assembled as CSR directly (rows in order, columns sorted within
    a row: what coalescing would give, without its read-back).
    """
    return receptive_subgraphs(op, [nodes], hops, fanout=fanout, generator=generator)[0]


def receptive_subgraphs(
    op: Tensor | None,
    batches: list[Tensor],
    hops: int,
    *,
    fanout: int = 0,
    generator: torch.Generator | None = None,
) -> list[tuple[Tensor, Tensor | None, Tensor]]:
    """:func:`receptive_subgraph` of each batch (gradient matching: one per class), the same subgraphs as one call
    per batch, with the host reads shared: ``hops + 1`` in all, not per batch (the batches' rings are grown in
    lock-step, each read carrying every batch's counts).

    Only without a ``fanout``: each ring's fanout draw needs that ring's size, and growing batches together would
    draw the rings of different batches in another order than separate calls. Several batches with a ``fanout``
    raise ``ValueError``; call :func:`receptive_subgraph` per batch (gradient matching does).

    Memory: two boolean masks of ``len(batches) × n`` (the nodes each batch has reached, and the ring being
    grown) and one ``n``-long index, beside the subgraphs themselves.
    """
    if fanout > 0 and len(batches) > 1:
        raise ValueError(
            f"Invalid value {fanout!r} for argument fanout with {len(batches)} batches: receptive_subgraphs grows "
            "several batches together only without a fanout (fanout=0); call receptive_subgraph per batch"
        )
    if op is None or hops == 0:
        return [(b, None, torch.arange(b.numel(), device=b.device)) for b in batches]  # no propagation, no operator
    if not batches:
        return []
    n, k, device = op.size(0), len(batches), batches[0].device
    deg_all = op.crow_indices().diff()
    capped = deg_all.clamp(max=fanout) if fanout > 0 else deg_all
    ring_sizes = [[b.numel() for b in batches]]  # per ring, its nodes per batch
    frontier = torch.cat(batches)
    owner = torch.cat([torch.full((b.numel(),), i, dtype=torch.long, device=device) for i, b in enumerate(batches)])
    rings = [frontier]
    seen = torch.zeros(k, n, dtype=torch.bool, device=device)  # the nodes each batch's subgraph holds so far
    seen.view(-1)[owner * n + frontier] = True
    zeros = torch.zeros(k, dtype=deg_all.dtype, device=device)
    counts = _read(zeros.index_add(0, owner, deg_all[frontier]), zeros.index_add(0, owner, capped[frontier]))
    entries, kept = counts[:k], counts[k:]  # per batch: the frontier's entries, and those a fanout keeps
    rows_r, cols_r, vals_r, entries_r = [], [], [], []
    for hop in range(hops):
        local, col, val = _rows(op, frontier, sum(entries))
        deg = deg_all[frontier]
        if fanout > 0:  # one batch
            keep, val = _keep_fanout(local, val, deg, fanout, generator)
            idx = torch.nonzero_static(keep, size=kept[0]).squeeze(1)  # kept entries in order, their count known
            local, col, val = local[idx], col[idx], val[idx]
            deg, entries = capped[frontier], kept
        rows_r.append(deg)  # entries per row of this ring (grouped by batch, as the frontier is)
        cols_r.append(col)
        vals_r.append(val)
        entries_r.append(entries)
        ring = torch.zeros(k, n, dtype=torch.bool, device=device)
        ring.view(-1)[owner[local] * n + col] = True
        ring &= ~seen  # this hop's new nodes, per batch
        seen |= ring
        counted = [ring.sum(1)]
        if hop < hops - 1:  # the next ring's entries (and kept ones) ride on the same read
            weights = ring.to(deg_all.dtype)
            counted += [(weights * deg_all).sum(1), (weights * capped).sum(1)]
        counts = _read(*counted)
        sizes = counts[:k]
        if hop < hops - 1:
            entries, kept = counts[k : 2 * k], counts[2 * k :]
        joint = torch.nonzero_static(ring.view(-1), size=sum(sizes)).squeeze(1)  # by batch, ascending ids
        frontier, owner = joint % n, joint // n
        rings.append(frontier)
        ring_sizes.append(sizes)
    local_of = torch.empty(n, dtype=torch.long, device=device)  # reused: a batch reads only its own nodes' entries
    return [_assemble(b, rings, ring_sizes, rows_r, cols_r, vals_r, entries_r, local_of) for b in range(k)]


def _assemble(
    b: int,
    rings: list[Tensor],
    ring_sizes: list[list[int]],
    rows_r: list[Tensor],
    cols_r: list[Tensor],
    vals_r: list[Tensor],
    entries_r: list[list[int]],
    local_of: Tensor,
) -> tuple[Tensor, Tensor, Tensor]:
    """Batch ``b``'s subgraph from the rings grown in lock-step: its part of each ring and of each hop's entries
    (each grouped by batch), the operator as CSR (rows in ring order, columns sorted within a row)."""
    device = local_of.device
    sub = torch.cat([r.split(s)[b] for r, s in zip(rings, ring_sizes, strict=True)])
    size = sum(s[b] for s in ring_sizes)
    # rows: each ring in order (the batch first), the outermost ring without entries
    counts = torch.cat([*(r.split(s)[b] for r, s in zip(rows_r, ring_sizes, strict=False)),
                        torch.zeros(ring_sizes[-1][b], dtype=torch.long, device=device)])  # fmt: skip
    crow = torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])
    total = sum(e[b] for e in entries_r)
    rows = torch.repeat_interleave(torch.arange(size, device=device), counts, output_size=total)
    local_of[sub] = torch.arange(size, device=device)
    cols = local_of[torch.cat([c.split(e)[b] for c, e in zip(cols_r, entries_r, strict=True)])]
    vals = torch.cat([v.split(e)[b] for v, e in zip(vals_r, entries_r, strict=True)])
    order = torch.argsort(rows * size + cols)  # columns ascending within each row (rows are in order already)
    return sub, _csr(crow, cols[order], vals[order], size), torch.arange(ring_sizes[0][b], device=device)


def _csr(crow: Tensor, col: Tensor, val: Tensor, size: int) -> Tensor:
    """A ``size × size`` CSR tensor from valid parts (no invariant check: a read-back on CUDA), without torch's
    one-off "CSR support is in beta" warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(crow, col, val, (size, size), check_invariants=False)
