from __future__ import annotations

import pytest
import torch

from condensekit.core.objectives import (
    GRADIENT_METRICS,
    dc_distance,
    gradient_cosine,
    gradient_distance,
    gradient_mse,
    relative_gradient_mse,
)


def test_dc_distance_golden_linear_weight():
    # rows are output units: row 0 identical (distance ~0), row 1 orthogonal (distance 1)
    g_syn = [torch.tensor([[1.0, 0.0], [0.0, 1.0]])]
    g_real = [torch.tensor([[1.0, 0.0], [1.0, 0.0]])]
    assert dc_distance(g_syn, g_real).item() == pytest.approx(1.0, abs=1e-5)
    # the eps term: 1 - 1 / (1 + eps) for the parallel row
    out = dc_distance(g_syn, g_real, eps=1.0)
    assert out.item() == pytest.approx((1 - 1 / 2) + 1.0, abs=1e-6)


def test_dc_distance_ignores_bias_and_is_scale_invariant():
    w = torch.tensor([[3.0, 4.0], [1.0, 2.0]])
    w_real = torch.tensor([[3.0, 4.0], [-1.0, -2.0]])  # row 1 opposite: distance 2
    bias_syn, bias_real = torch.tensor([1.0, 2.0]), torch.tensor([-5.0, 7.0])
    with_bias = dc_distance([w, bias_syn], [w_real, bias_real])
    assert with_bias.item() == pytest.approx(2.0, abs=1e-5)
    assert dc_distance([5 * w], [w_real]).item() == pytest.approx(with_bias.item(), abs=1e-5)
    # only 1-D gradients: zero, and still backpropagates
    b = bias_syn.clone().requires_grad_()
    zero = dc_distance([b], [bias_real])
    assert zero.item() == 0.0
    zero.backward()
    assert torch.equal(b.grad, torch.zeros(2))


def test_dc_distance_conv_reshape_matches_manual():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(4, 3, 2, 2, generator=gen)
    b = torch.randn(4, 3, 2, 2, generator=gen)
    c = torch.randn(5, 2, 3, generator=gen)  # 3-D: (out, a*b)
    d = torch.randn(5, 2, 3, generator=gen)
    manual = torch.zeros(())
    for x, y in ((a, b), (c, d)):
        x, y = x.reshape(x.shape[0], -1), y.reshape(y.shape[0], -1)
        manual = manual + (1 - torch.nn.functional.cosine_similarity(x, y, dim=1, eps=0)).sum()
    assert torch.allclose(dc_distance([a, c], [b, d]), manual, atol=1e-4)
    # rows are output units, not columns: transposing changes the value
    w, v = torch.randn(3, 5, generator=gen), torch.randn(3, 5, generator=gen)
    assert not torch.allclose(dc_distance([w], [v]), dc_distance([w.T], [v.T]))


def test_gradient_mse_and_cosine_golden():
    g_syn = [torch.tensor([[1.0, 2.0]]), torch.tensor([3.0])]
    g_real = [torch.tensor([[0.0, 0.0]]), torch.tensor([1.0])]
    assert gradient_mse(g_syn, g_real).item() == pytest.approx(1 + 4 + 4)
    # parallel vectors (bias included in the concatenation): cosine distance 0
    scaled = [2 * g for g in g_syn]
    assert gradient_cosine(g_syn, scaled).item() == pytest.approx(0.0, abs=1e-6)
    # orthogonal: 1; opposite: 2
    e1, e2 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    assert gradient_cosine([e1], [e2]).item() == pytest.approx(1.0)
    opposite = [-g for g in g_syn]
    assert gradient_cosine(g_syn, opposite).item() == pytest.approx(2.0, abs=1e-6)


def test_gradient_distance_dispatch_and_errors():
    gen = torch.Generator().manual_seed(1)
    g_syn = [torch.randn(3, 4, generator=gen), torch.randn(3, generator=gen)]
    g_real = [torch.randn(3, 4, generator=gen), torch.randn(3, generator=gen)]
    assert set(GRADIENT_METRICS) == {"dc", "mse", "cos"}
    assert torch.equal(gradient_distance(g_syn, g_real), dc_distance(g_syn, g_real))
    assert torch.equal(gradient_distance(g_syn, g_real, metric="mse"), gradient_mse(g_syn, g_real))
    assert torch.equal(gradient_distance(g_syn, g_real, metric="cos"), gradient_cosine(g_syn, g_real))
    msg = r"Unknown value 'l1' for argument metric\. Valid values are \{cos, dc, mse\}"
    with pytest.raises(ValueError, match=msg):
        gradient_distance(g_syn, g_real, metric="l1")
    with pytest.raises(ValueError, match=r"same number of tensors, got 2 \(g_syn\) and 1 \(g_real\)"):
        dc_distance(g_syn, g_real[:1])
    with pytest.raises(ValueError, match=r"g_syn\[0\] has shape \(3, 4\) but g_real\[0\] has shape \(4, 3\)"):
        gradient_mse(g_syn, [g_real[0].T, g_real[1]])
    with pytest.raises(ValueError, match="at least one tensor"):
        gradient_cosine([], [])


@pytest.mark.parametrize("metric", ["dc", "mse", "cos"])
def test_gradient_matching_backpropagates_to_synthetic_data(metric):
    # the real use: second-order gradient through torch.autograd.grad(create_graph=True)
    gen = torch.Generator().manual_seed(2)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    params = list(model.parameters())
    x_real, y_real = torch.randn(16, 4, generator=gen), torch.randint(0, 3, (16,), generator=gen)
    x_syn = torch.randn(3, 4, generator=gen, requires_grad=True)
    y_syn = torch.arange(3)
    loss_fn = torch.nn.functional.cross_entropy
    g_real = [g.detach() for g in torch.autograd.grad(loss_fn(model(x_real), y_real), params)]
    g_syn = torch.autograd.grad(loss_fn(model(x_syn), y_syn), params, create_graph=True)
    loss = gradient_distance(g_syn, g_real, metric=metric)
    loss.backward()
    assert loss.ndim == 0
    assert x_syn.grad is not None and torch.isfinite(x_syn.grad).all() and x_syn.grad.abs().sum() > 0


def test_relative_gradient_mse_golden():
    g_syn = [torch.tensor([[1.0, 2.0]]), torch.tensor([3.0])]
    g_real = [torch.tensor([[0.0, 2.0]]), torch.tensor([1.0])]
    # squared difference 1 + 0 + 4, real squared norm 4 + 1
    assert relative_gradient_mse(g_syn, g_real).item() == pytest.approx(1.0)
    zero = [torch.zeros(1, 2), torch.zeros(1)]
    assert torch.isfinite(relative_gradient_mse(g_syn, zero))  # the eps floor, not a division by zero
