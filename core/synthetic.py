"""Synthetic sets: label budgets, initialisation, and the learnable tensors themselves.

A synthetic set is learnable data ``x`` (n×… ) with class labels ``y`` (n), optionally learnable
soft labels and a learnable learning rate (for trajectory methods). Its rows are grouped by class,
so class ``c`` occupies ``slice(offsets[c], offsets[c+1])``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from condensekit.core.registry import check_choice, check_int, is_integer, is_real, python_number, type_name
from condensekit.core.selection import select_per_class

INIT_METHODS = ("real", "noise", "kcenter", "herding")


def class_budgets(
    labels: Tensor,
    num_classes: int,
    *,
    budget: int | None = None,
    ratio: float | None = None,
    balanced: bool = False,
) -> Tensor:
    """Per-class counts of synthetic samples.

    Proportional (default) follows GCond (Jin et al., ICLR 2022): with ``r = budget / n`` (or the
    given ``ratio``), every class but the largest gets ``max(int(n_c · r), 1)`` and the largest gets
    the remainder, so the counts sum to the budget. Balanced gives ``budget // C`` to every class and
    spreads the remainder over the largest classes, never above a class's size.

    Args:
        labels: the real training labels (N).
        num_classes: C.
        budget: total number of synthetic samples; exactly one of ``budget`` and ``ratio``. An integer is a
            Python or numpy one (not a bool, a float or a tensor), as :func:`~condensekit.core.registry.check_int`
            takes it.
        ratio: fraction of the real training samples, in (0, 1]: a Python or numpy real number (not a bool); a
            numpy float is taken as written (``np.float32(0.7)`` of 10 samples is 7, not the 6 of its binary
            value 0.69999999).
        balanced: equal counts per class instead of proportional ones.

    Returns:
        A LongTensor of C counts (0 for classes absent from ``labels``).
    """
    if (budget is None) == (ratio is None):
        raise ValueError("pass exactly one of budget (a sample count) and ratio (a fraction in (0, 1])")
    check_int("num_classes", num_classes, 1)
    labels = labels.reshape(-1).long().cpu()
    n = labels.numel()
    if n == 0:
        raise ValueError("labels is empty: there are no real training samples to condense")
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0 or hi >= num_classes:
        raise ValueError(
            f"Invalid value for argument labels: it holds class {lo if lo < 0 else hi}; valid classes are integers "
            f"in 0..{num_classes - 1} (num_classes={num_classes})"
        )
    counts = torch.bincount(labels, minlength=num_classes)
    present = int((counts > 0).sum())
    if ratio is not None:
        if not is_real(ratio):
            raise ValueError(
                f"Invalid value {ratio!r} for argument ratio. Valid values are in (0, 1] (got {type_name(ratio)})"
            )
        if not 0 < ratio <= 1:
            raise ValueError(f"Invalid value {ratio!r} for argument ratio. Valid values are in (0, 1]")
        # a numpy float as numpy prints it, the shortest decimal that is this float32 / float16: what was written
        budget = int(n * (python_number(ratio)))
    assert budget is not None
    if not is_integer(budget):
        raise ValueError(
            f"Invalid value {budget!r} for argument budget. Valid values are integers (got {type_name(budget)})"
        )
    budget = int(budget)  # a Python int: the counts below and the card's budget
    if budget < present:
        raise ValueError(
            f"Invalid value {budget} for argument budget: it must be at least the number of classes "
            f"({present}) and at most the number of training samples ({n})"
        )
    if budget > n:
        raise ValueError(
            f"Invalid value {budget} for argument budget: it exceeds the {n} training samples (valid: {present}..{n})"
        )
    out = torch.zeros(num_classes, dtype=torch.long)
    order = [int(c) for c in torch.argsort(counts, stable=True) if counts[c] > 0]
    if balanced:
        base, rest = divmod(budget, present)
        for c in order:
            out[c] = min(base, int(counts[c]))
        left = budget - int(out.sum())
        for c in reversed(order):  # largest classes first
            if left == 0:
                break
            add = min(left, int(counts[c]) - int(out[c]))
            out[c] += add
            left -= add
        del rest
        return out
    r = budget / n
    for c in order[:-1]:
        out[c] = max(int(int(counts[c]) * r), 1)
    last = order[-1]
    out[last] = budget - int(out.sum())
    if out[last] < 1 or out[last] > counts[last]:
        raise ValueError(
            f"budget {budget} cannot be split proportionally over class sizes {counts.tolist()}; "
            "use balanced=True or another budget"
        )
    return out


def labels_from_budgets(budgets: Tensor) -> Tensor:
    """Class labels grouped by class: ``[0]*b_0 + [1]*b_1 + …``."""
    return torch.repeat_interleave(torch.arange(budgets.numel()), budgets.cpu())


def class_offsets(budgets: Tensor) -> Tensor:
    """C+1 offsets so that class c's rows are ``offsets[c]:offsets[c+1]``."""
    return torch.cat([torch.zeros(1, dtype=torch.long), budgets.cpu().long().cumsum(0)])


