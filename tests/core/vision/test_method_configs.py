from __future__ import annotations

import math

import pytest

from condensekit.core.registry import check_positive
from condensekit.core.vision.methods import DCConfig, DMConfig, MTTConfig, make_image_config

# Every domain builds these configs (medical's CLI used to be the only one to check them): iterations 0 returned
# the initial set as condensed, lr_img 0 ran the whole schedule without moving, outer_loop 0 divided by zero.
BAD = [
    (DMConfig, "iterations", 0, "integers >= 1"),
    (DMConfig, "iterations", -1, "integers >= 1"),
    (DMConfig, "batch_real", 0, "integers >= 1"),
    (DMConfig, "lr_img", 0.0, "finite numbers > 0"),
    (DCConfig, "iterations", 0, "integers >= 1"),
    (DCConfig, "outer_loop", 0, "integers >= 1"),
    (DCConfig, "inner_loop", -1, "integers >= 0"),
    (DCConfig, "batch_train", 0, "integers >= 1"),
    (DCConfig, "lr_net", -0.01, "finite numbers > 0"),
    (DCConfig, "lr_img", math.nan, "finite numbers > 0"),
    (MTTConfig, "syn_steps", 0, "integers >= 1"),
    (MTTConfig, "expert_epochs", 0, "integers >= 1"),
    (MTTConfig, "max_start_epoch", 0, "integers >= 1"),
    (MTTConfig, "batch_syn", -1, "integers >= 0"),
    (MTTConfig, "lr_lr", -1e-5, "finite numbers > 0"),
    (MTTConfig, "lr_teacher", 0, "finite numbers > 0"),
    (MTTConfig, "lr_img", math.inf, "finite numbers > 0"),
    (MTTConfig, "iterations", 2.5, "integers >= 1"),
    # a negative momentum reached torch.optim.SGD only in setup, after the data and experts were loaded
    (MTTConfig, "momentum", -0.5, "finite numbers >= 0"),
    (DMConfig, "momentum", -0.5, "finite numbers >= 0"),
    (DCConfig, "momentum", math.nan, "finite numbers >= 0"),
]


@pytest.mark.parametrize(("cls", "name", "value", "valid"), BAD)
def test_bad_count_or_learning_rate_is_refused_by_name(cls, name, value, valid) -> None:
    with pytest.raises(ValueError, match=rf"Invalid value {value!r} for argument {name}\. Valid values are {valid}"):
        cls(**{name: value})


def test_make_image_config_refuses_by_name() -> None:
    with pytest.raises(ValueError, match="argument outer_loop"):
        make_image_config("dc", {"outer_loop": 0})


def test_defaults_and_edge_values_stay_valid() -> None:
    # the paper defaults and the documented zeros build unchanged
    assert DMConfig() == DMConfig(iterations=20000, lr_img=1.0, batch_real=256)
    assert DCConfig(inner_loop=0).inner_loop == 0
    assert MTTConfig(batch_syn=0, lr_img=100, iterations=1).lr_img == 100  # an int learning rate is a number


def test_check_positive() -> None:
    for good in (1e-9, 3, 2.5):
        check_positive("lr", good)
    for bad in (0, -1.0, math.nan, math.inf, True, "0.1", None):
        with pytest.raises(ValueError, match="argument lr"):
            check_positive("lr", bad)


@pytest.mark.parametrize("method", ["random", "dm", "dc", "mtt"])
def test_init_is_checked_when_the_config_is_made(method) -> None:
    """An unknown init was refused only in setup, after the data (and experts) were loaded; and the random-real
    baseline took init='noise' (its type allows real, herding, kcenter) and returned Gaussian noise as 'real images'."""
    with pytest.raises(ValueError, match=r"Unknown value 'bogus' for argument init\. Valid values are"):
        make_image_config(method, {"init": "bogus"})
    if method == "random":
        with pytest.raises(ValueError, match=r"Unknown value 'noise' for argument init\. Valid values are"):
            make_image_config(method, {"init": "noise"})
    else:
        assert make_image_config(method, {"init": "noise"}).init == "noise"
