"""Gradient matching: distances between the gradients a model gets from synthetic and real data.

Gradients are passed as sequences of tensors, one per parameter, in the same order for both sets,
exactly as :func:`torch.autograd.grad` returns them. Every function is pure and differentiable with
respect to both arguments (in practice the synthetic gradients are computed with
``create_graph=True`` and the real ones are detached).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from ..registry import check_choice

__all__ = [
    "GRADIENT_METRICS",
    "dc_distance",
    "gradient_cosine",
    "gradient_distance",
    "gradient_mse",
    "relative_gradient_mse",
]


def _check_gradients(g_syn: Sequence[Tensor], g_real: Sequence[Tensor]) -> tuple[tuple[Tensor, ...], ...]:
    g_syn, g_real = tuple(g_syn), tuple(g_real)
    if len(g_syn) != len(g_real):
        raise ValueError(
            f"Arguments g_syn and g_real must hold the same number of tensors, "
            f"got {len(g_syn)} (g_syn) and {len(g_real)} (g_real)"
        )
    if len(g_syn) == 0:
        raise ValueError("Arguments g_syn and g_real must hold at least one tensor, got none")
    for i, (gs, gr) in enumerate(zip(g_syn, g_real, strict=True)):
        if not isinstance(gs, Tensor) or not isinstance(gr, Tensor):
            raise ValueError(
                f"Arguments g_syn and g_real must hold tensors, got {type(gs).__name__} (g_syn[{i}]) "
                f"and {type(gr).__name__} (g_real[{i}])"
            )
        if gs.shape != gr.shape:
            raise ValueError(
                f"Argument g_syn[{i}] has shape {tuple(gs.shape)} but g_real[{i}] has shape "
                f"{tuple(gr.shape)}; the gradients must come from the same parameters in the same order"
            )
    return g_syn, g_real


def dc_distance(g_syn: Sequence[Tensor], g_real: Sequence[Tensor], *, eps: float = 1e-6) -> Tensor:
    r"""Layer-wise gradient distance from `"Dataset Condensation with Gradient Matching"
    <https://arxiv.org/abs/2006.05929>`_ (Zhao et al., ICLR 2021), also used by GCond
    (`Jin et al., ICLR 2022 <https://arxiv.org/abs/2110.07580>`_).

    Each parameter gradient is reshaped to a matrix whose rows are output units, and the
    distance sums one minus the cosine similarity of matching rows:

    .. math::
        D(\mathcal{G}^{S}, \mathcal{G}^{T}) = \sum_{\ell} \sum_{i=1}^{\mathrm{out}_\ell}
        \left(1 - \frac{\langle \mathbf{A}^{\ell}_{i}, \mathbf{B}^{\ell}_{i} \rangle}
        {\lVert \mathbf{A}^{\ell}_{i} \rVert \, \lVert \mathbf{B}^{\ell}_{i} \rVert + \epsilon}\right)

    where :math:`\mathbf{A}^{\ell}` and :math:`\mathbf{B}^{\ell}` are the synthetic and real
    gradients of parameter :math:`\ell`. A 4-D convolution gradient ``(out, in, h, w)`` becomes
    ``(out, in*h*w)``, a 3-D one ``(out, a, b)`` becomes ``(out, a*b)`` (any tensor of 2 or more
    dimensions is flattened to ``(shape[0], -1)``), and a 2-D gradient is kept as it is, which
    for :class:`torch.nn.Linear` (weight ``(out, in)``) makes its rows the output units.

    .. note::
        As in the reference implementation, 1-D gradients (biases, normalisation scales and
        shifts) and 0-D ones contribute nothing: they are ignored, not matched. Use
        :func:`gradient_mse` or :func:`gradient_cosine`, or add them, if they should count.
        A model whose weights are stored as ``(in, out)`` (GCond's own ``GraphConvolution``)
        gets its rows as input units; transpose those gradients first to match by output unit.

    Args:
        g_syn (Sequence[Tensor]): gradients on the synthetic data, one tensor per parameter.
        g_real (Sequence[Tensor]): gradients on the real data, same order and shapes.
        eps (float, optional): added to the product of norms so zero rows do not divide by zero.
            (default: :obj:`1e-6`)

    Shapes:
        - **inputs:** two sequences of tensors with pairwise equal shapes.
        - **output:** scalar :math:`()`, between :math:`0` and :math:`2 \sum_\ell \mathrm{out}_\ell`.
    """
    g_syn, g_real = _check_gradients(g_syn, g_real)
    layers = []
    for gs, gr in zip(g_syn, g_real, strict=True):
        if gs.dim() < 2:  # bias / norm parameters: skipped, as in the reference code
            continue
        a = gs.reshape(gs.shape[0], -1)
        b = gr.reshape(gr.shape[0], -1)
        cos = (a * b).sum(dim=-1) / (a.norm(dim=-1) * b.norm(dim=-1) + eps)
        layers.append((1.0 - cos).sum())
    if not layers:
        # Keep the result attached to the graph so ``loss.backward()`` works and gives zeros.
        return g_syn[0].sum() * 0.0
    return torch.stack(layers).sum()


def gradient_mse(g_syn: Sequence[Tensor], g_real: Sequence[Tensor]) -> Tensor:
    r"""Summed squared gradient difference, the ``'mse'`` metric of the
    `Dataset Condensation <https://arxiv.org/abs/2006.05929>`_ and GCond code.

    .. math::
        D(\mathcal{G}^{S}, \mathcal{G}^{T}) = \sum_{\ell} \lVert \mathbf{A}^{\ell} - \mathbf{B}^{\ell}
        \rVert_F^2

    Unlike :func:`dc_distance`, every parameter counts, biases included. Note that the sum
    (not the mean) is taken, so the scale grows with the number of parameters.

    Args:
        g_syn (Sequence[Tensor]): gradients on the synthetic data, one tensor per parameter.
        g_real (Sequence[Tensor]): gradients on the real data, same order and shapes.

    Shapes:
        - **inputs:** two sequences of tensors with pairwise equal shapes.
        - **output:** scalar :math:`()`.
    """
    g_syn, g_real = _check_gradients(g_syn, g_real)
    return torch.stack([(gs - gr).pow(2).sum() for gs, gr in zip(g_syn, g_real, strict=True)]).sum()


def relative_gradient_mse(g_syn: Sequence[Tensor], g_real: Sequence[Tensor], *, eps: float = 1e-12) -> Tensor:
    r""":func:`gradient_mse` relative to the real gradients' squared norm, the ``'mse'`` of DosCond's
    ``match_loss`` (`Jin et al., KDD 2022 <https://arxiv.org/abs/2206.07746>`_, amazon-science/doscond):

    .. math::
        D(\mathcal{G}^{S}, \mathcal{G}^{T}) = \frac{\sum_{\ell} \lVert \mathbf{A}^{\ell} - \mathbf{B}^{\ell}
        \rVert_F^2}{\max\big(\sum_{\ell} \lVert \mathbf{B}^{\ell} \rVert_F^2,\ \epsilon\big)}

    Args:
        g_syn (Sequence[Tensor]): gradients on the synthetic data :math:`\mathbf{A}^{\ell}`.
        g_real (Sequence[Tensor]): gradients on the real data :math:`\mathbf{B}^{\ell}`, same order and shapes.
        eps (float): floor of the denominator (all-zero real gradients).

    Shapes:
        - **inputs:** two sequences of tensors with pairwise equal shapes.
        - **output:** scalar :math:`()`.
    """
    return gradient_mse(g_syn, g_real) / torch.stack([g.pow(2).sum() for g in g_real]).sum().clamp_min(eps)


def gradient_cosine(g_syn: Sequence[Tensor], g_real: Sequence[Tensor], *, eps: float = 1e-6) -> Tensor:
    r"""One minus the cosine similarity of the whole gradient vectors, the ``'cos'`` metric of the
    `Dataset Condensation <https://arxiv.org/abs/2006.05929>`_ and GCond code.

    .. math::
        D(\mathbf{a}, \mathbf{b}) = 1 - \frac{\langle \mathbf{a}, \mathbf{b} \rangle}
        {\lVert \mathbf{a} \rVert \, \lVert \mathbf{b} \rVert + \epsilon}

    where :math:`\mathbf{a}` and :math:`\mathbf{b}` concatenate all flattened synthetic and real
    gradients (biases included).

    Args:
        g_syn (Sequence[Tensor]): gradients on the synthetic data, one tensor per parameter.
        g_real (Sequence[Tensor]): gradients on the real data, same order and shapes.
        eps (float, optional): added to the product of norms. (default: :obj:`1e-6`)

    Shapes:
        - **inputs:** two sequences of tensors with pairwise equal shapes.
        - **output:** scalar :math:`()`, between :math:`0` and :math:`2`.
    """
    g_syn, g_real = _check_gradients(g_syn, g_real)
    a = torch.cat([g.reshape(-1) for g in g_syn])
    b = torch.cat([g.reshape(-1) for g in g_real])
    return 1.0 - (a * b).sum() / (a.norm() * b.norm() + eps)


_GRADIENT_FNS: dict[str, Callable[[Sequence[Tensor], Sequence[Tensor]], Tensor]] = {
    "dc": dc_distance,
    "mse": gradient_mse,
    "cos": gradient_cosine,
}

#: Names accepted by :func:`gradient_distance`.
GRADIENT_METRICS: tuple[str, ...] = tuple(_GRADIENT_FNS)


def gradient_distance(g_syn: Sequence[Tensor], g_real: Sequence[Tensor], *, metric: str = "dc") -> Tensor:
    r"""Gradient-matching distance selected by name, as the ``dis_metric`` option of the
    `Dataset Condensation <https://arxiv.org/abs/2006.05929>`_ code.

    Args:
        g_syn (Sequence[Tensor]): gradients on the synthetic data, one tensor per parameter.
        g_real (Sequence[Tensor]): gradients on the real data, same order and shapes.
        metric (str, optional): ``"dc"`` (:func:`dc_distance`), ``"mse"`` (:func:`gradient_mse`)
            or ``"cos"`` (:func:`gradient_cosine`). (default: :obj:`"dc"`)

    Shapes:
        - **inputs:** two sequences of tensors with pairwise equal shapes.
        - **output:** scalar :math:`()`.
    """
    check_choice("metric", metric, GRADIENT_METRICS)
    return _GRADIENT_FNS[metric](g_syn, g_real)
