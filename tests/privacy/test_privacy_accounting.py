import math

import pytest

from condensekit.privacy.accounting import (
    GaussianRelease,
    account,
    analytic_gaussian_epsilon,
    check_delta,
    check_sigma_for_target,
    dp_sgd_epsilon,
    gaussian_epsilon,
    mean_sensitivity,
    noise_for_epsilon,
    rdp_epsilon,
    steps_within_budget,
    sum_sensitivity,
)

OPACUS_DEFAULT_ALPHAS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))


def test_golden_single_release_sigma_5():
    eps = gaussian_epsilon(5.0, 1e-5)
    assert eps["rdp"] == pytest.approx(0.7945, abs=5e-4)  # below the ε = 1 DP-MERF's repository states
    assert eps["analytic"] == pytest.approx(0.7255, abs=5e-4)  # exact: tighter than RDP
    assert eps["analytic"] < eps["rdp"] < 1.0


def test_golden_single_release_sigma_25_needs_orders_past_63():
    eps = gaussian_epsilon(25.0, 1e-5)
    capped, order_capped = rdp_epsilon([GaussianRelease(25.0)], 1e-5, alphas=OPACUS_DEFAULT_ALPHAS)
    assert capped == pytest.approx(0.1533, abs=5e-4) and order_capped == 63  # opacus's default orders stop short
    assert eps["rdp"] == pytest.approx(0.1394, abs=5e-4) and eps["rdp_order"] > 63
    assert eps["analytic"] == pytest.approx(0.1254, abs=5e-4)


def test_analytic_matches_the_formula_at_its_solution():
    eps = analytic_gaussian_epsilon([GaussianRelease(2.0)], 1e-5)
    mu = 0.5
    phi = lambda t: 0.5 * math.erfc(-t / math.sqrt(2))  # noqa: E731
    delta = phi(mu / 2 - eps / mu) - math.exp(eps) * phi(-mu / 2 - eps / mu)
    assert delta == pytest.approx(1e-5, rel=1e-6)


def test_composition_of_full_batch_releases_is_one_release_with_sigma_over_sqrt_k():
    four = analytic_gaussian_epsilon([GaussianRelease(10.0, steps=4)], 1e-5)
    split = analytic_gaussian_epsilon([GaussianRelease(10.0, steps=3), GaussianRelease(10.0)], 1e-5)
    one = analytic_gaussian_epsilon([GaussianRelease(5.0)], 1e-5)
    assert four == pytest.approx(one, rel=1e-6) and split == pytest.approx(one, rel=1e-6)
    rdp_two = rdp_epsilon([GaussianRelease(5.0), GaussianRelease(5.0)], 1e-5)[0]
    assert rdp_two > gaussian_epsilon(5.0, 1e-5)["rdp"]


def test_dp_sgd_poisson_accounting_matches_opacus_accountant():
    from opacus.accountants import RDPAccountant

    acc = RDPAccountant()
    acc.history = [(1.1, 256 / 60000, 1000)]
    want = acc.get_epsilon(1e-5)
    assert dp_sgd_epsilon(1.1, 256 / 60000, 1000, 1e-5) == pytest.approx(want, rel=0.02)
    assert dp_sgd_epsilon(1.1, 256 / 60000, 2000, 1e-5) > want
    with pytest.raises(ValueError, match="full-batch releases only"):
        analytic_gaussian_epsilon([GaussianRelease(1.1, sample_rate=0.01, steps=10)], 1e-5)


def test_noise_for_epsilon_inverts_both_accountants():
    s = noise_for_epsilon(1.0, 1e-5)
    assert analytic_gaussian_epsilon([GaussianRelease(s)], 1e-5) <= 1.0
    assert analytic_gaussian_epsilon([GaussianRelease(s * 0.999)], 1e-5) > 1.0
    s_rdp = noise_for_epsilon(1.0, 1e-5, accountant="rdp")
    assert s_rdp > s and rdp_epsilon([GaussianRelease(s_rdp)], 1e-5)[0] <= 1.0
    s_sgd = noise_for_epsilon(10.0, 1e-5, sample_rate=0.01, steps=500, accountant="rdp")
    assert dp_sgd_epsilon(s_sgd, 0.01, 500, 1e-5) <= 10.0 < dp_sgd_epsilon(s_sgd * 0.99, 0.01, 500, 1e-5)


def test_steps_within_budget():
    k = steps_within_budget(1.0, 0.01, 2.0, 1e-5, max_steps=100_000)
    assert dp_sgd_epsilon(1.0, 0.01, k, 1e-5) <= 2.0 < dp_sgd_epsilon(1.0, 0.01, k + 1, 1e-5)
    assert steps_within_budget(1.0, 0.01, 2.0, 1e-5, max_steps=10) == 10
    assert steps_within_budget(0.3, 1.0, 0.01, 1e-5, max_steps=10) == 0


def test_sensitivities_and_report():
    assert mean_sensitivity(1000) == pytest.approx(2e-3)
    assert mean_sensitivity(1000, relation="add-remove-one") == pytest.approx(2e-3)
    assert sum_sensitivity(bound=1.5) == 1.5 and sum_sensitivity(bound=1.5, relation="replace-one") == 3.0
    rep = account([GaussianRelease(5.0)], 1e-5, mechanism="gaussian", neighbouring="replace-one", sensitivity="2/n")
    card = rep.to_card()
    assert card["epsilon"] == pytest.approx(card["epsilon_analytic"]) and card["epsilon_rdp"] > card["epsilon"]
    rel = [GaussianRelease(1.0, 0.01, 100)]
    sub = account(rel, 1e-5, mechanism="m", neighbouring="add-remove-one", sensitivity="C")
    assert sub.epsilon_analytic is None and sub.accountant.startswith("rdp")


@pytest.mark.parametrize("eps", [0, -1.0, float("nan")])
def test_bad_epsilon(eps):
    with pytest.raises(ValueError, match="argument epsilon"):
        noise_for_epsilon(eps, 1e-5)


@pytest.mark.parametrize("delta", [0, 1, 1.5, -1e-5])
def test_bad_delta(delta):
    with pytest.raises(ValueError, match=r"argument delta. Valid values are in \(0, 1\)"):
        gaussian_epsilon(5.0, delta)


def test_delta_above_one_over_n_and_bad_relation_raise():
    with pytest.raises(ValueError, match="meaningless"):
        check_delta(1e-2, n=1000)
    with pytest.raises(ValueError, match="argument relation"):
        mean_sensitivity(10, relation="swap")
    with pytest.raises(ValueError, match="argument n"):
        mean_sensitivity(0)


def test_sigma_too_small_for_target():
    with pytest.raises(ValueError, match="too small for"):
        check_sigma_for_target(1.0, 1.0, 1e-5)
    check_sigma_for_target(5.0, 1.0, 1e-5)  # 5.0 is enough for ε = 1 analytically


def test_rdp_epsilon_is_never_negative():
    """opacus's conversion gives ε = -0.001 for σ = 1e4 at δ = 1e-3 (and -0.105 for σ = 100 at δ = 0.1), which a
    card then recorded as the release's ε."""
    from condensekit.privacy.accounting import GaussianRelease, account, rdp_epsilon

    for sigma, delta in [(1e4, 1e-3), (100.0, 0.1)]:
        rel = [GaussianRelease(sigma=sigma)]
        assert rdp_epsilon(rel, delta)[0] == 0.0
        report = account(rel, delta, mechanism="m", neighbouring="replace-one", sensitivity="s")
        assert 0.0 <= report.epsilon_rdp and 0.0 <= report.epsilon < 1e-6
