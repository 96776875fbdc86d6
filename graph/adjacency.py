"""Adjacency matrices as tensors: sparse construction, normalisation and products.

One representation serves both sides of graph condensation: a small *dense* weighted synthetic
adjacency that must stay differentiable, and a large *sparse* real adjacency (a torch sparse COO
or CSR tensor). Every function here accepts either and gives the same numbers for both.

Convention: ``adj[i, j]`` is the weight of edge ``(i, j)`` (``edge_index[0] = i``), as in
:func:`torch_geometric.utils.to_dense_adj`; degrees are row sums and an operator ``op``
aggregates a node's row, ``(op @ x)[i] = sum_j op[i, j] x[j]``. For undirected graphs (symmetric
adjacency) the direction does not matter.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor

from condensekit.core.registry import check_choice

__all__ = [
    "NORMALIZATIONS",
    "add_self_loops",
    "dense_to_edge_index",
    "has_self_loops",
    "induced_subgraph",
    "is_sparse",
    "normalize",
    "spmm",
    "to_csr",
    "to_sparse_adj",
]

#: Valid values of ``normalize(kind=...)`` and whether each adds self loops by default.
NORMALIZATIONS: dict[str, bool] = {"sym": True, "row": False, "cheb": False}

_LAYOUTS = ("coo", "csr")


def is_sparse(t: Tensor) -> bool:
    """Whether ``t`` is a torch sparse tensor of any layout (COO, CSR, CSC, BSR, BSC)."""
    return t.layout != torch.strided


def to_sparse_adj(
    edge_index: Tensor,
    num_nodes: int,
    edge_weight: Tensor | None = None,
    *,
    layout: str = "csr",
    check_ids: bool = True,
    coalesced: bool = False,
) -> Tensor:
    """Build the coalesced sparse ``num_nodes × num_nodes`` adjacency of an edge list.

    Duplicate edges are summed (coalesced). ``adj[i, j]`` holds the weight of edge ``(i, j)``.

    Args:
        edge_index: ``2 × E`` integer tensor of (source, target) pairs.
        num_nodes: the number of nodes ``n``.
        edge_weight: ``E`` edge weights; ones when ``None`` (default).
        layout: ``"csr"`` (default; the fastest layout for ``op @ x`` and its backward on CPU)
            or ``"coo"``.
        check_ids: check that every node id lies in ``[0, num_nodes)`` (default; one host read, a sync on
            CUDA). Internal callers whose ids hold by construction (a batch renumbered from a validated graph
            set, a sampled subgraph) pass ``False`` inside their steps.
        coalesced: the caller knows ``edge_index`` is sorted by (source, target) with no pair twice: the tensor is
            built as coalesced, without ``coalesce`` (which sizes its output from the device, a sync on CUDA). Same
            tensor; wrong when the edges are not so (unchecked: pass it only where it holds by construction).

    Shapes:
        ``edge_index``: ``(2, E)``; ``edge_weight``: ``(E,)``; output: ``(n, n)`` sparse.
    """
    check_choice("layout", layout, _LAYOUTS)
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"edge_index must have shape (2, E), got {tuple(edge_index.shape)}")
    if edge_index.is_floating_point() or edge_index.is_complex():
        raise ValueError(f"edge_index must be an integer tensor, got dtype {edge_index.dtype}")
    if num_nodes < 0:
        raise ValueError(f"num_nodes must be >= 0, got {num_nodes}")
    num_edges = edge_index.size(1)
    if num_edges and check_ids:
        low, high = torch.stack(torch.aminmax(edge_index)).tolist()  # one host read (a sync on CUDA), not two
        if low < 0 or high >= num_nodes:
            raise ValueError(f"edge_index holds node ids in [{low}, {high}], outside [0, num_nodes={num_nodes})")
    if edge_weight is None:
        edge_weight = torch.ones(num_edges, device=edge_index.device)
    elif edge_weight.shape != (num_edges,):
        raise ValueError(
            f"edge_weight must have shape ({num_edges},) to match edge_index, got {tuple(edge_weight.shape)}"
        )
    adj = torch.sparse_coo_tensor(
        edge_index.long(),
        edge_weight,
        (num_nodes, num_nodes),
        device=edge_index.device,
        check_invariants=False,
        is_coalesced=True if coalesced else None,
    )
    adj = adj if coalesced else adj.coalesce()
    return to_csr(adj) if layout == "csr" else adj


def dense_to_edge_index(adj: Tensor, threshold: float = 0.0) -> tuple[Tensor, Tensor]:
    """The edges of a dense weighted adjacency whose weight exceeds ``threshold``.

    This is how a learned synthetic adjacency becomes a ``Data(edge_index, edge_weight)``
    (GCond keeps the entries ``> threshold``). The weights keep their autograd history.

    Args:
        adj: a dense ``n × n`` adjacency.
        threshold: keep entries with ``adj[i, j] > threshold`` (default ``0.0``).

    Shapes:
        ``adj``: ``(n, n)``; output: ``edge_index`` ``(2, E)`` (long), ``edge_weight`` ``(E,)``.
    """
    if is_sparse(adj):
        raise ValueError("adj must be a dense tensor; for a sparse one use adj.coalesce().indices()")
    _check_square(adj)
    mask = adj > threshold
    edge_index = mask.nonzero().t().contiguous()
    return edge_index, adj[mask]


def induced_subgraph(adj: Tensor, nodes: Tensor) -> Tensor:
    """The subgraph ``nodes`` induce: ``adj[nodes][:, nodes]`` as a coalesced sparse COO tensor,
    for a dense or sparse ``adj`` (rows and columns in the order of ``nodes``).

    For a sparse CSR or coalesced COO ``adj`` the kept entries are found with one host read (a sync on CUDA:
    their number, with a check that no node repeats), where ``index_select`` twice and ``coalesce`` waited for
    the device three times or more (GC-SNTK's sampled real batch calls this at every step). Same tensor, bit for
    bit: the entries of ``adj`` between the nodes, renumbered by position, in row-major order. Repeated nodes (a
    row and column per repeat) and other layouts take the ``index_select`` path.

    Shapes:
        ``adj``: ``(n, n)``; ``nodes``: ``(m,)`` long; output: ``(m, m)``.
    """
    _check_square(adj)
    integer = not (nodes.is_floating_point() or nodes.is_complex() or nodes.dtype == torch.bool)
    nodes = nodes.long() if integer else nodes  # int32 ids too (index_select takes only int64)
    coalesced = adj.layout == torch.sparse_csr or (adj.layout == torch.sparse_coo and adj.is_coalesced())
    if coalesced and integer and nodes.dim() == 1:
        out = _induced_unique(adj, nodes.to(adj.device))
        if out is not None:
            return out
    coo = adj.to_sparse_coo()
    return coo.index_select(0, nodes).index_select(1, nodes).coalesce()


def _induced_unique(adj: Tensor, nodes: Tensor) -> Tensor | None:
    """:func:`induced_subgraph` of a CSR or coalesced COO ``adj`` when ``nodes`` holds no node twice and no id
    outside ``[0, n)`` (else ``None``): the entries whose row and column are both among ``nodes`` (one pass over
    ``adj``'s entries, in its row-major order), counted and checked in one host read, then renumbered and sorted
    without another."""
    n, m = adj.shape[0], nodes.numel()
    times = torch.zeros(n + 1, dtype=torch.long, device=nodes.device)  # slot n counts the ids outside [0, n)
    times.index_add_(0, torch.where((nodes >= 0) & (nodes < n), nodes, n), torch.ones_like(nodes))
    inside = times[:n] > 0
    if adj.layout == torch.sparse_csr:
        crow, col, value = adj.crow_indices().long(), adj.col_indices().long(), adj.values()
        # the row test per entry from the row lengths: CSR -> COO would cost more than the whole selection
        keep = torch.repeat_interleave(inside, crow[1:] - crow[:-1], output_size=col.numel()) & inside[col]
    else:
        index, value = adj.indices(), adj.values()
        col = index[1]
        keep = inside[index[0]] & inside[col]
    kept, most, outside = torch.stack([keep.sum(), times.amax(), times[n]]).tolist()
    if most > 1 or outside > 0:
        return None  # repeated or invalid ids: index_select's path (its rows per repeat, its error)
    entries = torch.nonzero_static(keep, size=kept).squeeze(1)
    rows = torch.searchsorted(crow, entries, right=True) - 1 if adj.layout == torch.sparse_csr else index[0, entries]
    position = torch.full((n,), -1, dtype=torch.long, device=nodes.device)
    position[nodes] = torch.arange(m, device=nodes.device)
    row, col = position[rows], position[col[entries]]
    order = torch.argsort(row * m + col)
    sub = torch.stack([row[order], col[order]])
    return torch.sparse_coo_tensor(sub, value[entries[order]], (m, m), is_coalesced=True, check_invariants=False)


def normalize(adj: Tensor, *, kind: str, self_loops: bool | None = None, loop_free: bool = False) -> Tensor:
    r"""Normalise a dense (differentiable) or sparse adjacency into a propagation operator.

    With :math:`\tilde{A} = A + I` when ``self_loops`` else :math:`A`, and
    :math:`D = \mathrm{diag}(\tilde{A} \mathbf{1})`:

    .. math::
        \text{sym}: \; D^{-1/2} \tilde{A} D^{-1/2} \qquad
        \text{row}: \; D^{-1} \tilde{A} \qquad
        \text{cheb}: \; \frac{2L}{\lambda_{\max}} - I = -D^{-1/2} \tilde{A} D^{-1/2}

    ``"sym"`` is the GCN renormalisation trick (`Kipf & Welling, ICLR 2017
    <https://arxiv.org/abs/1609.02907>`_), ``"row"`` the mean aggregation of GraphSAGE and
    ``"cheb"`` the scaled Laplacian of ChebNet with :math:`L = I - D^{-1/2} A D^{-1/2}` and
    :math:`\lambda_{\max} = 2`. Zero-degree nodes get zero rows and columns (no NaN or inf, also
    in the gradient). Dense and sparse inputs give the same numbers.

    Args:
        adj: ``n × n`` adjacency, dense (gradients flow to it) or torch sparse (COO/CSR).
        kind: ``"sym"``, ``"row"`` or ``"cheb"``.
        self_loops: add the identity before normalising; ``None`` (default) uses the kind's
            default: ``True`` for ``"sym"``, ``False`` for ``"row"`` and ``"cheb"``.
        loop_free: the caller knows a sparse ``adj`` has no diagonal entry: the self loops are merged in by a
            sort, not a ``coalesce`` (which sizes its output from the device, a sync on CUDA). Same operator;
            unchecked, so pass it only where it holds by construction.

    Shapes:
        ``adj``: ``(n, n)``; output: ``(n, n)``, dense for dense input, otherwise sparse in the
        input's layout (COO or CSR, coalesced).
    """
    check_choice("kind", kind, tuple(NORMALIZATIONS))
    _check_square(adj)
    loops = NORMALIZATIONS[kind] if self_loops is None else bool(self_loops)
    n = adj.size(0)
    if not is_sparse(adj):
        if loops:
            adj = adj + torch.eye(n, dtype=adj.dtype, device=adj.device)
        deg = adj.sum(dim=1)
        if kind == "row":
            return _inv_pow(deg, 1.0).unsqueeze(1) * adj
        d = _inv_pow(deg, 0.5)
        out = d.unsqueeze(1) * adj * d.unsqueeze(0)
        return -out if kind == "cheb" else out

    layout = adj.layout
    coo = add_self_loops(adj, loop_free=loop_free) if loops else _coalesced_coo(adj)
    index, value = coo.indices(), coo.values()
    row, col = index[0], index[1]
    deg = torch.zeros(n, dtype=value.dtype, device=value.device).index_add(0, row, value)
    if kind == "row":
        value = value * _inv_pow(deg, 1.0)[row]
    else:
        d = _inv_pow(deg, 0.5)
        value = value * d[row] * d[col]
        if kind == "cheb":
            value = -value
    out = torch.sparse_coo_tensor(index, value, (n, n), is_coalesced=True, check_invariants=False)
    return to_csr(out) if layout == torch.sparse_csr else out


def add_self_loops(adj: Tensor, weight: float = 1.0, *, loop_free: bool = False) -> Tensor:
    r""":math:`A + wI` of a sparse (COO or CSR) ``adj``, as a coalesced COO tensor: a diagonal entry ``adj``
    already holds gets ``w`` added to it.

    The diagonal is appended to ``adj``'s entries and the whole coalesced, which sizes its output from the device
    (a sync on CUDA). With ``loop_free`` the caller knows ``adj`` holds no diagonal entry: then no pair occurs
    twice, the size is known, and the entries are only sorted (no sync). Same tensor either way; ``loop_free`` is
    unchecked, so pass it only where it holds by construction.

    Args:
        adj: ``n × n`` torch sparse adjacency.
        weight: the self-loop weight :math:`w` (default ``1.0``).
        loop_free: ``adj`` is known to hold no diagonal entry (default ``False``).

    Shapes:
        ``adj``: ``(n, n)``; output: ``(n, n)`` sparse COO, coalesced.
    """
    if not is_sparse(adj):
        raise ValueError(f"adj must be a torch sparse tensor (COO or CSR), got layout {adj.layout}")
    _check_square(adj)
    n = adj.size(0)
    coo = _coalesced_coo(adj)
    diag = torch.arange(n, device=coo.device)
    index = torch.cat([coo.indices(), torch.stack([diag, diag])], dim=1)
    value = torch.cat([coo.values(), torch.full((n,), weight, dtype=coo.values().dtype, device=coo.device)])
    if loop_free:  # no pair twice: coalescing is sorting, and the size is known
        order = torch.argsort(index[0] * n + index[1])
        return torch.sparse_coo_tensor(index[:, order], value[order], (n, n), is_coalesced=True,
                                       check_invariants=False)  # fmt: skip
    return torch.sparse_coo_tensor(index, value, (n, n), check_invariants=False).coalesce()


def has_self_loops(adj: Tensor) -> bool:
    """Whether the sparse (COO or CSR) ``adj`` stores any diagonal entry, an explicit zero included (one host read,
    a sync on CUDA: for set-ups, which then pass ``loop_free`` to :func:`add_self_loops` or :func:`normalize` in
    their steps)."""
    if not is_sparse(adj):
        raise ValueError(f"adj must be a torch sparse tensor (COO or CSR), got layout {adj.layout}")
    index = _coalesced_coo(adj).indices()
    return bool((index[0] == index[1]).any())


def spmm(op: Tensor, x: Tensor) -> Tensor:
    """Matrix product ``op @ x`` for any mix of dense and torch sparse operands.

    The result is dense unless both operands are sparse (then it is sparse, as
    :func:`torch.sparse.mm` returns). Gradients flow to dense operands. CSR operands are
    several times faster than COO on CPU, forward and backward.

    Shapes:
        ``op``: ``(n, m)``; ``x``: ``(m, d)``; output: ``(n, d)``.
    """
    if op.dim() != 2 or x.dim() != 2 or op.size(1) != x.size(0):
        raise ValueError(f"spmm needs op (n, m) and x (m, d), got {tuple(op.shape)} and {tuple(x.shape)}")
    sparse_op, sparse_x = is_sparse(op), is_sparse(x)
    if not sparse_op and not sparse_x:
        return op @ x
    if sparse_op and not sparse_x:
        return _csr_times_dense(op if op.layout == torch.sparse_csr else to_csr(op), x)
    if not sparse_op:
        # dense @ sparse = (sparse^T @ dense^T)^T, kept on the sparse-times-dense kernel.
        xt = x.to_sparse_coo().t() if x.layout != torch.sparse_coo else x.t()
        return torch.sparse.mm(xt, op.t()).t()
    if op.layout != x.layout:
        x = to_csr(x) if op.layout == torch.sparse_csr else x.to_sparse_coo()
    return torch.sparse.mm(op, x)


def _csr_times_dense(op: Tensor, x: Tensor) -> Tensor:
    """CSR @ dense as a weighted ``embedding_bag`` sum: row ``i`` sums ``values[k] * x[col[k]]``
    over its non-zeros. Same numbers as ``torch.sparse.mm``, differentiable in ``x`` (and in the
    values), and on CPU 10-50x faster than torch's sparse kernels forward and backward
    (Cora: 0.4 ms vs 3-23 ms for ``A @ H`` with H 2708×256; 0.6 ms vs 31 ms for ``X @ W``).

    With constant values (a real graph, sparse features) the backward ``op^T @ grad`` runs the
    same kernel on ``op``'s transpose, built once per operator and kept on it: autograd's own
    ``embedding_bag`` backward sorts all the non-zeros at every call, which made it 70 % of a
    DosCond step on Cora."""
    if op.size(0) == 0 or op.values().numel() == 0:
        return x.new_zeros(op.size(0), x.size(1))
    if op.values().requires_grad or not x.requires_grad:
        return _embedding_bag_mm(op, x)
    return _ConstantCSRMatmul.apply(op, x)


def _embedding_bag_mm(op: Tensor, x: Tensor) -> Tensor:
    values = op.values().to(x.dtype)
    offsets = op.crow_indices()[:-1].long()
    return torch.nn.functional.embedding_bag(
        op.col_indices().long(), x.contiguous(), offsets, mode="sum", per_sample_weights=values
    )


def _csr_transpose(op: Tensor) -> Tensor:
    """``op^T`` as CSR, cached on ``op`` (a CSR operator is immutable in practice: values are
    constants on this path)."""
    cached = getattr(op, "_condensekit_transpose", None)
    if cached is None:
        cached = to_csr(op.detach().t())
        op._condensekit_transpose = cached  # type: ignore[attr-defined]
    return cached


class _ConstantCSRMatmul(torch.autograd.Function):
    """``op @ x`` for a constant CSR ``op`` and dense ``x``; backward ``op^T @ grad``."""

    @staticmethod
    def forward(ctx: Any, op: Tensor, x: Tensor) -> Tensor:
        ctx.op = op
        return _embedding_bag_mm(op, x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, Tensor]:
        opt = _csr_transpose(ctx.op)
        if opt.values().numel() == 0:
            return None, grad.new_zeros(opt.size(0), grad.size(1))
        return None, _embedding_bag_mm(opt, grad)


def _coalesced_coo(adj: Tensor) -> Tensor:
    """``adj`` (sparse, any layout) as a coalesced COO tensor (a CSR one converts coalesced: no ``coalesce`` work)."""
    return adj.to_sparse_coo().coalesce() if adj.layout != torch.sparse_coo else adj.coalesce()


def to_csr(t: Tensor) -> Tensor:
    """``t.to_sparse_csr()`` without torch's one-off "CSR support is in beta" warning (a user of a command saw it
    on stderr; torch warns once per process, at the first CSR tensor made, so every conversion goes through here)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return t.to_sparse_csr()


def _inv_pow(deg: Tensor, p: float) -> Tensor:
    """``deg ** -p`` with zeros (and zero gradients) where ``deg <= 0``."""
    positive = deg > 0
    safe = torch.where(positive, deg, torch.ones_like(deg))
    return torch.where(positive, safe.pow(-p), torch.zeros_like(deg))


def _check_square(adj: Tensor) -> None:
    if adj.dim() != 2 or adj.size(0) != adj.size(1):
        raise ValueError(f"adj must be a square n × n matrix, got shape {tuple(adj.shape)}")
