"""GraphSAGE with the mean aggregator."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from condensekit.graph.adjacency import is_sparse
from condensekit.graph.models.base import GraphModel, linear, propagate_linear, require_op
from condensekit.graph.models.registry import register_model

__all__ = ["GraphSAGE"]


@register_model("sage")
class GraphSAGE(GraphModel):
    r"""GraphSAGE with the mean aggregator from `"Inductive Representation Learning on Large
    Graphs" <https://arxiv.org/abs/1706.02216>`_ (Hamilton et al., NeurIPS 2017).

    Separate root and neighbour weights, as PyG's ``SAGEConv``:

    .. math::
        H^{(l+1)} = \sigma\left(H^{(l)} W_{\text{root}}^{(l)\top}
            + D^{-1} A H^{(l)} W_{\text{neigh}}^{(l)\top} + b^{(l)}\right)

    with ReLU :math:`\sigma` and dropout between layers and no activation after the last one.
    :math:`D^{-1} A` is the (weighted) mean over neighbours; isolated nodes aggregate zero.

    Args:
        in_channels: input feature size.
        out_channels: number of classes.
        hidden_channels: hidden size (default ``256``).
        num_layers: number of SAGE layers (default ``2``).
        dropout: dropout on hidden representations in training mode (default ``0.5``).

    Shapes:
        ``x``: ``(n, in_channels)`` dense or sparse; ``op``: ``(n, n)`` from
        :meth:`propagation` (``"row"``); output: ``(n, out_channels)``; :meth:`embed`:
        ``num_layers - 1`` tensors ``(n, hidden_channels)`` (``[x]`` dense for one layer).
    """

    propagation_kind: ClassVar[str | None] = "row"

    def __init__(self, **kwargs: Any) -> None:
        # in_channels, out_channels, hidden_channels, num_layers, dropout: see GraphModel.
        super().__init__(**kwargs)
        in_channels, out_channels = self.in_channels, self.out_channels
        hidden_channels, num_layers = self.hidden_channels, self.num_layers
        sizes = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
        self.neigh = nn.ModuleList(nn.Linear(a, b) for a, b in pairs)
        self.root = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in pairs)

    def _run(self, x: Tensor, op: Tensor | None, *, logits: bool) -> tuple[Tensor | None, list[Tensor]]:
        op = require_op(self, op)
        last = len(self.neigh) - 1
        hidden: list[Tensor] = []
        h = x
        for i, (neigh, root) in enumerate(zip(self.neigh, self.root, strict=True)):
            if i == last and not logits:
                break
            if i > 0:
                h = self._dropout(h)
            h = propagate_linear(op, h, neigh.weight) + neigh.bias + linear(h, root.weight)
            if i < last:
                h = torch.relu(h)
                hidden.append(h)
        if not hidden:
            hidden.append(x.to_dense() if is_sparse(x) else x)
        return (h if logits else None), hidden
