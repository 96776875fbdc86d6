"""Approximate personalized propagation of neural predictions."""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor

from condensekit.graph.adjacency import spmm
from condensekit.graph.models.base import GraphModel, check_model_int, require_op
from condensekit.graph.models.mlp import MLP
from condensekit.graph.models.registry import register_model

__all__ = ["APPNP"]


@register_model("appnp")
class APPNP(GraphModel):
    r"""APPNP from `"Predict then Propagate: Graph Neural Networks meet Personalized PageRank"
    <https://arxiv.org/abs/1810.05997>`_ (Klicpera et al., ICLR 2019).

    An MLP predicts, then personalized PageRank propagates the predictions:

    .. math::
        H = \mathrm{MLP}(X), \qquad Z^{(0)} = H, \qquad
        Z^{(t+1)} = (1 - \alpha) \hat{D}^{-1/2} \hat{A} \hat{D}^{-1/2} Z^{(t)} + \alpha H,

    and the logits are :math:`Z^{(K)}`.

    Args:
        in_channels: input feature size.
        out_channels: number of classes.
        hidden_channels: hidden size of the MLP (default ``256``).
        num_layers: number of MLP layers (default ``2``).
        dropout: dropout on hidden MLP representations in training mode (default ``0.5``).
        k: number of propagation steps :math:`K` (default ``10``).
        alpha: teleport probability :math:`\alpha` (default ``0.1``).

    Shapes:
        ``x``: ``(n, in_channels)`` dense or sparse; ``op``: ``(n, n)`` from
        :meth:`propagation` (``"sym"``); output: ``(n, out_channels)``; :meth:`embed`: the
        ``num_layers - 1`` hidden MLP representations ``(n, hidden_channels)`` (``[x]`` dense
        for one layer).
    """

    propagation_kind: ClassVar[str | None] = "sym"

    def __init__(self, *, k: int = 10, alpha: float = 0.1, **kwargs: Any) -> None:
        # in_channels, out_channels, hidden_channels, num_layers, dropout: see GraphModel.
        super().__init__(**kwargs)
        in_channels, out_channels = self.in_channels, self.out_channels
        hidden_channels, num_layers, dropout = self.hidden_channels, self.num_layers, self.dropout
        k = check_model_int("k", k, 0)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
        self.k = k
        self.alpha = alpha
        self.mlp = MLP(
            in_channels=in_channels,
            out_channels=out_channels,
            hidden_channels=hidden_channels,
            num_layers=num_layers,
            dropout=dropout,
        )

    @property
    def hops(self) -> int:
        return self.k

    def _run(self, x: Tensor, op: Tensor | None, *, logits: bool) -> tuple[Tensor | None, list[Tensor]]:
        h, hidden = self.mlp._run(x, None, logits=logits)
        if h is None:
            return None, hidden
        if self.k > 0:
            op = require_op(self, op)
        z = h
        for _ in range(self.k):
            z = (1.0 - self.alpha) * spmm(op, z) + self.alpha * h
        return z, hidden
