"""Python API: ``condense_medical(data, "ptm", ipc=10, profile="cpu", experts=buffer)`` →
:class:`~condensekit.core.vision.imageset.CondensedImages` with domain ``"medical"``.

The profile's overrides (see :mod:`condensekit.medical.profiles`) are applied to the method's config, then
the caller's; trajectory methods (MTT and its subclasses, PTM) get the expert buffer.
"""

from __future__ import annotations

import os
from typing import Any

from condensekit.core.vision.experts import ExpertBuffer, generate_experts
from condensekit.core.vision.imageset import CondensedImages
from condensekit.core.vision.methods import IMAGE_METHODS, MTT, condense_images, make_image_config
from condensekit.core.vision.splits import ImageSplits
from condensekit.core.vision.train import Regularizer
from condensekit.medical.profiles import PROFILES

DOMAIN = "medical"


def needs_experts(method: str) -> bool:
    return issubclass(IMAGE_METHODS.get(method).cls, MTT)


def medical_config(
    method: str, profile: str = "paper", overrides: dict[str, Any] | None = None, *, ipc: int | None = None
) -> Any:
    """The method's config: its defaults, then the profile's overrides (those for ``ipc`` last), then
    ``overrides``."""
    return make_image_config(method, PROFILES.get(profile).method_overrides(method, ipc) | dict(overrides or {}))


def prepare_experts(
    data: ImageSplits, folder: str | os.PathLike[str], *, profile: str = "paper", model: str = "convnet",
    workers: int = 1, overrides: dict[str, Any] | None = None,
) -> ExpertBuffer:  # fmt: skip
    """Generate (or finish, or reuse) the profile's expert buffer for ``data`` in ``folder``
    (:meth:`~condensekit.medical.profiles.Profile.expert_config`)."""
    cfg = PROFILES.get(profile).expert_config(data, model=model, **dict(overrides or {}))
    return generate_experts(data, folder, cfg, workers=workers)


def condense_medical(
    data: ImageSplits,
    method: str,
    *,
    ipc: int,
    profile: str = "paper",
    overrides: dict[str, Any] | None = None,
    experts: ExpertBuffer | None = None,
    seed: int = 0,
    device: str = "auto",
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 10,
    progress: bool = True,
    regularizer: Regularizer | None = None,
) -> CondensedImages:
    """Condense a MedMNIST split with a registered image method at ``ipc`` images per class."""
    config = medical_config(method, profile, overrides, ipc=ipc)
    resources: dict[str, Any] = {}
    if needs_experts(method):
        if experts is None:
            raise ValueError(f"method {method!r} needs an expert buffer: run `condensekit medical experts` first")
        resources["experts"] = experts
    ci = condense_images(data, method, ipc=ipc, domain=DOMAIN, config=config, seed=seed, device=device,
                         checkpoint=checkpoint, checkpoint_every=checkpoint_every, progress=progress,
                         regularizer=regularizer, **resources)  # fmt: skip
    ci.card["profile"] = profile
    if experts is not None and needs_experts(method):
        ci.card["experts"] = {"folder": str(experts.folder), "config": experts.card["config"]}
    return ci
