r"""GUARD: adversarially robust condensation by curvature regularisation, and the curvature plug-in.

`"Towards Adversarially Robust Dataset Distillation by Curvature Regularization"
<https://arxiv.org/abs/2403.10045>`_ (Xue et al., AAAI 2025). GUARD trains the network whose knowledge is
distilled (its teacher; for trajectory matching, the experts) with the finite-difference curvature term of
CURE added to the loss,

.. math::
    \mathcal{L} = \ell(x, y) + \lambda\,\frac1N\sum_i \bigl\lVert \nabla_{x_i}\bigl[\ell(x + h z) - \ell(x)\bigr]
    \bigr\rVert_2, \qquad z_i = \frac{\nabla_{x_i}\ell(x)}{\lVert \nabla_{x_i}\ell(x) \rVert}

(:class:`~condensekit.core.objectives.curvature.CurvatureRegularizer`; the reference: λ = 100, h = 3, the
term in eval mode, gradients of the batch-mean loss), then runs the base condensation unchanged on that
teacher (SRe2L in the reference). Here the base is any image method of the suite that learns from
experts (MTT, PTM): its experts are trained with the curvature term (:func:`curvature_experts`), then the
method runs on them through the shared engine.

The **plug-in** option (not in GUARD) adds the same term to a method's own per-step loss through the
methods' ``regularizer`` hook (DM, DC, MTT, PTM): the curvature of the loss at the synthetic images under
the method's network, weighted by λ, so the images themselves are pushed towards flat regions.

Deviations: the reference base is SRe2L on ImageNet-scale data with ResNet-18 teachers; here the base
is MTT/PTM (the issue's CLI) with the suite's experts. With ``reduction="mean"`` (the reference) the term
scales as 1/batch, so λ = 100 at batch 256 weighs about as much as λ ≈ 0.4 on per-sample gradients.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from condensekit.core.atomic import write_json
from condensekit.core.objectives.curvature import CurvatureRegularizer
from condensekit.core.vision.experts import ExpertBuffer, ExpertConfig, generate_experts
from condensekit.core.vision.splits import ImageSplits

__all__ = ["GuardConfig", "curvature_experts", "MARKER"]

MARKER = "curvature.json"


@dataclass(frozen=True)
class GuardConfig:
    """GUARD's settings (defaults: the reference's CIFAR values)."""

    curvature: float = field(default=100.0, metadata={"help": "λ of the curvature term; 0 disables it"})
    h: float = field(default=3.0, metadata={"help": "finite-difference step h > 0 (normalised pixel units)"})
    teacher: bool = field(default=True, metadata={"help": "train the experts / teacher with the term (GUARD)"})
    plugin: bool = field(default=False, metadata={"help": "also add the term to the method's per-step loss"})

    def __post_init__(self) -> None:
        if not self.curvature >= 0:
            raise ValueError(f"Invalid value {self.curvature!r} for argument curvature. Valid values are >= 0")
        self.regularizer()  # validates h

    @property
    def enabled(self) -> bool:
        return self.curvature > 0 and (self.teacher or self.plugin)

    def regularizer(self) -> CurvatureRegularizer:
        return CurvatureRegularizer(lam=self.curvature, h=self.h)

    def describe(self) -> dict[str, Any]:
        return asdict(self) | {"reduction": "mean", "eval_mode": True}


def _teacher_record(guard: GuardConfig | None) -> dict[str, Any]:
    if guard is None or not (guard.teacher and guard.curvature > 0):
        return {"curvature": None}
    return {"curvature": {"lam": guard.curvature, "h": guard.h, "reduction": "mean", "eval_mode": True}}


def curvature_experts(
    data: ImageSplits,
    folder: str | os.PathLike[str],
    config: ExpertConfig,
    guard: GuardConfig | None,
    *,
    workers: int = 1,
) -> ExpertBuffer:
    """Expert trajectories for ``data``, trained with GUARD's curvature term when ``guard`` asks for it.

    The buffer's own card does not know the regulariser, so ``folder/curvature.json`` records it and a
    folder made with another curvature setting (or none) is refused rather than mixed.
    """
    want = _teacher_record(guard)
    marker = Path(folder) / MARKER
    if marker.exists():
        have = json.loads(marker.read_text())
        if have != want:
            raise ValueError(
                f"expert buffer {str(folder)!r} was trained with {have}, this run wants {want}; "
                "pass another experts folder or delete it"
            )
    elif Path(folder, "card.json").exists():
        raise ValueError(
            f"expert buffer {str(folder)!r} has no {MARKER}: its curvature setting is unknown; "
            "pass another experts folder or delete it"
        )
    else:
        write_json(marker, want)
    reg = guard.regularizer() if (guard is not None and guard.teacher and guard.curvature > 0) else None
    return generate_experts(data, folder, config, workers=workers, regularizer=reg)
