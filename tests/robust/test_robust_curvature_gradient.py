"""The curvature term's parameter gradient (double backward) against central differences, batch norm included."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import condensekit.core.objectives.curvature as curvature
from condensekit.core.objectives import CurvatureRegularizer


@pytest.mark.parametrize(("eval_mode", "train"), [(False, True), (True, True), (False, False)])
@pytest.mark.parametrize("direction", ["reference", "unit"])
def test_curvature_parameter_gradient_matches_central_differences(monkeypatch, eval_mode, train, direction):
    # The probe direction z is a constant of the term (detached, as in GUARD's reference), so the finite differences
    # hold it at its first value; the rest, double backward through batch norm in batch-statistics (train) or
    # running-statistics mode, must be the derivative of the value.
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.Softplus(), nn.Flatten(), nn.Linear(48, 3)
    ).double()
    with torch.no_grad():
        net[1].running_mean.uniform_(-0.5, 0.5)
        net[1].running_var.uniform_(0.5, 2.0)
    net.train(train)
    x, y = torch.randn(5, 1, 4, 4, dtype=torch.float64), torch.randint(0, 3, (5,))
    original, first = curvature.unit_direction, {}

    def held(g: torch.Tensor, **kw: object) -> torch.Tensor:
        return first.setdefault("z", original(g, **kw))

    monkeypatch.setattr(curvature, "unit_direction", held)
    reg = CurvatureRegularizer(lam=1.0, h=0.3, eval_mode=eval_mode, direction=direction)
    reg(net, x, y).backward()
    assert net.training == train
    for p in net.parameters():
        flat, grad = p.data.view(-1), p.grad.view(-1)
        for i in range(0, flat.numel(), max(1, flat.numel() // 5)):
            old, e = flat[i].item(), 1e-6
            flat[i] = old + e
            up = reg(net, x, y).item()
            flat[i] = old - e
            down = reg(net, x, y).item()
            flat[i] = old
            assert grad[i].item() == pytest.approx((up - down) / (2 * e), rel=1e-4, abs=1e-8)
