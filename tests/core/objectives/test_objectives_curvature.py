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


@pytest.mark.parametrize("h", [0.0, -1.0, float("nan"), float("inf"), True, "3"])
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


def test_unit_direction_option_is_exactly_unit_and_parallel_to_the_gradient():
    gen = torch.Generator().manual_seed(0)
    # per-sample gradients of a batch-mean loss are tiny: 1e-7 is where the reference's offsets dominate
    g = torch.randn(4, 1, 5, 5, generator=gen, dtype=torch.float64) * torch.tensor([1.0, 1e-4, 1e-7, 0.0]).view(
        -1, 1, 1, 1
    )
    z = unit_direction(g, direction="unit")
    flat, zf = g.reshape(4, -1), z.reshape(4, -1)
    assert torch.allclose(zf[:3].norm(dim=1), torch.ones(3, dtype=torch.float64), atol=1e-12)
    cos = torch.nn.functional.cosine_similarity(zf[:3], flat[:3], dim=1)
    assert torch.allclose(cos, torch.ones(3, dtype=torch.float64), atol=1e-12)
    assert torch.equal(z[3], torch.zeros_like(z[3]))  # a zero gradient probes nothing, and no NaN
    ref = unit_direction(g).reshape(4, -1)  # the reference: long and tilted for the tiny rows
    assert ref[2].norm() > 1.1 and ref[3].norm() == pytest.approx(5.0)
    with pytest.raises(ValueError, match="'sign' for argument direction. Valid values are {reference, unit}"):
        unit_direction(g, direction="sign")


def test_unit_direction_curvature_is_finite_for_a_zero_gradient_and_exact_on_a_quadratic():
    d, h = 4, 0.3
    a = _spd(d, 3)
    x = torch.randn(3, d, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    x[1] = 0.0  # ∇(½ xᵀAx) = Ax = 0 there

    def per_sample(inp):
        return 0.5 * ((inp @ a) * inp).sum(1)

    xs = x.clone().requires_grad_(True)
    r = input_curvature(per_sample, xs, h=h, reduction="sum", direction="unit")
    assert torch.isfinite(r).all() and r[1] == 0
    (gx,) = torch.autograd.grad(r.sum(), xs)
    assert torch.isfinite(gx).all()
    for i in (0, 2):
        z = (a @ x[i]) / (a @ x[i]).norm()
        assert r[i].item() == pytest.approx(h * (a @ z).norm().item(), rel=1e-10)
    reg = CurvatureRegularizer(direction="unit")
    assert reg.direction == "unit" and CurvatureRegularizer().direction == "reference"
    with pytest.raises(ValueError, match="argument direction"):
        CurvatureRegularizer(direction="Unit")


def _bn_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 5 * 5, 3)
    )


def test_regularizer_in_the_models_own_mode_takes_batch_statistics_and_keeps_the_running_ones():
    net = _bn_net().train()  # a fresh network, as DM's and DC's: running mean 0, variance 1
    gen = torch.Generator().manual_seed(1)
    x, y = 2.0 + 3.0 * torch.randn(6, 1, 5, 5, generator=gen), torch.randint(0, 3, (6,), generator=gen)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    reg = CurvatureRegularizer(lam=1.0, h=0.5, eval_mode=False)
    value = reg(net, x, y)
    for k, v in net.state_dict().items():  # running mean / var and num_batches_tracked untouched
        assert torch.equal(v, before[k]), k
    assert net.training
    # the term on the function the step uses: a copy of the network in train mode (batch statistics)
    twin = _bn_net().train()
    want = input_curvature(lambda inp: nn.functional.cross_entropy(twin(inp), y, reduction="none"), x, h=0.5)
    assert value.item() == pytest.approx(want.mean().item(), rel=1e-5)
    value.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
    # the reference's eval mode takes it on the initial statistics: another function, another value
    evaluated = CurvatureRegularizer(lam=1.0, h=0.5)(net, x, y)
    assert evaluated.item() != pytest.approx(value.item(), rel=1e-2)
    # a network in eval mode (SRe2L's frozen teacher) keeps its running statistics
    net.eval()
    assert reg(net, x, y).item() == pytest.approx(evaluated.item(), rel=1e-6) and not net.training


@pytest.mark.parametrize("eval_mode", [True, False])
def test_regularizer_gives_each_submodule_its_own_mode_back(eval_mode):
    # __call__ restored the mode with model.train(was_training), which sets every submodule to the top module's: a
    # training model with a frozen (eval-mode) batch norm came back with it training, in either eval_mode
    net = _bn_net().train()
    net[1].eval()
    seen = []
    net[1].register_forward_pre_hook(lambda m, _inp: seen.append(m.training))
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(6, 1, 5, 5, generator=gen), torch.randint(0, 3, (6,), generator=gen)
    CurvatureRegularizer(lam=1.0, h=0.5, eval_mode=eval_mode)(net, x, y)
    assert seen and not any(seen)  # the frozen batch norm stayed frozen for the term too
    assert [m.training for m in net.modules()] == [True, True, False, True, True, True]
    with pytest.raises(RuntimeError):  # and after an error (images with 2 channels for a 1-channel net)
        CurvatureRegularizer(lam=1.0, h=0.5, eval_mode=eval_mode)(net, x.repeat(1, 2, 1, 1), y)
    assert [m.training for m in net.modules()] == [True, True, False, True, True, True]
