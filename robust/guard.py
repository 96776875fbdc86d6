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
teacher. The reference's base, SRe2L (:mod:`condensekit.robust.sre2l`: squeeze a batch-norm teacher,
recover images from it, relabel them with its soft labels), is the faithful one: its teacher is trained
with the curvature term (:func:`~condensekit.robust.sre2l.squeeze_teacher`). The base may also be any image
method that learns from experts (MTT, PTM): the experts are trained with the term
(:func:`curvature_experts`), then the method runs on them through the shared engine.

The **plug-in** option (not in GUARD) adds the same term to a method's own per-step loss through the
methods' ``regularizer`` hook (DM, DC, MTT, PTM): the curvature of the loss at the synthetic images under
the method's network, weighted by λ, so the images themselves are pushed towards flat regions. Unlike the
teacher's term it is taken in that network's own mode, the function the step uses (batch statistics for
DM's, DC's and MTT's / PTM's train-mode networks, running statistics for SRe2L's frozen teacher), with the
running statistics left untouched (:meth:`GuardConfig.plugin_regularizer`). Its λ
(``plugin_curvature``) and reduction (``plugin_reduction``) may differ from the teacher's: with the
batch-mean reduction the term on N synthetic images weighs 1/N of each image's own curvature, which the
method's loss can swamp; ``"sum"`` keeps each image's.

Deviations: the reference runs on ImageNet-scale data with ResNet-18 teachers; here the teachers are the
suite's small models (see :mod:`condensekit.robust.sre2l` for SRe2L's own deviations). With
``reduction="mean"`` (the reference) the term scales as 1/batch, so λ = 100 at batch 256 weighs about as
much as λ ≈ 0.4 on per-sample gradients. The term above is the paper's (CURE's gradient difference, z along
the input gradient, normalised per image, as the brief of issue 10 states it); the released pre-training
script (``yumozi/GUARD``, ``pretrain/pretrain.py``, "the simplified version") computes the same z but adds
β·|ℓ̄(x + hz) − ℓ̄(x)| of the batch-mean loss ℓ̄, a loss difference without the input gradient, with β = 1e-4
by default (its ``--lamda 100`` is parsed but unused there).
"""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from condensekit.core.atomic import write_json
from condensekit.core.config import check_field_types
from condensekit.core.data import cache_dir
from condensekit.core.modes import train_mode
from condensekit.core.objectives.curvature import DIRECTIONS, CurvatureRegularizer
from condensekit.core.registry import check_choice, check_int, check_nonnegative
from condensekit.core.seed import resolve_device
from condensekit.core.vision import batch_norm_layers, build_image_model
from condensekit.core.vision.experts import (
    LEGACY_MARKER,
    ExpertBuffer,
    ExpertConfig,
    generate_experts,
    regularizer_record,
)
from condensekit.core.vision.imageset import CondensedImages
from condensekit.core.vision.methods import IMAGE_METHODS, MTT, condense_images, make_image_config
from condensekit.core.vision.methods.base import ipc_budgets
from condensekit.core.vision.splits import ImageSplits, check_image_splits
from condensekit.robust.sre2l import SRe2L, TeacherConfig, squeeze_teacher

__all__ = [
    "GUARD_MODES",
    "MARKER",
    "GuardConfig",
    "curvature_experts",
    "expert_nets",
    "check_resume",
    "has_teacher",
    "image_method",
    "image_methods",
    "recompute_batchnorm",
    "resolve_mode",
    "robust_condense",
    "teacher_term",
    "uses_experts",
]

GUARD_MODES = ("auto", "teacher", "plugin", "both")

MARKER = LEGACY_MARKER  # read for buffers made before their card recorded the term; no longer written

RESUME_SUFFIX = ".guard.json"


@dataclass(frozen=True)
class GuardConfig:
    """GUARD's settings (defaults: the reference's CIFAR values)."""

    curvature: float = field(default=100.0, metadata={"help": "λ of the curvature term; 0 disables it"})
    h: float = field(default=3.0, metadata={"help": "finite-difference step h > 0 (normalised pixel units)"})
    teacher: bool = field(default=True, metadata={"help": "train the experts / teacher with the term (GUARD)"})
    plugin: bool = field(default=False, metadata={"help": "also add the term to the method's per-step loss"})
    plugin_curvature: float | None = field(
        default=None, metadata={"help": "λ of the plug-in term (None: the same λ as the teacher's)"}
    )
    plugin_reduction: str = field(
        default="mean",
        metadata={"help": "plug-in term: gradients of the batch-mean loss (as the teacher's; the term then scales "
                          "as 1/N) or of the per-image sum (each image's own curvature)"},
    )  # fmt: skip
    direction: str = field(
        default="reference",
        metadata={"help": "probe direction z of both terms: 'reference' (GUARD's (g + ε)/(‖g‖ + ε)) or 'unit' "
                          "(g/‖g‖; a zero gradient probes nothing)"},
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_field_types(self)  # teacher="yes" was truthy
        check_nonnegative("curvature", self.curvature)
        check_choice("direction", self.direction, DIRECTIONS)
        if self.plugin_curvature is not None:  # None: the teacher's λ
            check_nonnegative("plugin_curvature", self.plugin_curvature)
        self.regularizer()  # validates h
        self.plugin_regularizer()  # validates plugin_reduction

    @property
    def enabled(self) -> bool:
        """Whether any curvature term is on: λ > 0 and the teacher's or the plug-in's term asked for."""
        return self.curvature > 0 and (self.teacher or self.plugin)

    def regularizer(self) -> CurvatureRegularizer:
        """The teacher's (experts') term: λ = ``curvature``, batch-mean reduction and eval mode (the reference)."""
        return CurvatureRegularizer(lam=self.curvature, h=self.h, direction=self.direction)

    def plugin_regularizer(self) -> CurvatureRegularizer:
        """The plug-in term on the synthetic images: λ = ``plugin_curvature`` (else ``curvature``), h, and
        ``plugin_reduction``, taken in the mode of the method's own network (``eval_mode=False``): batch
        statistics where the step trains or embeds in train mode (DM, DC, MTT's and PTM's student), the
        running statistics of SRe2L's frozen teacher; the term's forwards do not move any running statistic
        (:class:`~condensekit.core.objectives.curvature.CurvatureRegularizer`). Eval mode would take the term
        on a fresh network's initial statistics (mean 0, variance 1), a function the method never uses."""
        lam = self.curvature if self.plugin_curvature is None else self.plugin_curvature
        return CurvatureRegularizer(
            lam=lam, h=self.h, reduction=self.plugin_reduction, eval_mode=False, direction=self.direction
        )

    def describe(self) -> dict[str, Any]:
        """The card's record of the setting: the fields plus the teacher's reduction and both terms' modes."""
        return asdict(self) | {"reduction": "mean", "eval_mode": True, "plugin_eval_mode": False}


