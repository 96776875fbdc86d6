"""DP-MERF's and PSG's configs check their fields when they are made, as every other method config does:
``DPMERFConfig(epsilon=-1.0)`` and ``PSGConfig(delta=2.0)`` were made silently and refused (or not) only when the
method ran. What needs the data (δ < 1/n, ``batch_real`` <= n, ``downsample`` <= the image side) is checked when the
method is made."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np
import pytest

from condensekit.core.cli import main
from condensekit.privacy import condense_private
from condensekit.privacy.dp_merf import DPMERFCondensedConfig, DPMERFConfig, ReleaseConfig
from condensekit.privacy.psg import PSGConfig

RELEASE = [
    ("epsilon", -1.0, r"Valid values are > 0"),
    ("epsilon", 0.0, r"Valid values are > 0"),
    ("epsilon", math.nan, r"Valid values are finite numbers > 0"),
    ("delta", 2.0, r"Valid values are in \(0, 1\)"),
    ("delta", 0.0, r"Valid values are in \(0, 1\)"),
    ("allow_large_delta", "yes", r"Valid values are True and False"),
    ("sigma", -1.0, r"Valid values are finite numbers >= 0"),
    ("sigma", math.inf, r"Valid values are finite numbers >= 0"),
    ("accountant", "exact", r"Valid values are \{analytic, rdp\}"),
    ("n_features", 0, r"Valid values are integers >= 1"),
    ("n_features", 2.5, r"Valid values are integers >= 1 \(got float\)"),
    ("bandwidth", 0.0, r"Valid values are finite numbers > 0"),
    ("bandwidth_scales", "0,1", r"Valid values: positive numbers"),
    ("bandwidth_scales", "a", r"Valid values: positive numbers"),
]
GENERATOR = [
    ("code_dim", 0, "integers >= 1"),
    ("hidden", 0, "integers >= 1"),
    ("kernel_size", 0, "integers >= 1"),
    ("batch_size", 0, "integers >= 1"),  # was a ZeroDivisionError
    ("samples_per_class", 0, "integers >= 1"),
    ("epochs", -1, "integers >= 0"),
    ("lr", 0.0, "finite numbers > 0"),
    ("lr_decay", math.nan, "finite numbers > 0"),
    ("channels", "16", "two ints >= 1"),
    ("channels", "a,b", "two ints >= 1"),  # was int()'s "invalid literal for int() with base 10: 'a'"
]
CONDENSED = [
    ("ipc", 0, "integers >= 1"),
    ("lr", math.inf, "finite numbers > 0"),
    ("steps", -1, "integers >= 0"),
    ("downsample", 0, "integers >= 1"),
    ("downsample", 1.5, r"integers >= 1 \(got float\)"),  # ran, on a grid of ceil(28 / 1.5) logits
    ("tv", -0.1, "finite numbers >= 0"),
]
PSG = [
    ("epsilon", -1.0, r"Valid values are > 0"),
    ("delta", 2.0, r"Valid values are in \(0, 1\)"),
    ("allow_large_delta", 1, r"Valid values are True and False"),
    ("sigma", -1.0, r"Valid values are finite numbers >= 0"),
    ("metric", "l2", r"Valid values are \{cos, dc, mse\}"),
    ("ipc", 0, "integers >= 1"),
    ("outer_loop", 0, "integers >= 1"),
    ("batch_loop", 0, "integers >= 1"),
    ("batch_real", 0, "integers >= 1"),
    ("steps", -1, "integers >= 0"),
    ("inner_loop", -1, "integers >= 0"),
    ("clip", 0.0, "finite numbers > 0"),
    ("lr_img", math.nan, "finite numbers > 0"),
    ("lr_net", -0.01, "finite numbers > 0"),
]
CASES = (
    [(cls, *case) for cls in (DPMERFConfig, DPMERFCondensedConfig) for case in RELEASE]
    + [(DPMERFConfig, *case) for case in GENERATOR]
    + [(DPMERFCondensedConfig, *case) for case in CONDENSED]
    + [(PSGConfig, *case) for case in PSG]
)


@pytest.mark.parametrize(
    ("cls", "field", "value", "valid"), CASES, ids=[f"{c[0].__name__}-{c[1]}-{c[2]}" for c in CASES]
)
def test_each_field_is_checked_when_the_config_is_made(cls: type, field: str, value: Any, valid: str) -> None:
    with pytest.raises(ValueError, match=rf"value {value!r} for argument {field}\b.*{valid}"):
        cls(**{field: value})


@pytest.mark.parametrize("cls", [ReleaseConfig, DPMERFConfig, DPMERFCondensedConfig, PSGConfig])
def test_the_defaults_are_valid(cls: type) -> None:
    cls()


def test_numpy_values_are_taken_and_stored_as_python_values() -> None:
    cfg = PSGConfig(epsilon=np.float32(2.0), delta=np.float64(1e-5), ipc=np.int64(3), steps=np.int32(7),
                    allow_large_delta=np.bool_(False), clip=np.float32(0.5))  # fmt: skip
    assert (cfg.epsilon, cfg.ipc, cfg.steps, cfg.allow_large_delta, cfg.clip) == (2.0, 3, 7, False, 0.5)
    assert [type(v) for v in (cfg.epsilon, cfg.delta, cfg.ipc, cfg.steps, cfg.allow_large_delta)] == [
        float, float, int, int, bool,
    ]  # fmt: skip
    json.dumps(dataclasses.asdict(cfg))
    merf = DPMERFCondensedConfig(ipc=np.int64(5), n_features=np.uint16(100), tv=np.float32(0.0))
    assert (type(merf.ipc), type(merf.n_features), type(merf.tv)) == (int, int, float)
    with pytest.raises(ValueError, match=r"argument ipc. Valid values are integers .*got numpy.float32\)"):
        PSGConfig(ipc=np.float32(3.0))  # a float for a count is left as given and refused by its type
    with pytest.raises(ValueError, match=r"argument ipc. Valid values are integers .*got numpy.bool"):
        DPMERFCondensedConfig(ipc=np.bool_(True))


def test_what_needs_the_data_is_still_checked_by_the_method(images) -> None:
    """60 training images: δ = 0.1 is a valid δ but ≥ 1/n; 61 real images per batch is more than there are; a
    logit grid 9 times coarser than an 8×8 image has no cell."""
    with pytest.raises(ValueError, match=r"argument delta: it is >= 1/n"):
        condense_private(images, "psg", config=PSGConfig(delta=0.1, model="lr"), steps=1, device="cpu")
    with pytest.raises(ValueError, match=r"argument batch_real. Valid values: 1..60"):
        condense_private(images, "psg", config=PSGConfig(delta=1e-3, batch_real=61, model="lr"), steps=1, device="cpu")
    with pytest.raises(ValueError, match=r"argument downsample. Valid values: 1 .* to 8"):
        condense_private(images, "dp-merf-condensed", config=DPMERFCondensedConfig(delta=1e-3, downsample=9),
                         steps=1, device="cpu")  # fmt: skip


def test_the_command_line_refuses_before_reading_any_data(capsys) -> None:
    """Exit 2 with the message, as before; now before the data set is looked up (no such data set here)."""
    assert main(["privacy", "psg", "--epsilon", "-1", "--dataset", "no-such-set"]) == 2
    assert "Invalid value -1.0 for argument epsilon" in capsys.readouterr().err
    assert main(["privacy", "dp-merf", "--epsilon", "1", "--dataset", "no-such-set", "--ipc", "2", "--tv", "-1"]) == 2
    assert "Invalid value -1.0 for argument tv" in capsys.readouterr().err
    assert main(["privacy", "psg", "--epsilon", "1", "--dataset", "no-such-set", "--delta", "2"]) == 2
    assert "Invalid value 2.0 for argument delta" in capsys.readouterr().err
