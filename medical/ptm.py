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
  (``max_start_epoch − 1 + expert_epochs``), so PTM needs no longer experts than MTT. Iteration ``i`` (from 0)
  is in stage ``⌊i · stages / iterations⌋``, so every stage runs, in order, for ``⌊iterations / stages⌋`` or one
  more iterations. Fewer iterations than stages is refused (sitting 26): with 3 and 5, stages 0, 1 and 3 ran and the
  last segment never reached its epoch, silently not the schedule above. A run given fewer engine ``steps`` than
  ``iterations`` runs the schedule's first part (its card records both counts).
* The student takes ``syn_steps`` steps in every stage (the learnable learning rate absorbs the longer
  segments; growing the steps with the segment would multiply the cost of the last stage).
* Overlap: every ``overlap_every`` iterations, the cosine similarity of the flattened (normalised) synthetic
  images of each class; an image whose cosine with an earlier image of its class exceeds the class's threshold
  is a near-duplicate. The threshold (``overlap_rule``, sitting 17):

  - ``"set"`` (default): the ``overlap_quantile`` (q = 0.99) quantile, over ``SET_SUBSETS`` = 1,000 random
    subsets of the class's real training images of the set's own size k (the class's IPC), of each subset's
    **largest** same-class cosine,

    .. math::
        t_c = \\max\\bigl(Q_q[\\max_{i<j \\in S} \\cos(x_i, x_j)]_{S \\subset X_c, |S| = k}, t^{pair}_c\\bigr),

    so that a set of k random **real** images of the class is flagged at a check with probability about 1 − q,
    whatever k. The subsets are drawn with a dedicated ``torch.Generator`` on the method's device, seeded with
    the run's seed (``torch.initial_seed()``, which the engine sets), so the main random stream is drawn exactly
    as before. The floor ``t_c^pair`` (the pair rule's threshold, still computed as before) means the set rule
    never flags a pair the pair rule would let pass: a run in which the pair rule re-initialised nothing is
    bit-for-bit the same run under the set rule. With k = 2 the two rules estimate the same quantile.
  - ``"pair"`` (the rule until sitting 17, kept so its entries stay reproducible): the q quantile of the cosine
    of single real same-class pairs (up to 256 images per class, drawn in ``setup`` on the main stream). Why it
    was replaced: a set of k images has k(k − 1)/2 pairs, so even k random real images get about
    (1 − q) · k(k − 1)/2 pairs flagged (0.45 at IPC 10, 12 at IPC 50): the per-pair rule re-initialises real
    diversity at larger IPC. Measured on PneumoniaMNIST and BreastMNIST (:func:`overlap_flag_rates`, 200 random
    real subsets per class, BENCHMARKS.md, sitting 17): the pair rule flags 30–42 % of random real sets of 10
    (0.37–0.55 images each) and every random real set of 50 (8.0–8.9 images); the set rule 0–2 %.

  Each flagged image (the later image of each pair) is reset to a real image of its class (its momentum cleared, its
  labels the real image's: for multi-label ChestMNIST the group is the first positive label, so the other labels of
  the new image can differ from those of the one it replaces) that is **not already in the set**: neither one of the
  rows the set was initialised from (``init_record``) nor one an earlier re-initialisation copied in (``reseeded``),
  and the images re-initialised at one check get distinct rows (:meth:`PTM.reinit_rows`). The draw is the one
  ``real_rows`` makes (one permutation of the class on the main stream); the first k rows of it are kept unless one is
  used, in which case the next unused rows of the same permutation replace it, so a run without such a collision is
  unchanged (before sitting 17 a re-initialised image could start as an exact copy of another image of the set). For
  the next ``retrain_iterations`` iterations only re-initialised images are updated (the rest are frozen), our reading
  of "retraining parts of the synthetic images"; with ``retrain_iterations=0`` all images keep training. With one
  image per class there is nothing to compare, and PTM is progressive matching alone. The artifact card's ``metrics``
  record the checks made, the images re-initialised, the highest same-class cosine seen, the rule and the thresholds
  (:meth:`PTM.diagnostics`), so a run shows whether mitigation fired.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from condensekit.core.config import check_field_types
from condensekit.core.registry import check_choice, check_int
from condensekit.core.vision.methods.base import register_image_method
from condensekit.core.vision.methods.mtt import MTT, MTTConfig

OVERLAP_RULES = ("set", "pair")
SET_SUBSETS = 1000  # random real subsets per class behind the "set" rule's threshold


@dataclass(frozen=True)
class PTMConfig(MTTConfig):
    """PTM's settings: MTT's (:class:`~condensekit.core.vision.methods.mtt.MTTConfig`) plus the progressive schedule
    (``stages`` equal parts of the iterations, each moving the segment's end further out) and the overlap mitigation
    (check every ``overlap_every`` iterations; near-duplicates by ``overlap_rule`` at ``overlap_quantile``). The
    module docstring gives what the paper fixes and what we chose."""

    stages: int = field(default=5, metadata={"help": "progressive stages (equal parts of the iterations)"})
    overlap_every: int = field(
        default=100, metadata={"help": "check for near-duplicate images every k iterations (0: never)"}
    )
    overlap_quantile: float = field(
        default=0.99,
        metadata={"help": "near-duplicate: cosine above this quantile of real same-class images (see overlap_rule)"},
    )
    overlap_rule: str = field(
        default="set",
        metadata={
            "help": "what the quantile is over: 'set' = the largest same-class cosine of random real subsets of the "
            "set's size (a random real set is flagged with probability about 1 - overlap_quantile at any IPC; never "
            "below the 'pair' threshold); 'pair' = single real same-class pairs (the rule before sitting 17: flags "
            "about (1 - q) k(k-1)/2 pairs of a set of k real images)"
        },
    )
    retrain_iterations: int = field(default=50, metadata={"help": "iterations only re-initialised images train"})

    def __post_init__(self) -> None:
        super().__post_init__()  # MTT's counts and learning rates
        check_field_types(self)  # numpy scalars stored as Python values (cards stay JSON); bool / Literal by kind
        check_int("overlap_every", self.overlap_every, 0)
        check_int("retrain_iterations", self.retrain_iterations, 0)
        check_int("stages", self.stages, 1)
        if self.iterations < self.stages:  # a stage is a share of the iterations: fewer than one each skips some
            raise ValueError(
                f"Invalid value {self.iterations!r} for argument iterations with stages {self.stages!r}: PTM gives "
                f"each stage an equal part of the iterations, so with fewer iterations than stages some stages never "
                f"run and the last segment never reaches max_start_epoch. Valid values are iterations >= stages "
                f"(here >= {self.stages}), or set stages <= iterations (here <= {self.iterations})"
            )
        if not 0 < self.overlap_quantile <= 1:
            raise ValueError(
                f"Invalid value {self.overlap_quantile!r} for argument overlap_quantile. Valid values are in (0, 1]"
            )
        check_choice("overlap_rule", self.overlap_rule, OVERLAP_RULES)


def pair_threshold(z: Tensor, q: float) -> Tensor:
    """The ``q`` quantile of the cosine over distinct pairs of the rows of ``z`` (unit rows, n × d); 1 when there is
    no pair. A 0-dim tensor on ``z``'s device."""
    iu = torch.triu_indices(len(z), len(z), 1, device=z.device)
    pairs = (z @ z.T)[iu[0], iu[1]]
    return pairs.quantile(q) if pairs.numel() else torch.ones((), device=z.device)


def subset_max_cosine(z: Tensor, k: int, subsets: int, generator: torch.Generator, chunk: int = 100) -> Tensor:
    """The largest cosine between two rows of each of ``subsets`` random ``k``-row subsets of ``z`` (unit rows; rows
    of a subset distinct), drawn with ``generator`` (on ``z``'s device), in chunks of ``chunk`` subsets."""
    n = z.shape[0]
    iu = torch.triu_indices(k, k, 1, device=z.device)
    out = []
    for start in range(0, subsets, chunk):
        m = min(chunk, subsets - start)
        idx = torch.rand(m, n, generator=generator, device=z.device).argsort(dim=1)[:, :k]
        zs = z[idx]
        out.append((zs @ zs.transpose(1, 2))[:, iu[0], iu[1]].amax(dim=1))
    return torch.cat(out)


def set_threshold(z: Tensor, k: int, q: float, generator: torch.Generator, subsets: int = SET_SUBSETS) -> Tensor:
    """The ``"set"`` rule's threshold for a set of ``k`` images of a class whose real images are the unit rows ``z``:
    the ``q`` quantile of :func:`subset_max_cosine` (before the pair floor PTM applies); 1 when ``k < 2``."""
    if k < 2 or z.shape[0] < 2:
        return torch.ones((), device=z.device)
    return subset_max_cosine(z, min(k, z.shape[0]), subsets, generator).quantile(q)


def later_duplicates(z: Tensor, threshold: Tensor | float) -> Tensor:
    """Rows of ``z`` (unit rows of one class's images) whose cosine with an earlier row exceeds ``threshold``
    (bool, n): the images overlap mitigation re-initialises."""
    n = z.shape[0]
    earlier = torch.ones(n, n, dtype=torch.bool, device=z.device).triu(diagonal=1)  # (i, j) with i < j
    # masked, not zeroed: a threshold below 0 (normalised images can be anti-correlated) must not count the zeros
    return ((z @ z.T > threshold) & earlier).any(dim=0)  # column j: similar to some earlier i < j


def overlap_flag_rates(
    x: Tensor, k: int, threshold: Tensor | float, subsets: int = 200, seed: int = 0
) -> dict[str, float]:
    """How often the threshold flags a set of ``k`` random **real** images of one class (``x``: that class's images):
    over ``subsets`` random subsets (a generator seeded with ``seed`` on ``x``'s device), the mean number of images
    flagged per subset (:func:`later_duplicates`) and the share of subsets with at least one flagged. The
    measurement behind the ``"set"`` rule (BENCHMARKS.md, sitting 17)."""
    z = F.normalize(x.flatten(1), dim=1)
    gen = torch.Generator(device=z.device).manual_seed(seed)
    counts = []
    for _ in range(subsets):
        idx = torch.randperm(z.shape[0], generator=gen, device=z.device)[:k]
        counts.append(later_duplicates(z[idx], threshold).sum())
    n = torch.stack(counts).float()
    return {"images_flagged_mean": float(n.mean()), "subsets_flagged_share": float((n > 0).float().mean())}


def stage_ends(config: PTMConfig) -> list[int]:
    """The expert epoch each stage's segment ends at (non-decreasing, first = ``expert_epochs``)."""
    if config.stages == 1:
        return [config.max_start_epoch - 1 + config.expert_epochs]
    span = config.max_start_epoch - 1
    return [round(config.expert_epochs + s * span / (config.stages - 1)) for s in range(config.stages)]


@register_image_method("ptm", PTMConfig, "PTM (2024): progressive trajectory matching + overlap mitigation")
class PTM(MTT):
    """Needs ``experts=``, as :class:`~condensekit.core.vision.methods.mtt.MTT` (whose opening of the buffer refuses
    one trained with another regulariser than the buffer ``expects``)."""

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
        self._until = 0  # retrain_until on the host: set with it (after_update), read back once from a checkpoint
        pair = {c: self._real_threshold(c) for c in self.classes}  # the main stream's draw, under either rule
        self.pair_thresholds = pair
        if self.config.overlap_rule == "pair":
            self.thresholds = pair
        else:  # subsets from a generator of their own, so the main stream is drawn exactly as under "pair"
            gen = torch.Generator(device=device).manual_seed(torch.initial_seed())
            self.thresholds = {c: torch.maximum(self._set_threshold(c, gen), pair[c]) for c in self.classes}
        # counters for the card: checks made, images re-initialised, the highest same-class cosine seen
        self.overlap_stats = torch.tensor([0.0, 0.0, -1.0], device=device)
        # the real training rows that re-initialisation copied into the set (for the card's seed record)
        self.reseeded = torch.zeros(self.x_real.shape[0], dtype=torch.bool, device=device)

    def _real_threshold(self, c: int) -> Tensor:
        """The ``"pair"`` rule's threshold of class ``c`` (up to 256 members, drawn on the main stream)."""
        members = self.real_members[c]
        sample = members[torch.randperm(members.numel(), device=self.device)[:256]]
        return pair_threshold(F.normalize(self.x_real[sample].flatten(1), dim=1), self.config.overlap_quantile)

    def _set_threshold(self, c: int, generator: torch.Generator) -> Tensor:
        """The ``"set"`` rule's threshold of class ``c`` for its ``budgets[c]`` images, before the pair floor."""
        z = F.normalize(self.x_real[self.real_members[c]].flatten(1), dim=1)
        return set_threshold(z, int(self.budgets[c]), self.config.overlap_quantile, generator)

    def stateful(self) -> dict:
        state = super().stateful() | {
            "retrain": self.retrain,
            "retrain_until": self.retrain_until,
            "overlap_stats": self.overlap_stats,
            "reseeded": self.reseeded,
        }
        # Multi-label: re-initialisation relabels rows (after_update), so the labels are state. A single-label row
        # keeps its class, so its labels never change and checkpoints written before this resume as they were.
        return state | {"y": self.y_syn} if self.data.multilabel else state

    def init_record(self) -> dict[str, Any]:
        """The base record plus ``reinit_train_indices``: the real training rows that overlap mitigation copied
        into the set after ``setup`` (sorted; empty when it re-initialised nothing). They seeded images too, so
        the membership audit's ``init`` game counts them as members."""
        return super().init_record() | {"reinit_train_indices": self.reseeded.nonzero().flatten().tolist()}

    def diagnostics(self) -> dict[str, Any]:
        checks, reinit, peak = (float(v) for v in self.overlap_stats)
        return super().diagnostics() | {
            "overlap_checks": checks, "overlap_reinit": reinit, "overlap_max_cosine": round(peak, 4),
            "overlap_rule": self.config.overlap_rule,
            "overlap_threshold": {str(c): round(float(t), 4) for c, t in self.thresholds.items()},
            "overlap_threshold_pair": {str(c): round(float(t), 4) for c, t in self.pair_thresholds.items()},
        }  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._until = int(self.retrain_until)  # the one host read of a resume

    def apply_update(self, step: int) -> None:
        # no device read per step: a window is only set (after_update) when images were re-initialised, and the
        # frozen rows are put back by a select over the whole set, not by boolean-mask indexing, which reads the
        # number of frozen rows back (a host sync on CUDA, two per step of a window); the same values
        keep = self.x_syn.detach().clone() if step < self._until else None
        super().apply_update(step)
        if keep is not None:
            with torch.no_grad():
                moving = self.retrain.view(-1, *([1] * (keep.dim() - 1)))
                self.x_syn.copy_(torch.where(moving, self.x_syn, keep))

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
            iu = torch.triu_indices(len(z), len(z), 1, device=self.device)
            peak = torch.maximum(peak, (z @ z.T)[iu[0], iu[1]].max())
            out[sl] = later_duplicates(z, self.thresholds[c])
        return out, peak

    def reinit_rows(self, c: int, n: int) -> Tensor:
        """``n`` real training rows of class ``c`` to re-initialise images with, none already in the set.

        The draw is :meth:`real_rows`'s (one ``randperm`` of the class's members on the main stream, same call and
        size); its first ``n`` rows are kept unless one is *used*: a row the set was initialised from (``setup``;
        not for ``init="noise"``) or one an earlier re-initialisation copied in (``reseeded``). A used row is
        replaced by the next unused row of the same permutation (a stable sort puts unused rows first in the
        draw's order), so the rows are distinct, unused while the class has unused rows left (then used ones
        follow, in the draw's order), and the same as before whenever no collision occurs."""
        perm = self.real_rows(c, self.real_members[c].numel())  # the whole permutation real_rows draws
        used = self.reseeded.clone()
        if self.init_kind != "noise":
            used[self.init_indices] = True
        order = torch.sort(used[perm].to(torch.uint8), stable=True).indices
        return perm[order[:n]]

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
                        picked = self.reinit_rows(c, cls_rows.numel())
                        self.x_syn[cls_rows] = self.x_real[picked]
                        self.y_syn[cls_rows] = self.y_real[picked]  # multi-label: the new image's own labels
                        self.reseeded[picked] = True
                if "momentum_buffer" in state and state["momentum_buffer"] is not None:
                    state["momentum_buffer"][rows] = 0
            self.retrain.copy_(dup)
            self.retrain_until.fill_(done + cfg.retrain_iterations)
            self._until = done + cfg.retrain_iterations
        return {"reinit": float(n_dup), "max_cosine": float(peak)}