def teacher_term(guard: GuardConfig | None) -> CurvatureRegularizer | None:
    """The curvature term GUARD trains the teacher (SRe2L) or the experts (MTT, PTM) with: ``guard``'s
    :meth:`~GuardConfig.regularizer` when it regularises the teacher at a λ > 0, else ``None`` (plain; the plug-in
    alone leaves the teacher plain). The one rule behind the teacher's folder, its card, the artifact's record and
    a checkpoint's setting."""
    return guard.regularizer() if guard is not None and guard.teacher and guard.curvature > 0 else None


def _teacher_record(guard: GuardConfig | None) -> dict[str, Any]:
    """``{"curvature": ...}``: what the artifact's card and a checkpoint's setting record of :func:`teacher_term`,
    as an expert buffer's card records it (:func:`~condensekit.core.vision.experts.regularizer_record`)."""
    return {"curvature": regularizer_record(teacher_term(guard))}


def curvature_experts(
    data: ImageSplits,
    folder: str | os.PathLike[str],
    config: ExpertConfig,
    guard: GuardConfig | None,
    *,
    workers: int = 1,
) -> ExpertBuffer:
    """Expert trajectories for ``data``, trained with GUARD's curvature term when ``guard`` asks for it.

    The buffer's card records the term (its ``regularizer``: the term's ``record()``, or null for plain experts), so
    a folder trained with another curvature setting (or none) is refused rather than mixed, here and by any run
    that checks what it matches (:meth:`~condensekit.core.vision.experts.ExpertBuffer.check_regularizer`). Buffers
    made before the card had the field are read through the marker GUARD kept beside them then (:data:`MARKER`);
    one without either is plain. The returned buffer ``expects`` the term, so a method checking it accepts it.
    """
    return generate_experts(data, folder, config, workers=workers, regularizer=teacher_term(guard))


