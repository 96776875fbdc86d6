"""Kernel ridge regression (KRR) objectives: fit on the synthetic set, predict the real one.

KIP (`Nguyen et al., "Dataset Meta-Learning from Kernel Inducing Points", ICLR 2021
<https://arxiv.org/abs/2011.00050>`_) and its graph descendants (GC-SNTK, KiDD) learn a synthetic
set :math:`(X_s, Y_s)` so that kernel ridge regression fitted on it predicts the real labels:

.. math::
    \\hat Y_t = K_{ts}\\,\\big(K_{ss} + \\lambda \\tfrac{\\operatorname{tr} K_{ss}}{n_s} I\\big)^{-1} Y_s,
    \\qquad \\mathcal{L} = \\ell(\\hat Y_t, Y_t),

with :math:`K_{ts} = k(X_t, X_s)` and :math:`K_{ss} = k(X_s, X_s)`; scaling the ridge by the mean
diagonal makes :math:`\\lambda` independent of the kernel's scale. The kernels here are the
infinite-width ReLU network kernels (NNGP and NTK) built layer by layer with the arc-cosine
formulas (`Cho & Saul 2009 <https://papers.nips.cc/paper/3628>`_; `Jacot et al. 2018
<https://arxiv.org/abs/1806.07572>`_); a domain adds its own aggregation between layers (the graph
structure, in :mod:`condensekit.graph.sntk`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from ..registry import check_int, check_nonnegative

__all__ = ["cholesky_jitter", "krr_factor", "krr_predict", "krr_solve", "relu_ntk", "relu_ntk_layer", "relu_ntk_scaled"]

#: Correlations are clipped to ±(1 − this) before ``arccos``, whose gradient is infinite at ±1.
CORRELATION_MARGIN = 1e-4

#: The dtypes LAPACK's Cholesky factorisation and solve take (half precision is not implemented).
SOLVE_DTYPES = (torch.float32, torch.float64)

#: Jitter tried by :func:`cholesky_jitter`, relative to the mean diagonal: 0, then 1e-6 … 1e-2.
JITTERS = (0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2)


def cholesky_jitter(k: Tensor) -> Tensor:
    """Lower Cholesky factor of the symmetric matrix ``k``, adding the smallest jitter
    :math:`\\epsilon\\,\\overline{\\operatorname{diag} k}\\, I` from :data:`JITTERS` that makes it
    positive definite (differentiable; float32 kernel matrices are often PSD only up to rounding).

    Raises:
        ValueError: ``k`` is not a non-empty square float32/float64 matrix, holds NaN/inf, or stays singular with
            the largest jitter.
    """
    return _cholesky_jitter(k, ())[0]


def krr_factor(k_ss: Tensor, *, ridge: float, read: Sequence[Tensor] = ()) -> tuple[Tensor, list[float]]:
    """The Cholesky factor :func:`krr_predict` solves with: of
    :math:`K_{ss} + \\lambda \\, \\mathrm{tr}(K_{ss})/n_s \\, I`, through :func:`cholesky_jitter` (its jitter, its
    errors), so ``krr_solve(k_ts, factor, y_s)`` is ``krr_predict(k_ts, k_ss, y_s, ridge=ridge)``, bit
    for bit.

    ``read``: 0-dim tensors the caller needs on the host, read back as floats in the same host read as the
    factor's checks (one sync on CUDA for both, where reading them apart costs one more per call: KiDD's step
    reads its real batch's node count so). Integers are exact below :math:`2^{53}`.

    Shapes:
        ``k_ss``: ``(n_s, n_s)``; output ``(n_s, n_s)`` lower triangular, and ``len(read)`` floats.
    """
    check_nonnegative("ridge", ridge)  # a NaN ridge passed `ridge < 0` and made a NaN prediction
    if k_ss.dim() != 2 or k_ss.shape[0] != k_ss.shape[1] or k_ss.shape[0] == 0:
        raise ValueError(f"krr_factor needs a non-empty square k_ss (n_s, n_s), got shape {tuple(k_ss.shape)}")
    if k_ss.dtype not in SOLVE_DTYPES:  # an integer k_ss failed in torch's mean(), half in cholesky_jitter's name
        raise ValueError(f"krr_factor needs a float32 or float64 k_ss (LAPACK's Cholesky), got {k_ss.dtype}")
    shapes = [tuple(t.shape) for t in read]
    if any(shapes):
        raise ValueError(f"krr_factor reads back 0-dim tensors only (read), got shapes {shapes}")
    eye = torch.eye(k_ss.shape[0], dtype=k_ss.dtype, device=k_ss.device)
    regulariser = ridge * torch.diagonal(k_ss).mean() * eye
    return _cholesky_jitter(k_ss + regulariser, read)


def _cholesky_jitter(k: Tensor, read: Sequence[Tensor]) -> tuple[Tensor, list[float]]:
    """:func:`cholesky_jitter`, and the 0-dim tensors ``read`` read back with its checks (see :func:`krr_factor`)."""
    if k.dim() != 2 or k.shape[0] != k.shape[1] or k.shape[0] == 0:
        raise ValueError(f"cholesky_jitter needs a non-empty square matrix, got shape {tuple(k.shape)}")
    if k.dtype not in SOLVE_DTYPES:
        raise ValueError(f"cholesky_jitter needs a float32 or float64 matrix (LAPACK's Cholesky), got {k.dtype}")
    singular = ValueError(
        f"the kernel matrix ({k.shape[0]}×{k.shape[0]}) is singular even with jitter "
        f"{JITTERS[-1]} × its mean diagonal: duplicate or all-zero samples? Raise the ridge"
    )
    eye = torch.eye(k.shape[0], dtype=k.dtype, device=k.device)
    scale = torch.diagonal(k).abs().mean()
    # One host read (a sync on CUDA) in the common case, not three: the unjittered factorisation runs before
    # the checks, and the finiteness, the scale and its status come back together (exact in float64).
    factor, info = torch.linalg.cholesky_ex(k)
    checks = [torch.isfinite(k).all().double(), scale.detach().double(), info.double()]
    finite, scale_value, status, *values = torch.stack(checks + [t.detach().double() for t in read]).tolist()
    if not finite:
        raise ValueError("the kernel matrix holds NaN or inf; check the inputs of the kernel")
    # A positive semi-definite matrix whose diagonal is zero is the zero matrix: no relative jitter can
    # help, and a jitter of "tiny" would give a denormal factor that some LAPACK builds accept.
    if scale_value <= torch.finfo(k.dtype).tiny:
        raise singular
    if status == 0:
        return factor, values
    for jitter in JITTERS[1:]:
        factor, info = torch.linalg.cholesky_ex(k + jitter * scale * eye)
        if int(info) == 0:
            return factor, values
    raise singular


def krr_solve(k_ts: Tensor, factor: Tensor, y_s: Tensor) -> Tensor:
    """The prediction :math:`K_{ts} (L L^\\top)^{-1} Y_s` from :func:`krr_factor`'s ``factor`` :math:`L`: the last step
    of :func:`krr_predict`, for a caller that factors itself (KiDD reads its counts with the factor's checks).

    Shapes:
        ``k_ts``: ``(n_t, n_s)``; ``factor``: ``(n_s, n_s)``; ``y_s``: ``(n_s, c)``; output ``(n_t, c)``.
    """
    return k_ts @ torch.cholesky_solve(y_s, factor)


def krr_predict(k_ts: Tensor, k_ss: Tensor, y_s: Tensor, *, ridge: float = 1.0) -> Tensor:
    """Kernel ridge regression fitted on the synthetic set, evaluated on the targets.

    :math:`\\hat Y_t = K_{ts} (K_{ss} + \\lambda \\, \\mathrm{tr}(K_{ss})/n_s \\, I)^{-1} Y_s`,
    differentiable in every input, solved through a Cholesky factor (:func:`cholesky_jitter`: a
    jitter is added only when the regularised matrix is not numerically positive definite, and a
    singular one raises ``ValueError``).

    Shapes:
        ``k_ts``: ``(n_t, n_s)``; ``k_ss``: ``(n_s, n_s)``; ``y_s``: ``(n_s, c)``; output ``(n_t, c)``.
    """
    n_s = k_ss.shape[0] if k_ss.dim() else 0
    if (
        (k_ts.dim(), k_ss.dim(), y_s.dim()) != (2, 2, 2)
        or k_ss.shape != (n_s, n_s)
        or k_ts.shape[1] != n_s
        or y_s.shape[0] != n_s
        or n_s == 0
    ):
        # a 1-D y_s or k_ts failed inside torch (IndexError, "b should have at least 2 dimensions"), and n_s = 0
        # predicted zeros from an empty synthetic set without a word
        raise ValueError(
            f"krr_predict needs k_ts (n_t, n_s), k_ss (n_s, n_s) and y_s (n_s, c) with n_s >= 1, got "
            f"{tuple(k_ts.shape)}, {tuple(k_ss.shape)} and {tuple(y_s.shape)}"
        )
    if not k_ts.dtype == k_ss.dtype == y_s.dtype or k_ss.dtype not in SOLVE_DTYPES:
        # torch said "Expected b and A to have the same dtype" (integer one-hot labels), naming no argument
        raise ValueError(
            f"krr_predict needs k_ts, k_ss and y_s of one dtype, float32 or float64 (the Cholesky solve), got "
            f"{k_ts.dtype}, {k_ss.dtype} and {y_s.dtype}; cast them, e.g. y_s.to(k_ss.dtype)"
        )
    factor, _ = krr_factor(k_ss, ridge=ridge)
    return krr_solve(k_ts, factor, y_s)


def relu_ntk_layer(nngp: Tensor, ntk: Tensor, norm1: Tensor, norm2: Tensor) -> tuple[Tensor, Tensor]:
    """One infinite-width ReLU layer applied to a pair of kernels.

    With :math:`\\rho = \\Sigma_{ij} / (\\lVert a_i\\rVert \\lVert b_j\\rVert)` (``norm1``, ``norm2``:
    the square roots of the two sides' self-kernels, :math:`\\sqrt{\\Sigma_{ii}}`):

    .. math::
        \\Sigma'_{ij} = \\lVert a_i\\rVert\\lVert b_j\\rVert \\,
            \\frac{\\rho(\\pi - \\arccos\\rho) + \\sqrt{1-\\rho^2}}{\\pi},\\qquad
        \\Theta'_{ij} = \\Theta_{ij}\\,\\frac{\\pi - \\arccos\\rho}{\\pi} + \\Sigma'_{ij}

    (NNGP :math:`\\Sigma`, NTK :math:`\\Theta`; the normalisation keeps :math:`\\Sigma'_{ii} =
    \\Sigma_{ii}`, so the norms stay valid through consecutive layers).

    Shapes:
        ``nngp``, ``ntk``: ``(n1, n2)``; ``norm1``: ``(n1,)``; ``norm2``: ``(n2,)``.
    """
    return relu_ntk_scaled(nngp, ntk, norm1[:, None] * norm2[None, :])


def relu_ntk_scaled(nngp: Tensor, ntk: Tensor, scale: Tensor) -> tuple[Tensor, Tensor]:
    """:func:`relu_ntk_layer` with the products of norms given as one tensor ``scale`` that
    broadcasts against ``nngp`` (any shape: e.g. node pairs of graph pairs, ``(N, n, T)``)."""
    rho = (nngp / scale.clamp_min(1e-12)).clamp(-1 + CORRELATION_MARGIN, 1 - CORRELATION_MARGIN)
    angle = torch.arccos(rho)
    nngp_next = scale * (rho * (math.pi - angle) + torch.sqrt(1 - rho * rho)) / math.pi
    return nngp_next, ntk * (math.pi - angle) / math.pi + nngp_next


def relu_ntk(x1: Tensor, x2: Tensor, *, depth: int = 2) -> Tensor:
    """NTK of an infinitely wide ``depth``-hidden-layer ReLU MLP between the rows of two inputs.

    :math:`\\Sigma^{(0)} = \\Theta^{(0)} = x_1 x_2^\\top`, then ``depth`` times
    :func:`relu_ntk_layer`.

    Shapes:
        ``x1``: ``(n1, d)``; ``x2``: ``(n2, d)``; output ``(n1, n2)``.
    """
    check_int("depth", depth, 1)
    nngp = x1 @ x2.t()
    ntk = nngp
    norm1, norm2 = x1.norm(dim=1), x2.norm(dim=1)
    for _ in range(depth):
        nngp, ntk = relu_ntk_layer(nngp, ntk, norm1, norm2)
    return ntk
