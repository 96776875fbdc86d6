"""The int fields review G found unchecked: a float ran truncated (members=2.5, graph-level steps=2.5 ran 2 steps under
a card recording 2.5), True ran as 1, and a numpy bool, kept as given, reached a card that could not be written."""

from __future__ import annotations

import numpy as np
import pytest

from condensekit.graph.level.evaluate import GraphEvalConfig
from condensekit.graph.level.methods.doscond import GraphDosCondConfig
from condensekit.graph.level.methods.kidd import KiDDConfig
from condensekit.privacy.audit import AuditConfig
from condensekit.privacy.graph_audit import NodeAuditConfig

CASES = [
    (KiDDConfig, "steps"),
    (GraphDosCondConfig, "steps"),
    (GraphEvalConfig, "seed"),
    (AuditConfig, "members"),
    (AuditConfig, "canaries"),
    (AuditConfig, "seed"),
    (AuditConfig, "shadows"),
    (AuditConfig, "train_steps"),
    (NodeAuditConfig, "members"),
    (NodeAuditConfig, "seed"),
]


@pytest.mark.parametrize(("cls", "name"), CASES, ids=[f"{c.__name__}.{n}" for c, n in CASES])
@pytest.mark.parametrize("bad", [2.5, True, np.True_, np.float64(16.0), "3"], ids=repr)
def test_an_int_field_refuses_what_is_not_an_integer(cls: type, name: str, bad: object) -> None:
    with pytest.raises(ValueError, match=rf"argument {name}\. Valid values are integers"):
        cls(**{name: bad})


@pytest.mark.parametrize(("cls", "name"), CASES, ids=[f"{c.__name__}.{n}" for c, n in CASES])
def test_a_numpy_integer_is_taken_and_stored_as_an_int(cls: type, name: str) -> None:
    value = getattr(cls(), name) or 2
    got = getattr(cls(**{name: np.int64(value)}), name)
    assert got == value and type(got) is int
