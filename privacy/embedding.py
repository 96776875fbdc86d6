r"""The one private release of DP-MERF: a noisy class-conditional mean embedding.

`Harder et al., "DP-MERF: Differentially Private Mean Embeddings with Random Features for Practical
Privacy-preserving Data Generation", AISTATS 2021 <https://arxiv.org/abs/2002.11603>`_, Eq. (6)-(7):

.. math::
    \widehat{\mu}_P = \frac{1}{n} \sum_{i=1}^{n} \varphi(\mathbf{x}_i)\, \mathbf{y}_i^\top \in \mathbb{R}^{D \times C},
    \qquad \widetilde{\mu}_P = \widehat{\mu}_P + \mathcal{N}\big(0, (\sigma \Delta)^2 I\big),
    \qquad \Delta = \frac{2}{n},

with :math:`\varphi` the paired random Fourier features of
:func:`condensekit.core.objectives.rff_map` (``paired=True``, :math:`\lVert\varphi\rVert = 1`) and
:math:`\mathbf{y}_i` one-hot, so :math:`\lVert \varphi(\mathbf{x})\mathbf{y}^\top \rVert_F = 1` and the
sensitivity is :math:`2/n` under replace-one (and under add-remove-one, see
:mod:`condensekit.privacy.accounting`). The noise multiplier σ is calibrated to (ε, δ) by the analytic
Gaussian mechanism (default; exact) or RDP. Everything fitted to :math:`\widetilde{\mu}_P` afterwards is
post-processing and costs no further privacy.

Several feature maps (bandwidths) are concatenated and scaled by :math:`1/\sqrt{k}`
(:class:`StackedFeatures`), so the joint feature still has norm 1 and the release costs the same.

Labels. The class proportions are **not** released: the synthetic side assumes uniform labels (as the
DP-MERF repository's ``uniform_labels`` default), so the :math:`c`-th column of the synthetic embedding
carries mass :math:`1/C` while the real one carries :math:`n_c/n`. On MNIST (class shares 9–11 %) the
mismatch is small; a strongly imbalanced dataset would need the counts released privately as well.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from condensekit.core.objectives import FourierFeatureMap, rff_map
from condensekit.core.vision import ImageSplits
from condensekit.privacy.accounting import (
    GaussianRelease,
    PrivacyReport,
    account,
    check_delta,
    check_epsilon,
    check_sigma_for_target,
    mean_sensitivity,
    noise_for_epsilon,
)
from condensekit.privacy.noise import NOISE_SOURCE, secret_generator

__all__ = ["NoisyEmbedding", "StackedFeatures", "class_embedding", "release_embedding"]


@dataclass(frozen=True)
class StackedFeatures:
    r""":math:`\varphi(\mathbf{x}) = [\varphi_1(\mathbf{x}), \dots, \varphi_k(\mathbf{x})] / \sqrt{k}` over paired
    random-Fourier-feature maps (:func:`~condensekit.core.objectives.rff_map`, one per bandwidth
    :math:`\ell_j`), on flattened images in [0, 1].

    **Same sensitivity, same σ, same privacy cost as one map.** Each paired map has
    :math:`\lVert \varphi_j(\mathbf{x}) \rVert^2 = \frac{2}{D} \sum_{l=1}^{D/2} (\cos^2 + \sin^2)
    (\mathbf{w}_l^\top \mathbf{x}) = 1` exactly, so
    :math:`\lVert \varphi(\mathbf{x}) \rVert^2 = \frac{1}{k} \sum_{j=1}^{k} \lVert \varphi_j(\mathbf{x}) \rVert^2 = 1`
    and, with a one-hot label, :math:`\lVert \varphi(\mathbf{x}) \mathbf{y}^\top \rVert_F =
    \lVert \varphi(\mathbf{x}) \rVert \, \lVert \mathbf{y} \rVert = 1`. Replacing one of the :math:`n` records
    moves the mean embedding by :math:`\lVert \varphi(\mathbf{x})\mathbf{y}^\top - \varphi(\mathbf{x}')
    \mathbf{y}'^\top \rVert_F / n \le 2/n` — the bound of a single map. The :math:`(\sum_j D_j) \times C` matrix
    is released once, by one Gaussian mechanism with noise :math:`\sigma \cdot 2/n` on every entry: the same
    mechanism with the same sensitivity and σ, hence the same (ε, δ) by either accountant; nothing in
    the accounting depends on the dimension. (What changes is the signal-to-noise ratio: the noise norm grows
    as :math:`\sqrt{\sum_j D_j \, C}` while the signal's norm stays at most 1.) The inner product
    :math:`\varphi(\mathbf{x})^\top \varphi(\mathbf{x}')` estimates the mixture
    :math:`\frac{1}{k} \sum_j \exp(-\lVert \mathbf{x} - \mathbf{x}' \rVert^2 / 2\ell_j^2)`."""

    maps: tuple[FourierFeatureMap, ...]

    @classmethod
    def build(
        cls, dim: int, n_features: int, bandwidths: Sequence[float], *, generator: torch.Generator, device: torch.device
    ) -> StackedFeatures:
        if not bandwidths:
            raise ValueError("Argument bandwidths must hold at least one bandwidth, got none")
        maps = tuple(
            rff_map(dim, n_features, float(b), generator=generator, device=device, paired=True) for b in bandwidths
        )
        return cls(maps)

    @property
    def n_features(self) -> int:
        return sum(m.n_features for m in self.maps)

    def __call__(self, x: Tensor) -> Tensor:
        flat = x.reshape(x.shape[0], -1)
        feats = [m(flat) for m in self.maps]
        out = feats[0] if len(feats) == 1 else torch.cat(feats, dim=1)
        return out / math.sqrt(len(self.maps))


def class_embedding(features: StackedFeatures, x01: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    r""":math:`\frac{1}{n} \sum_i \varphi(\mathbf{x}_i) \mathbf{y}_i^\top` (D×C); ``labels`` are int64 (N) or
    one-hot / soft (N×C). Differentiable in ``x01``."""
    phi = features(x01)
    onehot = labels if labels.dim() == 2 else torch.nn.functional.one_hot(labels, num_classes).to(phi.dtype)
    return phi.transpose(0, 1) @ onehot / x01.shape[0]


@dataclass
class NoisyEmbedding:
    """The released embedding (D×C) and its privacy report."""

    value: Tensor
    report: PrivacyReport


def release_embedding(
    data: ImageSplits,
    features: StackedFeatures,
    *,
    epsilon: float,
    delta: float,
    sigma: float = 0.0,
    accountant: str = "analytic",
    batch_size: int = 2048,
    generator: torch.Generator | None = None,
    allow_large_delta: bool = False,
) -> NoisyEmbedding:
    """Release the class-conditional mean embedding of ``data``'s training split once, (ε, δ)-DP.

    ``sigma`` = 0 calibrates the noise multiplier to (ε, δ) with ``accountant``; a given σ is checked against
    the target (too small raises ``ValueError``). The images are mapped in [0, 1] (``data.denormalise``).
    ``generator``: the noise's source; ``None`` (the default, and what every method uses) draws it from a
    :func:`~condensekit.privacy.noise.secret_generator`. A seeded generator reproduces a release, for tests
    only: whoever knows its seed knows the noise, and the release is then not private.
    ``delta`` ≥ 1/n (n training images) raises ``ValueError`` unless ``allow_large_delta``
    (:func:`~condensekit.privacy.accounting.account` then warns once and the record says so).
    """
    check_epsilon(epsilon)
    n = int(data.x_train.shape[0])
    check_delta(delta, n, allow_large_delta=allow_large_delta)  # before any work: account() checks it again
    if sigma:
        check_sigma_for_target(sigma, epsilon, delta, accountant=accountant)
    else:
        sigma = noise_for_epsilon(epsilon, delta, accountant=accountant)
    labels = data.class_labels()
    device = features.maps[0].weight.device
    total = torch.zeros(features.n_features, data.num_classes, device=device)
    for start in range(0, n, batch_size):
        xb = data.denormalise(data.x_train[start : start + batch_size].to(device))
        yb = labels[start : start + batch_size].to(device)
        total += class_embedding(features, xb, yb, data.num_classes) * xb.shape[0]
    sens = mean_sensitivity(n, bound=1.0, relation="replace-one")
    secret = generator is None
    noise = torch.randn(total.shape, generator=secret_generator(device) if secret else generator, device=device)
    value = total / n + sigma * sens * noise
    report = account(
        [GaussianRelease(sigma=sigma)],
        delta,
        mechanism="gaussian mechanism on the class-conditional RFF mean embedding (D×C), released once",
        neighbouring="replace-one",
        sensitivity=f"2/n = {sens:.3g} (||phi(x) y^T||_F = 1, n = {n})",
        n=n,
        allow_large_delta=allow_large_delta,
        extra={
            "target_epsilon": float(epsilon),
            "labels": "uniform (class counts not released)",
            "noise": NOISE_SOURCE if secret else "caller's generator (reproducible: not private)",
        },
    )
    return NoisyEmbedding(value=value, report=report)
