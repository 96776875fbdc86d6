"""core/registry.py: the shared argument checks name the argument, the value and what is valid."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from condensekit.core.engine import EngineConfig
from condensekit.core.evaluate import TrainConfig, repeat
from condensekit.core.objectives.curvature import CurvatureRegularizer
from condensekit.core.registry import Registry, check_int, check_nonnegative, check_positive
from condensekit.core.seed import seed_everything
from condensekit.core.vision.convnet import ConvNet
from condensekit.core.vision.experts import ExpertConfig
from condensekit.core.vision.train import ImageTrainConfig, distillation_loss


@pytest.mark.parametrize("value", [0, 0.0, 1e-12, 3, 2.5])
def test_check_nonnegative_takes_finite_numbers_from_zero(value: float) -> None:
    check_nonnegative("ridge", value)


@pytest.mark.parametrize("value", [-1e-9, -3, math.inf, math.nan, True, "1", None])
def test_check_nonnegative_refuses_the_rest_naming_argument_and_value(value: object) -> None:
    with pytest.raises(ValueError, match=rf"Invalid value {value!r} for argument ridge\. Valid values are finite "
                                         r"numbers >= 0"):  # fmt: skip
        check_nonnegative("ridge", value)


def test_check_positive_and_check_int_keep_their_ranges() -> None:
    check_positive("lr", 1e-3)
    for bad in (0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="argument lr"):
            check_positive("lr", bad)
    check_int("steps", 0, 0)
    for bad in (-1, 1.0, True):
        with pytest.raises(ValueError, match="argument steps"):
            check_int("steps", bad, 0)


def test_curvature_weight_lam_is_finite() -> None:
    # `lam >= 0` alone took an infinite weight, which makes every regularised loss inf
    with pytest.raises(ValueError, match="argument lam"):
        CurvatureRegularizer(lam=math.inf)
    assert CurvatureRegularizer(lam=0.0).lam == 0.0


def test_registry_lists_the_valid_names() -> None:
    reg: Registry[int] = Registry("thing")
    reg.register("one", 1)
    with pytest.raises(ValueError, match=r"one"):
        reg.get("two")


def _refuses(argument: str, build: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match=rf"Invalid value .* for argument {argument}\. Valid values are"):
        build()


def test_core_configs_use_the_shared_checks() -> None:
    # each took what its hand-written `x < low` / `x <= 0` check let through: NaN or inf rates, a bool or a
    # fractional count (a NaN lr trains NaN weights; True epochs is one epoch; stop_after 0.5 stops nowhere)
    _refuses("lr", lambda: ImageTrainConfig(lr=math.nan))
    _refuses("lr", lambda: TrainConfig(lr=math.inf))
    _refuses("epochs", lambda: TrainConfig(epochs=2.5))
    _refuses("batch_size", lambda: ImageTrainConfig(batch_size=True))
    _refuses("stop_after", lambda: EngineConfig(steps=3, stop_after=0.5))
    _refuses("momentum", lambda: ExpertConfig(momentum=math.nan))
    _refuses("depth", lambda: ConvNet(1, 2, depth=2.0))
    _refuses("runs", lambda: repeat(lambda s: 0.0, runs=1.5))
    _refuses("seed", lambda: seed_everything(True))
    _refuses("temperature", lambda: distillation_loss(math.inf))
