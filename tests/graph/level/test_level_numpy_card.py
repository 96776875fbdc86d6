"""``condense_graphs`` given numpy integers for ``gpc`` and ``seed`` (a sweep over ``np.arange``) writes them to the
card as Python ints: the run used to finish and then fail writing the card (``int64 is not JSON serializable``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from condensekit.graph.level import condense_graphs


def test_numpy_gpc_and_seed_give_the_python_card(tiny_set) -> None:
    plain = condense_graphs(tiny_set, "random", gpc=2, seed=0, progress=False, device="cpu")
    numpy = condense_graphs(tiny_set, "random", gpc=np.int64(2), seed=np.int64(0), progress=False, device="cpu")
    assert type(numpy.card["budget"]["gpc"]) is int and type(numpy.card["seed"]) is int
    json.dumps(numpy.card)
    for k, v in plain.tensors().items():
        assert (v == numpy.tensors()[k]).all(), k


def test_steps_are_checked_as_every_domain_checks_them(tiny_set) -> None:
    """``core.engine.method_steps``: a coreset given steps is refused in the library's wording (it said "Invalid
    steps for coreset 'random': ... use steps=0" from inside the engine's first step)."""
    with pytest.raises(ValueError, match=r"Invalid value 5 for argument steps of method 'random'\. Valid values are "
                                         r"0 \(a coreset selects, it has no steps\)$"):  # fmt: skip
        condense_graphs(tiny_set, "random", gpc=2, steps=5, progress=False, device="cpu")
    with pytest.raises(ValueError, match=r"Invalid value 2\.0 for argument steps .* \(got float\)"):
        condense_graphs(tiny_set, "kidd", gpc=1, steps=2.0, progress=False, device="cpu")
