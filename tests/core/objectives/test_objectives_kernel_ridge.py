from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch.overrides import TorchFunctionMode

from condensekit.core.objectives.kernel_ridge import cholesky_jitter, krr_factor, krr_predict, relu_ntk, relu_ntk_layer


def test_krr_predict_matches_the_closed_form() -> None:
    torch.manual_seed(0)
    xs, xt, ys = torch.randn(5, 3), torch.randn(4, 3), torch.randn(5, 2)
    k_ss, k_ts = xs @ xs.t(), xt @ xs.t()
    lam = 0.5 * torch.trace(k_ss) / 5
    want = k_ts @ torch.linalg.inv(k_ss + lam * torch.eye(5)) @ ys
    assert torch.allclose(krr_predict(k_ts, k_ss, ys, ridge=0.5), want, atol=1e-4)


def test_krr_interpolates_its_own_support_without_ridge() -> None:
    torch.manual_seed(0)
    xs, ys = torch.randn(4, 6), torch.randn(4, 3)
    k = xs @ xs.t()
    assert torch.allclose(krr_predict(k, k, ys, ridge=0.0), ys, atol=1e-3)


def test_krr_bad_shapes_and_ridge() -> None:
    with pytest.raises(ValueError, match="n_s"):
        krr_predict(torch.zeros(2, 3), torch.eye(4), torch.zeros(4, 2))
    for bad in (-1.0, float("nan"), float("inf")):  # NaN passed `ridge < 0` and predicted NaN
        with pytest.raises(ValueError, match="argument ridge"):
            krr_predict(torch.zeros(2, 4), torch.eye(4), torch.zeros(4, 2), ridge=bad)


def test_relu_layer_closed_form_for_orthogonal_and_equal_inputs() -> None:
    # rho = 0: nngp' = |a||b| / pi, ntk' = ntk / 2 + nngp'; rho -> 1: nngp' = |a||b|, ntk' = ntk + nngp'.
    n1, n2 = torch.tensor([2.0]), torch.tensor([3.0])
    nngp, ntk = relu_ntk_layer(torch.zeros(1, 1), torch.ones(1, 1), n1, n2)
    assert torch.allclose(nngp, torch.tensor([[6.0 / math.pi]]))
    assert torch.allclose(ntk, torch.tensor([[0.5 + 6.0 / math.pi]]))
    nngp, ntk = relu_ntk_layer(torch.full((1, 1), 6.0), torch.full((1, 1), 6.0), n1, n2)
    assert torch.allclose(nngp, torch.tensor([[6.0]]), atol=1e-3)
    assert torch.allclose(ntk, torch.tensor([[12.0]]), atol=0.05)  # rho clipped to 1 - 1e-4


def test_relu_nngp_matches_a_wide_random_layer() -> None:
    """E_w[relu(w.a) relu(w.b)] * 2 over w ~ N(0, I) is the arc-cosine kernel (Cho & Saul)."""
    gen = torch.Generator().manual_seed(0)
    a, b = torch.tensor([[1.0, 0.5, -0.2]]), torch.tensor([[0.3, -1.0, 0.8]])
    w = torch.randn(3, 400_000, generator=gen)
    mc = 2 * (torch.relu(a @ w) * torch.relu(b @ w)).mean()
    nngp, _ = relu_ntk_layer(a @ b.t(), a @ b.t(), a.norm(dim=1), b.norm(dim=1))
    assert abs(float(nngp) - float(mc)) < 0.01


def test_relu_ntk_is_symmetric_psd_and_differentiable() -> None:
    torch.manual_seed(0)
    x = torch.randn(6, 4, requires_grad=True)
    k = relu_ntk(x, x, depth=3)
    assert torch.allclose(k, k.t(), atol=1e-5)
    assert torch.linalg.eigvalsh(k.detach()).min() > -1e-4
    k.sum().backward()
    assert torch.isfinite(x.grad).all()
    with pytest.raises(ValueError, match="depth"):
        relu_ntk(x, x, depth=0)


class _Reads(TorchFunctionMode):
    """Counts the host reads (``tolist``, ``item``, ``int``, ``float``, ``bool``) of tensors."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        if getattr(func, "__name__", "") in ("tolist", "item", "__int__", "__float__", "__bool__"):
            self.count += 1
        return func(*args, **(kwargs or {}))


def test_krr_factor_is_krr_predicts_factor_and_reads_the_callers_counts_with_its_checks() -> None:
    """krr_factor is the one jittered Cholesky of the regularised K_ss: krr_predict solves with it, KiDD's step
    reads its real batch's node count through it, in the same single host read as the factor's checks."""
    gen = torch.Generator().manual_seed(0)
    xs, xt, ys = torch.randn(5, 3, generator=gen), torch.randn(4, 3, generator=gen), torch.randn(5, 2, generator=gen)
    k_ss, k_ts = xs @ xs.t(), xt @ xs.t()
    for ridge, k in ((0.5, k_ss), (0.0, torch.ones(5, 5))):  # the second needs jitter
        with _Reads() as reads:
            factor, (count, half) = krr_factor(k, ridge=ridge, read=[torch.tensor(12345678), torch.tensor(0.5)])
        assert (count, half) == (12345678, 0.5)
        assert reads.count == 1 if ridge else reads.count > 1  # with jitter, one more read per jitter tried
        assert torch.equal(k_ts @ torch.cholesky_solve(ys, factor), krr_predict(k_ts, k, ys, ridge=ridge))
        eye = torch.eye(5)
        assert torch.equal(factor, cholesky_jitter(k + ridge * torch.diagonal(k).mean() * eye))
    assert krr_factor(k_ss, ridge=1.0)[1] == []


def test_krr_factor_refuses_what_it_cannot_read_or_factor() -> None:
    with pytest.raises(
        ValueError, match=r"krr_factor reads back 0-dim tensors only \(read\), got shapes \[\(\), \(2,\)\]"
    ):
        krr_factor(torch.eye(2), ridge=1.0, read=[torch.tensor(1), torch.ones(2)])
    with pytest.raises(ValueError, match=r"krr_factor needs a non-empty square k_ss \(n_s, n_s\), got shape \(2, 3\)"):
        krr_factor(torch.ones(2, 3), ridge=1.0)
    with pytest.raises(ValueError, match=r"non-empty square k_ss \(n_s, n_s\), got shape \(0, 0\)"):
        krr_factor(torch.ones(0, 0), ridge=1.0)
    for dtype in (torch.int64, torch.float16):  # an integer k_ss raised torch's RuntimeError from mean()
        with pytest.raises(ValueError, match=f"krr_factor needs a float32 or float64 k_ss .*got {dtype}"):
            krr_factor(torch.eye(2, dtype=dtype), ridge=1.0)
    with pytest.raises(ValueError, match="argument ridge"):
        krr_factor(torch.eye(2), ridge=-1.0)
    with pytest.raises(ValueError, match="NaN or inf"):
        krr_factor(torch.full((2, 2), float("nan")), ridge=1.0, read=[torch.tensor(3)])