def expert_nets(folder: str | os.PathLike[str], data: ImageSplits, *, batch_size: int | None = None) -> list[nn.Module]:
    """Each expert of the (complete) buffer at ``folder`` as a network at its final weights, in eval mode.

    An expert buffer keeps the parameters of every epoch, not the batch-norm running statistics (the
    buffer format of :mod:`condensekit.core.vision.experts`), so a batch-norm expert rebuilt from its last
    parameters would normalise with the initial statistics (mean 0, variance 1) and be attacked as a model
    that never existed. Its statistics are therefore **recomputed** from its training data
    (:func:`recompute_batchnorm`: ``data.x_train`` in train mode, the expert's batch size, a plain average
    over the batches). Deviation: the expert's own statistics were a moving average (momentum 0.1) over its
    last training batches, DSA-augmented when the buffer used DSA; these are of the un-augmented images."""
    card = ExpertBuffer.open(folder, data=data).card
    buffer = ExpertBuffer.open(folder, data=data, model=card["model"])  # refuses another layout of the model
    bs = batch_size or int((buffer.card.get("config") or {}).get("batch_size") or ExpertConfig.batch_size)
    nets = []
    for traj in buffer.trajectories():  # refuses a buffer with an expert missing, as condensation does
        net = build_image_model(
            buffer.card["model"], channels=data.channels, num_classes=data.num_classes, im_size=data.im_size
        )
        with torch.no_grad():
            torch.nn.utils.vector_to_parameters(traj[-1].clone(), net.parameters())
        recompute_batchnorm(net, data.x_train, batch_size=bs)
        nets.append(net.eval())
    return nets


@torch.no_grad()
def recompute_batchnorm(net: nn.Module, x: Tensor, *, batch_size: int = 256) -> nn.Module:
    """Reset the running statistics of every batch norm of ``net`` and recompute them as the plain average
    of the train-mode batch statistics over ``x`` in batches of ``batch_size`` (momentum ``None``, PyTorch's
    cumulative average: "precise BN"); parameters are untouched, the momenta and each submodule's own mode
    restored (a frozen batch norm is recomputed too, and stays frozen). A net without batch norm is returned
    unchanged."""
    norms = [m for m in batch_norm_layers(net) if m.track_running_stats]
    if not norms:
        return net
    if batch_size < 1:
        raise ValueError(f"Invalid value {batch_size!r} for argument batch_size. Valid values are >= 1")
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    device = next(net.parameters()).device
    try:
        with train_mode(net):  # afterwards each submodule has its own mode back, not the top module's
            for i in range(0, x.shape[0], batch_size):
                batch = x[i : i + batch_size].to(device)
                if batch.shape[0] > 1:  # a batch norm cannot take the statistics of one image in train mode
                    net(batch)
    finally:
        for m, mom in zip(norms, momenta, strict=True):
            m.momentum = mom
    return net


def check_resume(checkpoint: str | os.PathLike[str], record: dict[str, Any]) -> None:
    """Refuse to resume ``checkpoint`` unless it was written with the same curvature setting ``record``.

    The engine refuses a checkpoint whose method setting differs (config, data, budget, expert config,
    plug-in term), but GUARD's teacher term lives outside the method's setting: in the experts (whose buffer
    card records it, but the setting holds only the experts' training config) or the SRe2L teacher. So a
    GUARD checkpoint would be resumed, and returned, by a plain run (or one at another λ) under a card naming
    the new setting. ``record`` is therefore kept beside the
    checkpoint (``<checkpoint>.guard.json``, written when the run starts without one) and compared when it
    exists; a checkpoint without it (written elsewhere) has an unknown setting and is refused too."""
    ckpt = Path(checkpoint)
    side = ckpt.with_name(ckpt.name + RESUME_SUFFIX)
    want = json.loads(json.dumps(record))
    if not ckpt.exists():
        write_json(side, want)
        return
    have = json.loads(side.read_text()) if side.exists() else None
    if have != want:
        known = f"was written with {have}" if have is not None else f"has no {side.name} (its setting is unknown)"
        raise ValueError(
            f"checkpoint {str(ckpt)!r} {known}, this run has {want}; resume with the same curvature setting, "
            "or delete the checkpoint or pass another path"
        )


