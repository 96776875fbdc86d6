"""The graph package's function arguments take numpy numbers as the shared checks take a config's (``check_int``:
any integer; a numpy bool is a bool): ``condense_nodes(steps=np.int64(2))``, a model's sizes and ``k``, a graph-level
method's switch. What they give equals what Python values give, and what is stored (a model's sizes, a card) holds
Python values. A bool, a float count or a tensor is refused as before, the refusal naming the type."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor
from torch_geometric.data import Data

from condensekit.graph.condense import condense_nodes, prepare_task
from condensekit.graph.level.data import graphset_from_list
from condensekit.graph.level.methods.base import GraphCondensation
from condensekit.graph.models import APPNP, GCN, SGC, ChebNet
from condensekit.graph.task import NodeTask
from tests.graph.test_graph_api_input import _graph
from tests.values import same_value


def _task() -> NodeTask:
    return prepare_task(_graph(), device="cpu")  # the 30-node ring of the graph API input tests


def _condensed(**kwargs: Any) -> dict[str, Any]:
    cg = condense_nodes(_task(), "gcdm", budget=6, config={"outer_loop": 1, "hidden": 8}, progress=False, **kwargs)
    return {"x": cg.x, "adj": cg.adj, "card": json.loads(json.dumps(cg.card))}  # np.int64 in the card: not JSON


def _model(cls: type, **kwargs: Any) -> dict[str, Any]:
    torch.manual_seed(0)
    m = cls(in_channels=kwargs.pop("in_channels", 4), out_channels=3, hidden_channels=8, **kwargs)
    stored = {k: getattr(m, k) for k in ("in_channels", "out_channels", "hidden_channels", "num_layers", "hops")}
    return {"stored": stored, "types": [type(v) for v in stored.values()],
            "params": {k: v.detach().clone() for k, v in m.state_dict().items()}}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class _SwitchConfig:
    """A graph-level method's own config (no ``check_field_types`` in its ``__post_init__``)."""

    mask_padding: bool = True


class _Switch(GraphCondensation):
    def setup(self, device: torch.device) -> None:
        pass

    def step(self, step: int) -> dict[str, float]:
        return {}

    def condensed(self) -> dict[str, Tensor]:
        return {}


def _switch(flag: Any) -> bool:
    graphs = [Data(x=torch.ones(3, 2), edge_index=torch.tensor([[0, 1], [1, 0]]), y=torch.tensor([c % 2]))
              for c in range(8)]  # fmt: skip
    return bool(_Switch(graphset_from_list(graphs, name="t", seed=0), 1, _SwitchConfig(mask_padding=flag)).config
                .mask_padding)  # fmt: skip


CASES: dict[str, tuple[Callable[..., Any], dict[str, Any], dict[str, Any]]] = {
    # name: (function, numpy keyword arguments, the Python values they hold)
    "condense_nodes steps": (_condensed, {"steps": np.int64(2)}, {"steps": 2}),
    "condense_nodes seed / eval": (
        _condensed,
        {"steps": np.int32(1), "seed": np.int64(1), "eval_every": np.int64(1), "eval_runs": np.int64(1)},
        {"steps": 1, "seed": 1, "eval_every": 1, "eval_runs": 1},
    ),
    "coreset steps 0": (lambda **kw: condense_nodes(_task(), "random", budget=6, progress=False, **kw).card["steps"],
                        {"steps": np.int64(0)}, {"steps": 0}),  # fmt: skip
    "gcn sizes": (lambda **kw: _model(GCN, **kw), {"in_channels": np.int64(4), "num_layers": np.uint8(2)},
                  {"in_channels": 4, "num_layers": 2}),  # fmt: skip
    "cheb k": (lambda **kw: _model(ChebNet, **kw), {"k": np.int64(3)}, {"k": 3}),
    "sgc k": (lambda **kw: _model(SGC, **kw), {"k": np.int32(0)}, {"k": 0}),
    "appnp k": (lambda **kw: _model(APPNP, **kw), {"k": np.int64(2)}, {"k": 2}),
    "graph-level switch": (_switch, {"flag": np.bool_(False)}, {"flag": False}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_numpy_arguments_give_what_python_values_give(name: str) -> None:
    fn, numpy_kwargs, python_kwargs = CASES[name]
    got, want = fn(**numpy_kwargs), fn(**python_kwargs)
    if isinstance(got, dict) and "card" in got:  # the run's cost differs, the rest is the same
        for card in (got["card"], want["card"]):
            card.pop("cost")
    assert same_value(got, want)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: _model(GCN, in_channels=4.0), "in_channels must be a positive integer, got 4.0 (a float)"),
        (lambda: _model(GCN, in_channels=True), "in_channels must be a positive integer, got True (a bool)"),
        (lambda: _model(ChebNet, k=np.int64(0)), "k must be a positive integer, got np.int64(0)"),
        (lambda: _model(SGC, k=torch.tensor(2)), "k must be a non-negative integer, got tensor(2) (a torch.Tensor)"),
        (lambda: _model(APPNP, k=np.bool_(True)), "k must be a non-negative integer, got np.True_ (a numpy.bool)"),
        (lambda: _condensed(steps=2.0), "Invalid value 2.0 for argument steps of method 'gcdm'. Valid values are "
                                        "integers >= 0 (got float)"),  # fmt: skip
        (lambda: _condensed(steps=np.int64(-1)), "Invalid value np.int64(-1) for argument steps of method 'gcdm'. "
                                                 "Valid values are integers >= 0"),  # fmt: skip
        (lambda: _switch(np.int64(0)), "Invalid value np.int64(0) for argument mask_padding. Valid values are True "
                                       "and False (got numpy.int64)"),  # fmt: skip
    ],
)
def test_what_is_no_count_or_switch_is_refused_naming_the_type(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message
