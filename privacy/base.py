"""What every private image method shares: the registry, and one function that runs a method through the
engine and returns a :class:`~condensekit.core.vision.CondensedImages` with an honest privacy card.

A method is a :class:`PrivateMethod` (a :class:`~condensekit.core.engine.CondensationMethod`) that also
reports :meth:`PrivateMethod.privacy` — the guarantee of what it actually released, for the steps it
actually ran — and :meth:`PrivateMethod.max_steps` — how many engine steps its budget allows.
"""

from __future__ import annotations

import abc
from dataclasses import asdict
from typing import Any

import torch

from condensekit.core.config import check_field_types
from condensekit.core.engine import CondensationMethod, EngineConfig, run
from condensekit.core.registry import MethodEntry, Registry, check_int, method_registrar
from condensekit.core.vision import CondensedImages, ImageSplits, image_source
from condensekit.core.vision.splits import check_image_splits
from condensekit.privacy.data import public_constants

PRIVACY_METHODS: Registry[MethodEntry] = Registry("privacy method")
#: ``@register_private_method(name, ConfigClass, description)`` on a :class:`PrivateMethod` subclass.
register_private_method = method_registrar(PRIVACY_METHODS)


class PrivateMethod(CondensationMethod):
    """Base of private methods: holds the real data and the config."""

    def __init__(self, data: ImageSplits, config: Any) -> None:
        self.data = data
        self.config = config

    def data_setting(self) -> dict[str, Any]:
        """The real data a checkpoint of this run must have been written with (the config adds the rest)."""
        return {"dataset": self.data.name, "train_shape": list(self.data.x_train.shape)}

    @abc.abstractmethod
    def privacy(self, steps_done: int) -> dict[str, Any]:
        """The card's ``privacy`` record after ``steps_done`` engine steps."""

    def default_steps(self) -> int:
        """Engine steps of the paper's schedule."""
        return int(self.config.steps)

    def max_steps(self, requested: int) -> int:
        """Steps the privacy budget allows (≤ ``requested``); a single-release method allows any number."""
        return requested

    def budget(self) -> dict[str, Any]:
        return {}

    def init_record(self) -> dict[str, Any]:
        """The card's ``init`` (which real training rows seeded the set; the format of
        :meth:`condensekit.core.vision.methods.ImageCondensation.init_record`): none for every private method,
        whose images start from noise or come out of a generator — a real seed would leak it unprotected."""
        return {
            "kind": "noise",
            "train_indices": None,
            "reason": f"{self.name} starts from noise and reads the real data only through its private release(s)",
        }


def check_single_label(data: ImageSplits, what: str) -> None:
    """Refuse a multi-label dataset (ChestMNIST): the private methods release, and the audits score, one class
    per record; ``class_labels`` would fold its label sets into the first positive label plus an extra
    "no finding" class that the methods' ``num_classes`` outputs do not have."""
    if data.multilabel:
        raise ValueError(
            f"Invalid dataset {data.name!r} for {what}: its task is {data.task!r}; the private methods and "
            "membership audits take single-label tasks (multi-class, binary-class, ordinal-regression)"
        )


def check_public_normalisation(data: ImageSplits, what: str) -> None:
    """Refuse data normalised with other constants than :func:`~condensekit.privacy.data.public_constants`: a
    loader's may be statistics of the private training split (see :mod:`condensekit.privacy.data`)."""
    mean, std = public_constants(data)
    if (tuple(data.mean), tuple(data.std)) != (tuple(mean), tuple(std)):
        raise ValueError(
            f"Invalid data for {what}: {data.name!r} is normalised with mean {tuple(data.mean)}, std "
            f"{tuple(data.std)}, which may be statistics of its private training split (the MedMNIST loader's "
            "are): the card and the released set would publish them unprotected. Pass public_normalisation(data) "
            f"(condensekit.privacy.data; constants fixed in code: mean {mean}, std {std}), as load_private_dataset "
            "does"
        )


def condense_private(
    data: ImageSplits,
    method: str,
    *,
    config: Any | None = None,
    seed: int = 0,
    device: str = "auto",
    steps: int | None = None,
    progress: bool = False,
) -> CondensedImages:
    """Run the registered private ``method`` on ``data`` through the engine.

    A method whose budget runs out before ``steps`` stops at the last step that fits: the artifact holds
    what it reached and the card says so (``privacy.stopped_early``, ``steps_done`` and ``steps_requested``).
    No validation-based selection is made (the validation images are private data too): the last iterate
    is released.
    The mechanisms' noise (and PSG's Poisson batches) comes from a secret generator
    (:mod:`condensekit.privacy.noise`), so ``seed`` reproduces everything public (features, networks,
    initialisation) but not the released set, and a resumed run is private but not bit-for-bit.

    Returns:
        A :class:`~condensekit.core.vision.imageset.CondensedImages` (domain ``privacy``): ``x`` (N × C × H × W,
        normalised like ``data``), ``y`` (N int64 labels) and a card whose ``privacy`` records (ε, δ) and the
        accountant.
    """
    check_image_splits(data)
    if steps is not None:  # int(2.5) ran 2 steps under a card requesting 2, and int("3") took a string
        check_int("steps", steps, 0)
    entry = PRIVACY_METHODS.get(method)
    check_single_label(data, f"private method {method!r}")
    check_public_normalisation(data, f"private method {method!r}")
    cfg = config if config is not None else entry.config()
    if not isinstance(cfg, entry.config):
        raise ValueError(f"config for {method!r} must be a {entry.config.__name__}, got {type(cfg).__name__}")
    check_field_types(cfg)
    m = entry.cls(data, cfg)
    requested = m.default_steps() if steps is None else int(steps)  # checked above: an integer
    allowed = m.max_steps(requested)
    engine = EngineConfig(steps=allowed, seed=seed, device=device, progress=progress)
    result = run(m, engine)
    privacy = m.privacy(result.steps_done)
    # steps_*: engine steps of the method (a release count is the record's ``releases``)
    privacy.update(steps_requested=requested, steps_done=result.steps_done, stopped_early=allowed < requested)
    tensors = result.condensed
    card = {
        "domain": "privacy",
        "method": method,
        "config": asdict(cfg),
        "source": image_source(data),
        "budget": m.budget() | {"images": int(tensors["x"].shape[0])},
        "seed": engine.seed,  # a Python int (check_field_types), so the card stays JSON for a numpy seed
        "init": m.init_record(),
        # the engine steps run beside the method's own count, as every domain's card says them; ``privacy``
        # adds the requested count and whether the budget stopped the run
        "steps": result.steps_record(m.default_steps()),
        "privacy": privacy,
        "cost": result.cost(),
        "metrics": {"val_selected": None, "selection": "last iterate (no private validation)"},
    }
    return CondensedImages(x=tensors["x"], y=tensors["y"], card=card)


def to_normalised(data: ImageSplits, x01: torch.Tensor) -> torch.Tensor:
    """[0, 1] pixels → the normalised space of ``data`` (inverse of ``data.denormalise``)."""
    mean = torch.tensor(data.mean, dtype=x01.dtype, device=x01.device).view(1, -1, 1, 1)
    std = torch.tensor(data.std, dtype=x01.dtype, device=x01.device).view(1, -1, 1, 1)
    return (x01 - mean) / std
