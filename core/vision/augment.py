"""Differentiable siamese augmentation (DSA; Zhao & Bilen, "Dataset Condensation with Differentiable Siamese
Augmentation", ICML 2021, https://arxiv.org/abs/2102.08259).

Every transform is a differentiable function of the images, so a matching loss back-propagates through it
to the synthetic pixels. *Siamese*: the random parameters are drawn once, as a :class:`DSAParams` object,
and applied to both the real and the synthetic batch (:func:`draw_params` → :func:`apply_dsa` twice). A
draw with ``batch=1`` gives every image the same transform, so batches of different sizes share it (DSA's
siamese mode, used by DC and DM); ``batch=n`` gives each of n images its own (MTT's student and experts).

Transforms (the DSA reference's parameters, :class:`DSAConfig`): ``color`` (brightness ``x + (u−½)·1``,
saturation ``(x−x̄_c)·2u + x̄_c`` over channels, contrast ``(x−x̄)·(u+½) + x̄`` over the image), ``crop``
(integer translation by up to ``ratio_crop_pad``·size, zero padding), ``cutout`` (a zero square of side
``ratio_cutout``·size), ``flip`` (horizontal, probability ½), ``scale`` (x and y by factors in
[1/1.2, 1.2]), ``rotate`` (±15°). ``mode="single"`` applies one transform chosen at random per draw (the
reference's ``aug_mode='S'``, its default); ``"multiple"`` applies all in order.

All tensors are created on the images' device with the given ``torch.Generator`` (or the global RNG);
nothing loops over images.

Cutout's square has the reference's ``s×s`` pixels for any side ``s`` (rows ``c − ⌊s/2⌋ … c − ⌊s/2⌋ + s − 1``,
clipped at the border). Until sitting 24 an even side (14 on 28×28) zeroed ``(s−1)×(s−1)`` (rows
``|r − c| < s/2``): every MedMNIST, robust and privacy row recorded before that commit was made with the smaller
square, so re-running its command now draws the same DSA parameters but cuts one more row and column.
Expert buffers trained before then keep their experts (a buffer's card does not record the cutout), so a re-run
that reuses one matches the old experts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from condensekit.core.config import check_field_types
from condensekit.core.registry import check_choice, check_nonnegative, check_positive

DSA_OPS = ("color", "crop", "cutout", "flip", "scale", "rotate")
DEFAULT_STRATEGY = "color_crop_cutout_flip_scale_rotate"


@dataclass(frozen=True)
class DSAConfig:
    """DSA's transforms and ranges (defaults: the reference's ``ParamDiffAug``)."""

    strategy: str = field(default=DEFAULT_STRATEGY, metadata={"help": "'_'-joined transforms, or 'none'"})
    mode: Literal["single", "multiple"] = field(default="single", metadata={"help": "one transform per draw, or all"})
    ratio_scale: float = 1.2
    ratio_rotate: float = 15.0
    ratio_crop_pad: float = 0.125
    ratio_cutout: float = 0.5
    brightness: float = 1.0
    saturation: float = 2.0
    contrast: float = 0.5

    def __post_init__(self) -> None:
        check_field_types(self)  # numpy scalars stored as Python values (cards stay JSON); bool / Literal by kind
        check_choice("mode", self.mode, ("single", "multiple"))
        for op in self.ops:
            check_choice("strategy", op, DSA_OPS)
        check_positive("ratio_scale", self.ratio_scale)  # scales in [1 / r, r]
        for name in ("ratio_rotate", "ratio_crop_pad", "ratio_cutout", "brightness", "saturation", "contrast"):
            check_nonnegative(name, getattr(self, name))
        if self.ratio_cutout > 1:
            raise ValueError(
                f"Invalid value {self.ratio_cutout!r} for argument ratio_cutout. Valid values are in [0, 1]"
            )

    @property
    def ops(self) -> tuple[str, ...]:
        return () if self.strategy.lower() == "none" else tuple(self.strategy.lower().split("_"))


@dataclass(frozen=True)
class DSAParams:
    """One random draw: the transforms to apply and their parameters (leading dimension 1 or n)."""

    ops: tuple[str, ...]
    values: dict[str, Tensor]


def draw_params(
    config: DSAConfig,
    batch: int,
    im_size: tuple[int, int],
    *,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> DSAParams:
    """Draw the parameters of one augmentation for ``batch`` images (1: one transform shared by all)."""
    ops = config.ops
    if not ops:
        return DSAParams((), {})
    device = torch.device(device)

    def u(*shape: int) -> Tensor:
        return torch.rand((batch, *shape), device=device, generator=generator)

    if config.mode == "single":
        # The pick chooses which Python branch runs, so it is read on the host. On the CPU it is drawn as always;
        # on an accelerator it is drawn from a host generator (the caller's when it is a CPU one, else torch's
        # default, seeded by the run's seed), not on the device: a device draw read back is a host sync per draw.
        if device.type == "cpu":
            pick = torch.randint(len(ops), (1,), device=device, generator=generator)
        else:
            host = generator if generator is not None and generator.device.type == "cpu" else None
            pick = torch.randint(len(ops), (1,), device="cpu", generator=host)
        ops = (ops[int(pick)],)
    h, w = im_size
    values: dict[str, Tensor] = {}
    for op in ops:
        if op == "color":
            values["brightness"], values["saturation"], values["contrast"] = u(), u(), u()
        elif op == "crop":
            sx, sy = int(w * config.ratio_crop_pad + 0.5), int(h * config.ratio_crop_pad + 0.5)
            values["shift"] = torch.stack(
                [
                    torch.randint(-sx, sx + 1, (batch,), device=device, generator=generator),
                    torch.randint(-sy, sy + 1, (batch,), device=device, generator=generator),
                ],
                dim=1,
            ).float()
        elif op == "cutout":
            values["cutout"] = u(2)
        elif op == "flip":
            values["flip"] = u()
        elif op == "scale":
            values["scale"] = u(2)
        elif op == "rotate":
            values["rotate"] = u()
    return DSAParams(ops, values)


def _affine(x: Tensor, theta: Tensor, mode: str = "bilinear") -> Tensor:
    theta = theta.expand(x.shape[0], 2, 3) if theta.shape[0] == 1 else theta
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=True)
    return F.grid_sample(x, grid, mode=mode, align_corners=True)


def _per_image(t: Tensor, x: Tensor) -> Tensor:
    """Broadcast a (1 or n)×… parameter to x's batch as n×1×1×1."""
    return t.reshape(t.shape[0], 1, 1, 1).to(x.dtype)


