"""The accounting functions take numpy numbers as the shared checks take a config's (any integer for a count, any
real number for ε, δ, σ), give what Python values give, and return / store Python numbers, so a privacy record
built from them is JSON. A bool, a string or a tensor is refused as before, the refusal naming the type."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from condensekit.privacy.accounting import (
    GaussianRelease,
    account,
    check_delta,
    check_epsilon,
    mean_sensitivity,
    noise_for_epsilon,
    steps_within_budget,
)


def _card(sigma: Any, steps: Any, delta: Any, n: Any) -> str:
    rel = [GaussianRelease(sigma=sigma, steps=steps)]
    report = account(rel, delta, mechanism="gaussian", neighbouring="replace-one", sensitivity="2/n", n=n)
    return json.dumps(report.to_card())  # np.float32 / np.int64 in the record: not JSON


CASES: dict[str, tuple[Callable[..., Any], tuple[Any, ...], tuple[Any, ...]]] = {
    # name: (function, numpy arguments, the Python arguments they hold)
    "noise_for_epsilon": (noise_for_epsilon, (np.float32(1.0), np.float32(0.25)), (1.0, 0.25)),
    "check_epsilon": (check_epsilon, (np.float32(0.5),), (0.5,)),
    "check_delta": (check_delta, (np.float32(0.25), np.int64(2)), (0.25, 2)),
    "mean_sensitivity": (mean_sensitivity, (np.int64(10),), (10,)),
    "release": (lambda s, k: GaussianRelease(sigma=s, steps=k), (np.float32(2.0), np.int64(3)), (2.0, 3)),
    "account": (_card, (np.float32(2.0), np.int64(3), np.float64(1e-5), np.int32(1000)), (2.0, 3, 1e-5, 1000)),
    "steps_within_budget": (
        lambda m: steps_within_budget(1.0, 0.01, 2.0, 1e-5, max_steps=m), (np.int64(10),), (10,)
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_numpy_arguments_give_what_python_values_give_as_python_values(name: str) -> None:
    fn, numpy_args, python_args = CASES[name]
    got, want = fn(*numpy_args), fn(*python_args)
    assert got == want
    values = [getattr(got, f) for f in ("sigma", "sample_rate", "steps")] if name == "release" else [got]
    assert all(type(v) in (int, float, str) for v in values), [type(v) for v in values]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: check_epsilon(True), "Invalid value True for argument epsilon. Valid values are finite numbers > 0 "
                                      "(got bool)"),  # fmt: skip
        (lambda: check_epsilon(torch.tensor(1.0)), "Invalid value tensor(1.) for argument epsilon. Valid values "
                                                   "are finite numbers > 0 (got torch.Tensor)"),  # fmt: skip
        (lambda: check_epsilon(float("nan")), "Invalid value nan for argument epsilon. Valid values are finite "
                                              "numbers > 0"),  # fmt: skip
        (lambda: check_epsilon(np.float32(0)), "Invalid value np.float32(0.0) for argument epsilon. Valid values "
                                               "are > 0 (ε = 0 would need infinite noise)"),  # fmt: skip
        (lambda: check_delta("1e-5"), "Invalid value '1e-5' for argument delta. Valid values are in (0, 1), e.g. "
                                      "1e-5 (got str)"),  # fmt: skip
        (lambda: check_delta(np.float32(1)), "Invalid value np.float32(1.0) for argument delta. Valid values are "
                                             "in (0, 1), e.g. 1e-5"),  # fmt: skip
        (lambda: mean_sensitivity(np.bool_(True)), "Invalid value np.True_ for argument n. Valid values are "
                                                   "integers >= 1 (the record count; got numpy.bool)"),  # fmt: skip
        (lambda: mean_sensitivity(np.int64(0)), "Invalid value np.int64(0) for argument n. Valid values are "
                                                "integers >= 1 (the record count)"),  # fmt: skip
        (lambda: GaussianRelease(sigma=1.0, steps=2.0), "Invalid value 2.0 for argument steps. Valid values are "
                                                        "integers >= 0 (got float)"),  # fmt: skip
        (lambda: GaussianRelease(sigma=np.float32(-1)), "Invalid value np.float32(-1.0) for argument sigma. Valid "
                                                        "values are finite numbers > 0"),  # fmt: skip
        (lambda: steps_within_budget(1.0, 0.01, 2.0, 1e-5, max_steps=10.0), "Invalid value 10.0 for argument "
                                                                            "max_steps. Valid values are integers "
                                                                            ">= 0 (got float)"),  # fmt: skip
    ],
)
def test_what_is_no_number_is_refused_naming_the_type(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message


def test_condense_private_writes_a_numpy_seed_as_a_python_int(images) -> None:
    """A numpy seed reached the card as ``np.int64``: the release ran, then its card was not JSON."""
    from condensekit.privacy import condense_private
    from condensekit.privacy.dp_merf import DPMERFCondensedConfig

    cfg = DPMERFCondensedConfig(epsilon=5.0, n_features=50, bandwidth=2.0, ipc=1, steps=1)
    ci = condense_private(images, "dp-merf-condensed", config=cfg, seed=np.int64(3), device="cpu")
    assert type(ci.card["seed"]) is int and ci.card["seed"] == 3
    json.dumps(ci.card)
