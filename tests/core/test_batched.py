from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from condensekit.core.batched import device_rng_state, dropout, train_select_batched
from condensekit.core.evaluate import TrainConfig, accuracy, train_select
from condensekit.core.seed import seed_everything


class Net(nn.Module):
    """A two-layer MLP whose dropout goes through ``condensekit.core.batched.dropout``."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(6, 12), nn.Linear(12, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.b(dropout(torch.relu(self.a(x)), 0.5, self.training))


def _data() -> tuple[Tensor, Tensor, Tensor, Tensor]:
    g = torch.Generator().manual_seed(1)
    x, xv = torch.randn(12, 6, generator=g), torch.randn(30, 6, generator=g)
    return x, torch.arange(12) % 3, xv, torch.randint(0, 3, (30,), generator=g)


CFG = TrainConfig(epochs=25, lr=0.05)


def test_batched_runs_give_the_one_at_a_time_figures() -> None:
    x, y, xv, yv = _data()
    kw = {"train_loss": lambda m: F.cross_entropy(m(x), y), "test": lambda m: accuracy(m(xv), yv)}
    alone = []
    for seed in range(3):
        seed_everything(seed)
        alone.append(train_select(Net(), validate=lambda m: accuracy(m(xv[:15]), yv[:15]), config=CFG, **kw))
    nets, states = [], []
    for seed in range(3):
        seed_everything(seed)
        nets.append(Net())
        states.append(device_rng_state(torch.device("cpu")))
    together = train_select_batched(
        nets, rng_states=states, validate=lambda m: (m(xv[:15]).argmax(-1) == yv[:15]).sum(), config=CFG, **kw
    )
    assert [r.test for r in together] == [r.test for r in alone]
    assert [r.best_epoch for r in together] == [r.best_epoch for r in alone]
    assert len({r.test for r in alone} | {r.best_epoch for r in alone}) > 2  # the runs differ


def test_batched_needs_a_state_per_model() -> None:
    with pytest.raises(ValueError, match="rng_states"):
        train_select_batched(
            [Net(), Net()], rng_states=[torch.get_rng_state()], train_loss=None, validate=None, test=None
        )  # type: ignore[arg-type]
