from __future__ import annotations

import math
import re

import pytest
import torch

from condensekit.core.objectives import (
    DISTRIBUTION_DISTANCES,
    average_hausdorff,
    classwise_mean_embedding_distance,
    distribution_distance,
    gaussian_kernel,
    hausdorff,
    linear_kernel,
    mean_embedding_distance,
    mmd2,
    multi_bandwidth_kernel,
    random_fourier_features,
    rff_map,
    rff_mmd2,
    sliced_wasserstein,
)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_mean_embedding_distance_golden():
    x = torch.tensor([[0.0, 0.0], [2.0, 2.0]])  # mean (1, 1)
    y = torch.tensor([[4.0, 1.0], [4.0, 1.0], [4.0, 7.0]])  # mean (4, 3)
    assert mean_embedding_distance(x, y).item() == pytest.approx(9 + 4)


def test_kernels_golden():
    a = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    b = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    gram = gaussian_kernel(2.0)(a, b)
    expected = torch.tensor([[1.0, math.exp(-25 / 8)], [math.exp(-2 / 8), math.exp(-13 / 8)]])
    assert gram.shape == (2, 2)
    assert torch.allclose(gram, expected, atol=1e-6)
    multi = multi_bandwidth_kernel([1.0, 2.0])(a, b)
    assert torch.allclose(multi, gaussian_kernel(1.0)(a, b) + expected, atol=1e-6)
    assert torch.allclose(linear_kernel()(a, b), torch.tensor([[0.0, 0.0], [0.0, 7.0]]))
    # identical points: distance clamped at 0, kernel exactly 1 despite round-off
    big = torch.full((1, 3), 1e4)
    assert gaussian_kernel(0.1)(big, big).item() == 1.0
    with pytest.raises(ValueError, match="sigma"):
        gaussian_kernel(0.0)
    with pytest.raises(ValueError, match="sigmas"):
        multi_bandwidth_kernel([])


def test_linear_mmd_equals_mean_embedding_distance():
    x, y = torch.randn(7, 5, generator=_gen(0)), torch.randn(4, 5, generator=_gen(1)) + 1
    assert torch.allclose(mmd2(x, y, kernel=linear_kernel()), mean_embedding_distance(x, y), atol=1e-5)


def test_mmd_biased_and_unbiased_golden():
    # 1-D, linear kernel: Kxx = [[0,0],[0,4]], Kyy = [[1,1],[1,1]], Kxy = [[0,0],[2,2]]
    x, y = torch.tensor([[0.0], [2.0]]), torch.tensor([[1.0], [1.0]])
    k = linear_kernel()
    assert mmd2(x, y, kernel=k).item() == pytest.approx(1.0 + 1.0 - 2 * 1.0)
    assert mmd2(x, y, kernel=k, unbiased=True).item() == pytest.approx(0.0 + 1.0 - 2 * 1.0)
    with pytest.raises(ValueError, match="at least 2 samples"):
        mmd2(x[:1], y, kernel=k, unbiased=True)


def test_unbiased_mmd_separates_distributions():
    k = gaussian_kernel(1.0)
    x = torch.randn(400, 3, generator=_gen(2))
    y = torch.randn(400, 3, generator=_gen(3))
    same = mmd2(x, y, kernel=k, unbiased=True).item()
    shifted = mmd2(x, y + 1.0, kernel=k, unbiased=True).item()
    assert abs(same) < 0.01
    assert shifted > 0.1
    assert mmd2(x, y, kernel=k).item() > same  # the biased estimate is inflated by the diagonals


def test_rff_mmd_approximates_gaussian_mmd_and_is_reproducible():
    x = torch.randn(200, 2, generator=_gen(4))
    y = torch.randn(150, 2, generator=_gen(5)) + torch.tensor([1.0, 0.0])
    fmap = rff_map(2, 4000, 1.0, generator=_gen(6))
    phi = fmap(x)
    assert phi.shape == (200, 4000)
    exact = mmd2(x, y, kernel=gaussian_kernel(1.0)).item()
    approx = rff_mmd2(x, y, fmap).item()
    assert approx == pytest.approx(exact, rel=0.15)
    # same generator seed, same features; the map is reused on both samples
    again = rff_map(2, 4000, 1.0, generator=_gen(6))
    assert torch.equal(again(x), phi)
    assert torch.equal(random_fourier_features(x, n_features=4000, sigma=1.0, generator=_gen(6)), phi)
    assert rff_mmd2(x, x, fmap).item() == pytest.approx(0.0, abs=1e-10)
    with pytest.raises(ValueError, match=r"2 features .* got shape \(3, 5\)"):
        fmap(torch.randn(3, 5))


