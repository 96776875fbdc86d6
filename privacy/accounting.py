r"""Privacy accounting for Gaussian releases, on opacus's Rényi-DP analysis.

Two accountants, both reported wherever a guarantee is stated:

* **RDP** (`Mironov, CSF 2017 <https://arxiv.org/abs/1702.07476>`_): the Gaussian mechanism with noise
  multiplier :math:`z = \sigma / \Delta_2` is :math:`(\alpha, \alpha / (2 z^2))`-RDP; subsampling with
  Poisson rate :math:`q` uses the sampled-Gaussian bound of `Mironov et al. 2019
  <https://arxiv.org/abs/1908.10530>`_ (``opacus.accountants.analysis.rdp.compute_rdp``); releases compose
  by adding RDP curves; conversion to :math:`(\varepsilon, \delta)` is opacus's ``get_privacy_spent`` (the
  improved conversion of Balle et al. 2020). The orders extend past opacus's default 63 (up to 8192):
  with :math:`z = 25` the optimal order is about 94, and stopping at 63 overstates ε (0.153 instead of
  0.139 at :math:`\delta = 10^{-5}`).
* **Analytic Gaussian mechanism** (`Balle & Wang, ICML 2018 <https://arxiv.org/abs/1805.06530>`_, Thm. 8):
  exact for full-batch Gaussian releases,

  .. math::
      \delta(\varepsilon) = \Phi\Big(\frac{\mu}{2} - \frac{\varepsilon}{\mu}\Big)
      - e^{\varepsilon} \, \Phi\Big(-\frac{\mu}{2} - \frac{\varepsilon}{\mu}\Big), \qquad \mu = 1 / z,

  and full-batch releases compose exactly through Gaussian DP (`Dong, Roth & Su 2019
  <https://arxiv.org/abs/1905.02383>`_): :math:`\mu = (\sum_i \mu_i^2)^{1/2}`. It does not cover
  subsampling (``q < 1``); there only RDP is reported.

Neighbouring relations (:data:`NEIGHBOURING`). ``replace-one``: the datasets have the same size and differ in
one record. ``add-remove-one``: one has one record more. Sensitivities (:func:`mean_sensitivity`,
:func:`sum_sensitivity`): for a mean :math:`\frac1n \sum_i \varphi(x_i)` with :math:`\lVert \varphi \rVert
\le C`, replace-one gives :math:`\lVert (\varphi(x) - \varphi(x'))/n \rVert \le 2C/n`; add-remove-one (with
``n`` the smaller size, the released mean dividing by its own size) gives :math:`\lVert S/n - (S +
\varphi)/(n+1) \rVert = \lVert S - n\varphi \rVert / (n(n+1)) \le 2C/(n+1)`, so :math:`2C/n` bounds both.
That bound alone does not make a released mean add-remove-one private: its divisor and a noise scaled by
:math:`1/n` depend on the private size :math:`n`, so neighbours get Gaussians of different variances. Our
mean releases (DP-MERF) therefore state replace-one, where :math:`n` is public.
A sum of clipped per-example terms (DP-SGD) has sensitivity :math:`C` under add-remove-one and :math:`2C`
under replace-one; opacus's sampled-Gaussian analysis is for add-remove-one with Poisson sampling.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from opacus.accountants.analysis.rdp import compute_rdp, get_privacy_spent
from scipy.special import log_ndtr

from condensekit.core.config import check_field_types
from condensekit.core.registry import (
    check_choice,
    check_int,
    check_positive,
    is_integer,
    is_real,
    python_number,
    type_name,
)

__all__ = [
    "ALPHAS",
    "NEIGHBOURING",
    "GaussianRelease",
    "PrivacyReport",
    "account",
    "analytic_gaussian_epsilon",
    "check_delta",
    "check_epsilon",
    "dp_sgd_epsilon",
    "gaussian_epsilon",
    "mean_sensitivity",
    "noise_for_epsilon",
    "rdp_epsilon",
    "steps_within_budget",
    "sum_sensitivity",
]

#: opacus's default RDP orders (1.1 … 10.9, 12 … 63) extended to 8192 for large noise multipliers.
ALPHAS: tuple[float, ...] = tuple(
    [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 257)) + [320, 384, 512, 768, 1024, 2048, 4096, 8192]
)
#: Orders for subsampled releases: the sampled-Gaussian bound costs O(α) per integer order, and its optimum
#: stays far below the largest orders (which only full-batch releases with very large σ reach).
SUBSAMPLED_ALPHAS: tuple[float, ...] = tuple(a for a in ALPHAS if a <= 256)
NEIGHBOURING: tuple[str, ...] = ("replace-one", "add-remove-one")


# ---------------------------------------------------------------------------------------------
# argument checks


def check_epsilon(epsilon: float, argument: str = "epsilon") -> float:
    """``epsilon`` as a Python float; ε ≤ 0 or not finite raises ``ValueError``."""
    if not is_real(epsilon):
        raise ValueError(
            f"Invalid value {epsilon!r} for argument {argument}. Valid values are finite numbers > 0 "
            f"(got {type_name(epsilon)})"
        )
    if not math.isfinite(epsilon):
        raise ValueError(f"Invalid value {epsilon!r} for argument {argument}. Valid values are finite numbers > 0")
    if epsilon <= 0:
        raise ValueError(
            f"Invalid value {epsilon!r} for argument {argument}. Valid values are > 0 "
            "(ε = 0 would need infinite noise)"
        )
    return float(python_number(epsilon))  # np.float32(0.1) is ε = 0.1 as written, not 0.10000000149


def check_delta(
    delta: float, n: int | None = None, argument: str = "delta", *, allow_large_delta: bool = False
) -> float:
    """``delta`` as a Python float in (0, 1); with ``n`` records also below :math:`1/n`.

    An (ε, δ) guarantee with δ ≥ 1/n is met by a mechanism that publishes one record in the clear (pick a record
    at random: each is revealed with probability 1/n ≤ δ), so it promises nothing: δ ≥ 1/n raises ``ValueError``
    naming δ, ``n`` and the bound, unless ``allow_large_delta`` (a release made anyway is recorded as such by
    :func:`account`, which also warns, once). Nothing is warned here.
    """
    if not is_real(delta):
        raise ValueError(
            f"Invalid value {delta!r} for argument {argument}. Valid values are in (0, 1), e.g. 1e-5 "
            f"(got {type_name(delta)})"
        )
    if not 0 < delta < 1:
        raise ValueError(f"Invalid value {delta!r} for argument {argument}. Valid values are in (0, 1), e.g. 1e-5")
    if n is not None and delta >= 1.0 / n and not allow_large_delta:
        raise ValueError(
            f"Invalid value {delta!r} for argument {argument}: it is >= 1/n = {1.0 / n:.3g} for n={n} records, and an "
            "(ε, δ) guarantee with δ ≥ 1/n allows releasing a record in the clear, so it is meaningless. Valid "
            f"values are in (0, {1.0 / n:.3g}), well below 1/n (e.g. 1e-5 for MNIST's 60,000); to release anyway, "
            "pass allow_large_delta=True (command line: --allow-large-delta), which the card records"
        )
    return float(python_number(delta))  # as written, like epsilon


def _check_sigma(sigma: float, argument: str = "sigma") -> float:
    check_positive(argument, sigma)
    return float(sigma)


def _check_n(n: int) -> int:
    if not is_integer(n):
        raise ValueError(
            f"Invalid value {n!r} for argument n. Valid values are integers >= 1 (the record count; got {type_name(n)})"
        )
    if n < 1:
        raise ValueError(f"Invalid value {n!r} for argument n. Valid values are integers >= 1 (the record count)")
    return int(n)


# ---------------------------------------------------------------------------------------------
# sensitivity


def mean_sensitivity(n: int, *, bound: float = 1.0, relation: str = "replace-one") -> float:
    r"""L2 sensitivity of a mean :math:`\frac1n\sum_i \varphi(x_i)` with :math:`\lVert\varphi\rVert \le`
    ``bound``: :math:`2C/n` under both relations (derivation in the module docstring)."""
    check_choice("relation", relation, NEIGHBOURING)
    return 2.0 * _check_sigma(bound, "bound") / _check_n(n)


def sum_sensitivity(*, bound: float = 1.0, relation: str = "add-remove-one") -> float:
    r"""L2 sensitivity of a sum of per-record terms of norm ≤ ``bound``: :math:`C` (add-remove-one) or
    :math:`2C` (replace-one)."""
    check_choice("relation", relation, NEIGHBOURING)
    c = _check_sigma(bound, "bound")
    return c if relation == "add-remove-one" else 2.0 * c


# ---------------------------------------------------------------------------------------------
# releases and their composition


@dataclass(frozen=True)
class GaussianRelease:
    """``steps`` Gaussian releases with noise multiplier ``sigma`` (noise std / L2 sensitivity), each on a
    Poisson subsample of rate ``sample_rate`` (1.0: the whole dataset). Numpy scalars are taken and stored as the
    Python numbers they hold, so a :class:`PrivacyReport` built from them is JSON."""

    sigma: float
    sample_rate: float = 1.0
    steps: int = 1

    def __post_init__(self) -> None:
        _check_sigma(self.sigma)
        if not 0 < self.sample_rate <= 1:
            raise ValueError(f"Invalid value {self.sample_rate!r} for argument sample_rate. Valid values are in (0, 1]")
        check_int("steps", self.steps, 0)
        check_field_types(self)  # np.float32 sigma, np.int64 steps stored as Python numbers


def _rdp_curve(releases: Sequence[GaussianRelease], alphas: Sequence[float]) -> np.ndarray:
    total = np.zeros(len(alphas))
    for r in releases:
        if r.steps:
            total = total + compute_rdp(q=r.sample_rate, noise_multiplier=r.sigma, steps=r.steps, orders=list(alphas))
    return total


def _default_alphas(releases: Sequence[GaussianRelease]) -> tuple[float, ...]:
    return ALPHAS if all(r.sample_rate == 1 for r in releases) else SUBSAMPLED_ALPHAS


def _spent(alphas: Sequence[float], rdp: np.ndarray, delta: float) -> tuple[float, float]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Optimal order is the")
        eps, alpha = get_privacy_spent(orders=list(alphas), rdp=rdp, delta=delta)
    # The conversion goes below 0 when the RDP is tiny and αδ > 1 (σ = 1e4 at δ = 1e-3: -0.001); ε < 0 means
    # nothing more than (0, δ)
    return max(float(eps), 0.0), float(alpha)


def rdp_epsilon(
    releases: Sequence[GaussianRelease], delta: float, *, alphas: Sequence[float] | None = None
) -> tuple[float, float]:
    """(ε, optimal order) of the composition of ``releases`` at ``delta`` by RDP (orders: :data:`ALPHAS` for
    full-batch releases, :data:`SUBSAMPLED_ALPHAS` otherwise)."""
    check_delta(delta)
    if not any(r.steps for r in releases):
        return 0.0, float("nan")
    alphas = _default_alphas(releases) if alphas is None else alphas
    return _spent(alphas, _rdp_curve(releases, alphas), delta)


def _agm_delta(epsilon: float, mu: float) -> float:
    a = log_ndtr(mu / 2 - epsilon / mu)
    b = epsilon + log_ndtr(-mu / 2 - epsilon / mu)
    return math.exp(a) - math.exp(b) if a > b else 0.0


def analytic_gaussian_epsilon(releases: Sequence[GaussianRelease], delta: float) -> float:
    r"""Exact ε of full-batch Gaussian releases (Balle & Wang 2018, composed through μ-GDP).

    Raises ``ValueError`` for subsampled releases (``sample_rate < 1``), which it does not cover.
    """
    check_delta(delta)
    sub = [r for r in releases if r.sample_rate < 1 and r.steps]
    if sub:
        raise ValueError(
            f"the analytic Gaussian mechanism covers full-batch releases only; got sample_rate={sub[0].sample_rate} "
            "(use rdp_epsilon for subsampled releases)"
        )
    mu = math.sqrt(sum(r.steps / r.sigma**2 for r in releases))
    if mu == 0:
        return 0.0
    lo, hi = 0.0, 1.0
    while _agm_delta(hi, mu) > delta:
        hi *= 2.0
        if hi > 1e6:
            raise ValueError(f"no finite ε reaches delta={delta:g} with μ={mu:g}")
    for _ in range(200):  # bisection: δ(ε) is decreasing in ε
        mid = 0.5 * (lo + hi)
        if _agm_delta(mid, mu) > delta:
            lo = mid
        else:
            hi = mid
    return hi


@dataclass(frozen=True)
class PrivacyReport:
    """What a card's ``privacy`` record holds: the guarantee and how it was computed."""

    epsilon: float
    delta: float
    accountant: str
    epsilon_rdp: float
    rdp_order: float
    epsilon_analytic: float | None
    sigma: float
    sample_rate: float
    releases: int
    mechanism: str
    neighbouring: str
    sensitivity: str
    extra: dict[str, object] = field(default_factory=dict)

    def to_card(self) -> dict[str, object]:
        out = asdict(self)
        out.update(out.pop("extra"))
        return out


