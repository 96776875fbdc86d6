"""The privacy noise is secret: the run's seed (recorded in every card) must not determine it."""

import pytest
import torch

from condensekit.core.objectives import rff_map
from condensekit.core.vision import build_image_model
from condensekit.privacy import condense_private
from condensekit.privacy.dp_merf import DPMERFCondensedConfig
from condensekit.privacy.embedding import StackedFeatures, release_embedding
from condensekit.privacy.noise import NOISE_SOURCE, secret_generator
from condensekit.privacy.psg import PSGConfig, private_gradient

pytestmark = pytest.mark.secret_noise


def _features() -> StackedFeatures:
    return StackedFeatures((rff_map(64, 100, 2.0, generator=torch.Generator().manual_seed(0), paired=True),))


def test_secret_generators_differ():
    a, b = secret_generator(), secret_generator()
    assert not torch.equal(torch.randn(8, generator=a), torch.randn(8, generator=b))


def test_embedding_noise_is_not_a_function_of_the_global_seed(images):
    """Before: the noise came from torch's global generator, seeded by the card's seed, so anyone could
    regenerate it and subtract it (ε infinite)."""
    values = []
    for _ in range(2):
        torch.manual_seed(0)
        r = release_embedding(images, _features(), epsilon=1.0, delta=1e-3)
        values.append(r.value)
        assert r.report.to_card()["noise"] == NOISE_SOURCE
    assert not torch.equal(values[0], values[1])
    # a caller's seeded generator reproduces the release, and the card says it is then not private
    seeded = [
        release_embedding(images, _features(), epsilon=1.0, delta=1e-3, generator=torch.Generator().manual_seed(3))
        for _ in range(2)
    ]
    assert torch.equal(seeded[0].value, seeded[1].value)
    assert "not private" in seeded[0].report.to_card()["noise"]


def test_same_seed_releases_differ_dp_merf(images):
    cfg = DPMERFCondensedConfig(epsilon=5.0, delta=1e-3, n_features=400, bandwidth=2.0, ipc=3, lr=0.1)
    a = condense_private(images, "dp-merf-condensed", config=cfg, steps=5, seed=1, device="cpu")
    b = condense_private(images, "dp-merf-condensed", config=cfg, steps=5, seed=1, device="cpu")
    assert not torch.equal(a.x, b.x)
    assert a.card["privacy"]["noise"] == NOISE_SOURCE


def test_dp_sgd_noise_and_batches_are_secret(images):
    net = build_image_model("lr", channels=1, num_classes=2, im_size=(8, 8))
    x, y = images.x_train[:5], images.y_train[:5]
    grads = []
    for _ in range(2):
        torch.manual_seed(0)
        grads.append(private_gradient(net, x, y, clip=1.0, sigma=1.0, expected_batch=5.0))
    assert not all(torch.equal(g, h) for g, h in zip(*grads, strict=True))
    cfg = PSGConfig(epsilon=8.0, steps=2, ipc=2, outer_loop=1, inner_loop=1, batch_loop=2, batch_real=6, model="lr",
                    delta=1e-3)  # fmt: skip
    a = condense_private(images, "psg", config=cfg, seed=0, device="cpu")
    b = condense_private(images, "psg", config=cfg, seed=0, device="cpu")
    assert not torch.equal(a.x, b.x)
    assert a.card["privacy"]["noise"].startswith(NOISE_SOURCE)
