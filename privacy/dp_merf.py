r"""DP-MERF: fit synthetic images to one noisy class-conditional mean embedding.

`Harder et al., AISTATS 2021 <https://arxiv.org/abs/2002.11603>`_. The real data is touched once, in
:func:`~condensekit.privacy.embedding.release_embedding` (the (ε, δ)-DP release of
:math:`\widetilde{\mu}_P \in \mathbb{R}^{D \times C}`); both methods then minimise, as post-processing,

.. math::
    \mathcal{L}(\mathbf{X}') = \Big\lVert \widetilde{\mu}_P - \frac{1}{m} \sum_{j=1}^{m}
        \varphi(\mathbf{x}'_j) \, \mathbf{y}'^{\top}_j \Big\rVert_F^2 ,

the random-feature MMD² of :func:`condensekit.core.objectives.rff_mmd2` with the labels as a second,
linear kernel (Eq. 8 of the paper).

* ``dp-merf`` (:class:`DPMERFGenerator`): the paper's conditional generator. :math:`\mathbf{x}' =
  G([\mathbf{z}, \mathbf{y}'])`, :math:`\mathbf{z} \sim \mathcal{N}(0, I_5)`, :math:`\mathbf{y}'` uniform;
  architecture and schedule of the authors' MNIST code (``code_balanced/mnist_sr_gen.py``, ParkLabML/DP-MERF):
  FC 15→200 (BN, ReLU) → FC 200→16·7·7 (BN) → upsample ×2 → conv 5×5 16→8, ReLU → upsample ×2 →
  conv 5×5 8→1 → sigmoid; Adam, lr 0.01 decayed ×0.9 per epoch, batch 100, 5 epochs of n/100 steps;
  D = 10,000 paired features with :math:`W \sim \mathcal{N}(0, I/105)` (bandwidth :math:`\sqrt{105}` on
  [0, 1] pixels). The released set is ``samples_per_class`` generated images per class (the paper: 60,000
  in all; fewer here to keep CPU evaluation affordable — stated in the card).
* ``dp-merf-condensed`` (:class:`DPMERFCondensed`): no generator; ``ipc`` images per class are optimised
  directly against :math:`\widetilde{\mu}_P`, through the image prior of :mod:`condensekit.privacy.prior`
  (:math:`\mathbf{x}' = \mathrm{sigmoid}(\mathrm{up}_k(\mathbf{u}))`, logits on a grid ``downsample`` = k
  times coarser than the image, default 2, plus an optional total-variation penalty ``tv``), initialised from
  noise — never from real images, which would leak them —, optionally with several bandwidths stacked into
  one unit-norm feature (same privacy cost: see :class:`~condensekit.privacy.embedding.StackedFeatures`).
  Same release, same ε: the prior is post-processing.

The noise is drawn from a secret generator (:mod:`condensekit.privacy.noise`), not from the run's recorded
seed: two runs with one seed release different sets.

Deviations: the noise multiplier is calibrated with the exact analytic Gaussian mechanism by default
(σ = 3.73 for (1, 1e-5); the repository uses 5.0, whose exact ε is 0.73 and RDP ε 0.79);
``accountant="rdp"`` gives the
RDP calibration. Labels are assumed uniform (class counts are not released; see
:mod:`condensekit.privacy.embedding`). No validation-based choice of the iterate: the last one is released.
The condensed variant's defaults are ours (the paper has no such variant): D = 4,000 features per
bandwidth, bandwidths √105 × {0.5, 1, 2} stacked, logits on a 14×14 grid for MNIST (``downsample`` 2), no
TV term, Adam lr 0.05, 1,000 full-batch steps, ``ipc`` 10. An earlier sitting picked the prior and the
bandwidths by MNIST *test* accuracy. ``ipc`` and the bandwidths are now chosen on the **validation** split
(5,000 stratified images held out of the training file, never released): ``benchmarks/privacy.py --select``
scores a small grid (at ε = 0.2: ``ipc`` 10 / 50 × bandwidths {0.5, 1, 2} / {1, 2, 4}, then ``ipc`` 100; at
ε = 1 and 10: ``ipc`` 10 / 50 / 100; at ε = 1, ``ipc`` 10: ``downsample`` 1 / 2 / 4) by the mean validation
accuracy of LR / MLP / CNN, records every point in ``benchmarks/results/privacy.json``, and the benchmark's
condensed rows use the chosen setting (``ipc`` 100 at every ε; the default ``ipc`` stays 10, the cheapest
set; ``downsample`` 2 won on validation too). D, lr, steps and three bandwidths against one were re-checked
on validation at ε = 1, ``ipc`` 10 (D 2,000 / 8,000, lr 0.02 / 0.1, steps 500 / 2,000, bandwidths {1}):
the defaults hold except lr, where 0.1 scored 0.6 points higher; it won at ``ipc`` 100 too (85.4 against
84.7), so ε = 1's chosen setting has lr 0.1; at ε = 0.2 (80.1 against 79.9) and ε = 10 (86.8 against 85.5) it
won at ``ipc`` 100 as well. The defaults stay. No TV term, once a test-based choice, holds on validation too
(ε = 1, ``ipc`` 10: ``tv`` 0.1 / 0.3 / 1 score 79.9 / 79.7 / 77.4 against 80.9). Choosing on validation
images spends no *accounted* privacy but is not covered by the release's guarantee either: they are private
training data (the usual caveat of the DP literature).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from condensekit.core.config import check_field_types
from condensekit.core.modes import eval_mode
from condensekit.core.optim import adam
from condensekit.core.registry import check_choice, check_int, check_nonnegative, check_positive
from condensekit.core.vision import ImageSplits
from condensekit.privacy.accounting import check_delta, check_epsilon
from condensekit.privacy.base import PrivateMethod, register_private_method, to_normalised
from condensekit.privacy.embedding import NoisyEmbedding, StackedFeatures, class_embedding, release_embedding
from condensekit.privacy.prior import GridPrior, total_variation

__all__ = [
    "ConditionalGenerator",
    "DPMERFCondensed",
    "DPMERFCondensedConfig",
    "DPMERFConfig",
    "DPMERFGenerator",
    "ReleaseConfig",
]


#: How σ is calibrated when it is 0: the ``accountant`` of :func:`~condensekit.privacy.accounting.noise_for_epsilon`.
_ACCOUNTANTS = ("analytic", "rdp")


def _scales(text: str) -> list[float]:
    try:
        out = [float(s) for s in text.split(",") if s.strip()]
    except (ValueError, AttributeError):  # AttributeError: not a string
        out = []
    if not out or any(not (s > 0 and math.isfinite(s)) for s in out):
        raise ValueError(
            f"Invalid value {text!r} for argument bandwidth_scales. Valid values: positive numbers, e.g. '0.5,1,2'"
        )
    return out


def _channels(text: str) -> tuple[int, int]:
    """``"16,8"`` → ``(16, 8)``: the generator's two conv widths."""
    try:
        out = [int(c) for c in text.split(",")]
    except (ValueError, AttributeError):  # AttributeError: not a string
        out = []
    if len(out) != 2 or min(out) < 1:
        raise ValueError(f"Invalid value {text!r} for argument channels. Valid values: two ints >= 1, e.g. '16,8'")
    return out[0], out[1]


