"""Per-class sample selection: random, herding and k-center.

These pick real samples. They serve as coreset baselines (Welling, ICML 2009 herding; Sener &
Savarese, ICLR 2018 k-center) and as initialisations of synthetic sets. All work on an embedding
matrix ``emb`` (N×d) and the class labels of those rows; the per-class budgets come from
:func:`condensekit.core.synthetic.class_budgets`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from condensekit.core.registry import Registry

Selector = Callable[[Tensor, int, torch.Generator | None], Tensor]
SELECTORS: Registry[Selector] = Registry("selection method")


def _check(emb: Tensor, k: int) -> None:
    if emb.dim() != 2:
        raise ValueError(f"emb must be 2-D (N×d), got shape {tuple(emb.shape)}")
    if not 0 <= k <= emb.shape[0]:
        raise ValueError(f"cannot select k={k} of {emb.shape[0]} samples")


@SELECTORS.register("random")
def select_random(emb: Tensor, k: int, generator: torch.Generator | None = None) -> Tensor:
    """``k`` distinct row indices drawn uniformly at random."""
    _check(emb, k)
    return torch.randperm(emb.shape[0], generator=generator, device="cpu")[:k].to(emb.device)


@SELECTORS.register("herding")
def select_herding(emb: Tensor, k: int, generator: torch.Generator | None = None) -> Tensor:
    """Herding (Welling 2009; Rebuffi et al. iCaRL 2017): greedily pick the sample that keeps the
    running mean of the selection closest to the class mean.

    .. math::
        i_t = \\arg\\min_i \\Big\\| \\mu - \\frac{1}{t}\\big(x_i + \\sum_{s<t} x_{i_s}\\big) \\Big\\|

    Each of the ``k`` greedy steps is one vectorised distance computation over all candidates.
    """
    _check(emb, k)
    # Indices stay on the device (no host round trip per pick): one sync at the end, not k.
    mu = emb.mean(0)
    chosen: list[Tensor] = []
    taken = torch.zeros(emb.shape[0], dtype=torch.bool, device=emb.device)
    running = torch.zeros_like(mu)
    for t in range(1, k + 1):
        cand = (running.unsqueeze(0) + emb) / t
        dist = (cand - mu).pow(2).sum(1).masked_fill(taken, float("inf"))
        i = dist.argmin()
        chosen.append(i)
        taken[i] = True
        running = running + emb[i]
    return _stack(chosen, emb.device)


def _stack(chosen: list[Tensor], device: torch.device) -> Tensor:
    return torch.stack(chosen).long() if chosen else torch.empty(0, dtype=torch.long, device=device)


@SELECTORS.register("kcenter")
def select_kcenter(emb: Tensor, k: int, generator: torch.Generator | None = None) -> Tensor:
    """Greedy k-center (Sener & Savarese 2018): start from the sample nearest the class mean (as
    GCond's coreset code does), then repeatedly add the sample farthest from the chosen set.

    .. math::
        i_t = \\arg\\max_i \\min_{s<t} \\| x_i - x_{i_s} \\|
    """
    _check(emb, k)
    if k == 0:
        return torch.empty(0, dtype=torch.long, device=emb.device)
    first = (emb - emb.mean(0)).pow(2).sum(1).argmin()
    chosen = [first]
    # a chosen sample is never picked again: with duplicate rows every distance can reach 0, and argmax's first
    # index (often an already chosen one) repeated a sample; -1 sorts below every distance
    mind = (emb - emb[first]).pow(2).sum(1).index_fill(0, first.reshape(1), -1.0)
    for _ in range(1, k):
        i = mind.argmax()
        chosen.append(i)
        mind = torch.minimum(mind, (emb - emb[i]).pow(2).sum(1)).index_fill(0, i.reshape(1), -1.0)
    return _stack(chosen, emb.device)


def select_per_class(
    method: str,
    emb: Tensor,
    labels: Tensor,
    budgets: Tensor,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Indices into ``emb`` with ``budgets[c]`` rows of each class ``c``, grouped by class.

    Args:
        method: ``"random"``, ``"herding"`` or ``"kcenter"``.
        emb: N×d embeddings (features or a trained model's hidden representations).
        labels: N class labels.
        budgets: C counts per class.
    """
    select = SELECTORS.get(method)
    out = []
    for c in range(budgets.numel()):
        n = int(budgets[c])
        if n == 0:
            continue
        members = (labels == c).nonzero(as_tuple=True)[0]
        if members.numel() < n:
            raise ValueError(f"class {c} has {members.numel()} samples, fewer than its budget {n}")
        out.append(members[select(emb[members], n, generator)])
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long, device=emb.device)
