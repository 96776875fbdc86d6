from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.autograd.functional import hvp

from condensekit.core.objectives import (
    CurvatureRegularizer,
    curvature_gap,
    input_curvature,
    parameter_curvature,
    unit_direction,
)
from condensekit.core.vision.train import ImageTrainConfig, fit_images


def _spd(d: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    m = torch.randn(d, d, generator=gen, dtype=torch.float64)
    return m @ m.T + torch.eye(d, dtype=torch.float64)


def test_input_curvature_equals_exact_hessian_vector_product_on_a_quadratic():
    d, n, h = 5, 4, 0.7
    a = _spd(d, 0)
    b = torch.randn(d, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    x = torch.randn(n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(2))

    def per_sample(inp):  # ½ xᵀAx + bᵀx per row
        return 0.5 * ((inp @ a) * inp).sum(1) + inp @ b

    r = input_curvature(per_sample, x, h=h, reduction="sum", eps=0.0)
    for i in range(n):
        g = a @ x[i] + b
        z = g / g.norm()
        _, hz = hvp(lambda v: 0.5 * v @ a @ v + b @ v, x[i], z)
        assert r[i].item() == pytest.approx(h * hz.norm().item(), rel=1e-10)
    # the reference's reduction differentiates the batch mean: every row carries 1/N
    r_mean = input_curvature(per_sample, x, h=h, reduction="mean", eps=0.0)
    assert torch.allclose(r_mean, r / n)


def test_input_curvature_is_zero_for_a_linear_loss_and_differentiable_in_x():
    w = torch.randn(6, dtype=torch.float64)
    x = torch.randn(3, 6, dtype=torch.float64)
    assert torch.allclose(input_curvature(lambda inp: inp @ w, x, h=2.0), torch.zeros(3, dtype=torch.float64))
    xs = torch.randn(3, 6, dtype=torch.float64, requires_grad=True)
    r = input_curvature(lambda inp: (inp**4).sum(1), xs, h=0.5)
    (gx,) = torch.autograd.grad(r.sum(), xs)
    assert gx.abs().sum() > 0


@pytest.mark.parametrize("h", [0.0, -1.0, float("nan"), float("inf")])
def test_h_must_be_positive(h):
    with pytest.raises(ValueError, match="argument h"):
        input_curvature(lambda inp: inp.sum(1), torch.randn(2, 3), h=h)
    with pytest.raises(ValueError, match="argument h"):
        CurvatureRegularizer(h=h)


def test_bad_reduction_and_loss_shape():
    with pytest.raises(ValueError, match="argument reduction"):
        input_curvature(lambda inp: inp.sum(1), torch.randn(2, 3), reduction="max")
    with pytest.raises(ValueError, match="one loss per sample"):
        input_curvature(lambda inp: inp.sum(), torch.randn(2, 3))


def test_unit_direction_rows_have_unit_norm_and_zero_rows_stay_finite():
    g = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    u = unit_direction(g, eps=0.0)
    assert torch.allclose(u[0], torch.tensor([0.6, 0.8]))
    assert torch.isfinite(unit_direction(g)).all()


def test_regularizer_trains_a_model_and_restores_its_mode():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3))
    x, y = torch.randn(12, 2, 2, 2), torch.randint(0, 3, (12,))
    reg = CurvatureRegularizer(lam=10.0, h=0.5)
    model.train()
    value = reg(model, x, y)
    assert model.training and value.dim() == 0 and value > 0
    value.backward()
    assert all(p.grad is not None for p in model.parameters())
    before = reg(model, x, y).item()
    fit_images(model, x, y, config=ImageTrainConfig(epochs=30, lr=0.05), regularizer=CurvatureRegularizer(lam=50.0))
    assert reg(model, x, y).item() < before


def test_parameter_curvature_equals_exact_hessian_vector_product_on_a_quadratic():
    a = _spd(4, 3)
    theta = {"w": torch.randn(4, dtype=torch.float64)}
    v = torch.randn(4, dtype=torch.float64)
    (fd,) = parameter_curvature(lambda p: 0.5 * p["w"] @ a @ p["w"], theta, [v], h=0.3)
    _, exact = hvp(lambda w: 0.5 * w @ a @ w, theta["w"], v)
    assert torch.allclose(fd, 0.3 * exact)
    with pytest.raises(ValueError, match="argument h"):
        parameter_curvature(lambda p: p["w"].sum(), theta, [v], h=0)
    with pytest.raises(ValueError, match="shape"):
        parameter_curvature(lambda p: p["w"].sum(), theta, [torch.ones(3)], h=1)


def test_curvature_gap_is_the_hessian_difference_along_the_gradient_gap():
    a, b = _spd(4, 4), _spd(4, 5)
    theta = {"w": torch.randn(4, dtype=torch.float64)}
    gap = curvature_gap(lambda p: 0.5 * p["w"] @ a @ p["w"], lambda p: 0.5 * p["w"] @ b @ p["w"], theta, rho=0.1)
    d = (a - b) @ theta["w"]
    expected = ((a - b) @ (d / d.norm())).norm()
    assert gap.item() == pytest.approx(expected.item(), rel=1e-8)
    # the same Hessians give no gap; the term is differentiable in what loss_syn closes over
    assert curvature_gap(lambda p: (p["w"] ** 2).sum(), lambda p: (p["w"] ** 2).sum() + 1, theta).item() < 1e-6
    s = torch.ones(4, dtype=torch.float64, requires_grad=True)
    out = curvature_gap(lambda p: ((s * p["w"]) ** 2).sum(), lambda p: (p["w"] ** 2).sum(), theta, rho=0.1)
    out.backward()
    assert torch.isfinite(s.grad).all()  # zero gap: a finite (zero) gradient, not NaN
    s2 = torch.full((4,), 1.5, dtype=torch.float64, requires_grad=True)
    out = curvature_gap(lambda p: ((s2 * p["w"]) ** 2).sum(), lambda p: (p["w"] ** 2).sum(), theta, rho=0.1)
    out.backward()
    assert s2.grad is not None and s2.grad.abs().sum() > 0