def init_from_real(
    method: str,
    x: Tensor,
    labels: Tensor,
    budgets: Tensor,
    *,
    emb: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Initial synthetic data: ``(x_syn, y_syn)`` grouped by class.

    ``"real"`` copies random real samples of each class; ``"kcenter"`` and ``"herding"`` copy the
    samples those selections pick on ``emb`` (default: ``x`` flattened); ``"noise"`` draws
    Gaussian noise with each class's per-feature mean and standard deviation.
    """
    check_choice("init", method, INIT_METHODS)
    y = labels.reshape(-1).long()
    if method == "noise":
        parts = []
        for c in range(budgets.numel()):
            k = int(budgets[c])
            if k == 0:
                continue
            xc = x[y == c]
            mean, std = xc.mean(0), xc.std(0, unbiased=False) if xc.shape[0] > 1 else torch.ones_like(xc[0])
            noise = torch.randn((k, *x.shape[1:]), generator=generator, dtype=x.dtype).to(x.device)
            parts.append(mean + std * noise)
        return torch.cat(parts).clone(), labels_from_budgets(budgets).to(x.device)
    select = "random" if method == "real" else method
    e = (x.reshape(x.shape[0], -1) if emb is None else emb).float()
    idx = select_per_class(select, e, y.to(e.device), budgets, generator=generator)
    return x[idx.to(x.device)].clone(), y[idx.to(y.device)].clone()


@dataclass
class SyntheticSet:
    """Learnable synthetic data.

    Attributes:
        x: n×… learnable tensor (``requires_grad``).
        y: n hard labels (grouped by class).
        budgets: C per-class counts.
        soft_labels: optional n×C learnable label logits.
        lr: optional learnable scalar learning rate (trajectory methods).
    """

    x: nn.Parameter
    y: Tensor
    budgets: Tensor
    soft_labels: nn.Parameter | None = None
    lr: nn.Parameter | None = None

    @classmethod
    def create(
        cls,
        x0: Tensor,
        y: Tensor,
        budgets: Tensor,
        *,
        learn_soft_labels: bool = False,
        init_lr: float | None = None,
    ) -> SyntheticSet:
        soft = None
        if learn_soft_labels:
            soft = nn.Parameter(torch.nn.functional.one_hot(y, budgets.numel()).float().to(x0.device))
        lr = None if init_lr is None else nn.Parameter(torch.tensor(float(init_lr), device=x0.device))
        return cls(nn.Parameter(x0.detach().clone()), y.to(x0.device), budgets.cpu(), soft, lr)

    @property
    def offsets(self) -> Tensor:
        return class_offsets(self.budgets)

    def class_slice(self, c: int) -> slice:
        o = self.offsets
        return slice(int(o[c]), int(o[c + 1]))

    def parameters(self) -> list[nn.Parameter]:
        return [p for p in (self.x, self.soft_labels, self.lr) if p is not None]