def image_methods() -> Any:
    """The image-method registry with the medical domain's methods in it (PTM registers itself there; the domain
    is imported here when it has not been)."""
    if "ptm" not in IMAGE_METHODS:
        try:
            importlib.import_module("condensekit.medical")
        except ImportError:
            pass
    return IMAGE_METHODS


def image_method(base: str) -> Any:
    """The registry entry of image method ``base`` (PTM is registered by the medical domain, imported here)."""
    return (IMAGE_METHODS if base in IMAGE_METHODS else image_methods()).get(base)


def uses_experts(base: str) -> bool:
    """Whether ``base`` distils expert trajectories (MTT and its subclasses, e.g. PTM): GUARD's teacher."""
    return issubclass(image_method(base).cls, MTT)


def uses_teacher(base: str) -> bool:
    """Whether ``base`` distils one trained teacher (SRe2L and its subclasses)."""
    return issubclass(image_method(base).cls, SRe2L)


def has_teacher(base: str) -> bool:
    """Whether ``base`` has a network GUARD can regularise: a teacher (SRe2L) or experts (MTT, PTM)."""
    return uses_teacher(base) or uses_experts(base)


def resolve_mode(base: str, mode: str) -> tuple[bool, bool]:
    """``(teacher, plugin)`` for ``mode``: ``auto`` is the teacher (GUARD) for bases with a teacher or experts
    (SRe2L, MTT, PTM) and the plug-in for the others (DM, DC have no teacher to regularise)."""
    check_choice("mode", mode, GUARD_MODES)
    has_teacher = uses_teacher(base) or uses_experts(base)
    if mode in ("teacher", "both") and not has_teacher:
        raise ValueError(
            f"method {base!r} has no teacher or experts to regularise (GUARD's mode); use mode 'plugin' "
            "to add the curvature term to its per-step loss"
        )
    if mode == "auto":
        return has_teacher, not has_teacher
    return mode in ("teacher", "both"), mode in ("plugin", "both")


def default_experts_dir(data: ImageSplits, config: ExpertConfig, guard: GuardConfig | None) -> Path:
    """``<cache>/experts/<dataset>[-<side>px]-<model>-e<epochs>-<plain | curv<λ>-h<h>[-unit]>`` (the side for images
    other than 28×28: a MedMNIST flag keeps its name at every size, and a buffer refuses another size)."""
    reg = teacher_term(guard)
    tag = "plain" if reg is None else reg.tag()
    px = f"-{data.im_size[0]}px" if tuple(data.im_size) != (28, 28) else ""
    return cache_dir("experts") / f"{data.name}{px}-{config.model}-e{config.epochs}-{tag}"