def test_sliced_wasserstein_1d_shift_is_exact():
    x = torch.randn(50, 1, generator=_gen(7))
    for p in (1, 2):
        swd = sliced_wasserstein(x, x + 3.0, n_projections=8, p=p, generator=_gen(8))
        assert swd.item() == pytest.approx(3.0, abs=1e-5)
    # unequal sizes: quantile grid; 1-D values {0, 1} vs {0, 0.5, 1} have equal quantiles
    a = torch.tensor([[0.0], [1.0]])
    b = torch.tensor([[0.0], [0.5], [1.0]])
    assert sliced_wasserstein(a, b, generator=_gen(9)).item() == pytest.approx(0.0, abs=1e-6)
    # {0, 1} vs {2, 3, 4}: grid t = 0, .5, 1 -> quantiles (0, .5, 1) vs (2, 3, 4); W1 = (2 + 2.5 + 3) / 3
    c = torch.tensor([[2.0], [3.0], [4.0]])
    assert sliced_wasserstein(a, c, p=1, generator=_gen(9)).item() == pytest.approx(2.5, abs=1e-5)


def test_sliced_wasserstein_reproducible_and_bounded():
    x = torch.randn(64, 4, generator=_gen(10))
    y = torch.randn(32, 4, generator=_gen(11)) + 0.5
    one = sliced_wasserstein(x, y, generator=_gen(12))
    two = sliced_wasserstein(x, y, generator=_gen(12))
    assert torch.equal(one, two)
    assert not torch.equal(one, sliced_wasserstein(x, y, generator=_gen(13)))
    # a shift s along a direction: each slice moves by |s|*|cos|, so 0 < SW_2 <= |s|
    shift = torch.tensor([3.0, 0.0, 0.0, 0.0])
    sw = sliced_wasserstein(x, x + shift, n_projections=512, generator=_gen(14)).item()
    assert 0.5 < sw <= 3.0 + 1e-5
    # E[cos^2] = 1/d for a uniform direction, so SW_2 ~ |s| / sqrt(d)
    assert sw == pytest.approx(3.0 / 2.0, rel=0.15)
    with pytest.raises(ValueError, match="p must be"):
        sliced_wasserstein(x, y, p=0.5)


def test_hausdorff_golden_1d():
    x = torch.tensor([[0.0]])
    y = torch.tensor([[3.0]])
    assert hausdorff(x, y).item() == pytest.approx(3.0)
    assert average_hausdorff(x, y).item() == pytest.approx(6.0)
    # X = {0, 1}, Y = {0, 4}: x->Y mins (0, 1), y->X mins (0, 3)
    x = torch.tensor([[0.0], [1.0]])
    y = torch.tensor([[0.0], [4.0]])
    assert hausdorff(x, y).item() == pytest.approx(3.0)
    assert average_hausdorff(x, y).item() == pytest.approx(0.5 + 1.5)
    assert hausdorff(y, x).item() == pytest.approx(3.0)


@pytest.mark.parametrize("metric", sorted(DISTRIBUTION_DISTANCES))
def test_gradients_flow_and_are_finite(metric):
    x = torch.randn(6, 3, generator=_gen(15), requires_grad=True)
    y = torch.randn(9, 3, generator=_gen(16))
    y = torch.cat([y, x.detach()[:2]])  # coincident points must not give nan gradients
    kw = {"kernel": multi_bandwidth_kernel([0.5, 1.0, 2.0])} if metric == "mmd" else {}
    if metric == "swd":
        kw["generator"] = _gen(17)
    loss = distribution_distance(x, y, metric=metric, **kw)
    loss.backward()
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_round_off_and_coincident_points_are_safe():
    # a large offset makes the ||a||^2 + ||b||^2 - 2ab expansion go negative on the diagonal
    x = torch.randn(64, 8, generator=_gen(23)) * 10 + 3
    assert gaussian_kernel(1.0)(x, x).max().item() <= 1.0
    assert hausdorff(x, x).item() == pytest.approx(0.0, abs=0.05)
    assert torch.isfinite(average_hausdorff(x, x))
    # exactly coincident points (exact float arithmetic): zero distance, finite zero-distance gradient
    a = torch.tensor([[0.0, 0.0], [1.0, 2.0]], requires_grad=True)
    b = torch.tensor([[0.0, 0.0], [3.0, 1.0]])
    loss = average_hausdorff(a, b)
    loss.backward()
    assert loss.item() == pytest.approx(math.sqrt(5) / 2 + math.sqrt(5) / 2)
    assert torch.isfinite(a.grad).all()
    assert torch.equal(a.grad[0], torch.zeros(2))  # a_0 sits on b_0 and is nobody's nearer neighbour


