"""Distribution matching: distances between two samples of embeddings.

Every distance takes two 2-D tensors ``x`` (``n x d``) and ``y`` (``m x d``), rows being samples,
and returns a differentiable scalar. Kernels are small factories in the optax style: each returns
a pure function ``k(a, b)`` giving the Gram matrix, so a loss is ``mmd2(x, y, kernel=k)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..registry import check_choice, check_int, check_positive

__all__ = [
    "DISTRIBUTION_DISTANCES",
    "FourierFeatureMap",
    "Kernel",
    "average_hausdorff",
    "distribution_distance",
    "gaussian_kernel",
    "hausdorff",
    "linear_kernel",
    "mean_embedding_distance",
    "classwise_mean_embedding_distance",
    "mmd2",
    "multi_bandwidth_kernel",
    "random_fourier_features",
    "rff_map",
    "rff_mmd2",
    "sliced_wasserstein",
]

#: A kernel: ``k(a, b)`` maps ``(n, d)`` and ``(m, d)`` to the ``(n, m)`` Gram matrix.
Kernel = Callable[[Tensor, Tensor], Tensor]


# --------------------------------------------------------------------------------------------
# helpers


def _check_sample(name: str, t: Any) -> None:
    if not isinstance(t, Tensor):
        raise ValueError(f"Argument {name} must be a tensor of shape (n, d), got {type(t).__name__}")
    if t.dim() != 2:
        raise ValueError(f"Argument {name} must be a 2-D tensor of shape (n, d), got shape {tuple(t.shape)}")
    if t.shape[0] == 0 or t.shape[1] == 0:
        raise ValueError(f"Argument {name} must be non-empty, got shape {tuple(t.shape)}")


def _check_pair(x: Any, y: Any) -> None:
    _check_sample("x", x)
    _check_sample("y", y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"Arguments x and y must have the same feature dimension, "
            f"got x of shape {tuple(x.shape)} and y of shape {tuple(y.shape)}"
        )


def _pairwise_sqdist(a: Tensor, b: Tensor) -> Tensor:
    """Squared Euclidean distances ``(n, m)`` via one matrix product, clamped at 0 against round-off."""
    sq = a.pow(2).sum(-1, keepdim=True) + b.pow(2).sum(-1).unsqueeze(0) - 2.0 * a @ b.transpose(0, 1)
    return sq.clamp_min(0.0)


def _safe_sqrt(t: Tensor) -> Tensor:
    """``sqrt`` whose gradient is 0 (not ``inf``/``nan``) where ``t`` is 0."""
    tiny = torch.finfo(t.dtype).tiny
    return t.clamp_min(tiny).sqrt() * (t > 0)


def _randn(
    shape: tuple[int, ...],
    generator: torch.Generator | None,
    dtype: torch.dtype | None,
    device: torch.device | str | None,
) -> Tensor:
    """Normal samples drawn on the generator's device (so seeding is reproducible), then moved."""
    draw_device = generator.device if generator is not None else device
    return torch.randn(shape, generator=generator, dtype=dtype, device=draw_device).to(device)


# --------------------------------------------------------------------------------------------
# mean embedding


def mean_embedding_distance(x: Tensor, y: Tensor) -> Tensor:
    r"""Squared distance between sample means, the objective of `"Dataset Condensation with
    Distribution Matching" <https://arxiv.org/abs/2110.04181>`_ (Zhao & Bilen, WACV 2023).

    It is the squared maximum mean discrepancy (an integral probability metric) with linear
    features, i.e. :func:`mmd2` with :func:`linear_kernel`:

    .. math::
        D(\mathbf{X}, \mathbf{Y}) = \Big\lVert \frac{1}{n} \sum_{i=1}^{n} \mathbf{x}_i
        - \frac{1}{m} \sum_{j=1}^{m} \mathbf{y}_j \Big\rVert^2

    Args:
        x (Tensor): first sample (e.g. embeddings of the synthetic set).
        y (Tensor): second sample (e.g. embeddings of real data).

    Shapes:
        - **inputs:** :math:`(n, d)` and :math:`(m, d)`.
        - **output:** scalar :math:`()`.
    """
    _check_pair(x, y)
    return (x.mean(0) - y.mean(0)).pow(2).sum()