def robust_condense(
    data: ImageSplits,
    base: str,
    *,
    ipc: int,
    guard: GuardConfig | None = None,
    config: Any | dict[str, Any] | None = None,
    expert_config: ExpertConfig | None = None,
    experts_dir: str | os.PathLike[str] | None = None,
    teacher_config: TeacherConfig | None = None,
    workers: int = 1,
    seed: int = 0,
    device: str = "auto",
    steps: int | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> CondensedImages:
    """Condense ``data`` with image method ``base``, curvature-regularised as ``guard`` says.

    ``guard.teacher`` trains the teacher (SRe2L: squeezed with ``teacher_config``, cached in ``experts_dir``
    when given) or the experts (MTT, PTM) with the curvature term (GUARD),
    ``guard.plugin`` adds it to the method's per-step loss; ``guard=None`` or ``curvature=0`` is the
    plain base method (with plain experts), so both arms of a comparison go through this one function.
    The artifact's domain is ``robust``; its card's ``config.guard`` records the setting and
    ``config.experts`` the expert buffer.

    Returns:
        A :class:`~condensekit.core.vision.imageset.CondensedImages` (domain ``robust``): ``x`` (``ipc``·K × C × H
        × W), ``y`` (``ipc``·K int64 labels), and the base's extras (MTT / PTM: ``lr``; SRe2L: ``soft``, ``ipc``·K ×
        K soft labels).
    """
    check_image_splits(data)
    if guard is not None and not isinstance(guard, GuardConfig):  # a dict failed as "'dict' has no attribute ..."
        raise ValueError(
            f"Invalid value {guard!r} for argument guard. Valid values are None (the plain base) or a GuardConfig, "
            "e.g. GuardConfig(curvature=100, teacher=False, plugin=True)"
        )
    entry = image_method(base)
    method_cfg = make_image_config(base, config) if config is None or isinstance(config, dict) else config
    check_field_types(method_cfg)  # before minutes of expert / teacher training
    if guard is not None and guard.teacher and not has_teacher(base):
        raise ValueError(f"method {base!r} has no teacher or experts to regularise; set teacher=False, plugin=True")
    ipc_budgets(data, ipc)  # a bad ipc or steps is refused before minutes of expert / teacher training
    if steps is not None:
        check_int("steps", steps, 0)
    n_steps = int(getattr(method_cfg, "iterations", 0)) if steps is None else steps
    if guard is not None and guard.plugin and guard.curvature > 0 and n_steps == 0:
        raise ValueError(
            f"the curvature plug-in joins the per-step loss of method {base!r}, which runs no step here "
            f"({'a selection' if not getattr(method_cfg, 'iterations', 0) else 'steps=0'}): the set would be the plain "
            "one under a GUARD card; run it with curvature 0 (plugin=False)"
        )
    tcfg = None
    if uses_teacher(base):
        tcfg = teacher_config or TeacherConfig(model=getattr(method_cfg, "model", TeacherConfig.model))
        if tcfg.model != getattr(method_cfg, "model", tcfg.model):
            raise ValueError(f"the teacher is a {tcfg.model!r} but {base!r} is configured for {method_cfg.model!r}")
    if checkpoint is not None:  # before minutes of expert / teacher training
        check_resume(checkpoint, _teacher_record(guard) | {"teacher": None if tcfg is None else asdict(tcfg)})
    resources: dict[str, Any] = {}
    expert_record: dict[str, Any] | None = None
    if uses_experts(base):
        ecfg = expert_config or ExpertConfig(model=getattr(method_cfg, "model", "convnet"))
        if ecfg.model != getattr(method_cfg, "model", ecfg.model):
            raise ValueError(f"experts are {ecfg.model!r} models but {base!r} trains {method_cfg.model!r} students")
        folder = Path(experts_dir) if experts_dir is not None else default_experts_dir(data, ecfg, guard)
        resources["experts"] = curvature_experts(data, folder, ecfg, guard, workers=workers)
        expert_record = {"folder": str(folder), "config": asdict(ecfg)} | _teacher_record(guard)
    if tcfg is not None:
        resources["teacher"], expert_record = squeeze_teacher(
            data, tcfg, teacher_term(guard), folder=experts_dir, device=resolve_device(device)
        )
    plugin = guard is not None and guard.plugin and guard.curvature > 0
    cond = condense_images(
        data, entry.cls.name, ipc=ipc, domain="robust", config=method_cfg, seed=seed, device=device, steps=steps,
        checkpoint=checkpoint, progress=progress, regularizer=guard.plugin_regularizer() if plugin else None,
        **resources,
    )  # fmt: skip
    enabled = guard is not None and guard.enabled
    cond.card["method"] = f"guard-{base}" if enabled else base
    cond.card["config"] = dict(cond.card["config"]) | {
        "base": base, "guard": guard.describe() if enabled else None,
        ("teacher" if uses_teacher(base) else "experts"): expert_record,
    }  # fmt: skip
    if cond.soft is not None:
        cond.card["labels"] = {"kind": "soft", "temperature": float(method_cfg.temperature)}
    return cond