def test_rff_mmd_gradients_flow():
    x = torch.randn(5, 2, generator=_gen(18), requires_grad=True)
    loss = rff_mmd2(x, torch.randn(7, 2, generator=_gen(19)), rff_map(2, 64, 1.0, generator=_gen(20)))
    loss.backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_distribution_distance_dispatch_and_errors():
    x, y = torch.randn(4, 2, generator=_gen(21)), torch.randn(5, 2, generator=_gen(22))
    assert set(DISTRIBUTION_DISTANCES) == {"mean", "mmd", "swd", "hausdorff", "avg_hausdorff"}
    assert torch.equal(distribution_distance(x, y, metric="mean"), mean_embedding_distance(x, y))
    assert torch.equal(distribution_distance(x, y, metric="hausdorff"), hausdorff(x, y))
    with pytest.raises(
        ValueError,
        match=r"Unknown value 'kl' for argument metric\. "
        r"Valid values are \{avg_hausdorff, hausdorff, mean, mmd, swd\}",
    ):
        distribution_distance(x, y, metric="kl")
    with pytest.raises(ValueError, match=r"Argument x must be a 2-D tensor .* got shape \(4,\)"):
        mean_embedding_distance(torch.zeros(4), y)
    with pytest.raises(ValueError, match=r"Argument y must be non-empty, got shape \(0, 2\)"):
        hausdorff(x, torch.zeros(0, 2))
    msg = r"same feature dimension, got x of shape \(4, 2\) and y of shape \(5, 3\)"
    with pytest.raises(ValueError, match=msg):
        mmd2(x, torch.zeros(5, 3), kernel=linear_kernel())


def test_paired_rff_has_unit_norm_and_approximates_the_gaussian_kernel():
    fmap = rff_map(3, 4000, 1.5, generator=_gen(31), paired=True)
    assert fmap.n_features == 4000 and fmap.weight.shape == (2000, 3) and fmap.norm_bound == 1.0
    x, y = torch.randn(6, 3, generator=_gen(32)), torch.randn(5, 3, generator=_gen(33))
    phi = fmap(x)
    assert phi.shape == (6, 4000)
    assert torch.allclose(phi.norm(dim=1), torch.ones(6), atol=1e-5)
    assert torch.allclose(phi @ fmap(y).t(), gaussian_kernel(1.5)(x, y), atol=0.05)
    with pytest.raises(ValueError, match="must be even with paired=True"):
        rff_map(3, 5, 1.0, paired=True)


def test_classwise_mean_embedding_distance_equals_the_per_class_sum():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(12, 5, generator=g), torch.randn(7, 5, generator=g)
    a, b = torch.tensor([0, 1, 2] * 4), torch.tensor([0, 0, 1, 1, 2, 2, 2])
    w = torch.tensor([0.5, 0.0, 2.0])  # class 1 weighted 0: skipped
    want = sum(float(w[c]) * mean_embedding_distance(x[a == c], y[b == c]) for c in range(3))
    assert torch.allclose(classwise_mean_embedding_distance(x, a, y, b, w), want)


@pytest.mark.parametrize("p", [1, 2, 3])
def test_sliced_wasserstein_of_equal_samples_has_a_finite_gradient(p):
    # a synthetic set initialised from the very real samples it is matched to (n = m): SW is 0, and
    # d(w^(1/p))/dw at w = 0 was inf, times 0 from below: a NaN gradient that poisoned the set
    x = torch.randn(5, 3, generator=_gen(30), requires_grad=True)
    y = x.detach()[torch.randperm(5, generator=_gen(31))]
    loss = sliced_wasserstein(x, y, p=p, generator=_gen(32))
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(x.grad, torch.zeros_like(x))


@pytest.mark.parametrize("bad", [0, 2.5, True])
def test_sliced_wasserstein_refuses_a_bad_projection_count(bad):
    x = torch.randn(4, 2, generator=_gen(33))
    with pytest.raises(ValueError, match="argument n_projections"):
        sliced_wasserstein(x, x, n_projections=bad)


def test_multi_bandwidth_kernel_copies_nothing_from_the_host():
    # torch.tensor(scales, device=...) on every call: on CUDA a pageable host-to-device copy, which waits for the
    # stream, 3 Gram matrices per class per GCDM step
    from torch.overrides import TorchFunctionMode

    class Calls(TorchFunctionMode):
        def __init__(self):
            super().__init__()
            self.names = []

        def __torch_function__(self, func, types, args=(), kwargs=None):
            self.names.append(getattr(func, "__name__", str(func)))
            return func(*args, **(kwargs or {}))

    a, b = torch.randn(5, 3, generator=_gen(40)), torch.randn(4, 3, generator=_gen(41))
    k = multi_bandwidth_kernel([0.5, 1.0, 2.0])
    with Calls() as calls:
        got = k(a, b)
    assert "tensor" not in calls.names
    expected = sum(gaussian_kernel(s)(a, b) for s in (0.5, 1.0, 2.0))
    assert torch.allclose(got, expected, rtol=1e-6, atol=0)


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan, True, "1", None])
def test_kernel_bandwidths_are_checked_as_every_positive_argument(bad):
    """The kernels' bandwidths use core.registry.check_positive (their own copy let True through as 1 and said
    TypeError, not which argument, for "1" and None)."""
    for make, name in (
        (gaussian_kernel, "sigma"),
        (lambda s: multi_bandwidth_kernel([1.0, s]), "sigmas"),
        (lambda s: rff_map(2, 4, s), "sigma"),
    ):
        with pytest.raises(ValueError, match=rf"Invalid value {re.escape(repr(bad))} for argument {name}\. Valid "
                                             r"values are finite numbers > 0"):  # fmt: skip
            make(bad)
