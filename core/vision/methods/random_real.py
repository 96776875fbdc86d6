"""Random real images: ``ipc`` training images per class drawn uniformly (the baseline every condensation
paper reports). Zero engine steps; the selection happens in ``setup`` with the engine's seed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from condensekit.core.registry import check_choice
from condensekit.core.vision.methods.base import ImageCondensation, register_image_method


@dataclass(frozen=True)
class RandomRealConfig:
    init: Literal["real", "herding", "kcenter"] = field(
        default="real", metadata={"help": "real: uniform per class; herding / kcenter on raw pixels"}
    )

    def __post_init__(self) -> None:  # not "noise": the baseline is real images
        check_choice("init", self.init, ("real", "herding", "kcenter"))


@register_image_method("random", RandomRealConfig, "random real images per class (baseline)")
class RandomReal(ImageCondensation):
    def step(self, step: int) -> dict[str, float]:
        raise RuntimeError("random real images are a selection; they have no steps")
