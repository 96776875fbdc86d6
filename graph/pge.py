"""PGE: the structure generator of GCond, an MLP over pairs of synthetic node features.

`Jin et al., "Graph Condensation for Graph Neural Networks", ICLR 2022
<https://openreview.net/forum?id=WLEx3Jo4QaB>`_, Eq. (5):

.. math::
    A'_{ij} = \\sigma\\Big(\\tfrac12\\big(\\mathrm{MLP}_\\Phi([x'_i; x'_j])
              + \\mathrm{MLP}_\\Phi([x'_j; x'_i])\\big)\\Big),
    \\qquad A'_{ii} = 0

with a ``num_layers``-layer MLP (hidden 128, BatchNorm + ReLU between layers) as in the reference.

Speed: the first layer is linear in the concatenation, so ``W [x_i; x_j] = W_a x_i + W_b x_j``;
we compute ``X W_a^T`` and ``X W_b^T`` once (n×h each) and broadcast-add them to the n²×h
pre-activations, instead of materialising the n²×2d pair features. The numbers are the same;
the cost of the first layer drops from O(n² d h) to O(n d h + n² h).

BatchNorm uses batch statistics in both training and inference, as the reference (which never
switches the generator to eval mode) does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from condensekit.core.registry import check_int


class PGE(nn.Module):
    """Pairwise structure generator.

    Args:
        in_channels: node feature size d.
        hidden_channels: MLP width (default ``128``, the reference's for Cora/CiteSeer).
        num_layers: MLP depth, at least 2 (default ``3``).

    Shapes:
        input ``x``: ``(n, d)``; output: ``(n, n)`` symmetric, zero diagonal, entries in (0, 1).
    """

    def __init__(self, in_channels: int, *, hidden_channels: int = 128, num_layers: int = 3) -> None:
        super().__init__()
        check_int("num_layers", num_layers, 2)
        self.first = nn.Linear(2 * in_channels, hidden_channels)
        self.hidden = nn.ModuleList(nn.Linear(hidden_channels, hidden_channels) for _ in range(num_layers - 2))
        self.norms = nn.ModuleList(nn.BatchNorm1d(hidden_channels) for _ in range(num_layers - 1))
        self.last = nn.Linear(hidden_channels, 1)
        self.in_channels = in_channels

    def reset_parameters(self) -> None:
        for m in self.modules():
            if m is not self and hasattr(m, "reset_parameters"):
                m.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        n, d = x.shape
        if d != self.in_channels:
            raise ValueError(f"x has {d} features; this generator was built for {self.in_channels}")
        wa, wb = self.first.weight[:, :d], self.first.weight[:, d:]
        left, right = x @ wa.t(), x @ wb.t()  # n×h each
        h = (left.unsqueeze(1) + right.unsqueeze(0) + self.first.bias).reshape(n * n, -1)
        h = F.relu(self._bn(self.norms[0], h))
        for layer, norm in zip(self.hidden, self.norms[1:], strict=True):
            h = F.relu(self._bn(norm, layer(h)))
        logits = self.last(h).reshape(n, n)
        adj = torch.sigmoid((logits + logits.t()) / 2)
        return adj - torch.diag_embed(torch.diagonal(adj))

    @staticmethod
    def _bn(norm: nn.BatchNorm1d, h: Tensor) -> Tensor:
        # Batch statistics always (the reference never calls .eval() on the generator).
        return F.batch_norm(h, None, None, norm.weight, norm.bias, training=True, eps=norm.eps)

    @torch.no_grad()
    def inference(self, x: Tensor) -> Tensor:
        return self.forward(x)