def classwise_mean_embedding_distance(
    x: Tensor, x_labels: Tensor, y: Tensor, y_labels: Tensor, weights: Tensor
) -> Tensor:
    r""":func:`mean_embedding_distance` per class, weighted and summed, in one pass (no loop over
    classes: one ``index_add`` per side, however many classes):

    .. math::
        \sum_c w_c \Big\lVert \frac{1}{n_c} \sum_{i: a_i = c} \mathbf{x}_i
        - \frac{1}{m_c} \sum_{j: b_j = c} \mathbf{y}_j \Big\rVert^2

    Args:
        x, y (Tensor): the two samples.
        x_labels, y_labels (Tensor): their class indices in ``[0, C)``.
        weights (Tensor): the ``C`` class weights :math:`w_c` (0 skips a class, e.g. one absent
            from a side).

    Shapes:
        - **inputs:** :math:`(n, d)`, :math:`(n,)`, :math:`(m, d)`, :math:`(m,)`, :math:`(C,)`.
        - **output:** scalar :math:`()`.
    """
    _check_pair(x, y)
    c = weights.numel()

    def means(t: Tensor, labels: Tensor) -> Tensor:
        sums = t.new_zeros(c, t.shape[1]).index_add(0, labels, t)
        # bincount's counts, without its host sync on CUDA (it reads the largest label to size its output)
        counts = labels.new_zeros(c).index_add(0, labels, torch.ones_like(labels)).clamp(min=1).to(t.dtype)
        return sums / counts.unsqueeze(1)

    return (weights.to(x.dtype) * (means(x, x_labels) - means(y, y_labels)).pow(2).sum(1)).sum()


# --------------------------------------------------------------------------------------------
# kernels and MMD


def gaussian_kernel(sigma: float) -> Kernel:
    r"""Gaussian (RBF) kernel factory.

    .. math::
        k(\mathbf{a}, \mathbf{b}) =
        \exp\left(-\frac{\lVert \mathbf{a} - \mathbf{b} \rVert^2}{2\sigma^2}\right)

    Args:
        sigma (float): bandwidth :math:`\sigma > 0`.

    Returns:
        A function ``k(a, b)`` mapping :math:`(n, d)` and :math:`(m, d)` to the Gram matrix
        :math:`(n, m)`.
    """
    check_positive("sigma", sigma)
    scale = 1.0 / (2.0 * float(sigma) ** 2)

    def kernel(a: Tensor, b: Tensor) -> Tensor:
        return torch.exp(-scale * _pairwise_sqdist(a, b))

    return kernel


def multi_bandwidth_kernel(sigmas: Sequence[float]) -> Kernel:
    r"""Sum of Gaussian kernels over several bandwidths, as in generative moment matching networks
    (`Li et al., ICML 2015 <https://arxiv.org/abs/1502.02761>`_).

    .. math::
        k(\mathbf{a}, \mathbf{b}) = \sum_{s=1}^{S}
        \exp\left(-\frac{\lVert \mathbf{a} - \mathbf{b} \rVert^2}{2\sigma_s^2}\right)

    Args:
        sigmas (Sequence[float]): the bandwidths :math:`\sigma_s > 0` (at least one).

    Returns:
        A function ``k(a, b)`` mapping :math:`(n, d)` and :math:`(m, d)` to the Gram matrix
        :math:`(n, m)`; the pairwise distances are computed once for all bandwidths.
    """
    sigmas = list(sigmas)
    if not sigmas:
        raise ValueError("Argument sigmas must hold at least one bandwidth, got none")
    for s in sigmas:
        check_positive("sigmas", s)
    sigmas = [float(s) for s in sigmas]
    scales = [1.0 / (2.0 * s**2) for s in sigmas]

    def kernel(a: Tensor, b: Tensor) -> Tensor:
        sq = _pairwise_sqdist(a, b)
        # Python scalars, not torch.tensor(scales, device=...): on CUDA that is a host-to-device copy per call,
        # which waits for the stream
        return torch.stack([torch.exp(sq * -s) for s in scales]).sum(0)

    return kernel


def linear_kernel() -> Kernel:
    r"""Linear kernel factory, :math:`k(\mathbf{a}, \mathbf{b}) = \langle \mathbf{a}, \mathbf{b} \rangle`.

    With it, the biased :func:`mmd2` equals :func:`mean_embedding_distance`.

    Returns:
        A function ``k(a, b)`` mapping :math:`(n, d)` and :math:`(m, d)` to :math:`(n, m)`.
    """

    def kernel(a: Tensor, b: Tensor) -> Tensor:
        return a @ b.transpose(0, 1)

    return kernel


