"""What every image condensation method shares: the real data, the per-class budget (images per class),
the synthetic set and its initialisation, the optional regulariser, and the registry.

Methods are registered by name in :data:`IMAGE_METHODS` with their config dataclass; the engine
(:mod:`condensekit.core.engine`) runs them, and :func:`~condensekit.core.vision.methods.condense.condense_images`
wraps that into an artifact. A ``regularizer`` ``(model, x_syn, y_syn) -> Tensor`` (the signature of
:func:`~condensekit.core.vision.train.fit_images`'s, weight included by the caller) is added to every
method's per-step loss on that step's network: robust condensation plugs a curvature term in there.

Every set records which real training rows seeded it (:meth:`ImageCondensation.init_record`, written into the
card's ``init`` by ``condense_images``): ``{"kind", "selection", "train_indices", "index_space", ...}``, with
``train_indices`` the rows of ``data.x_train`` that ``setup`` copied into the synthetic set, in the set's row
order, or ``None`` when no real image seeded it (``init="noise"``). The list lives in the JSON card rather than
in the safetensors file: it holds ipc × classes integers (1,000 for MNIST at IPC 100), so it stays small and
readable, and an audit reads it without loading tensors. A method that later copies other real rows into the
set (a re-initialisation) must add them by overriding :meth:`~ImageCondensation.init_record`, as PTM does
(``reinit_train_indices``, which :meth:`CondensedImages.seed_rows` adds to the members).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from condensekit.core.engine import CondensationMethod
from condensekit.core.optim import sgd
from condensekit.core.registry import MethodEntry, Registry, check_int, method_registrar
from condensekit.core.selection import select_per_class
from condensekit.core.synthetic import INIT_METHODS
from condensekit.core.vision.augment import DSAConfig
from condensekit.core.vision.models import build_image_model
from condensekit.core.vision.splits import ImageSplits
from condensekit.core.vision.train import Regularizer, classification_loss, multilabel_loss

ImageMethodEntry = MethodEntry
IMAGE_METHODS: Registry[MethodEntry] = Registry("image method")
register_image_method = method_registrar(IMAGE_METHODS)
"""Class decorator ``@register_image_method(name, config, description)``."""


def class_groups(data: ImageSplits) -> tuple[Tensor, int]:
    """One group index per training image and the number of groups: the class for single-label tasks; for
    multi-label tasks the first positive label, or a "no finding" group K (see ``ImageSplits.class_labels``)."""
    groups = data.class_labels()
    return groups, data.num_classes + 1 if data.multilabel else data.num_classes


def ipc_budgets(data: ImageSplits, ipc: int) -> Tensor:
    """``ipc`` images for every group present; an IPC larger than a group raises ``ValueError``, and so does a
    single-label class without training images (the set would silently lack it). A multi-label task's groups may be
    empty (e.g. no image without a finding): its labels are learnt from the images of the others."""
    check_int("ipc", ipc, 1)
    groups, k = class_groups(data)
    counts = torch.bincount(groups.cpu(), minlength=k)
    present = counts > 0
    if not data.multilabel and not bool(present.all()):
        absent = [c for c in range(k) if not present[c]]
        raise ValueError(
            f"Invalid data for argument data: the training split of {data.name!r} holds no image of class(es) "
            f"{absent} (of {k}), so the condensed set would lack them; use data with every class in its training split"
        )
    small = [(c, int(counts[c])) for c in range(k) if present[c] and counts[c] < ipc]
    if small:
        what, how = f"class(es) {[c for c, _ in small]}", ""
        if data.multilabel:  # the groups are not the labels: name them as they are counted
            names = ["no finding" if c == data.num_classes else f"first positive label {c}" for c, _ in small]
            what = f"the multi-label groups {names}"
            how = (" (an image counts once, in the group of its first positive label, or 'no finding' when none is "
                   "positive)")  # fmt: skip
        raise ValueError(
            f"Invalid value {ipc} for argument ipc: {what} have only {[n for _, n in small]} training images{how}; "
            f"valid values are 1..{int(counts[present].min())}"
        )
    return torch.where(present, torch.full_like(counts, ipc), torch.zeros_like(counts))


class ImageCondensation(CondensationMethod):
    """Base of image methods: real data on the engine's device, budgets, the synthetic set.

    Args:
        data: the real image splits.
        ipc: images per class.
        config: the method's config dataclass (fields used here: ``init`` and ``model`` when present).
        regularizer: optional extra loss on each step's network (see the module docstring).
    """

    def __init__(
        self, data: ImageSplits, ipc: int, config: Any, *, regularizer: Regularizer | None = None, **resources: Any
    ) -> None:
        self.budgets = ipc_budgets(data, ipc)
        self.data = data
        self.ipc = ipc
        self.config = config
        self.regularizer = regularizer
        if resources:
            raise ValueError(f"method {self.name!r} takes no resources {sorted(resources)}")
        self.loss_fn = multilabel_loss if data.multilabel else classification_loss

    def steps(self) -> int:
        """Engine steps of a full run (the config's ``iterations``; 0 for a selection)."""
        return int(getattr(self.config, "iterations", 0))

    def data_setting(self) -> dict[str, Any]:
        """The data, budget and regulariser a checkpoint of this run must have been written with."""
        d = self.data
        return {"dataset": d.name, "train_shape": list(d.x_train.shape), "ipc": self.ipc,
                "regularizer": self.regularizer}  # fmt: skip

    def setup(self, device: torch.device) -> None:
        self.device = device
        self.x_real = self.data.x_train.to(device)
        self.y_real = self.data.y_train.to(device)
        groups, self.num_groups = class_groups(self.data)
        self.groups = groups.to(device)
        self.classes = [c for c in range(self.num_groups) if int(self.budgets[c]) > 0]
        self.real_members = {c: (self.groups == c).nonzero(as_tuple=True)[0] for c in self.classes}
        init = getattr(self.config, "init", "real")
        idx = self.initial_indices(init)
        self.init_kind, self.init_indices = init, idx
        x0 = self.x_real[idx].clone()
        if init == "noise":
            x0 = torch.randn_like(x0)
        self.x_syn = nn.Parameter(x0)
        self.y_syn = self.y_real[idx].clone()
        self.g_syn = self.groups[idx].clone()
        offsets = torch.cat([torch.zeros(1, dtype=torch.long), self.budgets.cumsum(0)])
        self.syn_slices = {c: slice(int(offsets[c]), int(offsets[c + 1])) for c in self.classes}

    def initial_indices(self, init: str) -> Tensor:
        """Real training rows the synthetic set starts from, grouped by class (random real images)."""
        if init not in INIT_METHODS:
            raise ValueError(f"Unknown value {init!r} for argument init. Valid values are {set(INIT_METHODS)}")
        emb = self.x_real.reshape(self.x_real.shape[0], -1)
        method = "random" if init in ("real", "noise") else init
        return select_per_class(method, emb, self.groups, self.budgets.to(self.device)).to(self.device)

    def init_record(self) -> dict[str, Any]:
        """The card's ``init``: the real training rows (indices into ``data.x_train``, in the synthetic set's
        row order) that ``setup`` copied into the set, or ``train_indices: None`` for a set started from noise.
        Call after ``setup``; what the membership-inference audit's ``member_set="init"`` game reads."""
        if not hasattr(self, "init_indices"):
            raise RuntimeError(f"method {self.name!r}: init_record() is known only after setup()")
        n = int(self.data.x_train.shape[0])
        if self.init_kind == "noise":
            return {"kind": "noise", "train_indices": None, "reason": "init='noise': the images start as noise"}
        return {
            "kind": self.init_kind,
            "selection": "random per class" if self.init_kind == "real" else f"{self.init_kind} per class",
            "train_indices": self.init_indices.tolist(),
            "index_space": f"rows of the source's training split (x_train, {n} images)",
            "recorded_by": "ImageCondensation.setup",
        }

    def real_rows(self, c: int, n: int) -> Tensor:
        """``n`` random training rows (indices into ``data.x_train``) of class ``c`` (all of them when the class
        is smaller)."""
        members = self.real_members[c]
        return members[torch.randperm(members.numel(), device=self.device)[:n]]

    def real_batch(self, c: int, n: int) -> Tensor:
        """``n`` random real images of class ``c`` (all of them when the class is smaller)."""
        return self.x_real[self.real_rows(c, n)]

    def fresh_model(self) -> nn.Module:
        name = getattr(self.config, "model", "convnet")
        d = self.data
        return build_image_model(name, channels=d.channels, num_classes=d.num_classes, im_size=d.im_size,
                                 device=self.device)  # fmt: skip

    def regularize(self, model: nn.Module) -> Tensor | None:
        return None if self.regularizer is None else self.regularizer(model, self.x_syn, self.y_syn)

    def condensed(self) -> dict[str, Tensor]:
        return {"x": self.x_syn.detach(), "y": self.y_syn.detach()}

    def diagnostics(self) -> dict[str, Any]:
        """Method-specific counters recorded in the artifact card's ``metrics`` (none by default)."""
        return {}

    def dsa_config(self) -> DSAConfig:
        """DSA's default transforms when the config's ``dsa`` is on, none otherwise."""
        return DSAConfig() if getattr(self.config, "dsa", True) else DSAConfig(strategy="none")


class ImageSGDMethod(ImageCondensation):
    """A method whose learnable tensor is the images alone, updated by SGD (``lr_img``, ``momentum``): DM, DC."""

    def setup(self, device: torch.device) -> None:
        super().setup(device)
        self.opt = sgd([self.x_syn], lr=self.config.lr_img, momentum=self.config.momentum)
        self.dsa = self.dsa_config()

    def stateful(self) -> dict[str, Any]:
        return {"x": self.x_syn, "opt": self.opt}
