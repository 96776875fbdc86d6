"""PTM: progressive trajectory matching with dynamic overlap mitigation (Yu et al., "Progressive trajectory
matching for medical dataset distillation", 2024, https://arxiv.org/abs/2403.13469).

PTM is MTT (:class:`~condensekit.core.vision.methods.mtt.MTT`, whose loop, student, loss and optimisers it
inherits unchanged) with two changes, both from the paper:

1. **Progressive matching.** MTT matches segments that start at a random expert epoch, which the paper
   finds unstable on medical images. PTM starts every segment at the beginning of the expert trajectory
   and moves the segment's end outward in stages, easy to hard:

   .. math::
       \\mathcal{L}_s = \\frac{\\lVert \\hat\\theta_{0 \\to N} - \\theta^*_{e_s} \\rVert^2}
                             {\\lVert \\theta^*_0 - \\theta^*_{e_s} \\rVert^2},
       \\qquad e_0 < e_1 < \\dots < e_{S-1}.

2. **Dynamic overlap mitigation.** The added stability lets synthetic images of one class collapse onto
   each other. Periodically, near-duplicate synthetic images are found, one of each pair is re-initialised
   and then retrained.

What the paper fixes: segments start at epoch 0; their end moves outward in stages; near-duplicates are
eliminated and those images retrained. What we chose (the paper's text available to us gives no values; the
paper's code was not released), each a config field:

* ``stages`` = 5 equal parts of the iterations; stage ``s`` ends at
  ``e_s = round(expert_epochs + s · (max_start_epoch − 1) / (stages − 1))``: the first stage is MTT's
  segment length from epoch 0, the last reaches the farthest epoch MTT itself matches
  (``max_start_epoch − 1 + expert_epochs``), so PTM needs no longer experts than MTT.
* The student takes ``syn_steps`` steps in every stage (the learnable learning rate absorbs the longer
  segments; growing the steps with the segment would multiply the cost of the last stage).
* Overlap: every ``overlap_every`` iterations, the cosine similarity of the flattened (normalised) synthetic
  images of each class; a pair above the ``overlap_quantile`` quantile (0.99) of the same similarity among
  real images of that class (computed once in ``setup`` from up to 256 images per class) is a near-duplicate.
  The later image of each pair is reset to a random real image of its class (its momentum cleared) and, for
  the next ``retrain_iterations`` iterations, only re-initialised images are updated (the rest are frozen),
  our reading of "retraining parts of the synthetic images"; with ``retrain_iterations=0`` all images keep
  training. With one image per class there is nothing to compare, and PTM is progressive matching alone.
  The artifact card's ``metrics`` record the checks made, the images re-initialised, the highest same-class
  cosine seen and the thresholds (:meth:`PTM.diagnostics`), so a run shows whether mitigation fired.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from condensekit.core.vision.methods.base import register_image_method
from condensekit.core.vision.methods.mtt import MTT, MTTConfig


@dataclass(frozen=True)
class PTMConfig(MTTConfig):
    stages: int = field(default=5, metadata={"help": "progressive stages (equal parts of the iterations)"})
    overlap_every: int = field(
        default=100, metadata={"help": "check for near-duplicate images every k iterations (0: never)"}
    )
    overlap_quantile: float = field(
        default=0.99, metadata={"help": "near-duplicate: cosine above this quantile of real same-class pairs"}
    )
    retrain_iterations: int = field(default=50, metadata={"help": "iterations only re-initialised images train"})

    def __post_init__(self) -> None:
        if self.stages < 1:
            raise ValueError(f"Invalid value {self.stages!r} for argument stages. Valid values are >= 1")
        if not 0 < self.overlap_quantile <= 1:
            raise ValueError(
                f"Invalid value {self.overlap_quantile!r} for argument overlap_quantile. Valid values are in (0, 1]"
            )


def stage_ends(config: PTMConfig) -> list[int]:
    """The expert epoch each stage's segment ends at (non-decreasing, first = ``expert_epochs``)."""
    if config.stages == 1:
        return [config.max_start_epoch - 1 + config.expert_epochs]
    span = config.max_start_epoch - 1
    return [round(config.expert_epochs + s * span / (config.stages - 1)) for s in range(config.stages)]