def account(
    releases: Sequence[GaussianRelease],
    delta: float,
    *,
    mechanism: str,
    neighbouring: str,
    sensitivity: str,
    n: int | None = None,
    allow_large_delta: bool = False,
    extra: dict[str, object] | None = None,
) -> PrivacyReport:
    """Both accountants on ``releases``; the stated ε is the tighter valid one (the analytic value when every
    release is full-batch, else RDP).

    With ``n`` records, δ ≥ 1/n raises ``ValueError`` (:func:`check_delta`) unless ``allow_large_delta``; a release
    allowed so warns once, here, and its record says so (``allow_large_delta``, ``records``, ``one_over_n``).
    """
    check_choice("neighbouring", neighbouring, NEIGHBOURING)
    check_delta(delta, n, allow_large_delta=allow_large_delta)
    extra = dict(extra or {})
    if n is not None and delta >= 1.0 / n:
        warnings.warn(
            f"delta={delta:g} is >= 1/n = {1.0 / n:.3g} for n={n} records, released anyway (allow_large_delta=True): "
            "an (ε, δ) guarantee with δ ≥ 1/n allows releasing a record in the clear and is meaningless; the card "
            "records it",
            UserWarning,
            stacklevel=2,
        )
        extra |= {"allow_large_delta": True, "records": int(n), "one_over_n": 1.0 / n}
    eps_rdp, order = rdp_epsilon(releases, delta)
    full_batch = all(r.sample_rate == 1 for r in releases)
    eps_agm = analytic_gaussian_epsilon(releases, delta) if full_batch else None
    use_agm = eps_agm is not None and eps_agm <= eps_rdp
    first = releases[0] if releases else GaussianRelease(sigma=1.0, steps=0)
    return PrivacyReport(
        epsilon=float(eps_agm if use_agm else eps_rdp),
        delta=float(delta),
        accountant="analytic-gaussian (Balle & Wang 2018) + GDP composition" if use_agm else "rdp (opacus)",
        epsilon_rdp=eps_rdp,
        rdp_order=order,
        epsilon_analytic=eps_agm,
        sigma=first.sigma,
        sample_rate=first.sample_rate,
        releases=sum(r.steps for r in releases),
        mechanism=mechanism,
        neighbouring=neighbouring,
        sensitivity=sensitivity,
        extra=extra,
    )


