"""Adversarial attacks on image classifiers, through `torchattacks <https://github.com/Harry24k/adversarial-attacks-pytorch>`_.

Nothing here re-implements an attack: each registered name builds a torchattacks attack. What this
module adds is what an audit needs around them:

* pixel space: torchattacks perturbs images in [0, 1]; our images are normalised, so the model is
  wrapped with the normalisation (:class:`PixelSpace`) and the test images are denormalised, attacked
  and scored in pixel space, where ε means what the literature means (``8/255``);
* an ε grid parsed from the command line (``"1/255,2/255"``; :func:`parse_eps`), checked against the
  data range: (0, 1], or, for a grid of L2 attacks only, up to the images' L2 diameter √(C·H·W);
* a fixed, stratified test subset (:func:`stratified_subset`, 1,000 images by default);
* :func:`robust_accuracy`: the share of images classified correctly both clean and attacked, in %; by
  default the ε grid is attacked as a cascade (each ε attacks only the survivors of the smaller one, so
  accuracy falls with ε by construction; ``AttackConfig.cascade_eps``);
* speed that leaves every attack's computation as it is (float rounding aside): the attacked model runs
  channels-last, with eval-mode batch norm folded into its convolutions and at most
  ``AttackConfig.forward_chunk`` images per forward pass, and its gradient-free forwards go through a frozen
  TorchScript copy (``AttackConfig.inference_jit``; :meth:`PixelSpace.for_attack`).

Attacks (``ATTACKS``; ε is measured in the attack's norm):

========== ===== ==================================================================================
name       norm  torchattacks
========== ===== ==================================================================================
fgsm       L∞    ``FGSM(eps)``
pgd        L∞    ``PGD(eps, alpha=2.5·eps/steps, steps=20, random_start=True)`` (Madry et al.'s step rule; a fixed
                 step such as DD-RobustBench's 2/255: ``AttackConfig.pgd_step``)
pgdl2      L2    ``PGDL2(eps, alpha=2.5·eps/steps, steps=20, random_start=True)``
cw         L2    ``CW(c, kappa=0, steps=1000, lr=0.01)`` at each of 5 values of c per image, from c = 1, by Carlini &
                 Wagner's binary search, with their margin f (:class:`CarliniWagnerL2`: torchattacks 3.5.1 has no
                 search over c, and its f is wrong for negative logits; ``AttackConfig.cw_search_steps=1`` with
                 ``cw_steps=50`` is torchattacks' own CW): a minimum-norm attack, run once per model; at ε an image
                 counts as broken when its CW example is misclassified *and* within ε in L2
autoattack L∞    ``AutoAttack(version="standard")`` = APGD-CE, APGD-T, FAB-T, Square (5,000 queries); its APGD and
                 FAB stages run Croce & Hein's 100 iterations, not torchattacks' 10 (``AttackConfig.autoattack_steps``;
                 ``benchmarks/robust.py`` keeps the recorded rows' 10, entries at other counts get ``-aaN``); with
                 fewer than 4 classes (APGD-T's DLR loss needs 4) torchattacks' own APGD-CE, FAB and Square are
                 chained the same way (``MultiAttack``): a deviation, recorded in the result
========== ===== ==================================================================================
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import torch
import torchattacks
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval
from torchattacks.attack import Attack

from condensekit.core.config import check_field_types
from condensekit.core.modes import eval_mode
from condensekit.core.registry import Registry, check_int, check_positive

__all__ = [
    "ATTACKS",
    "AttackConfig",
    "AttackSpec",
    "CarliniWagnerL2",
    "PixelSpace",
    "adversarial",
    "autoattack_description",
    "check_l2_eps",
    "correct_in_batches",
    "exact_fraction",
    "fold_batchnorm",
    "l2_only",
    "name_list",
    "parse_attacks",
    "parse_eps",
    "parse_eps_list",
    "robust_accuracy",
    "stratified_subset",
]


@dataclass(frozen=True)
class AttackConfig:
    """Hyper-parameters of the attacks (defaults: torchattacks', Madry et al.'s PGD step rule, Croce & Hein's
    standard AutoAttack at 100 APGD / FAB iterations, and a C&W L2 that searches c).

    The PGD step of the issue's references: DD-RobustBench a fixed 2/255 (``pgd_step="2/255"``); GUARD's
    evaluation PGD-100 with step 0.25/255 at ε = 1/255 (``pgd_steps=100, pgd_step="0.25/255"``). The default,
    2.5·ε/20, is neither: every recorded row ran it.

    C&W: Carlini & Wagner's reference (``carlini/nn_robust_attacks``, ``l2_attack.py``) runs Adam at 0.01 for up to
    10,000 steps (1,000 in its ``test_attack.py``) per value of c, 9 values of c from 10⁻³ by binary search, stopping
    a value early when the loss stalls; torchattacks runs 50 steps at the one c = 1; GUARD's evaluation
    (``yumozi/GUARD``, ``train/evaluate.py``) torchattacks' CW at c = 10⁻⁴ (``cw_c=1e-4, cw_steps=50,
    cw_search_steps=1``); DD-RobustBench's "CW" (``attack_utils.py``) is L∞ PGD on the C&W margin, not this attack.
    The default, 1,000 steps of 0.01 for each of 5 values of c from 1, is where more budget moved robust accuracy by
    one image of 200 at most on two cached SRe2L teachers, MNIST's plain one among them (L2 ε 0.5-3; 9 values of c
    instead: MNIST at ε 2 11.5 → 11.0 %, at 1.9× the CPU; scratch runs of sitting 21, not recorded in any results
    JSON). There torchattacks' budget left 94.5 % of MNIST robust at ε 2 where the default finds 11.5 %, and
    at the one c = 1 no budget (up to 5,000 steps) broke 30 of 196 images; on PneumoniaMNIST its 50 steps (cut at 15
    by torchattacks' early stop) left 22.5 % robust at ε 1 where the default finds 1.0 %. It costs about 0.66 CPU s
    per MNIST image for ``convnet_bn_small`` on one thread (torchattacks' budget: 0.007)."""

    pgd_steps: int = field(default=20, metadata={"help": "PGD / PGD-L2 iterations"})
    pgd_step_ratio: float = field(default=2.5, metadata={"help": "PGD step size = ratio · ε / steps (Madry et al.)"})
    pgd_step: str = field(
        default="",
        metadata={"help": "PGD / PGD-L2 step size at every ε, as written (2/255: DD-RobustBench's), in the attack's "
                          "norm; empty: pgd_step_ratio · ε / pgd_steps"},
    )  # fmt: skip
    cw_c: float = field(
        default=1.0,
        metadata={"help": "C&W trade-off constant c: each image's first c of the search (Carlini & Wagner's "
                          "reference starts at 1e-3), or the one c with cw_search_steps 1 (GUARD's evaluation: 1e-4)"},
    )  # fmt: skip
    cw_steps: int = field(
        default=1000,
        metadata={"help": "C&W Adam steps per value of c (the reference's test script: 1000; torchattacks' "
                          "default: 50)"},
    )  # fmt: skip
    cw_lr: float = field(default=0.01, metadata={"help": "C&W Adam learning rate (the reference's and torchattacks')"})
    cw_search_steps: int = field(
        default=5,
        metadata={"help": "C&W values of c tried per image, each set by the last's result (Carlini & Wagner's "
                          "binary search; the reference runs 9 from 1e-3); 1: torchattacks' CW at the one c"},
    )  # fmt: skip
    autoattack_version: str = field(default="standard", metadata={"help": "AutoAttack version (standard)"})
    autoattack_steps: int = field(
        default=100,
        metadata={"help": "iterations of AutoAttack's APGD-CE, APGD-T and FAB stages: Croce & Hein's standard 100 "
                          "(torchattacks' own default is 10, which benchmarks/robust.py keeps for its recorded rows)"},
    )  # fmt: skip
    autoattack_queries: int = field(
        default=5000,
        metadata={"help": "queries of AutoAttack's Square stage: Croce & Hein's standard 5,000; fewer only for a quick "
                          "look (it is then not standard AutoAttack, and the audit records the count)"},
    )  # fmt: skip
    batch_size: int = field(default=500, metadata={"help": "images attacked at once"})
    channels_last: bool = field(
        default=True,
        metadata={"help": "run the attacked model in channels-last memory format: the same function (float "
                          "rounding aside), a quarter less CPU per Square query of a ConvNet"},
    )  # fmt: skip
    fold_bn: bool = field(
        default=True,
        metadata={"help": "fold each eval-mode batch norm into the convolution before it, in a frozen copy of the "
                          "attacked model: the same function (float rounding aside), one pass less per block"},
    )  # fmt: skip
    forward_chunk: int = field(
        default=64,
        metadata={"help": "images per forward pass of the attacked model (0: all at once); each image's output "
                          "is unchanged, and a chunk's activations stay in cache"},
    )  # fmt: skip
    inference_jit: bool = field(
        default=True,
        metadata={"help": "forwards that need no gradient (grad mode off: Square's queries, the attacks' checks) run "
                          "a TorchScript copy of the attacked model, traced, frozen and optimised for inference "
                          "(oneDNN convolutions with prepacked weights), on CPU; with grad mode on (APGD, FAB, PGD) "
                          "it stays eager. The same function up to float rounding; for a trained convnet_bn_small on "
                          "one thread, 27 % less CPU per Square query (entry n430-teacher-jit-loaded); the full "
                          "PneumoniaMNIST audit at AutoAttack-100 10 % less CPU, Square 15 % (BENCHMARKS.md)"},
    )  # fmt: skip
    cascade_eps: bool = field(
        default=True,
        metadata={"help": "attack at each ε only the images that survived the next smaller ε (an image broken "
                          "there is broken at every larger ε); false: every ε attacks every image afresh"},
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_field_types(self)  # fold_bn="yes" was truthy
        counts = ("pgd_steps", "cw_steps", "cw_search_steps", "batch_size", "autoattack_steps", "autoattack_queries")
        for name in counts:
            check_int(name, getattr(self, name), 1)
        check_int("forward_chunk", self.forward_chunk, 0)  # 0: no chunks
        for name in ("pgd_step_ratio", "cw_c", "cw_lr"):  # an infinite step or constant is refused too
            check_positive(name, getattr(self, name))
        if self.autoattack_version not in ("standard", "plus", "rand"):
            raise ValueError(
                f"Unknown value {self.autoattack_version!r} for argument autoattack_version. "
                "Valid values are {plus, rand, standard}"
            )
        if self.pgd_step != "":
            self.pgd_alpha(1.0)  # refused here, by name, not at the first attack

    def pgd_alpha(self, eps: float) -> float:
        """PGD's (and PGD-L2's) step at ``eps``: ``pgd_step`` when given, else ``pgd_step_ratio · eps / pgd_steps``."""
        if self.pgd_step == "":
            return self.pgd_step_ratio * eps / self.pgd_steps
        try:
            value = float(exact_fraction(str(self.pgd_step)))
        except (ValueError, ZeroDivisionError):
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise ValueError(
                f"Invalid value {self.pgd_step!r} for argument pgd_step. Valid values are positive numbers or "
                "fractions like 2/255, or empty (the step pgd_step_ratio · ε / pgd_steps)"
            )
        return value


Builder = Callable[[nn.Module, float, int, int, AttackConfig], Attack]


@dataclass(frozen=True)
class AttackSpec:
    """A registered attack: its norm, whether it is a minimum-norm attack run once, and its builder."""

    name: str
    norm: str
    build: Builder
    description: str
    minimum_norm: bool = False


class CarliniWagnerL2(torchattacks.CW):
    r"""torchattacks' ``CW`` with Carlini & Wagner's margin :math:`f(x') = \max(Z_y - \max_{i \ne y} Z_i, -\kappa)`.

    torchattacks 3.5.1 takes :math:`Z_y` as ``max(onehot · Z)`` and :math:`\max_{i \ne y} Z_i` as ``max((1 - onehot)
    · Z)``: the masked entries are 0, so where the logits are negative either side reads 0 instead of the logit
    (`issue 184 <https://github.com/Harry24k/adversarial-attacks-pytorch/issues/184>`_, open; its fix, pull 168,
    unmerged). A model whose logits are all negative then gets f = 0 and no gradient: CW returned every image
    unchanged, and counted it robust at every ε. Here the true logit is gathered and the others' maximum taken
    with the true class masked to -inf (the reference's ``- 1e4 · onehot``, exactly).

    The change of variables :math:`x' = \tfrac12(\tanh w + 1)` starts from :math:`w_0 = \operatorname{atanh}((2x -
    1)(1 - 10^{-6}))`, as the reference does (``arctanh((imgs - boxplus) / boxmul * 0.999999)``): torchattacks
    takes :math:`\operatorname{atanh}(2x - 1)`, which is :math:`\mp\infty` for a pixel at exactly 0 or 1, where
    tanh's gradient is 0, so Adam never moved it and the attack could not touch the black background of an MNIST
    digit (or a saturated pixel) at any budget. Now such a pixel starts at :math:`|w_0| \approx 7.25`, 5·10⁻⁷ inside
    the range. It moves slowly there (Adam moves w about ``lr`` per step; at torchattacks' 50 steps of 0.01 it stays
    within ~10⁻⁶ of the edge): the reference's budget is 10,000 steps, the audit's default 1,000
    (:class:`AttackConfig`).

    ``search_steps`` > 1 runs Carlini & Wagner's search over c (the reference's ``BINARY_SEARCH_STEPS``; torchattacks
    has none): each image gets its own constant, starting at ``c``; a round is torchattacks' attack with that
    per-image c (each round restarts from the image, with a fresh Adam); after it, an image the round broke gets
    c ← (lower + upper)/2 with upper = c, one it did not lower = c and c ← 10·c until some c breaks it, then the
    midpoint. The result is the smallest-L2 misclassified example of all rounds (the image itself where none broke
    it). One fixed c cannot serve a minimum-norm attack: too small, an image is never broken and counts robust at
    every ε; too large, the example found lies farther out than needed. Untargeted only. Everything else is
    torchattacks' attack."""

    def __init__(
        self, model: nn.Module, c: float = 1, kappa: float = 0, steps: int = 50, lr: float = 0.01,
        search_steps: int = 1,
    ) -> None:  # fmt: skip
        super().__init__(model, c=c, kappa=kappa, steps=steps, lr=lr)
        check_int("search_steps", search_steps, 1)
        self.search_steps = search_steps
        self._const: Tensor | None = None  # the per-image c of a search round, applied in f

    def f(self, outputs: Tensor, labels: Tensor) -> Tensor:
        """The margin of ``labels``' logit over the best other logit, clamped at -kappa (targeted: reversed); in a
        round of the search over c, times each image's c."""
        real = outputs.gather(1, labels.reshape(-1, 1)).squeeze(1)
        mask = torch.zeros_like(outputs, dtype=torch.bool).scatter_(1, labels.reshape(-1, 1), True)
        other = outputs.masked_fill(mask, float("-inf")).amax(dim=1)
        margin = other - real if self.targeted else real - other
        margin = torch.clamp(margin, min=-self.kappa)
        return margin if self._const is None else margin * self._const

    def forward(self, images: Tensor, labels: Tensor) -> Tensor:
        """torchattacks' attack at ``c``, or, with ``search_steps`` > 1, the search over c (class docstring)."""
        if self.search_steps == 1:
            return super().forward(images, labels)
        if self.targeted:
            raise ValueError(
                f"Invalid value {self.search_steps!r} for argument search_steps in targeted mode: the search over c "
                "is untargeted only. Valid values there are 1"
            )
        images = images.clone().detach().to(self.device)
        labels = labels.clone().detach().to(self.device)
        n = images.shape[0]
        const = torch.full((n,), float(self.c), device=self.device)
        lower, upper = torch.zeros_like(const), torch.full_like(const, math.inf)
        best, best_l2 = images.clone(), torch.full_like(const, math.inf)
        c = self.c
        self.c = 1.0  # torchattacks' cost is L2 + c·Σf; the per-image c is in f
        try:
            for _ in range(self.search_steps):
                self._const = const
                adv = super().forward(images, labels).detach()
                with torch.no_grad():
                    broken = self.get_logits(adv).argmax(1) != labels
                l2 = (adv - images).flatten(1).norm(dim=1)
                better = broken & (l2 < best_l2)
                best[better], best_l2[better] = adv[better], l2[better]
                upper = torch.where(broken, torch.minimum(upper, const), upper)
                lower = torch.where(broken, lower, torch.maximum(lower, const))
                const = torch.where(upper.isfinite(), (lower + upper) / 2, const * 10)
        finally:
            self.c, self._const = c, None
        return best

    def inverse_tanh_space(self, x: Tensor) -> Tensor:
        """The starting w of images ``x`` in [0, 1], scaled into (-1, 1) by (1 - 1e-6) before the atanh (the
        reference's; torchattacks' unscaled atanh gives a pixel at 0 or 1 an infinite w that never moves)."""
        return torch.atanh((x * 2 - 1).clamp(-1, 1) * (1 - 1e-6))


def _pgd(model: nn.Module, eps: float, _k: int, _seed: int, cfg: AttackConfig) -> Attack:
    return torchattacks.PGD(model, eps=eps, alpha=cfg.pgd_alpha(eps), steps=cfg.pgd_steps, random_start=True)


def _pgdl2(model: nn.Module, eps: float, _k: int, _seed: int, cfg: AttackConfig) -> Attack:
    return torchattacks.PGDL2(model, eps=eps, alpha=cfg.pgd_alpha(eps), steps=cfg.pgd_steps, random_start=True)


def autoattack_description(num_classes: int, config: AttackConfig = AttackConfig()) -> str:
    """What ``autoattack`` runs on ``num_classes`` classes (an audit records it: below 4 classes it is not
    AutoAttack standard)."""
    steps = (
        f"; APGD and FAB at {config.autoattack_steps} iterations (torchattacks' default is 10, Croce & Hein's "
        "standard AutoAttack 100)"
    )
    if config.autoattack_queries != 5000:
        steps += f"; Square at {config.autoattack_queries} queries (standard: 5,000)"
    if num_classes >= 4:
        return f"torchattacks AutoAttack(version={config.autoattack_version!r})" + steps
    return (
        f"APGD-CE → FAB → Square-{config.autoattack_queries} (torchattacks MultiAttack): AutoAttack's APGD-T needs 4 "
        f"classes, the data has {num_classes}; autoattack_version={config.autoattack_version!r} does not apply" + steps
    )


def _iterations(atk: Attack, steps: int, queries: int) -> Attack:
    """``atk`` (a torchattacks chain) with every APGD, APGD-T and FAB stage set to ``steps`` iterations and every
    Square stage to ``queries`` queries.

    torchattacks' ``AutoAttack`` builds its stages with their class default, 10 iterations, where Croce & Hein's
    standard version runs 100 (``AttackConfig``'s default); Square's 5,000 queries are the standard's. The stages
    read ``steps`` and ``n_queries`` when they attack, so setting them here is the whole change."""
    chain = getattr(getattr(atk, "_autoattack", atk), "attacks", None)
    for stage in chain or [atk]:
        if isinstance(stage, (torchattacks.APGD, torchattacks.APGDT, torchattacks.FAB)):
            stage.steps = steps
        elif isinstance(stage, torchattacks.Square):
            stage.n_queries = queries
    return atk


def _autoattack(model: nn.Module, eps: float, k: int, seed: int, cfg: AttackConfig) -> Attack:
    if k >= 4:
        return _iterations(
            torchattacks.AutoAttack(
                model, norm="Linf", eps=eps, version=cfg.autoattack_version, n_classes=k, seed=seed
            ),
            cfg.autoattack_steps,
            cfg.autoattack_queries,
        )
    return _iterations(
        torchattacks.MultiAttack(
            [
                torchattacks.APGD(model, norm="Linf", eps=eps, seed=seed, loss="ce", n_restarts=1),
                torchattacks.FAB(model, norm="Linf", eps=eps, seed=seed, n_classes=k, n_restarts=1),
                torchattacks.Square(model, norm="Linf", eps=eps, seed=seed, n_queries=5000, n_restarts=1),
            ]
        ),
        cfg.autoattack_steps,
        cfg.autoattack_queries,
    )


ATTACKS: Registry[AttackSpec] = Registry("attack")
for _spec in (
    AttackSpec("fgsm", "Linf", lambda m, e, k, s, c: torchattacks.FGSM(m, eps=e), "FGSM (Goodfellow et al., 2015)"),
    AttackSpec("pgd", "Linf", _pgd, "PGD-L∞ (Madry et al., 2018)"),
    AttackSpec("pgdl2", "L2", _pgdl2, "PGD-L2 (Madry et al., 2018)"),
    AttackSpec(
        "cw",
        "L2",
        lambda m, e, k, s, c: CarliniWagnerL2(
            m, c=c.cw_c, kappa=0, steps=c.cw_steps, lr=c.cw_lr, search_steps=c.cw_search_steps
        ),
        "Carlini & Wagner L2 (2017), scored within ε",
        minimum_norm=True,
    ),
    AttackSpec("autoattack", "Linf", _autoattack, "AutoAttack standard (Croce & Hein, 2020)"),
):
    ATTACKS.register(_spec.name, _spec)


def name_list(argument: str, value: str | Sequence[str]) -> tuple[str, ...]:
    """``"convnet, mlp"`` or a sequence of names → the names, stripped, each once, in order; none raises
    ``ValueError`` naming ``argument`` (a plain string is a comma-separated list, not a sequence of letters)."""
    items = value.split(",") if isinstance(value, str) else value
    names = tuple(dict.fromkeys(n.strip() for n in items if n.strip()))
    if not names:
        raise ValueError(f"Invalid value {value!r} for argument {argument}. Name at least one")
    return names


def parse_attacks(text: str | Sequence[str]) -> list[str]:
    """``"fgsm,pgd"`` → ``["fgsm", "pgd"]``; an unknown name raises ``ValueError`` listing the valid ones."""
    names = [n.strip().lower() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    if not names:
        raise ValueError(f"Invalid value {text!r} for argument attacks. Valid values are {{{', '.join(ATTACKS)}}}")
    for name in names:
        ATTACKS.get(name)
    return list(dict.fromkeys(names))


def exact_fraction(text: str) -> Fraction:
    """``"2/255"``, ``"0.25/255"``, ``"0.3"`` or ``"1e-3"`` as an exact fraction (numerator and denominator read as
    decimals, so ``0.25/255`` is 1/1020 exactly); ``ValueError`` or ``ZeroDivisionError`` for anything else."""
    parts = text.strip().split("/")
    if len(parts) > 2:
        raise ValueError(f"{text!r} is not a number or a fraction")
    value = Fraction(parts[0].strip())
    return value / Fraction(parts[1].strip()) if len(parts) == 2 else value


#: Why ε must lie in (0, 1] for image attacks (:func:`parse_eps`'s error; a graph audit gives its own).
PIXEL_RANGE = "images are attacked in [0, 1] pixel space, e.g. 8/255"


def parse_eps(text: str | float, *, l2: bool = False, why: str = PIXEL_RANGE) -> float:
    """``"2/255"``, ``"0.3"`` or a number → ε in pixel units; it must lie in (0, 1], the data range, or with
    ``l2`` (a grid of L2 attacks only) be positive and finite: the caller checks it against the images' L2
    diameter (:func:`check_l2_eps`). ``why``: the reason the error gives for (0, 1] (a graph audit's ε is not in
    pixels)."""
    try:
        value = float(exact_fraction(text)) if isinstance(text, str) else float(text)
    except (ValueError, ZeroDivisionError) as err:
        raise ValueError(
            f"Invalid value {text!r} for argument eps. Valid values are numbers or fractions like 2/255"
        ) from err
    if l2 and math.isfinite(value) and value > 0:
        return value
    if not (math.isfinite(value) and 0 < value <= 1):
        raise ValueError(
            f"Invalid value {text!r} for argument eps: ε = {value:g} is outside the data range. "
            f"Valid values are in (0, 1] ({why})"
        )
    return value


def parse_eps_list(
    text: str | Sequence[str | float], *, l2: bool = False, why: str = PIXEL_RANGE
) -> list[tuple[str, float]]:
    """``"1/255,2/255"`` → ``[("1/255", 0.0039…), ("2/255", 0.0078…)]`` (as written, value), ascending;
    ``l2``: see :func:`parse_eps`."""
    items = [t.strip() for t in text.split(",")] if isinstance(text, str) else [str(t) for t in text]
    items = [t for t in items if t]
    if not items:
        raise ValueError(f"Invalid value {text!r} for argument eps. Valid values are lists like 1/255,2/255")
    first: dict[float, str] = {}  # one entry per value: "1/255,0.00392156862745098" is one ε, not two rows
    for t in items:
        first.setdefault(parse_eps(t, l2=l2, why=why), t)
    return sorted(((t, v) for v, t in first.items()), key=lambda kv: kv[1])


def l2_only(attacks: Sequence[str]) -> bool:
    """Whether every attack of ``attacks`` measures ε in L2 (then ε may exceed 1, up to the L2 diameter)."""
    return bool(attacks) and all(ATTACKS.get(a).norm == "L2" for a in attacks)


def check_l2_eps(grid: Sequence[tuple[str, float]], shape: Sequence[int]) -> None:
    """Every ε of ``grid`` within the L2 diameter √(C·H·W) of [0, 1] images of ``shape`` (C, H, W): a larger
    one is outside the data range (every image pair is closer)."""
    diameter = math.sqrt(math.prod(shape))
    for text, value in grid:
        if value > diameter:
            raise ValueError(
                f"Invalid value {text!r} for argument eps: ε = {value:g} is beyond the L2 diameter {diameter:g} of "
                f"the {'×'.join(map(str, shape))} images (√(C·H·W) in [0, 1] pixel space), outside the data range"
            )


def fold_batchnorm(model: nn.Module) -> nn.Module:
    r"""``model`` with every ``Conv2d → BatchNorm2d`` pair of an ``nn.Sequential`` folded into one convolution
    (:func:`torch.nn.utils.fusion.fuse_conv_bn_eval`), in place; the batch norm becomes ``nn.Identity``.

    The folded convolution computes the *eval-mode* block, :math:`\gamma\,(Wx + b - \mu)/\sqrt{\sigma^2 +
    \epsilon} + \beta`, with weights :math:`W' = \gamma W/\sqrt{\sigma^2+\epsilon}` and bias
    :math:`b' = \gamma(b - \mu)/\sqrt{\sigma^2+\epsilon} + \beta`: the same function up to float rounding,
    without the separate pass over the activations. Only for a model that stays in eval mode (an attacked
    one); pairs outside an ``nn.Sequential`` (a ResNet's ``conv1``/``bn1``) are left as they are."""
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        for i in range(len(seq) - 1):
            conv, bn = seq[i], seq[i + 1]
            if (
                type(conv) is nn.Conv2d
                and type(bn) is nn.BatchNorm2d
                and bn.track_running_stats
                and bn.running_mean is not None
                and conv.out_channels == bn.num_features
            ):
                seq[i] = fuse_conv_bn_eval(conv.eval(), bn.eval())
                seq[i + 1] = nn.Identity()
    return model


class PixelSpace(nn.Module):
    """``model`` behind its input normalisation: takes [0, 1] images, feeds ``(x - mean) / std``.

    The attacks need gradients with respect to the input only, and most options below speed the attacked
    model up without changing the function it computes (float rounding aside):

    * ``channels_last``: the model's weights, and its 4-d inputs, in the channels-last memory format, so
      oneDNN runs convolution, batch norm and pooling without NCHW fallbacks;
    * ``fold_bn``: eval-mode batch norm folded into the convolution before it (:func:`fold_batchnorm`);
    * ``chunk``: inputs of more than ``chunk`` images go through the model ``chunk`` at a time (eval mode:
      each image's logits do not depend on the others), so a chunk's activations stay in cache;
    * ``inference_jit``: a forward in eval mode on the CPU **with grad mode off** (Square's queries, every
      attack's under-``no_grad`` checks, :func:`correct_in_batches`) runs a TorchScript copy of the model,
      ``torch.jit.trace`` + ``torch.jit.optimize_for_inference`` (frozen: weights as constants; convolution,
      ReLU and pooling on oneDNN's blocked layout with prepacked weights). With grad mode on (APGD, FAB, PGD
      and C&W take input gradients) the eager model runs, as without the option. The copy is made at the
      first such forward in each process (it is not pickled: a spawned worker makes its own) and made again
      when a parameter or buffer of ``model`` has changed in place since (``_version``: optimiser steps,
      ``load_state_dict``; not edits through ``.data``) or the image size (C×H×W) or dtype differs (any batch size
      runs on one copy). :attr:`inference_forwards` counts the forwards it served.

    With ``fold_bn`` the wrapped model is a frozen (``requires_grad=False``) copy in eval mode and ``model`` is
    not touched; without it, ``channels_last`` converts ``model`` in place, as before. Measured for a
    trained ``convnet_bn_small`` on one CPU thread, one Square iteration (AutoAttack's dearest stage) on 430
    real PneumoniaMNIST images: NCHW 59.1, channels-last 22.1, channels-last with ``fold_bn`` and
    ``chunk=64`` 14.8 CPU ms (``benchmarks/robust.py --time-square --timing-teacher``); in a whole audit on
    the shared cores the gain was smaller (BENCHMARKS.md). ``inference_jit`` on top, same teacher and images,
    two other processes on the two cores (sitting 23, medians of 5 interleaved): 16.3 → 12.0 CPU ms per Square
    iteration, the adversarial images equal (entry ``n430-teacher-jit-loaded``); the full PneumoniaMNIST audit
    at AutoAttack-100 (2 workers, idle): 1,194 → 1,080 CPU s, Square 914 → 775, every figure equal (BENCHMARKS.md;
    a scratch run of one whole AutoAttack-100, not recorded, gave 94–99 → 74–77 CPU s). The rest of a Square
    query is torchattacks' own bookkeeping and the normalisation."""

    def __init__(
        self, model: nn.Module, mean: Sequence[float], std: Sequence[float], *, channels_last: bool = False,
        fold_bn: bool = False, chunk: int = 0, inference_jit: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        if chunk < 0:
            raise ValueError(f"Invalid value {chunk!r} for argument chunk. Valid values are >= 0 (0: no chunks)")
        device = next(model.parameters()).device
        if fold_bn:
            model = fold_batchnorm(copy.deepcopy(model).eval()).requires_grad_(False)
        self.channels_last = channels_last
        self.chunk = chunk
        self.inference_jit = inference_jit
        self.inference_forwards = 0
        self._inference: tuple[tuple[Any, ...], torch.jit.ScriptModule] | None = None  # (key, copy); not pickled
        self.model = model.to(memory_format=torch.channels_last) if channels_last else model
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32, device=device).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32, device=device).view(1, -1, 1, 1))

    @classmethod
    def for_attack(
        cls, model: nn.Module, mean: Sequence[float], std: Sequence[float], config: AttackConfig
    ) -> PixelSpace:
        """The pixel-space wrapper with ``config``'s speed options (channels-last, folded BN, chunks, the
        TorchScript copy for gradient-free forwards), in eval."""
        return cls(
            model, mean, std, channels_last=config.channels_last, fold_bn=config.fold_bn, chunk=config.forward_chunk,
            inference_jit=config.inference_jit,
        ).eval()  # fmt: skip

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        state["_inference"] = None  # a ScriptModule does not pickle; each process traces its own
        return state

    def _normalise(self, x: Tensor) -> Tensor:
        z = (x - self.mean) / self.std
        if self.channels_last and z.dim() == 4:
            z = z.contiguous(memory_format=torch.channels_last)
        return z

    def _inference_model(self, x: Tensor) -> torch.jit.ScriptModule | None:
        """The TorchScript copy for a forward of ``x`` that needs no gradient, or ``None``: the eager model runs."""
        if not self.inference_jit or torch.is_grad_enabled() or self.training or x.device.type != "cpu":
            return None
        if any(m.training for m in self.model.modules()):
            return None
        state = [*self.model.parameters(), *self.model.buffers()]
        key = (x.dtype, tuple(x.shape[1:]), *((id(t), t._version) for t in state))
        if self._inference is None or self._inference[0] != key:
            example = self._normalise(x[: self.chunk or None])
            with warnings.catch_warnings():  # TorchScript is deprecated for torch.compile, which compiles per shape
                warnings.filterwarnings("ignore", category=FutureWarning, message=r"`torch\.jit\.\w+` is deprecated")
                script = torch.jit.optimize_for_inference(torch.jit.trace(self.model, example, check_trace=False))
            self._inference = (key, script)
        return self._inference[1]

    def forward(self, x: Tensor) -> Tensor:
        model = self._inference_model(x)
        if model is not None:
            self.inference_forwards += 1
        else:
            model = self.model
        if self.chunk and x.shape[0] > self.chunk and not self.training:
            return torch.cat([model(self._normalise(x[i : i + self.chunk])) for i in range(0, x.shape[0], self.chunk)])
        return model(self._normalise(x))


def stratified_subset(y: Tensor, n: int | None = 1000, *, seed: int = 0) -> Tensor:
    """Indices of a fixed, seeded subset of ``n`` test images with the class proportions of ``y``
    (largest remainders); ``None`` or ``n >= len(y)`` keeps every image. Sorted, on ``y``'s device."""
    total = y.shape[0]
    if n is not None:  # None: the full test set
        check_int("subset", n, 1)
    if n is None or n >= total:
        return torch.arange(total, device=y.device)
    labels = y.reshape(-1).long().cpu()
    classes, counts = labels.unique(return_counts=True)
    quota = counts.double() * n / total
    take = quota.floor().long()
    order = torch.argsort(quota - take, descending=True, stable=True)
    take[order[: n - int(take.sum())]] += 1
    gen = torch.Generator().manual_seed(seed)
    parts = []
    for c, k in zip(classes.tolist(), take.tolist(), strict=True):
        members = (labels == c).nonzero(as_tuple=True)[0]
        parts.append(members[torch.randperm(members.numel(), generator=gen)[:k]])
    return torch.cat(parts).sort().values.to(y.device)


def _check_pixels(x: Tensor) -> None:
    lo, hi = torch.stack(torch.aminmax(x.detach())).tolist()  # one host read (a sync on CUDA), not two
    if lo < -1e-5 or hi > 1 + 1e-5:
        raise ValueError(
            f"images to attack lie in [{lo:.3g}, {hi:.3g}], outside the pixel range [0, 1]; "
            "denormalise them first (ImageSplits.denormalise) and wrap the model with PixelSpace"
        )


def _time_stages(atk: Attack, stages: dict[str, float]) -> None:
    """Add each stage's process CPU seconds to ``stages`` (``apgd``, ``fab``, ``square``...) when ``atk`` chains
    attacks (AutoAttack, MultiAttack); the attacks themselves are untouched."""
    chain = getattr(getattr(atk, "_autoattack", atk), "attacks", None)
    for i, stage in enumerate(chain or [atk]):
        name = f"{i}-{type(stage).__name__.lower()}" if chain else type(stage).__name__.lower()

        def timed(*args: Any, _run: Callable[..., Tensor] = stage.forward, _name: str = name, **kw: Any) -> Tensor:
            t0 = time.process_time()
            try:
                return _run(*args, **kw)
            finally:
                stages[_name] = stages.get(_name, 0.0) + time.process_time() - t0

        stage.forward = timed  # type: ignore[method-assign]


def adversarial(
    model: nn.Module, x: Tensor, y: Tensor, attack: str, eps: float, *, num_classes: int,
    seed: int = 0, config: AttackConfig = AttackConfig(), stages: dict[str, float] | None = None,
    rng_offset: int = 0,
) -> Tensor:  # fmt: skip
    """Adversarial examples of ``attack`` at ``eps`` for pixel-space ``model`` and images ``x`` in [0, 1],
    computed in batches of ``config.batch_size`` (on ``x``'s device). ``stages``, when given, accumulates the
    process CPU seconds of each stage of a chained attack (AutoAttack's APGD, FAB, Square).

    The global RNG is seeded with ``seed`` first; ``rng_offset`` > 0 then skips the uniform draws of that many
    images of ``x``'s shape (one 32-bit draw per value on the CPU generator), so that ``x`` gets the draws it
    would get as images ``rng_offset, rng_offset + 1, ...`` of one call: PGD's random start of a shard of an
    audit split over workers (:mod:`condensekit.robust.spread`). CPU only.

    ``model`` is attacked in eval mode and left in the mode it came in."""
    spec = ATTACKS.get(attack)
    check_int("num_classes", num_classes, 2)
    parse_eps(eps, l2=spec.norm == "L2")  # a negative, zero, NaN or (L∞) above-1 ε is refused by name
    _check_pixels(x)
    if rng_offset and x.device.type != "cpu":
        raise ValueError(f"rng_offset skips draws of the CPU generator; the images are on {x.device}")
    with eval_mode(model):
        atk = spec.build(model, eps, num_classes, seed, config)
        if stages is not None:
            _time_stages(atk, stages)
        torch.manual_seed(seed)
        if rng_offset:
            torch.empty(rng_offset * x[0].numel()).uniform_()
        bs = config.batch_size
        out = [atk(x[i : i + bs], y[i : i + bs]).detach() for i in range(0, x.shape[0], bs)]
    return torch.cat(out)


@torch.no_grad()
def correct_in_batches(model: nn.Module, x: Tensor, y: Tensor, batch_size: int) -> Tensor:
    """Whether ``model`` classifies each image of ``x`` as ``y``, ``batch_size`` images per call."""
    return torch.cat(
        [model(x[i : i + batch_size]).argmax(-1) == y[i : i + batch_size] for i in range(0, len(x), batch_size)]
    )


def robust_accuracy(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    attack: str,
    eps_grid: Sequence[float],
    *,
    num_classes: int,
    seed: int = 0,
    config: AttackConfig = AttackConfig(),
    clean: Tensor | None = None,
    stages: dict[str, float] | None = None,
) -> dict[float, float]:
    """Robust accuracy (%) of pixel-space ``model`` under ``attack`` at each ε of ``eps_grid``.

    An image counts when it is classified correctly clean *and* attacked (so robust ≤ clean). Only the
    images classified correctly clean are attacked (the others count as broken whatever the attack does);
    ``clean``, the boolean mask of those, may be passed in when the caller already has it. A
    minimum-norm attack (``cw``) runs once; at ε an image counts unless its adversarial example is
    misclassified within ε (in the attack's norm). ``stages``: see :func:`adversarial`.

    With ``config.cascade_eps`` (the default) the ε are attacked in ascending order and each ε attacks
    only the images that survived the one before: an adversarial example found within a smaller ε lies in
    every larger ball, so an image broken at ε₁ counts as broken at every ε₂ > ε₁ without being attacked
    again. Robust accuracy at ε is then that of the ensemble of the attack's runs at every ε' ≤ ε, never
    above what the attack alone finds at ε, and it falls with ε **by construction** (so the audit's
    monotonicity check cannot fail for these attacks, and the audit records it as holding by construction,
    not as passed: :func:`~condensekit.robust.audit.eps_monotone`). Without it every ε attacks every
    clean-correct image afresh, as sitting 10 and earlier did.

    ``model`` is scored and attacked in eval mode and left in the mode it came in, each submodule its own.
    """
    spec = ATTACKS.get(attack)
    check_int("num_classes", num_classes, 2)
    for eps in eps_grid:  # before any attack runs, not at the ε it reaches
        parse_eps(eps, l2=spec.norm == "L2")
    if spec.norm == "L2":
        check_l2_eps([(str(e), e) for e in eps_grid], tuple(x.shape[1:]))
    y = y.reshape(-1).long()
    if clean is not None and (clean.shape != y.shape or clean.dtype != torch.bool):
        raise ValueError(
            f"clean must be a boolean mask of shape {tuple(y.shape)}, got {clean.dtype} {tuple(clean.shape)}"
        )
    with eval_mode(model):  # the attacks run it in eval mode; the clean mask must be taken in the same mode
        if clean is None:
            clean = correct_in_batches(model, x, y, config.batch_size)
        n = y.shape[0]
        xs, ys = x[clean], y[clean]
        out: dict[float, float] = {}
        if xs.shape[0] == 0:
            return dict.fromkeys(eps_grid, 0.0)
        if spec.minimum_norm:
            adv = adversarial(model, xs, ys, attack, 1.0, num_classes=num_classes, seed=seed, config=config)
            fooled = ~correct_in_batches(model, adv, ys, config.batch_size)
            dist = (adv - xs).flatten(1).norm(p=2 if spec.norm == "L2" else math.inf, dim=1)
            for eps in eps_grid:
                broken = fooled & (dist <= eps + 1e-6)
                out[eps] = float((~broken).sum()) * 100.0 / n
            return out
        if not config.cascade_eps:
            for eps in eps_grid:
                adv = adversarial(model, xs, ys, attack, eps, num_classes=num_classes, seed=seed, config=config,
                                  stages=stages)  # fmt: skip
                out[eps] = float(correct_in_batches(model, adv, ys, config.batch_size).sum()) * 100.0 / n
            return out
        standing = torch.ones(ys.shape[0], dtype=torch.bool, device=ys.device)
        for eps in sorted(eps_grid):
            left = standing.nonzero(as_tuple=True)[0]
            if left.numel():
                adv = adversarial(model, xs[left], ys[left], attack, eps, num_classes=num_classes, seed=seed,
                                  config=config, stages=stages)  # fmt: skip
                standing[left] = correct_in_batches(model, adv, ys[left], config.batch_size)
            out[eps] = float(standing.sum()) * 100.0 / n
        return {eps: out[eps] for eps in eps_grid}