def mmd2(x: Tensor, y: Tensor, *, kernel: Kernel, unbiased: bool = False) -> Tensor:
    r"""Squared maximum mean discrepancy from `"A Kernel Two-Sample Test"
    <https://jmlr.org/papers/v13/gretton12a.html>`_ (Gretton et al., JMLR 2012).

    The biased estimate (V-statistic, Eq. 5) averages all Gram entries:

    .. math::
        \widehat{\mathrm{MMD}}^2_b = \frac{1}{n^2} \sum_{i,i'} k(\mathbf{x}_i, \mathbf{x}_{i'})
        + \frac{1}{m^2} \sum_{j,j'} k(\mathbf{y}_j, \mathbf{y}_{j'})
        - \frac{2}{nm} \sum_{i,j} k(\mathbf{x}_i, \mathbf{y}_j)

    The unbiased estimate (U-statistic, Eq. 3) leaves out the diagonals of the within-sample
    Gram matrices, dividing by :math:`n(n-1)` and :math:`m(m-1)`; it can be slightly negative.

    Args:
        x (Tensor): first sample.
        y (Tensor): second sample.
        kernel (Kernel): a function ``k(a, b)`` returning the Gram matrix, e.g. from
            :func:`gaussian_kernel`, :func:`multi_bandwidth_kernel` or :func:`linear_kernel`.
        unbiased (bool, optional): use the unbiased U-statistic; needs :math:`n, m \geq 2`.
            (default: :obj:`False`)

    Shapes:
        - **inputs:** :math:`(n, d)` and :math:`(m, d)`.
        - **output:** scalar :math:`()`.
    """
    _check_pair(x, y)
    n, m = x.shape[0], y.shape[0]
    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    if not unbiased:
        return kxx.mean() + kyy.mean() - 2.0 * kxy.mean()
    if n < 2 or m < 2:
        raise ValueError(
            f"unbiased=True needs at least 2 samples in each of x and y, "
            f"got x of shape {tuple(x.shape)} and y of shape {tuple(y.shape)}"
        )
    xx = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
    yy = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return xx + yy - 2.0 * kxy.mean()


# --------------------------------------------------------------------------------------------
# random Fourier features


@dataclass(frozen=True)
class FourierFeatureMap:
    r"""A fixed random Fourier feature map (build it with :func:`rff_map`).

    Phase form (``paired=False``, Rahimi & Recht's):

    .. math::
        \varphi(\mathbf{x}) = \sqrt{2 / D} \, \cos(\mathbf{W} \mathbf{x} + \mathbf{b})

    Paired form (``paired=True``, the "sphere" features of DP-MERF), with :math:`D/2` frequencies:

    .. math::
        \varphi(\mathbf{x}) = \sqrt{2 / D} \, \big[\cos(\mathbf{W} \mathbf{x}), \sin(\mathbf{W} \mathbf{x})\big],
        \qquad \lVert \varphi(\mathbf{x}) \rVert = 1 \text{ exactly},

    which bounds the sensitivity of a mean embedding (``2/n`` under replace-one) as differential privacy
    needs; the phase form only has :math:`\lVert \varphi \rVert \le \sqrt{2}`.

    Calling it on ``(n, d)`` returns ``(n, D)``; the same frequencies are used on every call, so
    two samples mapped by one instance are comparable.

    Attributes:
        weight (Tensor): frequencies :math:`\mathbf{W}`, shape :math:`(D, d)` (paired: :math:`(D/2, d)`).
        bias (Tensor): phases :math:`\mathbf{b}`, shape :math:`(D,)` (unused when paired).
        paired (bool): cos and sin of each frequency instead of a random phase.
    """

    weight: Tensor
    bias: Tensor
    paired: bool = False

    @property
    def n_features(self) -> int:
        return self.weight.shape[0] * (2 if self.paired else 1)

    @property
    def dim(self) -> int:
        return self.weight.shape[1]

    @property
    def norm_bound(self) -> float:
        r"""An upper bound on :math:`\lVert \varphi(\mathbf{x}) \rVert` (1 when paired, else :math:`\sqrt{2}`)."""
        return 1.0 if self.paired else math.sqrt(2.0)

    def __call__(self, x: Tensor) -> Tensor:
        _check_sample("x", x)
        if x.shape[1] != self.dim:
            raise ValueError(
                f"Argument x must have {self.dim} features to match the feature map, got shape {tuple(x.shape)}"
            )
        w = self.weight.to(device=x.device, dtype=x.dtype)
        scale = math.sqrt(2.0 / self.n_features)
        if self.paired:
            proj = x @ w.transpose(0, 1)
            return scale * torch.cat([torch.cos(proj), torch.sin(proj)], dim=1)
        b = self.bias.to(device=x.device, dtype=x.dtype)
        return scale * torch.cos(x @ w.transpose(0, 1) + b)