# ---------------------------------------------------------------------------------------------
# the usual questions


def gaussian_epsilon(sigma: float, delta: float, *, releases: int = 1) -> dict[str, float]:
    """ε of ``releases`` full-batch Gaussian releases with noise multiplier ``sigma``: ``{"rdp", "rdp_order",
    "analytic"}``."""
    rel = [GaussianRelease(sigma=sigma, steps=releases)]
    eps, order = rdp_epsilon(rel, delta)
    return {"rdp": eps, "rdp_order": order, "analytic": analytic_gaussian_epsilon(rel, delta)}


def dp_sgd_epsilon(sigma: float, sample_rate: float, steps: int, delta: float) -> float:
    """ε by RDP of ``steps`` DP-SGD steps with Poisson sampling rate ``sample_rate``."""
    return rdp_epsilon([GaussianRelease(sigma=sigma, sample_rate=sample_rate, steps=steps)], delta)[0]


def noise_for_epsilon(
    epsilon: float,
    delta: float,
    *,
    sample_rate: float = 1.0,
    steps: int = 1,
    accountant: str = "analytic",
    tol: float = 1e-3,
) -> float:
    """The smallest noise multiplier σ whose ``steps`` releases at ``sample_rate`` are (ε, δ)-DP.

    ``accountant``: ``"analytic"`` (full batch only, exact) or ``"rdp"``. Bisection on σ to a relative
    tolerance ``tol``; the returned σ is on the safe side (its ε is ≤ the target).
    """
    check_epsilon(epsilon)
    check_delta(delta)
    check_choice("accountant", accountant, ("analytic", "rdp"))
    if accountant == "analytic" and sample_rate < 1:
        raise ValueError("accountant='analytic' covers full-batch releases only (sample_rate=1); use 'rdp'")

    def eps_of(sigma: float) -> float:
        rel = [GaussianRelease(sigma=sigma, sample_rate=sample_rate, steps=steps)]
        return analytic_gaussian_epsilon(rel, delta) if accountant == "analytic" else rdp_epsilon(rel, delta)[0]

    lo, hi = 1e-3, 1.0
    while eps_of(hi) > epsilon:
        lo, hi = hi, hi * 2.0
        if hi > 1e7:
            raise ValueError(f"no noise multiplier below 1e7 reaches epsilon={epsilon:g} at delta={delta:g}")
    while (hi - lo) / hi > tol:
        mid = 0.5 * (lo + hi)
        if eps_of(mid) > epsilon:
            lo = mid
        else:
            hi = mid
    return hi


