"""The structure-based neural tangent kernel (SNTK) between the nodes of two graphs.

`Wang et al., "Fast Graph Condensation with Structure-based Neural Tangent Kernel", WWW 2024
<https://arxiv.org/abs/2310.11046>`_, after the graph NTK of `Du et al. 2019
<https://arxiv.org/abs/1905.13192>`_: the NTK of an infinitely wide GNN that, ``hops`` times,
aggregates each node's neighbourhood and then applies ``layers`` ReLU layers. Between node
:math:`i` of graph 1 and node :math:`j` of graph 2 the aggregation averages over both
neighbourhoods,

.. math::
    \\Sigma \\leftarrow P_1 \\Sigma P_2^\\top,\\qquad \\Theta \\leftarrow P_1 \\Theta P_2^\\top,
    \\qquad P = D^{-1} E

(``E`` the structure with self loops, ``D`` its row sums: the reference's "average" scale), and
each ReLU layer is :func:`~condensekit.core.objectives.kernel_ridge.relu_ntk_layer`, starting from
:math:`\\Sigma = \\Theta = G_1 G_2^\\top`. The layer normalisation needs each side's self-kernel
diagonal after every aggregation, computed by the same recursion on the graph with itself.

Deviation: the reference's self-kernel recursion applies one ReLU layer per hop where the cross
kernel applies ``layers``; here both apply ``layers`` (the same network on both sides). With an
identity structure (the synthetic graph; Cora's and CiteSeer's training nodes are almost
unconnected among themselves) the two agree, since a normalised ReLU layer keeps the diagonal.
"""

from __future__ import annotations

from torch import Tensor

from condensekit.core.objectives.kernel_ridge import relu_ntk_layer
from condensekit.graph.adjacency import spmm

__all__ = ["sntk", "sntk_norms"]


def _aggregate(s: Tensor, p1: Tensor | None, p2: Tensor | None) -> Tensor:
    """:math:`P_1 S P_2^\\top` (``None``: the identity, no aggregation)."""
    if p1 is not None:
        s = spmm(p1, s)
    if p2 is not None:
        s = spmm(p2, s.t()).t()
    return s


def sntk_norms(g: Tensor, p: Tensor | None, *, hops: int = 2, layers: int = 2) -> list[Tensor]:
    """Per hop, the square root of the self-kernel diagonal after that hop's aggregation.

    Shapes:
        ``g``: ``(n, d)``; ``p``: ``(n, n)`` row-normalised structure (dense or sparse) or ``None``;
        output: ``hops`` tensors ``(n,)``.
    """
    nngp = g @ g.t()
    norms = []
    for _ in range(hops):
        nngp = _aggregate(nngp, p, p)
        norm = nngp.diagonal().clamp_min(0).sqrt()
        norms.append(norm)
        for _ in range(layers):
            nngp, _ = relu_ntk_layer(nngp, nngp, norm, norm)
    return norms


def sntk(
    g1: Tensor,
    g2: Tensor,
    p1: Tensor | None,
    p2: Tensor | None,
    *,
    hops: int = 2,
    layers: int = 2,
    norms1: list[Tensor] | None = None,
    norms2: list[Tensor] | None = None,
) -> Tensor:
    """SNTK :math:`\\Theta` between the nodes of two graphs (see the module docstring).

    ``norms1``/``norms2`` from :func:`sntk_norms` may be passed when a side is constant (the real
    graph), so that they are computed once.

    Shapes:
        ``g1``: ``(n1, d)``; ``g2``: ``(n2, d)``; ``p1``: ``(n1, n1)``; ``p2``: ``(n2, n2)``
        (row-normalised, dense or sparse, or ``None`` for the identity); output ``(n1, n2)``.
    """
    if g1.dim() != 2 or g2.dim() != 2 or g1.shape[1] != g2.shape[1]:
        raise ValueError(f"sntk needs g1 (n1, d) and g2 (n2, d), got {tuple(g1.shape)} and {tuple(g2.shape)}")
    if hops < 1 or layers < 1:
        raise ValueError(f"hops and layers must be >= 1, got hops={hops!r}, layers={layers!r}")
    norms1 = sntk_norms(g1, p1, hops=hops, layers=layers) if norms1 is None else norms1
    norms2 = sntk_norms(g2, p2, hops=hops, layers=layers) if norms2 is None else norms2
    nngp = g1 @ g2.t()
    ntk = nngp
    for k in range(hops):
        nngp, ntk = _aggregate(nngp, p1, p2), _aggregate(ntk, p1, p2)
        for _ in range(layers):
            nngp, ntk = relu_ntk_layer(nngp, ntk, norms1[k], norms2[k])
    return ntk
