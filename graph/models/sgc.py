"""Simplified graph convolution."""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor, nn

from condensekit.graph.adjacency import is_sparse, spmm
from condensekit.graph.models.base import GraphModel, check_model_int, linear, propagate, require_op
from condensekit.graph.models.registry import register_model

__all__ = ["SGC"]


@register_model("sgc")
class SGC(GraphModel):
    r"""The simplified graph convolution from `"Simplifying Graph Convolutional Networks"
    <https://arxiv.org/abs/1902.07153>`_ (Wu et al., ICML 2019).

    .. math::
        Z = \left(\hat{D}^{-1/2} \hat{A} \hat{D}^{-1/2}\right)^K X W^\top + b

    One linear map and no nonlinearity. As in GCond's SGC, the features are transformed first
    and then propagated :math:`K` times (the same matrix, cheaper when ``out < in``); the bias is
    added after propagation.

    Args:
        in_channels: input feature size.
        out_channels: number of classes.
        hidden_channels: accepted for a uniform interface and ignored (no hidden units).
        num_layers: the number of propagation steps :math:`K` when ``k`` is not given (GCond's
            ``--nlayers`` for its SGC; default ``2``).
        dropout: accepted and ignored (there is no hidden representation to drop).
        k: number of propagation steps :math:`K` (default ``None``: ``num_layers``).

    Shapes:
        ``x``: ``(n, in_channels)`` dense or sparse; ``op``: ``(n, n)`` from
        :meth:`propagation` (``"sym"``); output: ``(n, out_channels)``; :meth:`embed`:
        ``[op^K x]`` ``(n, in_channels)`` dense, the features the linear classifier sees.
    """

    propagation_kind: ClassVar[str | None] = "sym"

    def __init__(self, *, k: int | None = None, **kwargs: Any) -> None:
        # in_channels, out_channels, hidden_channels, num_layers, dropout: see GraphModel.
        super().__init__(**kwargs)
        in_channels, out_channels = self.in_channels, self.out_channels
        k = self.num_layers if k is None else k
        self.k = check_model_int("k", k, 0)
        self.lin = nn.Linear(in_channels, out_channels)

    @property
    def hops(self) -> int:
        return self.k

    def _run(self, x: Tensor, op: Tensor | None, *, logits: bool) -> tuple[Tensor | None, list[Tensor]]:
        if self.k > 0:
            op = require_op(self, op)
        if logits:
            h = linear(x, self.lin.weight)
            for _ in range(self.k):
                h = spmm(op, h)
            return h + self.lin.bias, []
        h = x
        for _ in range(self.k):
            h = propagate(op, h)
        return None, [h.to_dense() if is_sparse(h) else h]

    def precompute(self, x: Tensor, op: Tensor | None) -> Tensor | None:
        """``op^K x`` (dense): SGC's whole graph part, independent of the weights."""
        return self._run(x, op, logits=False)[1][0]

    def forward_precomputed(self, z: Tensor) -> Tensor:
        return self.lin(z)
