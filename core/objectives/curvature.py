r"""Curvature: finite-difference input curvature (CURE / GUARD) and parameter curvature (LCMat-style).

Both terms approximate a Hessian-vector product by the difference of two gradients, so they cost two
gradient evaluations (plus one backward through them when used as a loss), never a Hessian:

.. math::
    \nabla f(u + h\,v) - \nabla f(u) = h\,\nabla^2 f(u)\,v + O(h^2)

which is exact when :math:`f` is quadratic. Every function is pure (tensors and closures in, tensors
out) and differentiable with respect to the model's parameters.

* :func:`input_curvature` — `"Robustness via curvature regularization, and vice versa"
  <https://arxiv.org/abs/1811.09716>`_ (CURE, Moosavi-Dezfooli et al., CVPR 2019) as used by
  `GUARD <https://arxiv.org/abs/2403.10045>`_ (Xue et al., AAAI 2025) for its teacher.
* :class:`CurvatureRegularizer` — that term as the per-batch extra loss ``(model, x, y) -> Tensor``
  of :func:`condensekit.core.vision.train.fit_images` and of the image methods' ``regularizer`` hook.
* :func:`parameter_curvature` and :func:`curvature_gap` — the loss-curvature gap between synthetic
  and real data in parameter space, `LCMat <https://arxiv.org/abs/2303.04449>`_ (Shin et al.,
  AISTATS 2023), to add to a gradient-matching loss.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from ..modes import module_mode
from ..registry import check_choice, check_nonnegative, check_positive

__all__ = [
    "DIRECTIONS",
    "REDUCTIONS",
    "CurvatureRegularizer",
    "curvature_gap",
    "input_curvature",
    "parameter_curvature",
    "unit_direction",
]

REDUCTIONS = ("mean", "sum")

DIRECTIONS = ("reference", "unit")


def unit_direction(g: Tensor, *, eps: float = 1e-7, direction: str = "reference") -> Tensor:
    r"""Each sample's probe direction (rows along dim 0), as ``direction`` says.

    ``"reference"`` (the default): :math:`(g_i + \epsilon) / (\lVert g_i \rVert_2 + \epsilon)`, with the GUARD
    reference's :math:`\epsilon` offsets kept as it has them. An all-zero gradient gives a finite direction
    instead of NaN, but not a small one (every coordinate :math:`\epsilon/\epsilon = 1`, norm :math:`\sqrt{D}`),
    and where :math:`\lVert g_i \rVert_2` is not far above :math:`\epsilon\sqrt{D}` the result is neither unit
    length nor along :math:`g_i`. Per-sample gradients of a batch-mean loss are small (scaled by 1/B), so this
    is common on a trained teacher: for such samples the curvature is probed at several times ``h``, mostly
    along the constant offset. Every cached teacher and expert, and every recorded figure, used it.

    ``"unit"``: the true unit direction :math:`g_i / \lVert g_i \rVert_2` (norm 1 up to float rounding, parallel
    to :math:`g_i`); a row whose gradient is exactly zero gets the zero direction (no probe, no NaN). ``eps``
    is not used.
    """
    check_choice("direction", direction, DIRECTIONS)
    if g.dim() < 1 or g.shape[0] == 0:
        raise ValueError(f"Argument g must have at least one sample along dim 0, got shape {tuple(g.shape)}")
    norms = g.reshape(g.shape[0], -1).norm(dim=1).reshape(-1, *([1] * (g.dim() - 1)))
    if direction == "unit":
        return g / torch.where(norms > 0, norms, torch.ones_like(norms))  # a zero row stays 0 / 1 = 0
    return (g + eps) / (norms + eps)


def input_curvature(
    loss_fn: Callable[[Tensor], Tensor],
    x: Tensor,
    *,
    h: float = 3.0,
    reduction: str = "mean",
    eps: float = 1e-7,
    direction: str = "reference",
    create_graph: bool = True,
) -> Tensor:
    r"""Per-sample finite-difference input curvature (CURE, as in GUARD's reference):

    .. math::
        r_i = \bigl\lVert \nabla_{x_i} \bigl[\ell(x + h\,z) - \ell(x)\bigr] \bigr\rVert_2, \qquad
        z_i = \frac{g_i}{\lVert g_i \rVert_2}, \quad g = \nabla_x \ell(x)

    with :math:`z` held constant (detached), so :math:`r_i \approx h \lVert \nabla^2_{x_i}\ell\, z_i \rVert`,
    the curvature along the gradient direction; equality holds when :math:`\ell` is quadratic in :math:`x`.

    Args:
        loss_fn: maps inputs N×... to the per-sample losses N (e.g. cross-entropy with
            ``reduction="none"`` over a model's logits).
        x: the inputs N×... (any shape with the batch first).
        h: the finite-difference step, > 0 (GUARD and CURE: 3 in normalised pixel units).
        reduction: how per-sample losses are combined before differentiating: ``"mean"`` (GUARD's
            reference: the gradient of the batch-mean loss, so each :math:`r_i` carries a factor 1/N)
            or ``"sum"`` (each :math:`r_i` is the sample's own gradient difference).
        eps: offset of :func:`unit_direction` (its ``"reference"`` direction).
        direction: :func:`unit_direction`'s ``"reference"`` (GUARD's, with the offsets) or ``"unit"``
            (:math:`z_i` exactly as above).
        create_graph: keep the graph so :math:`r` can be differentiated (needed to train with it), with
            respect to the model's parameters and, when ``x`` requires grad, to ``x`` itself.

    Returns:
        Tensor N: :math:`r_i` per sample.
    """
    check_positive("h", h)
    check_choice("reduction", reduction, REDUCTIONS)
    check_choice("direction", direction, DIRECTIONS)

    def total(inp: Tensor) -> Tensor:
        losses = loss_fn(inp)
        if losses.dim() != 1 or losses.shape[0] != inp.shape[0]:
            raise ValueError(
                f"loss_fn must return one loss per sample (shape ({inp.shape[0]},)), got {tuple(losses.shape)}"
            )
        return losses.mean() if reduction == "mean" else losses.sum()

    # Synthetic images that require grad stay in the graph (the term then shapes them); real inputs
    # become leaves so the input gradient exists.
    xr = x if x.requires_grad else x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(total(xr), xr)
    z = h * unit_direction(g.detach(), eps=eps, direction=direction)
    diff = total(xr + z) - total(xr)
    (gd,) = torch.autograd.grad(diff, xr, create_graph=create_graph)
    return gd.reshape(gd.shape[0], -1).norm(dim=1)


def _per_sample_ce(logits: Tensor, y: Tensor) -> Tensor:
    return F.cross_entropy(logits, y, reduction="none")


@dataclass(frozen=True)
class CurvatureRegularizer:
    r"""GUARD's curvature term as an extra training loss: :math:`\lambda \cdot \frac1N \sum_i r_i`
    (:func:`input_curvature` on the model's loss).

    An instance is a ``(model, x, y) -> Tensor`` callable: pass it as ``regularizer=`` to
    :func:`~condensekit.core.vision.train.fit_images` (a curvature-regularised teacher or expert) or
    to an image method (adds the term on the synthetic batch at every step).

    **Which function the term is taken on** (it matters only for batch norm; dropout is not in the suite's
    models). With ``eval_mode=True`` (GUARD's reference, for its teacher) the model is put in eval mode for
    the term, so batch norm normalises with its running statistics, and each submodule's own mode is restored
    afterwards (:func:`~condensekit.core.modes.module_mode`).
    That is the function a *trained* teacher has, but while a teacher trains those statistics lag its
    weights, and on a fresh network (DM's, DC's) or one whose weights were set without them (MTT's student at
    an expert's parameters) they are still mean 0 / variance 1: the term would be taken on a function the
    method never uses. With ``eval_mode=False`` the term is taken in the model's **own** mode, the function
    the caller's step uses: batch statistics of ``x`` for a network in train mode (DM, DC, MTT, PTM), running
    statistics for one in eval mode (SRe2L's frozen teacher). The term's extra forward passes then run on
    copies of the model's buffers (:func:`torch.func.functional_call`), so they do not move its running
    statistics or ``num_batches_tracked``. In train mode the batch is ``x`` as given, whole: where the
    method's own loss normalises smaller batches (DM and DC: one class at a time; MTT and PTM with
    ``batch_syn`` below the set's size: a minibatch) the term sees the statistics of the whole synthetic
    set, the same layers in the same mode over a larger batch. A train-mode batch norm cannot normalise a
    batch of one sample per channel; the method's own step fails there as well. The plug-in of
    :mod:`condensekit.robust.guard` uses ``eval_mode=False``.
    """

    lam: float = field(default=100.0, metadata={"help": "weight λ of the curvature term (GUARD, CIFAR: 100)"})
    h: float = field(default=3.0, metadata={"help": "finite-difference step h > 0 (GUARD and CURE: 3)"})
    reduction: str = field(
        default="mean", metadata={"help": "gradient of the batch-mean loss (GUARD's reference) or of the sum"}
    )
    eval_mode: bool = field(
        default=True,
        metadata={"help": "compute the term in eval mode (GUARD's reference); False: in the model's own mode, "
                          "its batch-norm running statistics untouched"},
    )  # fmt: skip
    direction: str = field(
        default="reference",
        metadata={"help": "probe direction: 'reference' (GUARD's, with ε offsets) or 'unit' (g/‖g‖)"},
    )
    loss: Callable[[Tensor, Tensor], Tensor] = field(default=_per_sample_ce, compare=False, repr=False)

    def __post_init__(self) -> None:
        check_nonnegative("lam", self.lam)
        check_positive("h", self.h)
        check_choice("reduction", self.reduction, REDUCTIONS)
        check_choice("direction", self.direction, DIRECTIONS)

    def record(self) -> dict[str, Any]:
        """What a cached teacher's card or an expert buffer's marker records of the term: λ, h, reduction, mode, and
        the direction only when it is not the reference (records written before the option existed stay valid)."""
        out: dict[str, Any] = {"lam": self.lam, "h": self.h, "reduction": self.reduction, "eval_mode": self.eval_mode}
        if self.direction != "reference":
            out["direction"] = self.direction
        return out

    def tag(self) -> str:
        """The term in a cache folder's name: ``curv<λ>-h<h>``, then ``-<direction>`` when not the reference."""
        return f"curv{self.lam:g}-h{self.h:g}" + (f"-{self.direction}" if self.direction != "reference" else "")

    def __call__(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        # each submodule gets its own mode back, not the top module's (a training model's frozen batch norm stays
        # frozen); in the model's own mode (eval_mode=False) no mode is touched at all
        with module_mode(model, False) if self.eval_mode else nullcontext(model):
            forward: Callable[[Tensor], Tensor] = model
            if model.training:  # batch norm updates its buffers in train mode: the term's forwards get copies
                copies = {name: b.clone() for name, b in model.named_buffers()}
                if copies:
                    forward = lambda inp: functional_call(model, copies, (inp,))  # noqa: E731
            r = input_curvature(
                lambda inp: self.loss(forward(inp), y), x, h=self.h, reduction=self.reduction, direction=self.direction
            )
        return self.lam * r.mean()


Params = Mapping[str, Tensor]


def _grads(loss_fn: Callable[[Params], Tensor], params: Params, create_graph: bool) -> tuple[Tensor, ...]:
    names = list(params)
    leaves = {k: (v if v.requires_grad else v.detach().requires_grad_(True)) for k, v in params.items()}
    return torch.autograd.grad(loss_fn(leaves), [leaves[k] for k in names], create_graph=create_graph)


def parameter_curvature(
    loss_fn: Callable[[Params], Tensor],
    params: Params,
    direction: Sequence[Tensor],
    *,
    h: float,
    create_graph: bool = True,
) -> tuple[Tensor, ...]:
    r"""Finite-difference Hessian-vector product in parameter space, one tensor per parameter:

    .. math::
        \nabla_\theta \ell(\theta + h\,v) - \nabla_\theta \ell(\theta) \;\approx\; h\,\nabla^2_\theta \ell(\theta)\,v

    Args:
        loss_fn: parameters (name → tensor, e.g. for :func:`torch.func.functional_call`) → scalar loss.
        params: the point :math:`\theta`.
        direction: :math:`v`, one tensor per parameter in ``params``' order (treated as a constant).
        h: the step, > 0.
        create_graph: keep the graph (to differentiate through, e.g. with respect to synthetic images).
    """
    check_positive("h", h)
    direction = tuple(direction)
    if len(direction) != len(params):
        raise ValueError(f"direction has {len(direction)} tensors but params has {len(params)}")
    for (name, p), v in zip(params.items(), direction, strict=True):
        if p.shape != v.shape:
            raise ValueError(f"direction for {name!r} has shape {tuple(v.shape)}, parameter is {tuple(p.shape)}")
    base = {k: v.detach() for k, v in params.items()}
    moved = {k: v.detach() + h * d.detach() for (k, v), d in zip(base.items(), direction, strict=True)}
    g0 = _grads(loss_fn, base, create_graph)
    g1 = _grads(loss_fn, moved, create_graph)
    return tuple(a - b for a, b in zip(g1, g0, strict=True))


def curvature_gap(
    loss_syn: Callable[[Params], Tensor],
    loss_real: Callable[[Params], Tensor],
    params: Params,
    *,
    rho: float = 0.05,
    eps: float = 1e-12,
) -> Tensor:
    r"""LCMat-style loss-curvature gap between the synthetic and the real loss at :math:`\theta`:

    .. math::
        C = \frac{1}{\rho}\bigl\lVert \bigl[\nabla\ell_S(\theta+\rho v) - \nabla\ell_S(\theta)\bigr]
            - \bigl[\nabla\ell_T(\theta+\rho v) - \nabla\ell_T(\theta)\bigr] \bigr\rVert_2
            \;\approx\; \bigl\lVert (H_S - H_T)\,v \bigr\rVert_2,
        \qquad v = \frac{\delta}{\lVert \delta \rVert}, \quad \delta = \nabla\ell_S(\theta) - \nabla\ell_T(\theta)

    LCMat (Shin et al., AISTATS 2023) bounds the worst loss gap within a :math:`\rho`-ball of parameters by
    a gradient term plus a curvature term along the worst direction; gradient matching already supplies
    the first, and this function is the second, to add with a weight. Deviation: LCMat states the
    curvature term through the Hessian difference's top eigenvalue; this is its finite-difference
    estimate along the gradient-difference direction (the SAM-style worst direction of the first-order
    term), exact for quadratic losses. Differentiable with respect to whatever ``loss_syn`` closes over
    (the synthetic images); the real side is detached.

    Args:
        loss_syn, loss_real: parameters → scalar loss on the synthetic and the real batch.
        params: :math:`\theta`.
        rho: the perturbation radius, > 0 (LCMat's :math:`\rho`; 0.05 as in SAM).
    """
    check_positive("rho", rho)
    base = {k: v.detach() for k, v in params.items()}
    g_syn = _grads(loss_syn, base, True)
    g_real = tuple(g.detach() for g in _grads(loss_real, base, False))
    diff = [(a - b).detach() for a, b in zip(g_syn, g_real, strict=True)]
    norm = torch.sqrt(sum((d * d).sum() for d in diff)) + eps
    v = [d / norm for d in diff]
    moved = {k: p + rho * d for (k, p), d in zip(base.items(), v, strict=True)}
    g_syn_moved = _grads(loss_syn, moved, True)
    g_real_moved = tuple(g.detach() for g in _grads(loss_real, moved, False))
    parts = [(a1 - a0) - (b1 - b0) for a1, a0, b1, b0 in zip(g_syn_moved, g_syn, g_real_moved, g_real, strict=True)]
    # vector_norm's gradient at 0 is 0 (a sqrt of the squared sum would give NaN when the sets agree)
    return torch.linalg.vector_norm(torch.cat([p.reshape(-1) for p in parts])) / rho