def rff_map(
    dim: int,
    n_features: int,
    sigma: float,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    paired: bool = False,
) -> FourierFeatureMap:
    r"""Random Fourier features for the Gaussian kernel, from `"Random Features for Large-Scale
    Kernel Machines" <https://papers.nips.cc/paper/3182-random-features-for-large-scale-kernel-machines>`_
    (Rahimi & Recht, NeurIPS 2007); the feature map later used by DP-MERF.

    .. math::
        \varphi(\mathbf{x}) = \sqrt{2 / D} \, \cos(\mathbf{W} \mathbf{x} + \mathbf{b}), \quad
        \mathbf{W}_{kl} \sim \mathcal{N}(0, \sigma^{-2}), \quad b_k \sim \mathcal{U}[0, 2\pi]

    so that :math:`\mathbb{E}[\varphi(\mathbf{a})^\top \varphi(\mathbf{b})] =
    \exp(-\lVert \mathbf{a} - \mathbf{b} \rVert^2 / (2\sigma^2))`, the :func:`gaussian_kernel`.

    Args:
        dim (int): input dimension :math:`d`.
        n_features (int): number of features :math:`D`.
        sigma (float): Gaussian kernel bandwidth :math:`\sigma > 0`.
        generator (torch.Generator, optional): source of randomness, for reproducible maps.
            (default: :obj:`None`, the global generator)
        dtype (torch.dtype, optional): dtype of the frequencies. (default: :obj:`None`)
        device (torch.device or str, optional): device of the frequencies; the map moves them to
            its input's device anyway. (default: :obj:`None`)
        paired (bool, optional): :math:`D/2` frequencies, each giving a cos and a sin feature, so that
            :math:`\lVert \varphi \rVert = 1` (DP-MERF); ``n_features`` must then be even.
            (default: :obj:`False`)

    Returns:
        A :class:`FourierFeatureMap`, reusable on any number of samples.
    """
    check_int("dim", dim, 1)
    check_int("n_features", n_features, 1)
    check_positive("sigma", sigma)
    if paired and n_features % 2:
        raise ValueError(f"Argument n_features must be even with paired=True (a cos and a sin each), got {n_features}")
    rows = n_features // 2 if paired else n_features
    weight = _randn((rows, dim), generator, dtype, device) / float(sigma)
    draw_device = generator.device if generator is not None else device
    u = torch.rand((rows,), generator=generator, dtype=dtype, device=draw_device).to(device)
    return FourierFeatureMap(weight=weight, bias=2.0 * math.pi * u, paired=paired)


def random_fourier_features(
    x: Tensor, *, n_features: int, sigma: float, generator: torch.Generator | None = None
) -> Tensor:
    r"""Map ``x`` through a freshly drawn random Fourier feature map (see :func:`rff_map`).

    Each call draws new frequencies; to compare two samples, build one map with
    :func:`rff_map` and apply it to both (or pass equally seeded generators).

    Args:
        x (Tensor): the sample.
        n_features (int): number of features :math:`D`.
        sigma (float): Gaussian kernel bandwidth :math:`\sigma > 0`.
        generator (torch.Generator, optional): source of randomness. (default: :obj:`None`)

    Shapes:
        - **input:** :math:`(n, d)`.
        - **output:** :math:`(n, D)`.
    """
    _check_sample("x", x)
    fmap = rff_map(x.shape[1], n_features, sigma, generator=generator, dtype=x.dtype, device=x.device)
    return fmap(x)


