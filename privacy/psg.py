r"""PSG: private set generation by gradient matching with DP-SGD real gradients.

`Chen, Kerkouche & Fritz, "Private Set Generation with Discriminative Information", NeurIPS 2022
<https://arxiv.org/abs/2211.04446>`_. Dataset condensation by gradient matching (Zhao et al., ICLR 2021)
where every real-data gradient is privatised as in DP-SGD (Abadi et al. 2016):

.. math::
    \tilde{g}(\theta) = \frac{1}{qN} \Big( \sum_{i \in B} \mathrm{clip}_C\big(\nabla_\theta
        \ell(f_\theta(\mathbf{x}_i), y_i)\big) + \mathcal{N}(0, \sigma^2 C^2 I) \Big),
    \qquad B \sim \text{Poisson}(q),

    \min_{S} \; \mathbb{E}_{\theta_0} \Big[ \sum_{t}
        D\big(\nabla_\theta \ell(S; \theta_t), \tilde{g}(\theta_t)\big) \Big],

with :math:`\mathrm{clip}_C(g) = g \min(1, C / \lVert g \rVert)` and :math:`D` the layer-wise distance
:func:`condensekit.core.objectives.dc_distance`. Per-sample gradients come from ``torch.func`` (``vmap`` of
``grad`` over :func:`torch.func.functional_call`), not opacus hooks; the batch is a Poisson sample of rate
:math:`q` = ``batch_real / N`` (an empty batch still gets its noise).

One engine step is the paper's outer iteration: a fresh network, ``outer_loop`` rounds of ``batch_loop``
(private gradient, synthetic update) pairs, the network trained ``inner_loop`` epochs on the synthetic set
between rounds (post-processing: it never sees real data). Every private gradient is one sampled Gaussian
release; the RDP accountant (:mod:`condensekit.privacy.accounting`) covers all
``steps × outer_loop × batch_loop`` of them, under add-remove-one neighbouring (sensitivity :math:`C` of the
clipped sum). The record count :math:`n` is treated as public, as opacus does: :math:`q` is derived from it
and the card records both (strictly, add-remove-one protects :math:`n` too). With σ = 0 the noise is
calibrated so the requested steps spend exactly (ε, δ); with a given σ, the run stops at the last step the
budget allows and the card says so (``stopped_early``).
The Poisson batches and the gradient noise come from a secret generator (:mod:`condensekit.privacy.noise`),
not from the run's recorded seed (a known batch voids the amplification by subsampling, known noise the
mechanism); the matching networks and the synthetic set's initialisation stay seeded (public).

Defaults follow the authors' code (``main.py`` of DingfanChen/Private-Set): ConvNet (instance norm; batch norm
would mix samples), synthetic images from noise, SGD lr 0.1 momentum 0.5 on images, lr 0.01 on the network,
batch 256, clip 0.1, 10 batches per round, outer/inner loops 10/50 for 10 images per class, 1,000
iterations. Deviation: the synthetic set is matched as a whole, like the authors' code (not class by class
as in DC).

The clip norm :math:`C` changes nothing while it clips every per-sample gradient: the clipped sum and the
noise both scale with :math:`C`, and :math:`D` (``metric="dc"``: one minus a cosine per output unit; ``mse``
is not) is scale-invariant, so the synthetic images follow the same path for every such :math:`C`. On MNIST
every per-sample gradient of a fresh logistic regression, MLP or :data:`PSG_SMALL_CONVNET` has norm above 6
(smallest of 512 training images: 16.8, 6.6, 14.9; ``benchmarks/privacy.py --grad-norms``), far above the
paper's 0.1. The levers that matter are σ (set by ε and the number of private gradients), the matching
network and the image learning rate.

Schedules (:data:`PSG_SCHEDULES`): ``paper`` is the defaults above (100,000 private gradients through a
ConvNet-3, GPU scale); ``cpu`` is the reduced schedule the CPU benchmark rows use (BENCHMARKS.md gives the
validation runs behind it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

from condensekit.core.config import check_field_types
from condensekit.core.objectives import GRADIENT_METRICS, gradient_distance
from condensekit.core.optim import sgd
from condensekit.core.registry import Registry, check_choice, check_int, check_nonnegative, check_positive
from condensekit.core.vision import (
    IMAGE_MODELS,
    ImageSplits,
    ImageTrainConfig,
    batch_norm_layers,
    build_image_model,
    fit_images,
)
from condensekit.core.vision.convnet import ConvNet
from condensekit.privacy.accounting import (
    GaussianRelease,
    account,
    check_delta,
    check_epsilon,
    check_sigma_for_target,
    noise_for_epsilon,
    steps_within_budget,
)
from condensekit.privacy.base import PrivateMethod, register_private_method
from condensekit.privacy.noise import NOISE_SOURCE, secret_generator

__all__ = ["PSG", "PSGConfig", "PSG_SCHEDULES", "per_sample_gradients", "private_gradient"]


@dataclass(frozen=True)
class PSGConfig:
    """PSG hyper-parameters (defaults: the authors' MNIST code for 10 images per class)."""

    epsilon: float = field(default=10.0, metadata={"help": "privacy budget ε over all private gradients"})
    delta: float = field(default=1e-5, metadata={"help": "δ (keep it well below 1/n)"})
    allow_large_delta: bool = field(
        default=False, metadata={"help": "release even with δ ≥ 1/n (meaningless; the card records it)"}
    )
    sigma: float = field(default=0.0, metadata={"help": "noise multiplier; 0 calibrates it to spend ε exactly"})
    clip: float = field(default=0.1, metadata={"help": "per-sample gradient clipping norm C"})
    ipc: int = field(default=10, metadata={"help": "synthetic images per class"})
    steps: int = field(default=1000, metadata={"help": "outer iterations (fresh networks)"})
    outer_loop: int = field(default=10, metadata={"help": "rounds per iteration"})
    inner_loop: int = field(default=50, metadata={"help": "network epochs on the synthetic set between rounds"})
    batch_loop: int = field(default=10, metadata={"help": "private gradients (synthetic updates) per round"})
    batch_real: int = field(default=256, metadata={"help": "expected Poisson batch size of real data"})
    lr_img: float = field(default=0.1, metadata={"help": "SGD learning rate on the images"})
    lr_net: float = field(default=0.01, metadata={"help": "SGD learning rate on the network"})
    model: str = field(default="convnet", metadata={"help": "matching network (no batch norm)"})
    metric: str = field(default="dc", metadata={"help": "gradient distance: dc, mse or cos"})

    def __post_init__(self) -> None:
        """Each field checked when the config is made; what needs the data (δ < 1/n, ``batch_real`` <= n, a
        ``model`` without batch norm) is checked when :class:`PSG` is made."""
        check_field_types(self)  # allow_large_delta="yes"; numpy scalars stored as Python numbers
        check_epsilon(self.epsilon)
        check_delta(self.delta)
        check_nonnegative("sigma", self.sigma)  # 0: calibrated to spend ε exactly
        check_choice("metric", self.metric, GRADIENT_METRICS)
        for name in ("ipc", "outer_loop", "batch_loop", "batch_real"):
            check_int(name, getattr(self, name), 1)
        for name in ("steps", "inner_loop"):
            check_int(name, getattr(self, name), 0)
        for name in ("clip", "lr_img", "lr_net"):  # a NaN or negative one released a NaN or unfit set silently
            check_positive(name, getattr(self, name))


#: A CPU-sized matching network for PSG: the paper's ConvNet (instance norm, which is per sample and so keeps
#: per-sample gradients exact) cut to 2 blocks of width 16: about 10k parameters (7.9k in the classifier)
#: against the ConvNet-3's 310k on MNIST. Its stem is padded by 1 (28 → 14 → 7, 784 features), the layout its
#: benchmark rows were measured with; the full ``convnet`` follows the reference's padding of 3 for 1-channel input.
PSG_SMALL_CONVNET = "convnet_small_in"
if PSG_SMALL_CONVNET not in IMAGE_MODELS:
    IMAGE_MODELS.register(PSG_SMALL_CONVNET, partial(ConvNet, width=16, depth=2, stem_padding=1))

#: Named PSG schedules: overrides of :class:`PSGConfig` (``benchmarks/privacy.py --schedule NAME``).
#: ``paper``: the authors' MNIST schedule, i.e. the config defaults (ConvNet, 10 rounds × 10 private gradients,
#: 50 network epochs between rounds, 1,000 iterations: 100,000 private gradients; GPU scale, not run here).
#: ``cpu``: the reduced schedule of the CPU rows (logistic regression as the matching network, one round of 10
#: private gradients, 1,000 iterations: 10,000 private gradients); see BENCHMARKS.md for how it was chosen.
PSG_SCHEDULES: Registry[dict[str, Any]] = Registry("schedule")
PSG_SCHEDULES.register("paper", {})
PSG_SCHEDULES.register("cpu", {"model": "lr", "outer_loop": 1, "batch_loop": 10, "steps": 1000})


def per_sample_gradients(model: nn.Module, x: Tensor, y: Tensor) -> tuple[dict[str, Tensor], Tensor]:
    """Per-sample cross-entropy gradients of ``model`` at its current parameters (``torch.func``: ``vmap`` of
    ``grad``): ``{name: B × shape}`` for every parameter, and their joint L2 norms (B,)."""
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def loss_one(p: dict[str, Tensor], xi: Tensor, yi: Tensor) -> Tensor:
        out = functional_call(model, (p, buffers), (xi.unsqueeze(0),))
        return F.cross_entropy(out, yi.unsqueeze(0))

    per = vmap(grad(loss_one), in_dims=(None, 0, 0))(params, x, y)
    return per, torch.sqrt(sum(g.flatten(1).pow(2).sum(1) for g in per.values()))


def private_gradient(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    clip: float,
    sigma: float,
    expected_batch: float,
    generator: torch.Generator | None = None,
) -> list[Tensor]:
    """DP-SGD's gradient: per-sample cross-entropy gradients (:func:`per_sample_gradients`), each clipped to
    norm ``clip``, summed, plus :math:`\\mathcal{N}(0, (\\sigma C)^2)` noise, divided by ``expected_batch``; one
    tensor per parameter of ``model`` (in ``model.parameters()`` order). ``generator``: the noise's source on
    the parameters' device; ``None`` draws from a fresh :func:`~condensekit.privacy.noise.secret_generator`
    (a seeded one makes the noise known to whoever knows the seed: tests only)."""
    params = {k: v.detach() for k, v in model.named_parameters()}
    if x.shape[0]:
        per, norms = per_sample_gradients(model, x, y)
        factor = (clip / (norms + 1e-6)).clamp(max=1.0)
        sums = {k: torch.einsum("b,b...->...", factor, g) for k, g in per.items()}
    else:
        sums = {k: torch.zeros_like(v) for k, v in params.items()}
    if generator is None and params:
        generator = secret_generator(next(iter(params.values())).device)

    def noise(v: Tensor) -> Tensor:
        return torch.randn(v.shape, generator=generator, device=v.device, dtype=v.dtype)

    return [(sums[k] + sigma * clip * noise(v)) / expected_batch for k, v in params.items()]


@register_private_method("psg", PSGConfig, "PSG (NeurIPS 2022): gradient matching with DP-SGD real gradients")
class PSG(PrivateMethod):
    config: PSGConfig

    def __init__(self, data: ImageSplits, config: PSGConfig) -> None:
        super().__init__(data, config)
        self.n = int(data.x_train.shape[0])
        check_delta(config.delta, self.n, allow_large_delta=config.allow_large_delta)
        if not 0 < config.batch_real <= self.n:
            raise ValueError(f"Invalid value {config.batch_real!r} for argument batch_real. Valid values: 1..{self.n}")
        self.q = config.batch_real / self.n
        batch_norms = sorted({type(m).__name__ for m in batch_norm_layers(self._fresh_model())})
        if batch_norms:
            raise ValueError(
                f"Invalid value {config.model!r} for argument model: its {', '.join(batch_norms)} mixes the records of "
                "a batch, so DP-SGD's per-sample gradients are not defined; use a network without batch norm, e.g. "
                f"convnet (instance norm), {PSG_SMALL_CONVNET}, lr, mlp or cnn"
            )
        self.per_step = config.outer_loop * config.batch_loop
        self._sigma: float | None = config.sigma or None

    def sigma_for(self, steps: int) -> float:
        """σ spending exactly (ε, δ) over ``steps`` engine steps (or the configured σ, checked)."""
        cfg = self.config
        if self._sigma is None:
            self._sigma = noise_for_epsilon(
                cfg.epsilon, cfg.delta, sample_rate=self.q, steps=max(1, steps * self.per_step), accountant="rdp"
            )
        return self._sigma

    def max_steps(self, requested: int) -> int:
        cfg = self.config
        sigma = self.sigma_for(requested)
        if cfg.sigma:
            check_sigma_for_target(sigma, cfg.epsilon, cfg.delta, sample_rate=self.q, steps=1, accountant="rdp")
            releases = steps_within_budget(
                sigma, self.q, cfg.epsilon, cfg.delta, max_steps=max(1, requested * self.per_step)
            )
            return min(requested, releases // self.per_step)
        return requested

    def budget(self) -> dict[str, Any]:
        return {"ipc": self.config.ipc}

    def setup(self, device: torch.device) -> None:
        cfg, data = self.config, self.data
        self.device = device
        self.sigma = self.sigma_for(cfg.steps)
        # Poisson batches and gradient noise: secret (privacy/noise.py); never the run's seeded generators
        self.secret = secret_generator(device)
        self.x_real = data.x_train.to(device)
        self.y_real = data.class_labels().to(device)
        self.labels = torch.arange(data.num_classes, device=device).repeat_interleave(cfg.ipc)
        shape = (self.labels.numel(), data.channels, *data.im_size)
        self.x_syn = torch.randn(shape, device=device).requires_grad_(True)
        self.opt = sgd([self.x_syn], lr=cfg.lr_img, momentum=0.5)
        self.inner = ImageTrainConfig(
            epochs=max(1, cfg.inner_loop), lr=cfg.lr_net, momentum=0.0, weight_decay=0.0, lr_drop_at=1.0
        )

    def _fresh_model(self, device: torch.device | None = None) -> nn.Module:
        d = self.data
        return build_image_model(self.config.model, channels=d.channels, num_classes=d.num_classes, im_size=d.im_size,
                                 device=device)  # fmt: skip

    def step(self, step: int) -> dict[str, float]:
        cfg = self.config
        net = self._fresh_model(self.device)  # drawn where it runs: moved from the host, each tensor was a CUDA sync
        params = list(net.parameters())
        total = self.x_syn.new_zeros(())
        for ol in range(cfg.outer_loop):
            net.train()
            for _ in range(cfg.batch_loop):
                # the Poisson batch's rows: its size is read back once (a sync on CUDA), not once per masked tensor
                mask = torch.rand(self.n, generator=self.secret, device=self.device) < self.q
                rows = mask.nonzero(as_tuple=True)[0]
                g_real = private_gradient(
                    net, self.x_real[rows], self.y_real[rows], clip=cfg.clip, sigma=self.sigma,
                    expected_batch=cfg.batch_real, generator=self.secret,
                )  # fmt: skip
                loss_syn = F.cross_entropy(net(self.x_syn), self.labels)
                g_syn = torch.autograd.grad(loss_syn, params, create_graph=True)
                loss = gradient_distance(g_syn, g_real, metric=cfg.metric)
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                self.opt.step()
                total = total + loss.detach()
            if ol < cfg.outer_loop - 1 and cfg.inner_loop > 0:
                fit_images(net, self.x_syn.detach(), self.labels, config=self.inner)
        return {"loss": float(total) / self.per_step}

    @torch.no_grad()
    def condensed(self) -> dict[str, Tensor]:
        return {"x": self.x_syn.detach().clone(), "y": self.labels.clone()}

    def stateful(self) -> dict[str, Any]:
        return {"x_syn": self.x_syn, "opt": self.opt}

    def privacy(self, steps_done: int) -> dict[str, Any]:
        cfg = self.config
        sigma = self.sigma_for(cfg.steps)
        report = account(
            [GaussianRelease(sigma=sigma, sample_rate=self.q, steps=steps_done * self.per_step)],
            cfg.delta,
            mechanism="DP-SGD gaussian mechanism on per-sample-clipped real gradients (Poisson sampling)",
            neighbouring="add-remove-one",
            sensitivity=f"C = {cfg.clip:g} (sum of clipped per-sample gradients)",
            n=self.n,
            allow_large_delta=cfg.allow_large_delta,
            extra={
                "target_epsilon": float(cfg.epsilon),
                "private_gradients": steps_done * self.per_step,
                "noise": NOISE_SOURCE + "; Poisson batches too",
            },
        )
        return report.to_card()
