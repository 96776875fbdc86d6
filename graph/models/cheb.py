"""Chebyshev spectral graph convolutional network."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from condensekit.graph.adjacency import is_sparse, spmm
from condensekit.graph.models.base import GraphModel, check_model_int, linear, require_op
from condensekit.graph.models.registry import register_model

__all__ = ["ChebNet"]


@register_model("cheb")
class ChebNet(GraphModel):
    r"""The Chebyshev spectral GNN from `"Convolutional Neural Networks on Graphs with Fast
    Localized Spectral Filtering" <https://arxiv.org/abs/1606.09375>`_ (Defferrard et al.,
    NeurIPS 2016).

    Each layer filters with a Chebyshev polynomial of the scaled Laplacian
    :math:`\tilde{L} = 2L/\lambda_{\max} - I = -D^{-1/2} A D^{-1/2}` (:math:`\lambda_{\max} = 2`):

    .. math::
        H^{(l+1)} = \sigma\left(\sum_{t=0}^{K-1} T_t(\tilde{L}) H^{(l)} W_t^{(l)\top} + b^{(l)}\right),
        \qquad T_0 = I,\; T_1 = \tilde{L},\; T_t = 2 \tilde{L} T_{t-1} - T_{t-2},

    with ReLU :math:`\sigma` and dropout between layers and no activation after the last one.
    ``k`` is the filter size :math:`K` (number of terms, as ``K`` of PyG's ``ChebConv``): the
    default ``k=2`` uses :math:`T_0` and :math:`T_1`. When the output is narrower than the
    input (or the input is sparse) the layer transforms first and sums the series with
    Clenshaw's recurrence, so every propagation runs on the narrow side.

    Args:
        in_channels: input feature size.
        out_channels: number of classes.
        hidden_channels: hidden size (default ``256``).
        num_layers: number of Chebyshev convolutions (default ``2``).
        dropout: dropout on hidden representations in training mode (default ``0.5``).
        k: Chebyshev filter size :math:`K \geq 1` (default ``2``).

    Shapes:
        ``x``: ``(n, in_channels)`` dense or sparse; ``op``: ``(n, n)`` from
        :meth:`propagation` (``"cheb"``); output: ``(n, out_channels)``; :meth:`embed`:
        ``num_layers - 1`` tensors ``(n, hidden_channels)`` (``[x]`` dense for one layer).
    """

    propagation_kind: ClassVar[str | None] = "cheb"

    def __init__(self, *, k: int = 2, **kwargs: Any) -> None:
        # in_channels, out_channels, hidden_channels, num_layers, dropout: see GraphModel.
        super().__init__(**kwargs)
        in_channels, out_channels = self.in_channels, self.out_channels
        hidden_channels, num_layers = self.hidden_channels, self.num_layers
        k = self.k = check_model_int("k", k, 1)
        sizes = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        # layers[l] maps to all K terms at once: weight (K * out, in) stacks W_0, ..., W_{K-1}.
        self.layers = nn.ModuleList(nn.Linear(a, k * b, bias=False) for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(b)) for b in sizes[1:])

    def reset_parameters(self) -> None:
        super().reset_parameters()
        with torch.no_grad():
            for bias in self.biases:
                bias.zero_()

    def _conv(self, op: Tensor, x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        k = self.k
        out_features = weight.size(0) // k
        in_features = weight.size(1)
        if is_sparse(x) or out_features <= in_features:
            # Transform first, then Clenshaw's recurrence on Y_t = x W_t^T:
            # b_{K-1} = Y_{K-1}, b_t = Y_t + 2 L b_{t+1} - b_{t+2}, out = Y_0 + L b_1 - b_2.
            y = linear(x, weight).view(-1, k, out_features)
            if k == 1:
                return y[:, 0] + bias
            b1, b2 = y[:, k - 1], torch.zeros_like(y[:, 0])
            for t in range(k - 2, 0, -1):
                b1, b2 = y[:, t] + 2.0 * spmm(op, b1) - b2, b1
            return y[:, 0] + spmm(op, b1) - b2 + bias
        # Propagate first: [T_0 x, ..., T_{K-1} x] then one matmul with the stacked weights.
        terms = [x]
        if k > 1:
            terms.append(spmm(op, x))
        for _ in range(2, k):
            terms.append(2.0 * spmm(op, terms[-1]) - terms[-2])
        w = weight.view(k, out_features, in_features).permute(1, 0, 2).reshape(out_features, k * in_features)
        return torch.cat(terms, dim=1) @ w.t() + bias

    @property
    def hops(self) -> int:
        return max(self.k - 1, 0) * self.num_layers

    def _run(self, x: Tensor, op: Tensor | None, *, logits: bool) -> tuple[Tensor | None, list[Tensor]]:
        if self.k > 1:
            op = require_op(self, op)
        last = len(self.layers) - 1
        hidden: list[Tensor] = []
        h = x
        for i, (layer, bias) in enumerate(zip(self.layers, self.biases, strict=True)):
            if i == last and not logits:
                break
            if i > 0:
                h = self._dropout(h)
            h = self._conv(op, h, layer.weight, bias)
            if i < last:
                h = torch.relu(h)
                hidden.append(h)
        if not hidden:
            hidden.append(x.to_dense() if is_sparse(x) else x)
        return (h if logits else None), hidden
