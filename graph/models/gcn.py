"""Graph convolutional network."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from condensekit.graph.models.base import GraphModel, propagate, propagate_linear, require_op
from condensekit.graph.models.registry import register_model

__all__ = ["GCN"]


@register_model("gcn")
class GCN(GraphModel):
    r"""The graph convolutional network from `"Semi-supervised Classification with Graph
    Convolutional Networks" <https://arxiv.org/abs/1609.02907>`_ (Kipf & Welling, ICLR 2017).

    .. math::
        H^{(l+1)} = \sigma\left(\hat{D}^{-1/2} \hat{A} \hat{D}^{-1/2} H^{(l)} W^{(l)} + b^{(l)}\right),
        \qquad \hat{A} = A + I,

    with ReLU :math:`\sigma` and dropout between layers and no activation after the last one.
    Each layer transforms before propagating when that is cheaper.

    Args:
        in_channels: input feature size.
        out_channels: number of classes.
        hidden_channels: hidden size (default ``256``).
        num_layers: number of graph convolutions (default ``2``).
        dropout: dropout on hidden representations in training mode (default ``0.5``).

    Shapes:
        ``x``: ``(n, in_channels)`` dense or sparse; ``op``: ``(n, n)`` from
        :meth:`propagation` (``"sym"``); output: ``(n, out_channels)``; :meth:`embed`:
        ``num_layers - 1`` tensors ``(n, hidden_channels)`` (``[op @ x]`` for one layer).
    """

    propagation_kind: ClassVar[str | None] = "sym"

    def __init__(self, **kwargs: Any) -> None:
        # in_channels, out_channels, hidden_channels, num_layers, dropout: see GraphModel.
        super().__init__(**kwargs)
        in_channels, out_channels = self.in_channels, self.out_channels
        hidden_channels, num_layers = self.hidden_channels, self.num_layers
        sizes = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))

    def _run(self, x: Tensor, op: Tensor | None, *, logits: bool) -> tuple[Tensor | None, list[Tensor]]:
        op = require_op(self, op)
        last = len(self.layers) - 1
        hidden: list[Tensor] = []
        h = x
        for i, layer in enumerate(self.layers):
            if i == last and not logits:
                break
            if i > 0:
                h = self._dropout(h)
            h = propagate_linear(op, h, layer.weight) + layer.bias
            if i < last:
                h = torch.relu(h)
                hidden.append(h)
        if not hidden:
            hidden.append(propagate(op, x))
        return (h if logits else None), hidden
