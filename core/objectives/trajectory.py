"""Trajectory matching (MTT; Cazenavette et al., "Dataset Distillation by Matching Training Trajectories",
CVPR 2022, https://arxiv.org/abs/2203.11932).

A student starts from an expert's parameters at epoch :math:`t`, takes :math:`N` SGD steps on synthetic
minibatches with a learnable learning rate :math:`\\alpha`, and should land where the expert was :math:`M`
epochs later. The loss is the normalised parameter distance

.. math::
    \\mathcal{L} = \\frac{\\lVert \\hat\\theta_{t+N} - \\theta^*_{t+M} \\rVert_2^2}
                        {\\lVert \\theta^*_t - \\theta^*_{t+M} \\rVert_2^2},
    \\qquad \\hat\\theta_{i+1} = \\hat\\theta_i
        - \\alpha \\nabla_\\theta \\ell(f_{\\hat\\theta_i}(\\mathcal{A}(X_{b_i})), Y_{b_i}),

differentiable in the synthetic images :math:`X` and in :math:`\\alpha` through all :math:`N` steps
(:func:`unroll_student` builds that graph with ``torch.func.functional_call``; parameters are flat vectors,
as the experts store them, and are viewed back into the module's parameter shapes at every step).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call

from condensekit.core.registry import check_int

LossFn = Callable[[Tensor, Tensor], Tensor]


def param_distance(student: Tensor, start: Tensor, target: Tensor, *, eps: float = 1e-12) -> Tensor:
    """``‖student − target‖² / ‖start − target‖²`` for flat parameter vectors (MTT's loss)."""
    if not student.shape == start.shape == target.shape:
        raise ValueError(
            f"student, start and target must be flat vectors of one size; got {tuple(student.shape)}, "
            f"{tuple(start.shape)}, {tuple(target.shape)}"
        )
    return (student - target).square().sum() / (start - target).square().sum().clamp_min(eps)


def flat_params(model: nn.Module) -> Tensor:
    """The model's parameters concatenated into one flat vector (``named_parameters`` order)."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def unflatten(model: nn.Module, flat: Tensor) -> dict[str, Tensor]:
    """Views of ``flat`` shaped like ``model``'s parameters, keyed by name (for ``functional_call``)."""
    total = sum(p.numel() for p in model.parameters())
    if total != flat.numel():
        raise ValueError(f"flat has {flat.numel()} entries but the model has {total} parameters")
    out, at = {}, 0
    for name, p in model.named_parameters():
        out[name] = flat[at : at + p.numel()].view_as(p)
        at += p.numel()
    return out


def unroll_student(
    model: nn.Module,
    start: Tensor,
    x: Tensor,
    y: Tensor,
    *,
    lr: Tensor,
    batches: Sequence[Tensor],
    loss_fn: LossFn,
    augment: Callable[[Tensor], Tensor] | None = None,
) -> Tensor:
    """Train a student from flat parameters ``start`` with SGD on ``(x, y)``; return its final flat parameters.

    Step ``i`` uses the rows ``batches[i]`` of the synthetic set (one minibatch per step, so ``len(batches)``
    is MTT's ``syn_steps``) and ``augment`` (a fresh draw per call). The result keeps the graph to ``x`` and
    ``lr``; ``start`` is treated as a constant.
    """
    params = start.detach().requires_grad_(True)
    for idx in batches:
        xb = x[idx]
        if augment is not None:
            xb = augment(xb)
        out = functional_call(model, unflatten(model, params), (xb,))
        loss = loss_fn(out, y[idx])
        (grad,) = torch.autograd.grad(loss, params, create_graph=True)
        params = params - lr * grad
    return params


def student_batches(
    n: int, steps: int, batch_size: int, *, device: torch.device, generator: torch.Generator | None = None
) -> list[Tensor]:
    """MTT's minibatch schedule: consecutive slices of fresh random permutations of the ``n`` synthetic rows."""
    for name, value in (("n", n), ("steps", steps), ("batch_size", batch_size)):
        check_int(name, value, 1)
    bs = min(batch_size, n)
    out: list[Tensor] = []
    perm = torch.randperm(n, device=device, generator=generator)
    at = 0
    while len(out) < steps:
        if at + bs > n:
            perm, at = torch.randperm(n, device=device, generator=generator), 0
        out.append(perm[at : at + bs])
        at += bs
    return out
