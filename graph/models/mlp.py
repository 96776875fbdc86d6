"""Multi-layer perceptron (graph-agnostic baseline)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from condensekit.graph.models.base import GraphModel, linear
from condensekit.graph.models.registry import register_model

__all__ = ["MLP"]


@register_model("mlp")
class MLP(GraphModel):
    r"""A multi-layer perceptron on node features that ignores the graph.

    The graph-free baseline of graph condensation papers (e.g. GCond's cross-architecture
    table, `Jin et al., ICLR 2022 <https://arxiv.org/abs/2110.07580>`_).

    .. math::
        H^{(l+1)} = \sigma\left(H^{(l)} W^{(l)\top} + b^{(l)}\right)

    with ReLU :math:`\sigma` and dropout between layers and no activation after the last one.

    Args:
        in_channels: input feature size.
        out_channels: number of classes.
        hidden_channels: hidden size (default ``256``).
        num_layers: number of linear layers (default ``2``).
        dropout: dropout on hidden representations in training mode (default ``0.5``).

    Shapes:
        ``x``: ``(n, in_channels)`` dense or sparse; ``op``: ignored (:meth:`propagation`
        returns ``None``); output: ``(n, out_channels)``; :meth:`embed`: ``num_layers - 1``
        tensors ``(n, hidden_channels)`` (``[x]`` dense for one layer).
    """

    propagation_kind: ClassVar[str | None] = None

    def __init__(self, **kwargs: Any) -> None:
        # in_channels, out_channels, hidden_channels, num_layers, dropout: see GraphModel.
        super().__init__(**kwargs)
        in_channels, out_channels = self.in_channels, self.out_channels
        hidden_channels, num_layers = self.hidden_channels, self.num_layers
        sizes = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))

    def forward(self, x: Tensor, op: Tensor | None = None) -> Tensor:
        """Logits ``(n, out_channels)``; ``op`` is accepted for a uniform interface and ignored."""
        return super().forward(x, op)

    def embed(self, x: Tensor, op: Tensor | None = None) -> list[Tensor]:
        return super().embed(x, op)

    def _run(self, x: Tensor, op: Tensor | None, *, logits: bool) -> tuple[Tensor | None, list[Tensor]]:
        last = len(self.layers) - 1
        hidden: list[Tensor] = []
        h = x
        for i, layer in enumerate(self.layers):
            if i == last and not logits:
                break
            if i > 0:
                h = self._dropout(h)
            h = linear(h, layer.weight, layer.bias)
            if i < last:
                h = torch.relu(h)
                hidden.append(h)
        if not hidden:
            hidden.append(x.to_dense() if x.layout != torch.strided else x)
        return (h if logits else None), hidden