def apply_dsa(x: Tensor, params: DSAParams, config: DSAConfig = DSAConfig()) -> Tensor:
    """Apply the drawn transforms to ``x`` (N×C×H×W); differentiable in ``x``."""
    if params.values and next(iter(params.values.values())).shape[0] not in (1, x.shape[0]):
        raise ValueError(
            f"the parameters were drawn for {next(iter(params.values.values())).shape[0]} images, x has {x.shape[0]}"
        )
    h, w = x.shape[-2:]
    v = params.values
    for op in params.ops:
        if op == "color":
            x = x + (_per_image(v["brightness"], x) - 0.5) * config.brightness
            mean_c = x.mean(dim=1, keepdim=True)
            x = (x - mean_c) * (_per_image(v["saturation"], x) * config.saturation) + mean_c
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
            x = (x - mean) * (_per_image(v["contrast"], x) + config.contrast) + mean
        elif op == "crop":
            shift = v["shift"]
            theta = torch.zeros(shift.shape[0], 2, 3, device=x.device, dtype=x.dtype)
            theta[:, 0, 0] = theta[:, 1, 1] = 1.0
            # align_corners=True: one pixel is 2/(size-1) in grid units.
            theta[:, 0, 2] = shift[:, 0] * 2 / max(w - 1, 1)
            theta[:, 1, 2] = shift[:, 1] * 2 / max(h - 1, 1)
            x = _affine(x, theta, mode="nearest")
        elif op == "cutout":
            cut = v["cutout"]
            ch, cw = int(h * config.ratio_cutout + 0.5), int(w * config.ratio_cutout + 0.5)
            cy = (cut[:, 0] * (h + 1 - ch % 2)).floor().reshape(-1, 1, 1)
            cx = (cut[:, 1] * (w + 1 - cw % 2)).floor().reshape(-1, 1, 1)
            rows = torch.arange(h, device=x.device, dtype=x.dtype).reshape(1, h, 1)
            cols = torch.arange(w, device=x.device, dtype=x.dtype).reshape(1, 1, w)
            # the reference's square: rows c − ⌊s/2⌋ … c − ⌊s/2⌋ + s − 1 (clipped at the border), s rows for
            # any side s (|r − c| < s/2 gave s − 1 for an even s; fixed in sitting 24)
            dy, dx = rows - cy, cols - cx
            inside = (dy >= -(ch // 2)) & (dy < ch - ch // 2) & (dx >= -(cw // 2)) & (dx < cw - cw // 2)
            x = x * (~inside).unsqueeze(1).to(x.dtype)
        elif op == "flip":
            x = torch.where(_per_image(v["flip"], x) < 0.5, x.flip(3), x)
        elif op == "scale":
            s = v["scale"]
            lo = 1.0 / config.ratio_scale
            sx = s[:, 0] * (config.ratio_scale - lo) + lo
            sy = s[:, 1] * (config.ratio_scale - lo) + lo
            theta = torch.zeros(s.shape[0], 2, 3, device=x.device, dtype=x.dtype)
            theta[:, 0, 0], theta[:, 1, 1] = sx, sy
            x = _affine(x, theta)
        elif op == "rotate":
            ang = (v["rotate"] - 0.5) * 2 * config.ratio_rotate / 180 * math.pi
            theta = torch.zeros(ang.shape[0], 2, 3, device=x.device, dtype=x.dtype)
            theta[:, 0, 0], theta[:, 0, 1] = ang.cos(), ang.sin()
            theta[:, 1, 0], theta[:, 1, 1] = -ang.sin(), ang.cos()
            x = _affine(x, theta)
    return x


class DSA:
    """A callable augmentation ``x → apply_dsa(x, draw_params(...))`` with a fresh independent draw per
    image on every call (what :func:`~condensekit.core.vision.train.fit_images` takes as ``augment``)."""

    def __init__(self, config: DSAConfig = DSAConfig(), *, generator: torch.Generator | None = None) -> None:
        self.config = config
        self.generator = generator

    def draw(self, x: Tensor, *, batch: int | None = None) -> DSAParams:
        n = x.shape[0] if batch is None else batch
        return draw_params(self.config, n, (x.shape[-2], x.shape[-1]), device=x.device, generator=self.generator)

    def __call__(self, x: Tensor, params: DSAParams | None = None) -> Tensor:
        return apply_dsa(x, self.draw(x) if params is None else params, self.config)
