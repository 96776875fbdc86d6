r"""Membership-inference primitives shared by every audit game (images, node graphs).

* :func:`roc_metrics`: ROC AUC and the TPR at 0.1 % and 1 % FPR (`Carlini et al., "Membership Inference
  Attacks From First Principles", S&P 2022 <https://arxiv.org/abs/2112.03570>`_: low-FPR TPR is what matters).
* :func:`logit_confidence`: LiRA's statistic :math:`\phi = \log p_y - \log(1 - p_y)`, from the logits.
* :func:`lira_scores`: LiRA's per-example Gaussian test of the target's :math:`\phi` against the shadows'.
  **Online** (IN and OUT shadows): :math:`\log \mathcal{N}(\phi; \mu_{in}, \sigma_{in}^2) -
  \log \mathcal{N}(\phi; \mu_{out}, \sigma_{out}^2)`; **offline** (OUT only): :math:`(\phi - \mu_{out}) /
  \sigma_{out}`. Variances are per-example where a side has >= 2 shadows of that example, else the global
  variance of that side (the paper's advice for few shadows).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["lira_scores", "logit_confidence", "roc_metrics"]


def roc_metrics(member_scores: Tensor, nonmember_scores: Tensor) -> dict[str, float]:
    """AUC (Mann–Whitney, ties counted half) and the TPR at FPR ≤ 0.1 % and ≤ 1 % (higher score = member)."""
    s = torch.cat([member_scores, nonmember_scores]).double()
    is_member = torch.cat([torch.ones_like(member_scores), torch.zeros_like(nonmember_scores)]).bool()
    order = torch.argsort(s, descending=True, stable=True)
    s, is_member = s[order], is_member[order]
    # group ties: thresholds only between distinct scores
    last = torch.ones_like(s, dtype=torch.bool)
    last[:-1] = s[1:] != s[:-1]
    tp = torch.cumsum(is_member.double(), 0)[last] / max(1, int(is_member.sum()))
    fp = torch.cumsum((~is_member).double(), 0)[last] / max(1, int((~is_member).sum()))
    tpr = torch.cat([tp.new_zeros(1), tp])
    fpr = torch.cat([fp.new_zeros(1), fp])
    auc = float(torch.trapezoid(tpr, fpr))

    def tpr_at(limit: float) -> float:
        ok = fpr <= limit + 1e-12
        return float(tpr[ok].max())

    return {"auc": auc, "tpr_at_01fpr": tpr_at(0.001), "tpr_at_1fpr": tpr_at(0.01)}


def logit_confidence(logits: Tensor, y: Tensor) -> Tensor:
    """:math:`\\log p_y - \\log(1 - p_y)` per row of ``logits`` (n×K) for labels ``y`` (n), computed stably."""
    correct = logits.gather(1, y.view(-1, 1)).squeeze(1)
    others = logits.scatter(1, y.view(-1, 1), float("-inf")).logsumexp(dim=1)
    return correct - others


def _normal_logpdf(x: Tensor, mu: Tensor, sd: Tensor) -> Tensor:
    return -0.5 * ((x - mu) / sd).pow(2) - sd.log() - 0.5 * math.log(2 * math.pi)


def _fit(conf: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Per-example mean and standard deviation of ``conf`` (shadows × n) over the shadows where ``mask``."""
    cnt = mask.sum(0).clamp_min(1)
    mu = (conf * mask).sum(0) / cnt
    var = ((conf - mu).pow(2) * mask).sum(0) / (cnt - 1).clamp_min(1)
    global_sd = conf[mask].std() if int(mask.sum()) > 1 else conf.std()
    per_ok = mask.sum(0) >= 2
    return mu, torch.where(per_ok, var.sqrt(), global_sd).clamp_min(1e-3)


def lira_scores(phi: Tensor, shadow_conf: Tensor, inside: Tensor, *, online: bool = True) -> Tensor:
    """LiRA membership scores (higher = member) of the target's confidences ``phi`` (n), given the shadows'
    confidences ``shadow_conf`` (S×n) and ``inside`` (S×n bool: candidate j was in shadow s's training data).

    ``online`` needs IN and OUT shadows; offline uses the OUT ones only."""
    if shadow_conf.shape != inside.shape or shadow_conf.shape[-1] != phi.shape[-1]:
        raise ValueError(
            f"shadow_conf {tuple(shadow_conf.shape)} and inside {tuple(inside.shape)} must both be shadows × "
            f"{phi.shape[-1]} candidates"
        )
    mu_out, sd_out = _fit(shadow_conf, ~inside)
    if not online:
        return (phi - mu_out) / sd_out
    mu_in, sd_in = _fit(shadow_conf, inside)
    return _normal_logpdf(phi, mu_in, sd_in) - _normal_logpdf(phi, mu_out, sd_out)