def rff_mmd2(x: Tensor, y: Tensor, feature_map: Callable[[Tensor], Tensor]) -> Tensor:
    r"""Squared MMD estimated with an explicit feature map, as in `Rahimi & Recht (2007)
    <https://papers.nips.cc/paper/3182-random-features-for-large-scale-kernel-machines>`_ and
    `DP-MERF <https://arxiv.org/abs/2002.11603>`_ (Harder et al., AISTATS 2021).

    .. math::
        \widehat{\mathrm{MMD}}^2_{\varphi} = \Big\lVert \frac{1}{n} \sum_{i} \varphi(\mathbf{x}_i)
        - \frac{1}{m} \sum_{j} \varphi(\mathbf{y}_j) \Big\rVert^2

    Linear in :math:`n + m` instead of quadratic; with :func:`rff_map` it approximates
    :func:`mmd2` (biased) with :func:`gaussian_kernel`.

    Args:
        x (Tensor): first sample.
        y (Tensor): second sample.
        feature_map (Callable[[Tensor], Tensor]): the map :math:`\varphi`, applied to both samples
            (e.g. a :class:`FourierFeatureMap` from :func:`rff_map`).

    Shapes:
        - **inputs:** :math:`(n, d)` and :math:`(m, d)`.
        - **output:** scalar :math:`()`.
    """
    _check_pair(x, y)
    return (feature_map(x).mean(0) - feature_map(y).mean(0)).pow(2).sum()


# --------------------------------------------------------------------------------------------
# sliced Wasserstein


def _quantiles(sorted_vals: Tensor, levels: Tensor) -> Tensor:
    """Empirical quantiles of each column of ``sorted_vals`` (k, L) at ``levels`` in [0, 1], linearly
    interpolated between order statistics (position ``t (k - 1)``, as ``torch.quantile``)."""
    k = sorted_vals.shape[0]
    pos = levels * (k - 1)
    lo = pos.floor().long().clamp(0, k - 1)
    hi = (lo + 1).clamp(max=k - 1)
    w = (pos - lo.to(pos.dtype)).unsqueeze(1)
    return sorted_vals[lo] * (1.0 - w) + sorted_vals[hi] * w


