from __future__ import annotations

import pytest
import torch

from condensekit.core.selection import select_herding, select_kcenter, select_per_class
from condensekit.core.synthetic import class_budgets, init_from_real

CORA_TRAIN = torch.tensor([0] * 20 + [1] * 20 + [2] * 20 + [3] * 20 + [4] * 20 + [5] * 20 + [6] * 20)


def test_gcond_budgets_cora() -> None:
    # GCond's r=0.5 on Cora's 140 labelled nodes: 10 per class, 70 in all.
    b = class_budgets(CORA_TRAIN, 7, budget=70)
    assert b.tolist() == [10] * 7
    assert class_budgets(CORA_TRAIN, 7, ratio=0.25).tolist() == [5] * 6 + [5]


def test_proportional_remainder_goes_to_largest() -> None:
    labels = torch.tensor([0] * 3 + [1] * 10 + [2] * 30)
    b = class_budgets(labels, 3, budget=8)
    # r = 8/43: class0 max(int(0.56),1)=1, class1 int(1.86)=1, largest gets 8-2=6
    assert b.tolist() == [1, 1, 6]


def test_balanced() -> None:
    labels = torch.tensor([0] * 2 + [1] * 10 + [2] * 30)
    assert class_budgets(labels, 3, budget=9, balanced=True).tolist() == [2, 3, 4]


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"budget": 2}, "at least the number of classes"),
        ({"budget": 500}, "exceeds"),
        ({"ratio": 0.0}, "ratio"),
        ({"ratio": 1.5}, "ratio"),
        ({}, "exactly one"),
    ],
)
def test_budget_errors(kw: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        class_budgets(CORA_TRAIN, 7, **kw)


def test_herding_and_kcenter() -> None:
    emb = torch.tensor([[0.0], [10.0], [1.0], [-1.0], [5.0]])
    # class mean is 3.0: 1.0 (index 2) and 5.0 (index 4) are equally near, herding takes either first
    h = select_herding(emb, 2)
    assert h.tolist()[0] in (2, 4) and len(set(h.tolist())) == 2
    k = select_kcenter(emb, 3)
    # starts nearest the mean (index 2, value 1.0), then farthest (10.0), then farthest from both (-1.0 … 5.0)
    assert k.tolist()[:2] == [2, 1]


def test_init_from_real_grouped_by_class() -> None:
    x = torch.randn(140, 5)
    b = class_budgets(CORA_TRAIN, 7, budget=35)
    for method in ("real", "kcenter", "herding", "noise"):
        xs, ys = init_from_real(method, x, CORA_TRAIN, b, generator=torch.Generator().manual_seed(0))
        assert xs.shape == (35, 5)
        assert torch.equal(ys, torch.repeat_interleave(torch.arange(7), b))
    idx = select_per_class("random", x, CORA_TRAIN, b)
    assert (CORA_TRAIN[idx] == torch.repeat_interleave(torch.arange(7), b)).all()
    with pytest.raises(ValueError, match="init"):
        init_from_real("bogus", x, CORA_TRAIN, b)


@pytest.mark.parametrize(
    "labels, num_classes, match",
    [
        (torch.tensor([0, 1, 2, 2]), 2, r"argument labels.* in 0\.\.1"),  # an IndexError from inside the split
        (torch.tensor([0, -1, 1, 1]), 2, r"argument labels.* in 0\.\.1"),  # bincount's own RuntimeError
        (torch.tensor([0, 1, 1]), 0, "argument num_classes"),
        (torch.tensor([0, 1, 1]), 2.0, "argument num_classes"),
    ],
)
def test_labels_outside_the_classes_are_refused_by_name(labels: torch.Tensor, num_classes: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        class_budgets(labels, num_classes, budget=3)
