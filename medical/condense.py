"""Python API: ``condense_medical(data, "ptm", ipc=10, profile="cpu", experts=buffer)`` →
:class:`~condensekit.core.vision.imageset.CondensedImages` with domain ``"medical"``.

The profile's overrides (see :mod:`condensekit.medical.profiles`) are applied to the method's config, then
the caller's; trajectory methods (MTT and its subclasses, PTM) get the expert buffer. With the profile's
``select_every`` > 0 the engine scores the set every that many iterations (and at iteration 0, the real
images it starts from, and at the end) on the **validation** split
(:func:`~condensekit.medical.evaluate.validation_selector`) and keeps the best; the card's ``metrics``
record the history and the iteration kept. ``batched=True`` trains each check's students together
(:func:`~condensekit.core.vision.batched.fit_images_batched`, for a GPU); the card's ``selection`` records it.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from condensekit.core.registry import check_int
from condensekit.core.vision.experts import ExpertBuffer, generate_experts
from condensekit.core.vision.imageset import CondensedImages
from condensekit.core.vision.methods import IMAGE_METHODS, MTT, condense_images, make_image_config
from condensekit.core.vision.splits import ImageSplits, check_image_splits
from condensekit.core.vision.train import Regularizer
from condensekit.medical.evaluate import validation_selector
from condensekit.medical.profiles import PROFILES

DOMAIN = "medical"


def needs_experts(method: str) -> bool:
    return issubclass(IMAGE_METHODS.get(method).cls, MTT)


def medical_config(
    method: str, profile: str = "paper", overrides: dict[str, Any] | None = None, *, ipc: int | None = None,
    flag: str | None = None,
) -> Any:  # fmt: skip
    """The method's config: its defaults, then the profile's overrides (those for ``ipc`` last, then the
    profile's settings for ``flag``), then ``overrides``. A count below its minimum (``iterations`` 0) or a
    learning rate that is not positive raises ``ValueError`` naming the setting."""
    prof = PROFILES.get(profile)
    # each config refuses a bad count or learning rate itself (its __post_init__)
    return make_image_config(method, prof.method_overrides(method, ipc, flag) | dict(overrides or {}))


def prepare_experts(
    data: ImageSplits, folder: str | os.PathLike[str], *, profile: str = "paper", model: str = "convnet",
    workers: int = 1, overrides: dict[str, Any] | None = None,
) -> ExpertBuffer:  # fmt: skip
    """Generate (or finish, or reuse) the profile's expert buffer for ``data`` in ``folder``
    (:meth:`~condensekit.medical.profiles.Profile.expert_config`); returns the finished
    :class:`~condensekit.core.vision.experts.ExpertBuffer`."""
    check_image_splits(data)
    cfg = PROFILES.get(profile).expert_config(data, model=model, **dict(overrides or {}))
    return generate_experts(data, folder, cfg, workers=workers)


def selection_settings(config: Any, profile: str, every: int, *, batched: bool = False) -> dict[str, Any] | None:
    """The validation selection :func:`condense_medical` runs for the method ``config`` under ``profile``
    with checks every ``every`` iterations, as its card's ``selection`` records it: split, metric, ``every``,
    the profile's ``select_runs``, the model (MTT evaluates with the model it condensed for) and the students'
    training protocol, then ``"batched": True`` when the students are trained together (absent when they are
    trained one at a time, as in every card made before the option). ``None`` when nothing is selected:
    ``every`` 0, or a method without iterations (random real images)."""
    if not (every and getattr(config, "iterations", 0)):
        return None
    prof = PROFILES.get(profile)
    out = {"split": "val", "metric": "acc", "every": every, "runs": prof.select_runs,
           "model": getattr(config, "model", "convnet"), "train": dataclasses.asdict(prof.evaluation)}  # fmt: skip
    return out | {"batched": True} if batched else out


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
    select_every: int | None = None,
    expert_regularizer: dict[str, Any] | None = None,
    batched: bool = False,
) -> CondensedImages:
    """Condense a MedMNIST split with a registered image method at ``ipc`` images per class.

    ``select_every``: validation selection every k iterations (default: the profile's; 0 keeps the last set).
    ``expert_regularizer``: the record of the term the experts were trained with (``None``: plain experts, what
    ``medical experts`` makes); a buffer trained otherwise (GUARD's curvature-trained experts) is refused before
    anything runs, and the card's ``experts`` records the buffer's term.
    ``batched``: each validation check trains its ``select_runs`` students together
    (:func:`~condensekit.medical.evaluate.validation_selector` with ``batched=True``; for a GPU); their scores are
    the one-at-a-time ones up to floating-point rounding, so the iteration kept can differ. The card's
    ``selection`` records it; without a selection it changes nothing.

    Returns:
        A :class:`~condensekit.core.vision.imageset.CondensedImages`: ``x`` (``ipc``·K × C × H × W, normalised like
        ``data``), ``y`` (``ipc``·K int64 labels), ``lr`` (MTT / PTM: the learned 0-d learning rate) and its card
        (domain ``medical``).
    """
    check_image_splits(data)
    if experts is not None and not isinstance(experts, ExpertBuffer):  # a folder path failed as an AttributeError
        raise ValueError(
            f"Invalid value {experts!r} for argument experts. Valid values are None or an ExpertBuffer "
            "(prepare_experts(data, folder) returns one, and reuses a finished buffer in folder)"
        )
    prof = PROFILES.get(profile)
    config = medical_config(method, profile, overrides, ipc=ipc, flag=data.name)
    every = prof.select_every if select_every is None else select_every
    check_int("select_every", every, 0)
    selection = selection_settings(config, profile, every, batched=batched)
    selector = None
    if selection is not None:
        selector = validation_selector(data, prof.evaluation, runs=prof.select_runs, model=selection["model"],
                                       batched=batched)  # fmt: skip
    resources: dict[str, Any] = {}
    if needs_experts(method):
        if experts is None:
            raise ValueError(f"method {method!r} needs an expert buffer: run `condensekit medical experts` first")
        experts.check_regularizer(expert_regularizer)
        # the method checks the buffer again (as it is on disk then) against what this run expects
        resources["experts"] = ExpertBuffer(experts.folder, experts.card, expects=expert_regularizer)
    ci = condense_images(data, method, ipc=ipc, domain=DOMAIN, config=config, seed=seed, device=device,
                         checkpoint=checkpoint, checkpoint_every=checkpoint_every, progress=progress,
                         regularizer=regularizer, evaluate=selector, eval_every=every, **resources)  # fmt: skip
    ci.card["profile"] = profile
    if selection is not None:
        ci.card["selection"] = selection
    if experts is not None and needs_experts(method):
        ci.card["experts"] = {
            "folder": str(experts.folder), "config": experts.card["config"], "regularizer": experts.regularizer,
        }  # fmt: skip
    return ci
