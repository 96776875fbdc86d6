"""core.modes: a model's mode for one block, each submodule's own mode given back (not the top module's)."""

from __future__ import annotations

import pytest
from torch import nn

from condensekit.core.modes import eval_mode, module_mode, train_mode


def _frozen_bn_in_training_model() -> nn.Module:
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Dropout(0.5), nn.Linear(3, 2)).train()
    model[1].eval()  # fine-tuning with a frozen batch norm
    return model


def _modes(model: nn.Module) -> list[bool]:
    return [m.training for m in model.modules()]


def test_each_submodule_gets_its_own_mode_back():
    model = _frozen_bn_in_training_model()
    before = _modes(model)
    assert before == [True, True, False, True, True]
    with eval_mode(model) as inner:
        assert inner is model and not any(_modes(model))
    assert _modes(model) == before
    with train_mode(model):
        assert all(_modes(model))
    assert _modes(model) == before
    frozen = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5)).eval()
    frozen[1].train()  # an eval model with one training part, the other way round
    with module_mode(frozen, False):
        assert not any(_modes(frozen))
    assert _modes(frozen) == [False, False, True]


def test_modes_come_back_after_an_error():
    model = _frozen_bn_in_training_model()
    with pytest.raises(RuntimeError, match="inside"), eval_mode(model):
        raise RuntimeError("inside")
    assert _modes(model) == [True, True, False, True, True]