@dataclass(frozen=True)
class ReleaseConfig:
    """The single release: budget, noise calibration and the random-feature map."""

    epsilon: float = field(default=1.0, metadata={"help": "privacy budget ε of the single release"})
    delta: float = field(default=1e-5, metadata={"help": "δ (keep it well below 1/n)"})
    allow_large_delta: bool = field(
        default=False, metadata={"help": "release even with δ ≥ 1/n (meaningless; the card records it)"}
    )
    sigma: float = field(default=0.0, metadata={"help": "noise multiplier; 0 calibrates it to (ε, δ)"})
    accountant: str = field(default="analytic", metadata={"help": "σ calibration: analytic (exact) or rdp"})
    n_features: int = field(default=10_000, metadata={"help": "random features D per bandwidth (cos + sin pairs)"})
    bandwidth: float = field(default=math.sqrt(105.0), metadata={"help": "Gaussian kernel bandwidth on [0,1] pixels"})
    bandwidth_scales: str = field(default="1", metadata={"help": "comma-separated multiples of bandwidth, stacked"})

    def __post_init__(self) -> None:
        """Each field checked when the config is made (the δ < 1/n rule needs n: the method checks it)."""
        check_field_types(self)  # allow_large_delta="yes"; numpy scalars stored as Python numbers
        check_epsilon(self.epsilon)
        check_delta(self.delta)
        check_nonnegative("sigma", self.sigma)  # 0: calibrated to (ε, δ)
        check_choice("accountant", self.accountant, _ACCOUNTANTS)
        check_int("n_features", self.n_features, 1)
        check_positive("bandwidth", self.bandwidth)  # else the feature map's error names its own "sigma"
        _scales(self.bandwidth_scales)


