"""LearnedNodeGraph.class_index: the one per-class row index (built once per sizes) that GCDM's one-pass MMD labels
and gradient matching's batched class gradients both use."""

from __future__ import annotations

import pytest
import torch

from condensekit.graph.condense import make_config
from condensekit.graph.methods import NODE_METHODS
from condensekit.graph.task import NodeTask


@pytest.mark.parametrize("method", ["gcdm", "doscond"])
def test_class_index_gives_positions_or_labels_built_once(tiny_task: NodeTask, method: str) -> None:
    budgets = torch.zeros(tiny_task.num_classes, dtype=torch.long)
    budgets[0], budgets[2] = 2, 3  # class 1 has no synthetic node: positions and labels differ
    m = NODE_METHODS.get(method).cls(tiny_task, budgets, make_config(method, {"hidden": 8}))
    m.setup(torch.device("cpu"))
    assert m.classes == [0, 2]
    pos, labels = m.class_index([2, 3]), m.class_index((2, 3), labels=True)
    assert pos.tolist() == [0, 0, 1, 1, 1] and labels.tolist() == [0, 0, 2, 2, 2]
    assert m.class_index((2, 3)) is pos and m.class_index([2, 3], labels=True) is labels  # kept, not rebuilt
    assert m.class_index([0, 1]).tolist() == [1]


def test_gcdm_labels_its_real_rows_with_their_classes(tiny_task: NodeTask) -> None:
    m = NODE_METHODS.get("gcdm").cls(tiny_task, torch.tensor([2, 0, 3]), make_config("gcdm", {"hidden": 8}))
    m.setup(torch.device("cpu"))
    idx, labels = m._full_rows
    assert torch.equal(labels, tiny_task.y[idx]) and set(labels.tolist()) == {0, 2}