def sliced_wasserstein(
    x: Tensor,
    y: Tensor,
    *,
    n_projections: int = 128,
    p: float = 2,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Sliced Wasserstein distance from `"Sliced and Radon Wasserstein Barycenters of Measures"
    <https://doi.org/10.1007/s10851-014-0506-3>`_ (Bonneel et al., JMIV 2015).

    Both samples are projected on :math:`L` random unit directions
    :math:`\boldsymbol{\theta}_l`; in one dimension the Wasserstein distance compares sorted values:

    .. math::
        \mathrm{SW}_p(\mathbf{X}, \mathbf{Y}) = \left(\frac{1}{L} \sum_{l=1}^{L} \frac{1}{K}
        \sum_{k=1}^{K} \big| F^{-1}_{\boldsymbol{\theta}_l^\top \mathbf{X}}(t_k)
        - F^{-1}_{\boldsymbol{\theta}_l^\top \mathbf{Y}}(t_k) \big|^p \right)^{1/p}

    With :math:`n = m` the quantiles are the order statistics themselves. Otherwise both
    empirical quantile functions are linearly interpolated on the common grid
    :math:`t_k = (k - 1)/(K - 1)`, :math:`K = \max(n, m)` points.

    Args:
        x (Tensor): first sample.
        y (Tensor): second sample.
        n_projections (int, optional): number of random directions :math:`L`. (default: :obj:`128`)
        p (float, optional): order :math:`p \geq 1`. (default: :obj:`2`)
        generator (torch.Generator, optional): source of the directions, for reproducible values.
            (default: :obj:`None`, the global generator)

    Shapes:
        - **inputs:** :math:`(n, d)` and :math:`(m, d)`.
        - **output:** scalar :math:`()`.
    """
    _check_pair(x, y)
    check_int("n_projections", n_projections, 1)
    if not p >= 1 or not math.isfinite(p):
        raise ValueError(f"Argument p must be a finite number >= 1, got {p!r}")
    theta = _randn((x.shape[1], n_projections), generator, x.dtype, x.device)
    theta = theta / theta.norm(dim=0, keepdim=True).clamp_min(torch.finfo(theta.dtype).tiny)
    px = torch.sort(x @ theta, dim=0).values  # (n, L)
    py = torch.sort(y @ theta, dim=0).values  # (m, L)
    n, m = px.shape[0], py.shape[0]
    if n != m:
        k = max(n, m)
        levels = torch.linspace(0.0, 1.0, k, dtype=px.dtype, device=px.device)
        px, py = _quantiles(px, levels), _quantiles(py, levels)
    wpp = (px - py).abs().pow(p).mean()  # mean over grid points and projections
    # the p-th root with a zero gradient (not inf × 0 = NaN) where the samples coincide (wpp = 0), as _safe_sqrt
    return wpp.clamp_min(torch.finfo(wpp.dtype).tiny).pow(1.0 / p) * (wpp > 0)


# --------------------------------------------------------------------------------------------
# Hausdorff


def _directed_min_dists(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    sq = _pairwise_sqdist(x, y)
    return _safe_sqrt(sq.min(dim=1).values), _safe_sqrt(sq.min(dim=0).values)


def hausdorff(x: Tensor, y: Tensor) -> Tensor:
    r"""Hausdorff distance between two point sets with the Euclidean metric
    (`Huttenlocher et al., TPAMI 1993 <https://doi.org/10.1109/34.232073>`_).

    .. math::
        d_H(\mathbf{X}, \mathbf{Y}) = \max\Big( \max_i \min_j \lVert \mathbf{x}_i - \mathbf{y}_j \rVert,
        \; \max_j \min_i \lVert \mathbf{x}_i - \mathbf{y}_j \rVert \Big)

    Its gradient reaches only the one or two points that attain the maximum; see
    :func:`average_hausdorff` for a smoother loss.

    Args:
        x (Tensor): first point set.
        y (Tensor): second point set.

    Shapes:
        - **inputs:** :math:`(n, d)` and :math:`(m, d)`.
        - **output:** scalar :math:`()`.
    """
    _check_pair(x, y)
    dx, dy = _directed_min_dists(x, y)
    return torch.maximum(dx.max(), dy.max())


def average_hausdorff(x: Tensor, y: Tensor) -> Tensor:
    r"""Averaged Hausdorff distance, after `"Using the Averaged Hausdorff Distance as a
    Performance Measure in Evolutionary Multiobjective Optimization"
    <https://doi.org/10.1109/TEVC.2011.2161872>`_ (Schütze et al., TEVC 2012).

    .. math::
        d_{AH}(\mathbf{X}, \mathbf{Y}) =
        \frac{1}{n} \sum_{i=1}^{n} \min_j \lVert \mathbf{x}_i - \mathbf{y}_j \rVert
        + \frac{1}{m} \sum_{j=1}^{m} \min_i \lVert \mathbf{x}_i - \mathbf{y}_j \rVert

    .. note::
        Normalisation: each directed term is a plain mean (power :math:`p = 1`) and the two are
        **summed**. Schütze et al.'s :math:`\Delta_1` takes the maximum of the two means instead,
        so this value lies between :math:`\Delta_1` and :math:`2\Delta_1`; the sum is used because
        its gradient reaches both sets at every step.

    Args:
        x (Tensor): first point set.
        y (Tensor): second point set.

    Shapes:
        - **inputs:** :math:`(n, d)` and :math:`(m, d)`.
        - **output:** scalar :math:`()`.
    """
    _check_pair(x, y)
    dx, dy = _directed_min_dists(x, y)
    return dx.mean() + dy.mean()


# --------------------------------------------------------------------------------------------
# lookup by name

#: Distribution distances by name, for configs and the CLI; see :func:`distribution_distance`.
DISTRIBUTION_DISTANCES: dict[str, Callable[..., Tensor]] = {
    "mean": mean_embedding_distance,
    "mmd": mmd2,
    "swd": sliced_wasserstein,
    "hausdorff": hausdorff,
    "avg_hausdorff": average_hausdorff,
}


def distribution_distance(x: Tensor, y: Tensor, *, metric: str, **kwargs: Any) -> Tensor:
    r"""Distribution distance selected by name from :data:`DISTRIBUTION_DISTANCES`.

    Args:
        x (Tensor): first sample.
        y (Tensor): second sample.
        metric (str): ``"mean"`` (:func:`mean_embedding_distance`), ``"mmd"`` (:func:`mmd2`, needs
            ``kernel=``), ``"swd"`` (:func:`sliced_wasserstein`), ``"hausdorff"`` (:func:`hausdorff`)
            or ``"avg_hausdorff"`` (:func:`average_hausdorff`).
        **kwargs (optional): keyword arguments of the selected function.

    Shapes:
        - **inputs:** :math:`(n, d)` and :math:`(m, d)`.
        - **output:** scalar :math:`()`.
    """
    check_choice("metric", metric, tuple(DISTRIBUTION_DISTANCES))
    return DISTRIBUTION_DISTANCES[metric](x, y, **kwargs)
