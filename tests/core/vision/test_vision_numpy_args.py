"""The vision code's function arguments take numpy numbers as the shared checks take a config's (``check_int``: any
integer): ``condense_images(steps=np.int64(1))``, ``ImageSplits(num_classes=np.int64(2))``, ``ConvNet(stem_padding=
np.int64(1))``. What they give equals what Python values give, and what is stored (the card, the split's class
count, the net's padding) holds Python values. A bool, a float count or a tensor is refused as before, the refusal
naming the type."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from condensekit.core.vision.convnet import ConvNet
from condensekit.core.vision.methods import condense_images
from tests.core.vision.conftest import make_tiny_images
from tests.values import same_value


def _condensed(**kwargs: Any) -> dict[str, Any]:
    ci = condense_images(make_tiny_images(), "dm", ipc=kwargs.pop("ipc", 2), domain="t", progress=False,
                         device="cpu", config={"iterations": 2, "batch_real": 8, "model": "mlp"}, **kwargs)  # fmt: skip
    card = json.loads(json.dumps(ci.card))  # np.int64 in the card: not JSON
    card.pop("cost")  # the run's time differs, the rest is the same
    return {"x": ci.x, "y": ci.y, "card": card}


def _random_steps(**kwargs: Any) -> Any:
    return condense_images(make_tiny_images(), "random", ipc=2, domain="t", progress=False, **kwargs).card["steps"]


def _splits(num_classes: Any) -> dict[str, Any]:
    d = dataclasses.replace(make_tiny_images(), num_classes=num_classes)
    return {"num_classes": d.num_classes, "type": type(d.num_classes), "record": json.dumps(d.split_record())}


def _convnet(stem_padding: Any) -> dict[str, Any]:
    torch.manual_seed(0)
    net = ConvNet(1, 2, (8, 8), width=4, depth=1, stem_padding=stem_padding)
    return {"stem_padding": net.stem_padding, "type": type(net.stem_padding), "feature_dim": net.feature_dim,
            "params": {k: v.detach().clone() for k, v in net.state_dict().items()}}  # fmt: skip


CASES: dict[str, tuple[Callable[..., Any], dict[str, Any], dict[str, Any]]] = {
    # name: (function, numpy keyword arguments, the Python values they hold)
    "condense_images steps": (_condensed, {"steps": np.int64(1)}, {"steps": 1}),
    "condense_images ipc / seed": (_condensed, {"steps": np.int32(1), "ipc": np.int64(2), "seed": np.int64(3)},
                                   {"steps": 1, "ipc": 2, "seed": 3}),  # fmt: skip
    "random steps 0": (_random_steps, {"steps": np.int64(0)}, {"steps": 0}),
    "ImageSplits num_classes": (_splits, {"num_classes": np.int64(2)}, {"num_classes": 2}),
    "ConvNet stem_padding": (_convnet, {"stem_padding": np.int64(2)}, {"stem_padding": 2}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_numpy_arguments_give_what_python_values_give(name: str) -> None:
    fn, numpy_kwargs, python_kwargs = CASES[name]
    assert same_value(fn(**numpy_kwargs), fn(**python_kwargs))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: _condensed(steps=1.0), "Invalid value 1.0 for argument steps of method 'dm'. Valid values are "
                                        "integers >= 0 (got float)"),  # fmt: skip
        (lambda: _condensed(steps=True), "Invalid value True for argument steps of method 'dm'. Valid values are "
                                         "integers >= 0 (got bool)"),  # fmt: skip
        (lambda: _condensed(steps=np.int64(-1)), "Invalid value np.int64(-1) for argument steps of method 'dm'. "
                                                 "Valid values are integers >= 0"),  # fmt: skip
        (lambda: _splits(2.0), "Invalid value 2.0 for argument num_classes. Valid values are integers >= 1 (got "
                               "float)"),  # fmt: skip
        (lambda: _splits(np.int64(0)), "Invalid value np.int64(0) for argument num_classes. Valid values are "
                                       "integers >= 1"),  # fmt: skip
        (lambda: _convnet(torch.tensor(1)), "Invalid value tensor(1) for argument stem_padding. Valid values are None "
                                            "(the reference rule: 3 for 1-channel input, else 1) or an integer >= 0 "
                                            "(got torch.Tensor)"),  # fmt: skip
        (lambda: _convnet(np.int64(-1)), "Invalid value np.int64(-1) for argument stem_padding. Valid values are "
                                         "None (the reference rule: 3 for 1-channel input, else 1) or an integer >= "
                                         "0"),  # fmt: skip
    ],
)
def test_what_is_no_count_is_refused_naming_the_type(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message
