import math

import pytest
import torch

from condensekit.core.vision import CondensedImages
from condensekit.privacy import PRIVACY_METHODS, condense_private
from condensekit.privacy.accounting import GaussianRelease, analytic_gaussian_epsilon
from condensekit.privacy.dp_merf import DPMERFCondensedConfig, DPMERFConfig
from condensekit.privacy.embedding import StackedFeatures, class_embedding, release_embedding


def _features(n_features=200, scales=(1.0,)):
    return StackedFeatures.build(64, n_features, [2.0 * s for s in scales], generator=torch.Generator().manual_seed(0),
                                 device=torch.device("cpu"))


def test_stacked_features_keep_unit_norm(images):
    feats = _features(scales=(0.5, 1.0, 2.0))
    phi = feats(images.denormalise(images.x_train))
    assert phi.shape == (60, 600)
    assert torch.allclose(phi.norm(dim=1), torch.ones(60), atol=1e-5)


def test_release_noise_is_calibrated_to_sensitivity_two_over_n(images):
    feats = _features(n_features=4000)
    torch.manual_seed(0)
    clean = class_embedding(feats, images.denormalise(images.x_train), images.y_train, 2)
    rel = release_embedding(images, feats, epsilon=1.0, delta=1e-3)
    sigma, n = rel.report.sigma, 60
    assert analytic_gaussian_epsilon([GaussianRelease(sigma)], 1e-3) <= 1.0
    noise_std = float((rel.value - clean).std())
    assert noise_std == pytest.approx(sigma * 2 / n, rel=0.05)
    card = rel.report.to_card()
    assert card["neighbouring"] == "replace-one" and "2/n" in card["sensitivity"]
    assert card["epsilon"] <= 1.0 and card["epsilon_rdp"] > card["epsilon"] and card["delta"] == 1e-3


def test_release_refuses_bad_privacy_arguments(images):
    feats = _features()
    with pytest.raises(ValueError, match="too small for"):
        release_embedding(images, feats, epsilon=1.0, delta=1e-3, sigma=0.5)
    with pytest.raises(ValueError, match="argument epsilon"):
        release_embedding(images, feats, epsilon=0.0, delta=1e-3)
    with pytest.raises(ValueError, match=r"argument delta: it is >= 1/n = 0.0167 for n=60 records"):
        release_embedding(images, feats, epsilon=1.0, delta=0.1)  # δ ≥ 1/n: refused (tests/privacy/test_large_delta.py)


def test_condensed_variant_fits_the_release_and_writes_an_honest_card(images, tmp_path):
    cfg = DPMERFCondensedConfig(epsilon=5.0, delta=1e-3, n_features=400, bandwidth=2.0, ipc=3, lr=0.1)
    ci = condense_private(images, "dp-merf-condensed", config=cfg, steps=60, seed=1, device="cpu")
    assert ci.x.shape == (6, 1, 8, 8) and ci.y.tolist() == [0, 0, 0, 1, 1, 1]
    x01 = images.denormalise(ci.x)
    assert float(x01.min()) >= 0 and float(x01.max()) <= 1
    # class 0 learnt a bright left half, class 1 a bright right half, from the noisy embedding alone
    left, right = x01[..., :4].mean(dim=(1, 2, 3)), x01[..., 4:].mean(dim=(1, 2, 3))
    assert bool((left[:3] > right[:3]).all()) and bool((right[3:] > left[3:]).all())
    p = ci.card["privacy"]
    assert p["epsilon"] <= 5.0 and p["delta"] == 1e-3 and p["sigma"] > 0
    assert {"mechanism", "neighbouring", "accountant", "epsilon_rdp", "epsilon_analytic"} <= set(p)
    assert p["stopped_early"] is False and p["steps_done"] == 60
    # the same seed releases another set: the noise is secret (tests/privacy/test_privacy_noise.py)
    ci.save(tmp_path / "a")
    assert CondensedImages.load(tmp_path / "a", domain="privacy").card["privacy"]["epsilon"] == p["epsilon"]


def test_generator_runs_and_releases_ordered_samples(images):
    cfg = DPMERFConfig(epsilon=2.0, delta=1e-3, n_features=200, bandwidth=2.0, batch_size=20, epochs=2,
                       samples_per_class=4, hidden=16, channels="4,4", kernel_size=3)
    ci = condense_private(images, "dp-merf", config=cfg, seed=0, device="cpu")
    assert ci.card["privacy"]["steps_done"] == 2 * (60 // 20)
    assert ci.x.shape == (8, 1, 8, 8) and ci.y.tolist() == [0] * 4 + [1] * 4
    assert torch.isfinite(ci.x).all()
    assert math.isclose(ci.card["privacy"]["target_epsilon"], 2.0)


def test_registry_lists_methods_and_rejects_unknown():
    assert {"dp-merf", "dp-merf-condensed"} <= set(PRIVACY_METHODS.names())
    with pytest.raises(ValueError, match="Unknown privacy method 'nope'"):
        PRIVACY_METHODS.get("nope")


def test_bad_bandwidth_scales(images):
    with pytest.raises(ValueError, match="argument bandwidth_scales"):
        condense_private(images, "dp-merf-condensed", config=DPMERFCondensedConfig(bandwidth_scales="a"), steps=1,
                         device="cpu")