def check_sigma_for_target(sigma: float, epsilon: float, delta: float, **kwargs: object) -> None:
    """Raise ``ValueError`` when noise multiplier ``sigma`` is too small for the target (ε, δ)."""
    need = noise_for_epsilon(epsilon, delta, **kwargs)  # type: ignore[arg-type]
    if _check_sigma(sigma) < need * (1 - 1e-6):
        raise ValueError(
            f"Invalid value {sigma!r} for argument sigma: it is too small for (epsilon={epsilon:g}, delta={delta:g}); "
            f"the target needs sigma >= {need:.4g}"
        )


def steps_within_budget(sigma: float, sample_rate: float, epsilon: float, delta: float, *, max_steps: int) -> int:
    """The largest number of DP-SGD steps (≤ ``max_steps``) whose RDP ε stays within ``epsilon``."""
    check_epsilon(epsilon)
    check_delta(delta)
    check_int("max_steps", max_steps, 0)  # a np.int64 bound was returned as np.int64 (the card's step count)
    max_steps = int(max_steps)
    one = GaussianRelease(sigma=sigma, sample_rate=sample_rate)
    alphas = _default_alphas([one])
    rdp1 = _rdp_curve([one], alphas)  # RDP is linear in the number of steps: compute it once

    def eps(k: int) -> float:
        return _spent(alphas, k * rdp1, delta)[0]

    if eps(1) > epsilon:
        return 0
    lo, hi = 1, max_steps
    if eps(hi) <= epsilon:
        return hi
    while hi - lo > 1:  # invariant: lo fits, hi does not
        mid = (lo + hi) // 2
        if eps(mid) <= epsilon:
            lo = mid
        else:
            hi = mid
    return lo