@register_image_method("ptm", PTMConfig, "PTM (2024): progressive trajectory matching + overlap mitigation")
class PTM(MTT):
    config: PTMConfig

    def segment(self, step: int) -> tuple[int, int]:
        cfg = self.config
        stage = min(step * cfg.stages // max(cfg.iterations, 1), cfg.stages - 1)
        return 0, self.ends[stage]

    def setup(self, device: torch.device) -> None:
        self.ends = stage_ends(self.config)
        super().setup(device)
        n = self.x_syn.shape[0]
        self.retrain = torch.zeros(n, dtype=torch.bool, device=device)
        self.retrain_until = torch.zeros((), dtype=torch.long, device=device)
        self.thresholds = {c: self._real_threshold(c) for c in self.classes}
        # counters for the card: checks made, images re-initialised, the highest same-class cosine seen
        self.overlap_stats = torch.tensor([0.0, 0.0, -1.0], device=device)
        # the real training rows that re-initialisation copied into the set (for the card's seed record)
        self.reseeded = torch.zeros(self.x_real.shape[0], dtype=torch.bool, device=device)

    def _real_threshold(self, c: int) -> float:
        members = self.real_members[c]
        sample = members[torch.randperm(members.numel(), device=self.device)[:256]]
        z = F.normalize(self.x_real[sample].flatten(1), dim=1)
        sims = z @ z.T
        iu = torch.triu_indices(len(z), len(z), 1, device=self.device)
        pairs = sims[iu[0], iu[1]]
        return float(pairs.quantile(self.config.overlap_quantile)) if pairs.numel() else 1.0

    def stateful(self) -> dict:
        return super().stateful() | {
            "retrain": self.retrain,
            "retrain_until": self.retrain_until,
            "overlap_stats": self.overlap_stats,
            "reseeded": self.reseeded,
        }

    def init_record(self) -> dict[str, Any]:
        """The base record plus ``reinit_train_indices``: the real training rows that overlap mitigation copied
        into the set after ``setup`` (sorted; empty when it re-initialised nothing). They seeded images too, so
        the membership audit's ``init`` game counts them as members."""
        return super().init_record() | {"reinit_train_indices": self.reseeded.nonzero().flatten().tolist()}

    def diagnostics(self) -> dict[str, Any]:
        checks, reinit, peak = (float(v) for v in self.overlap_stats)
        return super().diagnostics() | {
            "overlap_checks": checks, "overlap_reinit": reinit, "overlap_max_cosine": round(peak, 4),
            "overlap_threshold": {str(c): round(t, 4) for c, t in self.thresholds.items()},
        }  # fmt: skip

    def apply_update(self, step: int) -> None:
        frozen = None
        if step < int(self.retrain_until) and bool(self.retrain.any()):
            frozen = ~self.retrain
            keep = self.x_syn.detach()[frozen].clone()
        super().apply_update(step)
        if frozen is not None:
            with torch.no_grad():
                self.x_syn[frozen] = keep

    def duplicates(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows of the synthetic set that nearly duplicate an earlier row of their class (bool, n), and the
        highest same-class cosine similarity found (-1 with one image per class)."""
        out = torch.zeros(self.x_syn.shape[0], dtype=torch.bool, device=self.device)
        peak = torch.full((), -1.0, device=self.device)
        for c in self.classes:
            sl = self.syn_slices[c]
            z = F.normalize(self.x_syn.detach()[sl].flatten(1), dim=1)
            if z.shape[0] < 2:
                continue
            sims = (z @ z.T).triu(diagonal=1)
            iu = torch.triu_indices(len(z), len(z), 1, device=self.device)
            peak = torch.maximum(peak, sims[iu[0], iu[1]].max())
            out[sl] = (sims > self.thresholds[c]).any(dim=0)  # column j: similar to some earlier i < j
        return out, peak

    def after_update(self, step: int) -> dict[str, float]:
        cfg = self.config
        done = step + 1
        if not cfg.overlap_every or done % cfg.overlap_every or done >= cfg.iterations:
            return {}
        dup, peak = self.duplicates()
        n_dup = int(dup.sum())
        self.overlap_stats += torch.stack([torch.ones_like(peak), dup.sum().to(peak.dtype), torch.zeros_like(peak)])
        self.overlap_stats[2] = torch.maximum(self.overlap_stats[2], peak)
        if n_dup:
            rows = dup.nonzero(as_tuple=True)[0]
            state = self.opt_img.state.get(self.x_syn, {})
            with torch.no_grad():
                for c in self.classes:
                    sl = self.syn_slices[c]
                    cls_rows = rows[(rows >= sl.start) & (rows < sl.stop)]
                    if cls_rows.numel():
                        picked = self.real_rows(c, cls_rows.numel())
                        self.x_syn[cls_rows] = self.x_real[picked]
                        self.reseeded[picked] = True
                if "momentum_buffer" in state and state["momentum_buffer"] is not None:
                    state["momentum_buffer"][rows] = 0
            self.retrain.copy_(dup)
            self.retrain_until.fill_(done + cfg.retrain_iterations)
        return {"reinit": float(n_dup), "max_cosine": float(peak)}