@dataclass(frozen=True)
class DPMERFConfig(ReleaseConfig):
    """DP-MERF generator (defaults: the authors' MNIST settings)."""

    code_dim: int = field(default=5, metadata={"help": "generator code dimension"})
    hidden: int = field(default=200, metadata={"help": "generator FC width"})
    channels: str = field(default="16,8", metadata={"help": "generator conv channels"})
    kernel_size: int = field(default=5, metadata={"help": "generator conv kernel size"})
    lr: float = field(default=0.01, metadata={"help": "Adam learning rate"})
    lr_decay: float = field(default=0.9, metadata={"help": "learning-rate factor per epoch"})
    batch_size: int = field(default=100, metadata={"help": "generated images per step"})
    epochs: int = field(default=5, metadata={"help": "epochs of n/batch_size steps"})
    samples_per_class: int = field(default=6000, metadata={"help": "generated images per class in the artifact"})

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("batch_size", "samples_per_class", "code_dim", "hidden", "kernel_size"):
            check_int(name, getattr(self, name), 1)
        check_int("epochs", self.epochs, 0)
        for name in ("lr", "lr_decay"):
            check_positive(name, getattr(self, name))
        _channels(self.channels)


@dataclass(frozen=True)
class DPMERFCondensedConfig(ReleaseConfig):
    """DP-MERF condensed variant (defaults: see the module docstring)."""

    n_features: int = field(default=4000, metadata={"help": "random features D per bandwidth (cos + sin pairs)"})
    bandwidth_scales: str = field(
        default="0.5,1,2", metadata={"help": "comma-separated multiples of bandwidth, stacked in one release"}
    )
    ipc: int = field(default=10, metadata={"help": "synthetic images per class"})
    lr: float = field(default=0.05, metadata={"help": "Adam learning rate on the pixel logits"})
    steps: int = field(default=1000, metadata={"help": "full-batch optimisation steps"})
    downsample: int = field(
        default=2, metadata={"help": "logit grid this many times coarser than the image (1: one per pixel)"}
    )
    tv: float = field(default=0.0, metadata={"help": "total-variation weight λ (relative to ||released embedding||²)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("ipc", self.ipc, 1)
        check_positive("lr", self.lr)
        check_int("steps", self.steps, 0)
        check_int("downsample", self.downsample, 1)  # its upper bound, the image side, is checked with the data
        check_nonnegative("tv", self.tv)


class ConditionalGenerator(nn.Module):
    """DP-MERF's MNIST generator (``ConvCondGen`` of the authors' code): code ⊕ one-hot label → image in [0, 1]."""

    def __init__(
        self, code_dim: int, num_classes: int, *, hidden: int, channels: tuple[int, int], kernel_size: int,
        out_channels: int, im_size: tuple[int, int],
    ) -> None:  # fmt: skip
        super().__init__()
        if im_size[0] % 4 or im_size[1] % 4:
            raise ValueError(f"ConditionalGenerator needs H and W divisible by 4, got im_size {im_size}")
        self.code_dim, self.num_classes = code_dim, num_classes
        self.start = (channels[0], im_size[0] // 4, im_size[1] // 4)
        pad = (kernel_size - 1) // 2
        self.fc = nn.Sequential(
            nn.Linear(code_dim + num_classes, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, math.prod(self.start)), nn.BatchNorm1d(math.prod(self.start)),
        )  # fmt: skip
        self.conv = nn.Sequential(
            nn.UpsamplingBilinear2d(scale_factor=2), nn.Conv2d(channels[0], channels[1], kernel_size, padding=pad),
            nn.ReLU(), nn.UpsamplingBilinear2d(scale_factor=2),
            nn.Conv2d(channels[1], out_channels, kernel_size, padding=pad), nn.Sigmoid(),
        )  # fmt: skip

    def forward(self, code: Tensor, labels: Tensor) -> Tensor:
        onehot = nn.functional.one_hot(labels, self.num_classes).to(code.dtype)
        h = self.fc(torch.cat([code, onehot], dim=1))
        return self.conv(h.view(-1, *self.start))


class _EmbeddingMethod(PrivateMethod):
    """Shared by both variants: the single release in :meth:`setup` and the card's privacy record."""

    released: NoisyEmbedding

    def __init__(self, data: ImageSplits, config: ReleaseConfig) -> None:
        super().__init__(data, config)
        # δ ≥ 1/n refused when the method is made, before the engine starts (the release checks it again)
        check_delta(config.delta, int(data.x_train.shape[0]), allow_large_delta=config.allow_large_delta)

    def _release(self, device: torch.device) -> None:
        cfg, data = self.config, self.data
        dim = data.channels * data.im_size[0] * data.im_size[1]
        bws = [cfg.bandwidth * s for s in _scales(cfg.bandwidth_scales)]
        self.features = StackedFeatures.build(dim, cfg.n_features, bws, generator=None, device=device)
        self.released = release_embedding(
            data, self.features, epsilon=cfg.epsilon, delta=cfg.delta, sigma=cfg.sigma, accountant=cfg.accountant,
            allow_large_delta=cfg.allow_large_delta,
        )  # fmt: skip
        self.target = self.released.value

    def loss(self, x01: Tensor, labels: Tensor) -> Tensor:
        return (self.target - class_embedding(self.features, x01, labels, self.data.num_classes)).pow(2).sum()

    def _descend(self, loss: Tensor) -> dict[str, float]:
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"loss": float(loss.detach())}

    def privacy(self, steps_done: int) -> dict[str, Any]:
        return self.released.report.to_card()

    def stateful(self) -> dict[str, Any]:
        return {"target": self.target}


@register_private_method(
    "dp-merf", DPMERFConfig, "DP-MERF (AISTATS 2021): conditional generator fit to one noisy RFF embedding"
)
class DPMERFGenerator(_EmbeddingMethod):
    config: DPMERFConfig

    def __init__(self, data: ImageSplits, config: DPMERFConfig) -> None:
        super().__init__(data, config)
        self.steps_per_epoch = max(1, int(data.x_train.shape[0]) // config.batch_size)

    def default_steps(self) -> int:
        return self.config.epochs * self.steps_per_epoch

    def budget(self) -> dict[str, Any]:
        return {"samples_per_class": self.config.samples_per_class}

    def setup(self, device: torch.device) -> None:
        cfg, data = self.config, self.data
        self.device = device
        self._release(device)
        self.gen = ConditionalGenerator(
            cfg.code_dim, data.num_classes, hidden=cfg.hidden, channels=_channels(cfg.channels),
            kernel_size=cfg.kernel_size, out_channels=data.channels, im_size=data.im_size,
        ).to(device)  # fmt: skip
        self.opt = adam(self.gen.parameters(), lr=cfg.lr)

    def step(self, step: int) -> dict[str, float]:
        cfg = self.config
        for group in self.opt.param_groups:
            group["lr"] = cfg.lr * cfg.lr_decay ** (step // self.steps_per_epoch)
        self.gen.train()
        code = torch.randn(cfg.batch_size, cfg.code_dim, device=self.device)
        labels = torch.randint(self.data.num_classes, (cfg.batch_size,), device=self.device)
        return self._descend(self.loss(self.gen(code, labels), labels))

    @torch.no_grad()
    def condensed(self) -> dict[str, Tensor]:
        cfg, k = self.config, self.data.num_classes
        labels = torch.arange(k, device=self.device).repeat_interleave(cfg.samples_per_class)
        gen = torch.Generator(device=self.device).manual_seed(0)
        code = torch.randn(labels.numel(), cfg.code_dim, generator=gen, device=self.device)
        with eval_mode(self.gen):
            x01 = torch.cat(
                [self.gen(code[i : i + 4096], labels[i : i + 4096]) for i in range(0, labels.numel(), 4096)]
            )
        return {"x": to_normalised(self.data, x01), "y": labels}

    def stateful(self) -> dict[str, Any]:
        return super().stateful() | {"gen": self.gen, "opt": self.opt}


@register_private_method(
    "dp-merf-condensed", DPMERFCondensedConfig, "DP-MERF release, images per class optimised directly (no generator)"
)
class DPMERFCondensed(_EmbeddingMethod):
    config: DPMERFCondensedConfig

    def budget(self) -> dict[str, Any]:
        return {"ipc": self.config.ipc}

    def setup(self, device: torch.device) -> None:
        cfg, data = self.config, self.data
        self.prior = GridPrior(cfg.downsample, tuple(data.im_size))
        self._release(device)
        self.labels = torch.arange(data.num_classes, device=device).repeat_interleave(cfg.ipc)
        shape = self.prior.logit_shape(self.labels.numel(), data.channels)
        self.logits = torch.randn(shape, device=device).requires_grad_(True)
        self.opt = adam([self.logits], lr=cfg.lr)

    def step(self, step: int) -> dict[str, float]:
        x01 = self.prior.images(self.logits)
        loss = self.loss(x01, self.labels)
        if self.config.tv:  # scaled by the released embedding's norm (restored on resume): post-processing
            loss = loss + self.config.tv * self.target.pow(2).sum() * total_variation(x01)
        return self._descend(loss)

    @torch.no_grad()
    def condensed(self) -> dict[str, Tensor]:
        return {"x": to_normalised(self.data, self.prior.images(self.logits)), "y": self.labels.clone()}

    def stateful(self) -> dict[str, Any]:
        return super().stateful() | {"logits": self.logits, "opt": self.opt}
