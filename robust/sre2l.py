r"""SRe2L: squeeze, recover, relabel — GUARD's base condensation, with a curvature-regularised teacher.

`"Squeeze, Recover and Relabel: Dataset Condensation at ImageNet Scale From A New Perspective"
<https://arxiv.org/abs/2306.13092>`_ (Yin, Xing & Shen, NeurIPS 2023), the base method GUARD (Xue et al.,
AAAI 2025) runs on its curvature-regularised teacher.

1. **Squeeze** (:func:`squeeze_teacher`): train a teacher :math:`f_T` with batch norm on the real training
   set (with GUARD: :math:`\ell + \lambda\,\mathrm{curv}` of
   :class:`~condensekit.core.objectives.curvature.CurvatureRegularizer`).
2. **Recover** (:class:`SRe2L`, run by the shared engine): starting from noise, optimise the images
   :math:`\tilde x` so that the frozen teacher (eval mode) classifies them as their class while the
   statistics of every batch-norm layer's input match its running statistics,

   .. math::
       \min_{\tilde x}\; \ell\bigl(f_T(\mathrm{roll}(\tilde x)), y\bigr) + \alpha_{BN} \sum_l \rho_l
       \bigl(\lVert \mu_l(\tilde x) - \mu_l^{BN} \rVert_2 + \lVert \sigma_l^2(\tilde x) - \sigma_l^{2,BN} \rVert_2\bigr)

   with Adam (β = 0.5, 0.9) under a cosine learning rate, a random jitter (roll by up to ``jitter`` pixels)
   each step, pixels clipped to the valid range after each step, :math:`\rho_1` = ``first_bn_multiplier``
   and 1 for the other layers. As in the reference, the batch whose statistics are matched is one image
   per class (the images with the same index within their class); all IPC batches are optimised in one
   forward pass, their losses summed (Adam updates each image as if its batch were run alone).
3. **Relabel**: the teacher's soft labels :math:`p = \mathrm{softmax}(f_T(\tilde x)/T)` are stored with the
   images (``soft``, with ``temperature`` on the card); students train on them with the distillation loss
   :func:`~condensekit.core.vision.train.distillation_loss` (:math:`T^2\cdot` CE at temperature T).

Defaults are GUARD's reference recovery script (lr 0.25, 1,000 iterations, :math:`\alpha_{BN}` = 0.01, first
BN ×10, jitter 4, noise init) and its CIFAR relabel temperature (T = 30).

Deviations: the reference relabels *online* (the teacher labels every augmented, mixed-up minibatch of
every student epoch; FKD stores per-crop labels); here one soft label per image is stored, so the set is a
self-contained artifact and every student is trained by the suite's shared protocol. The reference's
evaluation is available as the audit's ``relabel="online"`` (:class:`~condensekit.robust.relabel.OnlineRelabel`:
the teacher named on the card labels every DSA-augmented student batch); on MNIST it doubled the share of
the teacher's robustness that reaches the students (BENCHMARKS.md). The reference's
teachers are ResNet-18s trained on the whole training set; on these CPUs the teacher is a small registered
model with batch norm (``mlp_bn``: the one-hidden-layer MLP; ``convnet_bn_small``: a two-block ConvNet),
optionally trained on a stratified subset of the training split (``TeacherConfig.train_subset``), which
the curvature term's double backward makes affordable for a ConvNet on CPU. With ``warmup_epochs`` the
teacher first trains that many epochs without the term (constant learning rate), then ``epochs`` with it
under the usual schedule, as CURE fine-tunes a pre-trained network; GUARD's reference trains with the term
throughout. Both arms of a comparison get the same two phases. Reason: from scratch, a batch-norm ConvNet
whose term is taken in eval mode (running statistics still at their initial values) collapsed to chance
for λ ≥ 300 here.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import Tensor, nn

from condensekit.core.atomic import write_json, write_tensors
from condensekit.core.config import check_field_types
from condensekit.core.data import cache_dir
from condensekit.core.objectives.curvature import CurvatureRegularizer
from condensekit.core.optim import adam
from condensekit.core.registry import check_int, check_nonnegative, check_positive
from condensekit.core.vision import (
    ImageSplits,
    ImageTrainConfig,
    accuracy_metric,
    build_image_model,
    fit_images,
    predict,
)
from condensekit.core.vision.experts import regularizer_record
from condensekit.core.vision.methods import ImageCondensation, register_image_method
from condensekit.core.vision.models import batch_norm_layers as bn_layers  # SRe2L's name for them, re-exported
from condensekit.core.vision.train import Regularizer
from condensekit.robust.attacks import stratified_subset

__all__ = [
    "SRe2L",
    "SRe2LConfig",
    "TeacherConfig",
    "bn_layers",
    "data_identity",
    "load_teacher",
    "squeeze_teacher",
    "teacher_folder",
    "teacher_train_index",
    "warmed_up_teacher",
]


@dataclass(frozen=True)
class TeacherConfig:
    """How the squeeze step trains the teacher (the suite's SGD protocol on the real training set)."""

    model: str = field(default="mlp_bn", metadata={"help": "teacher architecture (needs batch norm)"})
    epochs: int = field(default=20, metadata={"help": "training epochs on the real training set"})
    lr: float = field(default=0.01, metadata={"help": "SGD learning rate (÷10 half way)"})
    batch_size: int = field(default=256, metadata={"help": "minibatch size"})
    seed: int = field(default=0, metadata={"help": "seed of the initialisation, the batch order and the subset"})
    train_subset: int = field(
        default=0,
        metadata={"help": "train on a stratified, seeded subset of this many training images (0: all of them)"},
    )
    warmup_epochs: int = field(
        default=0,
        metadata={"help": "plain epochs before the ``epochs`` that carry the curvature term (CURE's fine-tuning)"},
    )

    def __post_init__(self) -> None:
        check_field_types(self)  # numpy scalars stored as Python values (cards stay JSON); bool / Literal by kind
        ImageTrainConfig(epochs=self.epochs, lr=self.lr, batch_size=self.batch_size)  # validates
        check_int("warmup_epochs", self.warmup_epochs, 0)
        check_int("train_subset", self.train_subset, 0)  # 0: the whole training split


def data_identity(data: ImageSplits) -> dict[str, Any]:
    """What a teacher trained on ``data`` takes as input and returns (an expert buffer's identity keys): a
    teacher for other images (another MedMNIST size, which keeps the flag's name) is refused, not used."""
    return {"channels": data.channels, "im_size": list(data.im_size), "num_classes": data.num_classes,
            "mean": list(data.mean), "std": list(data.std)}  # fmt: skip


def teacher_folder(data: ImageSplits, config: TeacherConfig, reg: CurvatureRegularizer | None) -> Path:
    tag = "plain" if reg is None else reg.tag()  # older folders unchanged (the direction only when not the reference)
    sub = f"-{data.im_size[0]}px" if tuple(data.im_size) != (28, 28) else ""  # MedMNIST 64, 128, 224: own teachers
    sub += f"-n{config.train_subset}" if config.train_subset else ""
    sub += f"-w{config.warmup_epochs}" if config.warmup_epochs else ""
    bs = f"-b{config.batch_size}" if config.batch_size != 256 else ""
    return cache_dir("teachers") / (
        f"{data.name}-{config.model}-e{config.epochs}-lr{config.lr:g}{bs}{sub}-{tag}-s{config.seed}"
    )


def teacher_train_index(data: ImageSplits, config: TeacherConfig) -> Tensor | None:
    """Indices of the training images the teacher sees: a stratified subset of ``config.train_subset``
    images drawn with ``config.seed`` (:func:`~condensekit.robust.attacks.stratified_subset`), or ``None``
    for the whole training split."""
    if not config.train_subset or config.train_subset >= len(data.y_train):
        return None
    return stratified_subset(data.y_train.reshape(-1), config.train_subset, seed=config.seed)


def load_teacher(folder: str | os.PathLike[str], data: ImageSplits) -> tuple[nn.Module, dict[str, Any]]:
    """A teacher written by :func:`squeeze_teacher` (eval mode) and its card; a missing one raises
    ``FileNotFoundError``, one for other data (another name, or images of another size, channels, classes or
    normalisation: :func:`data_identity`) ``ValueError``."""
    card_path, weights = Path(folder) / "card.json", Path(folder) / "model.safetensors"
    if not (card_path.exists() and weights.exists()):
        raise FileNotFoundError(f"no teacher at {str(folder)!r} (card.json and model.safetensors); run the squeeze")
    card = json.loads(card_path.read_text())
    if card.get("dataset") != data.name:
        raise ValueError(f"teacher at {str(folder)!r} was trained on {card.get('dataset')!r}, not {data.name!r}")
    want = data_identity(data)
    have = card.get("data", want)  # cards written before it was recorded: the weights' shapes are checked below
    if have != want:
        diff = ", ".join(f"{k}: teacher {have.get(k)!r}, data {v!r}" for k, v in want.items() if have.get(k) != v)
        raise ValueError(f"teacher at {str(folder)!r} was trained on other {data.name!r} images ({diff}); pass another")
    model = card["config"]["model"]
    net = build_image_model(model, channels=data.channels, num_classes=data.num_classes, im_size=data.im_size)
    try:
        net.load_state_dict(load_file(str(weights)))
    except RuntimeError as err:
        raise ValueError(f"teacher at {str(folder)!r} does not fit {data.name!r}'s images: {err}") from err
    return net.eval(), card | {"folder": str(folder)}


def warmed_up_teacher(
    data: ImageSplits, config: TeacherConfig, *, device: torch.device | str = "cpu"
) -> tuple[nn.Module, Tensor, Tensor, torch.Generator]:
    """The first phase of :func:`squeeze_teacher`: the seeded network after its ``warmup_epochs`` plain epochs
    (none: as initialised), with the training images and labels it trains on and the generator its second
    phase continues. The same plain phase for both arms; only the second phase carries the curvature term."""
    torch.manual_seed(config.seed)
    net = build_image_model(config.model, channels=data.channels, num_classes=data.num_classes, im_size=data.im_size)
    net = net.to(device)
    x, y = data.x_train, data.y_train.reshape(-1).long()
    index = teacher_train_index(data, config)
    if index is not None:
        x, y = x[index.to(x.device)], y[index.to(y.device)]
    x, y = x.to(device), y.to(device)
    gen = torch.Generator(device=x.device).manual_seed(config.seed)
    if config.warmup_epochs:
        warm = ImageTrainConfig(epochs=config.warmup_epochs, lr=config.lr, batch_size=config.batch_size, lr_drop_at=1.0)
        fit_images(net, x, y, config=warm, generator=gen)
    return net, x, y, gen


def squeeze_teacher(
    data: ImageSplits,
    config: TeacherConfig = TeacherConfig(),
    regularizer: CurvatureRegularizer | None = None,
    *,
    folder: str | os.PathLike[str] | None = None,
    device: torch.device | str = "cpu",
) -> tuple[nn.Module, dict[str, Any]]:
    """SRe2L's squeeze: a teacher with batch norm trained on ``data``'s training split (with GUARD's
    curvature term when ``regularizer`` is given), cached as ``model.safetensors`` + ``card.json`` in
    ``folder`` (default: ``<cache>/teachers/<dataset>-<model>-e<epochs>-lr<lr>-<plain | curvλ-hh[-unit]>-s<seed>``).

    Returns the teacher in eval mode and its record (folder, config, curvature, validation accuracy)."""
    target = Path(folder) if folder is not None else teacher_folder(data, config, regularizer)
    curv = regularizer_record(regularizer)  # as an expert buffer's card records its term
    want = {"dataset": data.name, "config": asdict(config), "curvature": curv}
    net = build_image_model(config.model, channels=data.channels, num_classes=data.num_classes, im_size=data.im_size)
    if not bn_layers(net):
        raise ValueError(
            f"teacher model {config.model!r} has no batch-norm layer, which SRe2L's recovery matches; "
            "choose one with batch norm (mlp_bn, convnet_bn, resnet18)"
        )
    card_path, weights = target / "card.json", target / "model.safetensors"
    if card_path.exists() and weights.exists():
        card = json.loads(card_path.read_text())
        have = {k: card.get(k) for k in want}
        if isinstance(have["config"], dict):  # cards written before a field existed hold its default
            have["config"] = asdict(TeacherConfig()) | {"model": config.model} | have["config"]
        if have != want:
            raise ValueError(f"teacher folder {str(target)!r} holds {have}, this run wants {want}; pass another folder")
        net, record = load_teacher(target, data)
        return net.to(device), record
    if card_path.exists():  # a teacher writes its weights before its card: this card is something else's
        raise ValueError(
            f"folder {str(target)!r} holds a card.json but no model.safetensors: not a teacher (an expert buffer?), "
            "and training one there would overwrite its card; pass another folder"
        )
    cpu0 = time.process_time()
    net, x, y, gen = warmed_up_teacher(data, config, device=device)
    val_x, val_y = data.x_val.to(device), data.y_val.to(device)
    train = ImageTrainConfig(epochs=config.epochs, lr=config.lr, batch_size=config.batch_size)
    fit_images(net, x, y, config=train, regularizer=regularizer, generator=gen)
    cpu = time.process_time() - cpu0
    val = accuracy_metric(predict(net, val_x), val_y) if len(val_y) else None
    card = want | {"data": data_identity(data), "val_acc": val, "train_cpu_s": round(cpu, 1),
                   "train_images": int(x.shape[0])}  # fmt: skip
    target.mkdir(parents=True, exist_ok=True)
    write_tensors(weights, net.state_dict())  # readable to the other users of a shared folder
    write_json(card_path, card)
    return net.eval(), card | {"folder": str(target)}


@dataclass(frozen=True)
class SRe2LConfig:
    """SRe2L's recover-and-relabel settings (Yin et al., 2023; GUARD's base): ``iterations`` Adam steps of the images
    at ``lr_img`` (cosine schedule) against the batch-norm statistics term (weight ``r_bn``, the first layer's ×
    ``first_bn_multiplier``) with random jitter, then soft labels from the teacher at ``temperature``."""

    iterations: int = field(default=1000, metadata={"help": "recovery iterations (engine steps)"})
    lr_img: float = field(default=0.25, metadata={"help": "Adam learning rate of the images (cosine schedule)"})
    r_bn: float = field(default=0.01, metadata={"help": "weight of the batch-norm statistics term"})
    first_bn_multiplier: float = field(default=10.0, metadata={"help": "extra weight of the first BN layer"})
    jitter: int = field(default=4, metadata={"help": "random roll of up to this many pixels each step"})
    temperature: float = field(default=30.0, metadata={"help": "relabel softmax temperature T (students: T²·KD)"})
    init: str = field(default="noise", metadata={"help": "noise (the reference) or real"})
    model: str = field(default="mlp_bn", metadata={"help": "the teacher's architecture (recorded)"})

    def __post_init__(self) -> None:
        check_field_types(self)  # numpy scalars stored as Python values (cards stay JSON); bool / Literal by kind
        check_int("iterations", self.iterations, 1)  # 0 returned the initial noise, relabelled, as the condensed set
        check_int("jitter", self.jitter, 0)
        for name in ("lr_img", "temperature"):
            check_positive(name, getattr(self, name))
        for name in ("r_bn", "first_bn_multiplier"):
            check_nonnegative(name, getattr(self, name))


@register_image_method("sre2l", SRe2LConfig, "SRe2L (NeurIPS 2023): recover images from a BN teacher, relabel")
class SRe2L(ImageCondensation):
    """Recover (one engine step = one Adam step on every image) and relabel; needs ``teacher=nn.Module``."""

    config: SRe2LConfig
    name = "sre2l"

    def __init__(
        self,
        data: ImageSplits,
        ipc: int,
        config: SRe2LConfig,
        *,
        regularizer: Regularizer | None = None,
        teacher: nn.Module | None = None,
    ) -> None:
        super().__init__(data, ipc, config, regularizer=regularizer)
        if teacher is None:
            raise ValueError("method 'sre2l' needs a trained teacher (resource teacher=nn.Module; see squeeze_teacher)")
        if data.multilabel:
            raise ValueError(f"method 'sre2l' relabels single-label tasks; {data.name!r} is {data.task!r}")
        if not bn_layers(teacher):
            raise ValueError("method 'sre2l' needs a teacher with batch-norm layers (their statistics are matched)")
        self.teacher = teacher

    def setup(self, device: torch.device) -> None:
        super().setup(device)
        self.teacher = self.teacher.to(device).eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        # the g-th image of every class forms BN batch g (the reference: one image per class per batch)
        starts = torch.tensor([self.syn_slices[c].start for c in self.classes], device=device)
        self.order = (starts.view(1, -1) + torch.arange(self.ipc, device=device).view(-1, 1)).reshape(-1)
        self.k = len(self.classes)
        self.stats: list[Tensor] = []
        self.matching = False  # the hooks record only the recovery's forward pass
        self.hooks = [m.register_forward_hook(self._bn_hook) for m in bn_layers(self.teacher)]
        mean = torch.tensor(self.data.mean, device=device).view(1, -1, 1, 1)
        std = torch.tensor(self.data.std, device=device).view(1, -1, 1, 1)
        self.lo, self.hi = -mean / std, (1 - mean) / std
        self.opt = adam([self.x_syn], lr=self.config.lr_img, betas=(0.5, 0.9), eps=1e-8)

    def _bn_hook(self, module: nn.Module, inputs: tuple[Tensor, ...], _out: Tensor) -> None:
        if not self.matching:
            return
        x = inputs[0]
        grouped = x.reshape(self.ipc, self.k, x.shape[1], -1)  # G × K × C × (spatial)
        mean = grouped.mean(dim=(1, 3))
        var = grouped.var(dim=(1, 3), unbiased=False)
        dist = (mean - module.running_mean).norm(dim=1) + (var - module.running_var).norm(dim=1)
        self.stats.append(dist.sum())

    def stateful(self) -> dict[str, Any]:
        return {"x": self.x_syn, "opt": self.opt}

    def step(self, step: int) -> dict[str, float]:
        cfg = self.config
        lr = 0.5 * cfg.lr_img * (1 + math.cos(math.pi * step / max(self.steps(), 1)))
        for group in self.opt.param_groups:
            group["lr"] = lr
        x = self.x_syn[self.order]
        if cfg.jitter > 0:
            off = torch.randint(0, cfg.jitter + 1, (2,), device="cpu").tolist()  # CPU generator: no device sync
            x = torch.roll(x, shifts=(off[0], off[1]), dims=(2, 3))
        self.stats, self.matching = [], True
        try:
            out = self.teacher(x)
        finally:
            self.matching = False
        # Σ over the BN batches of each batch's mean cross-entropy
        ce = F.cross_entropy(out, self.y_syn[self.order].reshape(-1).long(), reduction="sum") / self.k
        scale = [cfg.first_bn_multiplier] + [1.0] * (len(self.stats) - 1)
        bn = torch.stack([s * w for s, w in zip(self.stats, scale, strict=True)]).sum()
        loss = ce + cfg.r_bn * bn
        reg = self.regularize(self.teacher)
        total = loss if reg is None else loss + reg
        self.opt.zero_grad(set_to_none=True)
        total.backward()
        self.opt.step()
        with torch.no_grad():
            self.x_syn.copy_(torch.maximum(torch.minimum(self.x_syn, self.hi), self.lo))
        # one host read (a sync on CUDA) for the three logged values, not three; each value is exact as before
        loss_v, ce_v, bn_v = torch.stack([loss.detach(), ce.detach(), bn.detach()]).tolist()
        return {"loss": loss_v, "ce": ce_v, "bn": bn_v}

    @torch.no_grad()
    def relabel(self, x: Tensor) -> Tensor:
        """The teacher's soft labels ``softmax(f_T(x) / T)`` (N×K), in eval mode."""
        return torch.softmax(predict(self.teacher, x) / self.config.temperature, dim=-1)

    def condensed(self) -> dict[str, Tensor]:
        x = self.x_syn.detach()
        return {"x": x, "y": self.y_syn.detach(), "soft": self.relabel(x)}

    def memory_hint(self) -> str:
        return "lower --ipc (all images are recovered in one batch)"
