"""class_budgets takes numpy counts and fractions as the shared checks take a config's (``check_int``: any integer,
``check_positive``: any real number), and gives the counts a Python value gives; a bool, a float count, a string or
a tensor is refused as before, the refusal naming the type it got."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from condensekit.core.synthetic import class_budgets

LABELS = torch.tensor([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])  # 10 samples, classes of 6 and 4


@pytest.mark.parametrize(
    ("numpy_kwargs", "python_kwargs"),
    [
        ({"budget": np.int64(5)}, {"budget": 5}),
        ({"budget": np.int32(5), "balanced": True}, {"budget": 5, "balanced": True}),
        ({"budget": np.uint8(4)}, {"budget": 4}),
        ({"ratio": np.float64(0.5)}, {"ratio": 0.5}),
        ({"ratio": np.float32(0.5)}, {"ratio": 0.5}),
        # as written: np.float32(0.7) is 0.699999988, and 10 × that is 6.99999988, 6 samples where 0.7 gives 7
        ({"ratio": np.float32(0.7)}, {"ratio": 0.7}),
        ({"ratio": np.float16(0.3)}, {"ratio": 0.3}),
    ],
    ids=lambda kw: ",".join(f"{k}={type(v).__name__}" for k, v in kw.items()),
)
def test_numpy_budgets_and_ratios_give_the_counts_of_python_values(
    numpy_kwargs: dict[str, Any], python_kwargs: dict[str, Any]
) -> None:
    got = class_budgets(LABELS, np.int64(2), **numpy_kwargs)
    want = class_budgets(LABELS, 2, **python_kwargs)
    assert torch.equal(got, want) and got.dtype == torch.long


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"budget": 5.0}, "Invalid value 5.0 for argument budget. Valid values are integers (got float)"),
        ({"budget": True}, "Invalid value True for argument budget. Valid values are integers (got bool)"),
        ({"budget": np.bool_(True)}, "Invalid value np.True_ for argument budget. Valid values are integers (got "
                                     "numpy.bool)"),  # fmt: skip
        ({"budget": torch.tensor(5)}, "Invalid value tensor(5) for argument budget. Valid values are integers (got "
                                      "torch.Tensor)"),  # fmt: skip
        ({"ratio": "0.5"}, "Invalid value '0.5' for argument ratio. Valid values are in (0, 1] (got str)"),
        ({"ratio": True}, "Invalid value True for argument ratio. Valid values are in (0, 1] (got bool)"),
        ({"ratio": np.float32(1.5)}, "Invalid value np.float32(1.5) for argument ratio. Valid values are in (0, 1]"),
        ({"ratio": 0.0}, "Invalid value 0.0 for argument ratio. Valid values are in (0, 1]"),
    ],
)
def test_what_is_no_count_or_fraction_is_refused_naming_the_type(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as err:
        class_budgets(LABELS, 2, **kwargs)
    assert str(err.value) == message
