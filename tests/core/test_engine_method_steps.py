"""``method_steps``: the steps a domain's ``condense_*`` runs, checked once for every domain (images and nodes
wrote the same check twice)."""

from __future__ import annotations

import numpy as np
import pytest

from condensekit.core.engine import method_steps


def test_none_is_the_methods_own_count_and_numpy_counts_are_ints() -> None:
    assert method_steps(None, method="m", planned=7, no_steps="x") == 7
    got = method_steps(np.int64(3), method="m", planned=7, no_steps="x")
    assert got == 3 and type(got) is int


@pytest.mark.parametrize(
    ("steps", "planned", "match"),
    [
        (-1, 7, r"Invalid value -1 for argument steps of method 'm'\. Valid values are integers >= 0$"),
        (2.0, 7, r"Valid values are integers >= 0 \(got float\)"),
        (True, 7, r"Valid values are integers >= 0 \(got bool\)"),
        (np.bool_(True), 7, r"\(got numpy\.bool"),
        (1, 0, r"Invalid value 1 for argument steps of method 'm'\. Valid values are 0 \(a selection has no steps\)$"),
    ],
)
def test_bad_steps_are_refused_by_name(steps: object, planned: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        method_steps(steps, method="m", planned=planned, no_steps="a selection has no steps")
    assert method_steps(0, method="m", planned=planned, no_steps="a selection has no steps") == 0
