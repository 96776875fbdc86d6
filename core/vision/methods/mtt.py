"""MTT: dataset distillation by matching training trajectories (Cazenavette et al., CVPR 2022,
https://arxiv.org/abs/2203.11932).

Each step picks an expert trajectory :math:`\\theta^*` and a segment :math:`[t, t+M]` (``t`` uniform below
``max_start_epoch``, ``M = expert_epochs``), trains a student from :math:`\\theta^*_t` for ``syn_steps``
SGD steps on synthetic minibatches (DSA, a fresh draw per image) with the learnable learning rate
:math:`\\alpha`, and minimises the normalised parameter distance to :math:`\\theta^*_{t+M}`
(:mod:`condensekit.core.objectives.trajectory`) in the images and in :math:`\\alpha` (both SGD, momentum
0.5). The learned :math:`\\alpha` is part of the condensed set and is the evaluation learning rate.

Defaults: the closest MedMNIST setting with public code, HoP-TM (Dong et al., MICCAI 2025) on PathMNIST with
ConvNet-3 instance norm: ``expert_epochs`` 2, ``syn_steps`` 80, ``lr_img`` 10, ``lr_teacher`` 0.01; the
rest is MTT's CIFAR-10 row (``max_start_epoch`` 20, ``lr_lr`` 1e-5, 5,000 iterations, ``batch_syn`` = the
whole set). Subclasses change *which* segment is matched (:meth:`MTT.segment`) and what happens after an
update (:meth:`MTT.apply_update`, :meth:`MTT.after_update`); PTM (:mod:`condensekit.medical.ptm`) does both.

The optional ``regularizer`` is evaluated on the network at the segment's start :math:`\\theta^*_t`.

Scale check: :meth:`MTT.step_budget_ratio` (recorded in the card's ``metrics``) compares the student's
initial SGD budget ``syn_steps · lr_teacher`` with the expert segment's ``steps · lr``. MTT's settings keep it
well below 1; far above it (small training sets at expert batch 256) the distance starts ≫ 1 and the
absolute ``lr_img`` / ``lr_lr`` can diverge. MTT uses ``lr_lr`` 1e-7 at one image per class (its README).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from condensekit.core.config import check_field_types
from condensekit.core.objectives.trajectory import param_distance, student_batches, unflatten, unroll_student
from condensekit.core.optim import sgd
from condensekit.core.registry import check_choice, check_int, check_nonnegative, check_positive
from condensekit.core.synthetic import INIT_METHODS
from condensekit.core.vision.augment import DSA
from condensekit.core.vision.experts import ExpertBuffer
from condensekit.core.vision.methods.base import ImageCondensation, register_image_method
from condensekit.core.vision.splits import ImageSplits
from condensekit.core.vision.train import Regularizer


@dataclass(frozen=True)
class MTTConfig:
    iterations: int = field(default=5000, metadata={"help": "engine steps (matched segments)"})
    syn_steps: int = field(default=80, metadata={"help": "student SGD steps per segment"})
    expert_epochs: int = field(default=2, metadata={"help": "expert epochs M a segment spans"})
    max_start_epoch: int = field(default=20, metadata={"help": "segments start uniformly below this epoch"})
    lr_img: float = field(default=10.0, metadata={"help": "SGD learning rate of the synthetic images"})
    lr_lr: float = field(default=1e-5, metadata={"help": "SGD learning rate of the learnable student learning rate"})
    lr_teacher: float = field(default=0.01, metadata={"help": "initial student learning rate"})
    momentum: float = 0.5
    batch_syn: int = field(default=0, metadata={"help": "student minibatch (0: the whole synthetic set)"})
    model: str = "convnet"
    dsa: bool = True
    init: str = "real"

    def __post_init__(self) -> None:
        check_field_types(self)  # numpy scalars stored as Python values (cards stay JSON); bool / Literal by kind
        for name in ("iterations", "syn_steps", "expert_epochs", "max_start_epoch"):
            check_int(name, getattr(self, name), 1)
        check_int("batch_syn", self.batch_syn, 0)  # 0: the whole synthetic set
        for name in ("lr_img", "lr_lr", "lr_teacher"):
            check_positive(name, getattr(self, name))
        check_nonnegative("momentum", self.momentum)  # else torch.optim.SGD refused it in setup, after the loading
        check_choice("init", self.init, INIT_METHODS)  # else refused only in setup


@register_image_method("mtt", MTTConfig, "MTT (CVPR 2022): match expert parameter trajectories")
class MTT(ImageCondensation):
    """Needs ``experts=`` (an :class:`ExpertBuffer` for the same data and model), trained with the regulariser the
    buffer ``expects`` (``None``, plain experts, for one opened without saying; GUARD's
    :func:`~condensekit.robust.guard.curvature_experts` returns its buffers expecting their term): the buffer is
    re-opened from its card as it is on disk now and a buffer trained otherwise is refused rather than matched."""

    config: MTTConfig

    def __init__(
        self,
        data: ImageSplits,
        ipc: int,
        config: Any,
        *,
        regularizer: Regularizer | None = None,
        experts: ExpertBuffer | None = None,
    ) -> None:
        super().__init__(data, ipc, config, regularizer=regularizer)
        if experts is None:
            raise ValueError(f"method {self.name!r} needs experts=ExpertBuffer (run `experts` first)")
        opened = ExpertBuffer.open(experts.folder, data=data, model=config.model, regularizer=experts.expects)
        if self.max_epoch() > opened.epochs:
            raise ValueError(
                f"{self.name} needs expert epochs up to {self.max_epoch()} but the buffer at "
                f"{str(opened.folder)!r} has {opened.epochs}; lower max_start_epoch / expert_epochs "
                "or train longer experts"
            )
        self.buffer = opened

    def data_setting(self) -> dict[str, Any]:
        return super().data_setting() | {"experts": self.buffer.card.get("config")}

    def step_budget_ratio(self) -> float:
        """``syn_steps · lr_teacher`` over the expert's ``SGD steps per segment · lr``: how far the student's
        first unroll can move relative to the expert segment it must match. MTT's published settings keep it
        well below 1 (CIFAR-10: 10–50 student steps against 2 epochs × 196 expert steps); far above 1 the
        normalised distance starts ≫ 1 and MTT's absolute ``lr_img`` / ``lr_lr`` can diverge (BreastMNIST,
        546 images at expert batch 256: 3.3)."""
        ec = self.buffer.card["config"]
        per_epoch = math.ceil(int(self.data.x_train.shape[0]) / int(ec["batch_size"]))
        expert = per_epoch * self.config.expert_epochs * float(ec["lr"])
        return self.config.syn_steps * self.config.lr_teacher / expert

    def diagnostics(self) -> dict[str, Any]:
        return {"student_to_expert_step_budget": round(self.step_budget_ratio(), 4)}

    def max_epoch(self) -> int:
        """The last expert epoch any segment reaches."""
        return self.config.max_start_epoch - 1 + self.config.expert_epochs

    def segment(self, step: int) -> tuple[int, int]:
        """``(start, end)`` expert epochs of this step's segment: MTT draws the start uniformly."""
        start = int(torch.randint(self.config.max_start_epoch, (1,), device="cpu"))  # host draw: no device sync
        return start, start + self.config.expert_epochs

    def apply_update(self, step: int) -> None:
        """Hook: apply the gradients now on the images and the learning rate (MTT: both SGD steps)."""
        self.opt_img.step()
        self.opt_lr.step()

    def after_update(self, step: int) -> dict[str, float]:
        """Hook after each image update; returns extra scalars to log."""
        return {}

    def setup(self, device: torch.device) -> None:
        super().setup(device)
        cfg = self.config
        rows = self.max_epoch() + 1
        # Only the epochs a segment can reach are kept in memory (MTT's buffers are large).
        self.trajectories = self.buffer.trajectories(device=device, rows=rows)
        self.syn_lr = nn.Parameter(torch.tensor(float(cfg.lr_teacher), device=device))
        self.opt_img = sgd([self.x_syn], lr=cfg.lr_img, momentum=cfg.momentum)
        self.opt_lr = sgd([self.syn_lr], lr=cfg.lr_lr, momentum=cfg.momentum)
        self.student = self.fresh_model()
        self.augment = DSA(self.dsa_config())

    def stateful(self) -> dict:
        return {"x": self.x_syn, "lr": self.syn_lr, "opt_img": self.opt_img, "opt_lr": self.opt_lr}

    def match_loss(self, step: int) -> Tensor:
        """The normalised parameter distance of this step's segment (graph to the images and the lr)."""
        cfg = self.config
        expert = self.trajectories[int(torch.randint(len(self.trajectories), (1,), device="cpu"))]  # host draw
        start, end = self.segment(step)
        n = self.x_syn.shape[0]
        batches = student_batches(n, cfg.syn_steps, cfg.batch_syn or n, device=self.device)
        final = unroll_student(
            self.student, expert[start], self.x_syn, self.y_syn, lr=self.syn_lr, batches=batches,
            loss_fn=self.loss_fn, augment=self.augment,
        )  # fmt: skip
        loss = param_distance(final, expert[start], expert[end])
        if self.regularizer is not None:
            with torch.no_grad():
                for p, v in zip(
                    self.student.parameters(), unflatten(self.student, expert[start]).values(), strict=True
                ):
                    p.copy_(v)
            loss = loss + self.regularizer(self.student, self.x_syn, self.y_syn)
        return loss

    def step(self, step: int) -> dict[str, float]:
        loss = self.match_loss(step)
        loss_value = float(loss.detach())  # one host read for the check and the log (two syncs on CUDA before)
        if not math.isfinite(loss_value):
            raise FloatingPointError(
                f"{self.name} diverged at iteration {step} (matching loss {loss_value}, learned lr "
                f"{float(self.syn_lr.detach())}): lower lr_img / lr_lr, or use experts whose segments move further "
                "(the loss divides by how far the expert moved over the segment; the student's initial step budget "
                f"is {self.step_budget_ratio():.2f}x the expert segment's, MTT's settings keep it below 1)"
            )
        self.opt_img.zero_grad(set_to_none=True)
        self.opt_lr.zero_grad(set_to_none=True)
        loss.backward()
        self.apply_update(step)
        for p in self.student.parameters():
            p.grad = None
        logs = {"loss": loss_value, "lr": float(self.syn_lr.detach())}
        if not logs["lr"] > 0:  # a non-positive rate trains by gradient ascent: the set cannot be evaluated
            raise FloatingPointError(
                f"{self.name} diverged at iteration {step}: the learned lr became {logs['lr']} (lower lr_lr; MTT "
                f"uses 1e-7 at one image per class; student/expert step budget {self.step_budget_ratio():.2f})"
            )
        logs.update(self.after_update(step))
        return logs

    def condensed(self) -> dict[str, Tensor]:
        return super().condensed() | {"lr": self.syn_lr.detach().clone()}
