"""``condense_images(data, "mtt", ipc=10, ...)`` → :class:`~condensekit.core.vision.imageset.CondensedImages`:
look the method up, run it with the engine, and fill the artifact card (including ``init``: the real training
rows that seeded the set, see :meth:`~condensekit.core.vision.methods.base.ImageCondensation.init_record`)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any

from torch import Tensor

from condensekit.core.config import check_field_types, config_with_overrides
from condensekit.core.engine import EngineConfig, method_steps, run
from condensekit.core.seed import resolve_device
from condensekit.core.vision.imageset import IMAGE_TASK, CondensedImages, image_source
from condensekit.core.vision.methods.base import IMAGE_METHODS
from condensekit.core.vision.splits import ImageSplits, check_image_splits
from condensekit.core.vision.train import Regularizer


def make_image_config(method: str, overrides: dict[str, Any] | None = None) -> Any:
    """The method's config dataclass with ``overrides`` applied (unknown keys are an error)."""
    return config_with_overrides(IMAGE_METHODS.get(method).config, overrides, owner=f"method {method!r}")


def condense_images(
    data: ImageSplits,
    method: str,
    *,
    ipc: int,
    domain: str,
    config: Any | dict[str, Any] | None = None,
    seed: int = 0,
    device: str = "auto",
    steps: int | None = None,
    evaluate: Callable[[dict[str, Tensor]], float] | None = None,
    eval_every: int = 0,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 50,
    progress: bool = True,
    regularizer: Regularizer | None = None,
    **resources: Any,
) -> CondensedImages:
    """Condense ``data`` to ``ipc`` images per class with a registered image method.

    Args:
        method: a name in :data:`IMAGE_METHODS`.
        domain: the artifact's domain (``"medical"``, ``"privacy"``, ``"robust"``).
        config: the method's config dataclass or a dict of overrides of its defaults.
        steps: engine steps (default: the config's ``iterations``); the card's ``steps`` records the count run
            beside the config's (:meth:`~condensekit.core.engine.CondensationResult.steps_record`).
        evaluate: condensed tensors → validation score (higher is better) for selection every
            ``eval_every`` steps; without it the last set is kept.
        checkpoint: checkpoint file; an interrupted run with the same settings resumes bit for bit.
        regularizer: extra per-step loss on the step's network (see :mod:`.base`).
        resources: what the method needs besides the data (MTT/PTM: ``experts=ExpertBuffer``).
    """
    check_image_splits(data)
    entry = IMAGE_METHODS.get(method)
    if config is None or isinstance(config, dict):
        config = make_image_config(method, config)
    elif not isinstance(config, entry.config):
        raise ValueError(
            f"config for {method!r} must be a {entry.config.__name__} or a dict, got {type(config).__name__}"
        )
    check_field_types(config)  # dsa="yes" / dsa=0 ran as truthy / falsy
    algo = entry.cls(data, ipc, config, regularizer=regularizer, **resources)
    n_steps = method_steps(steps, method=method, planned=algo.steps(), no_steps="a selection has no steps")
    dev = resolve_device(device)
    engine = EngineConfig(
        steps=n_steps, seed=seed, device=str(dev), eval_every=eval_every if evaluate else 0,
        checkpoint=None if checkpoint is None else str(checkpoint),
        checkpoint_every=checkpoint_every if checkpoint else 0, progress=progress,
    )  # fmt: skip
    result = run(algo, engine, evaluate)
    cond = result.condensed
    card = {
        "domain": domain,
        "task": IMAGE_TASK,
        "method": method,
        "config": dataclasses.asdict(config),
        "source": image_source(data),
        "budget": {"ipc": int(ipc), "images": int(cond["x"].shape[0])},  # ipc checked by the method: an integer
        "seed": engine.seed,  # as EngineConfig stores it: a Python int (np.int64 broke the card after the run)
        "init": algo.init_record(),
        "metrics": {"best_step": result.best_step, "val_selected": result.best_score, "history": result.history}
        | algo.diagnostics(),
        "steps": result.steps_record(algo.steps()),  # a steps= run: another count than config.iterations
        "cost": result.cost() | {"time_per_step_s": round(result.wall_time_s / max(result.steps_done, 1), 4)},
    }
    return CondensedImages(x=cond["x"], y=cond["y"], card=card, lr=cond.get("lr"), soft=cond.get("soft"))
