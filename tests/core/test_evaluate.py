from __future__ import annotations

import pytest
import torch
from torch import nn

from condensekit.core.batched import device_rng_state, train_select_batched
from condensekit.core.evaluate import TrainConfig, train_select


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"val_every": 0}, "val_every"),  # divided by zero (modulo) at the first epoch
        ({"val_every": 2.5}, "val_every"),  # validated at epochs 5, 10, ...
        ({"lr_drop_factor": 0.0}, "lr_drop_factor"),  # no training after the drop
        ({"lr_drop_factor": -0.1}, "lr_drop_factor"),  # torch refused it only at the drop epoch
        ({"weight_decay": float("nan")}, "weight_decay"),
        ({"weight_decay": -1e-4}, "weight_decay"),
    ],
)
def test_train_config_refuses_bad_values_by_name(kwargs: dict[str, float], argument: str) -> None:
    with pytest.raises(ValueError, match=f"argument {argument}"):
        TrainConfig(**kwargs)


def _lrs(batched: bool, config: TrainConfig) -> list[float]:
    """The learning rate of every epoch's step."""
    seen: list[float] = []
    original = torch.optim.Adam.step

    def step(self: torch.optim.Adam, *a: object, **k: object) -> object:
        seen.append(self.param_groups[0]["lr"])
        return original(self, *a, **k)

    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    x, y = torch.randn(4, 2), torch.tensor([0, 1, 0, 1])

    def loss(m: nn.Module) -> torch.Tensor:
        return nn.functional.cross_entropy(m(x), y)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch.optim.Adam, "step", step)
        if batched:
            score = lambda m: -loss(m)  # noqa: E731
            train_select_batched(
                [model], rng_states=[device_rng_state(torch.device("cpu"))], train_loss=loss,
                validate=score, test=lambda m: 0.0, config=config,
            )  # fmt: skip
        else:
            train_select(model, train_loss=loss, validate=lambda m: 0.0, test=lambda m: 0.0, config=config)
    return seen


@pytest.mark.parametrize("batched", [False, True])
def test_no_lr_drop_before_the_first_epoch(batched: bool) -> None:
    # int(1 * 0.5) = 0: a one-epoch run trained entirely at a tenth of its rate
    assert _lrs(batched, TrainConfig(epochs=1, lr=0.01)) == [0.01]
    assert _lrs(batched, TrainConfig(epochs=4, lr=0.01)) == pytest.approx([0.01, 0.01, 0.001, 0.001])
