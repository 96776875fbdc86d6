import pytest
import torch
import torch.nn.functional as F

from condensekit.core.vision import build_image_model
from condensekit.privacy import condense_private
from condensekit.privacy.accounting import dp_sgd_epsilon
from condensekit.privacy.psg import PSGConfig, private_gradient

TINY = dict(ipc=2, outer_loop=2, inner_loop=1, batch_loop=2, batch_real=6, model="lr", delta=1e-3)


def test_private_gradient_without_noise_is_the_clipped_per_sample_mean(images):
    torch.manual_seed(0)
    net = build_image_model("convnet", channels=1, num_classes=2, im_size=(8, 8))
    x, y = images.x_train[:5], images.y_train[:5]
    got = private_gradient(net, x, y, clip=0.05, sigma=0.0, expected_batch=5.0)
    want = [torch.zeros_like(p) for p in net.parameters()]
    for i in range(5):
        g = torch.autograd.grad(F.cross_entropy(net(x[i : i + 1]), y[i : i + 1]), list(net.parameters()))
        norm = torch.sqrt(sum(t.pow(2).sum() for t in g))
        for w, t in zip(want, g, strict=True):
            w += t * min(1.0, 0.05 / float(norm)) / 5
    for a, b in zip(got, want, strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    empty = private_gradient(net, x[:0], y[:0], clip=0.05, sigma=1.0, expected_batch=5.0)
    assert all(torch.isfinite(t).all() for t in empty) and any(t.abs().sum() > 0 for t in empty)


def test_psg_spends_exactly_its_budget(images):
    cfg = PSGConfig(epsilon=8.0, steps=3, **TINY)
    ci = condense_private(images, "psg", config=cfg, seed=0, device="cpu")
    p = ci.card["privacy"]
    assert ci.x.shape == (4, 1, 8, 8) and ci.y.tolist() == [0, 0, 1, 1]
    assert p["private_gradients"] == 3 * 2 * 2 and p["stopped_early"] is False
    assert p["epsilon"] == pytest.approx(8.0, rel=5e-3) and p["epsilon"] <= 8.0
    assert p["epsilon"] == pytest.approx(dp_sgd_epsilon(p["sigma"], 6 / 60, 12, 1e-3))
    assert p["neighbouring"] == "add-remove-one" and p["accountant"].startswith("rdp")


def test_psg_with_a_given_sigma_stops_when_the_budget_is_spent(images):
    cfg = PSGConfig(epsilon=4.0, sigma=1.0, steps=20, **TINY)  # 49 private gradients fit: 12 steps of 4
    ci = condense_private(images, "psg", config=cfg, seed=0, device="cpu")
    p = ci.card["privacy"]
    assert p["stopped_early"] is True and p["steps_done"] == 12 and p["steps_requested"] == 20
    assert ci.card["steps"] == {"run": 12, "config": 20}  # as every domain's card says it (condensekit info)
    assert p["epsilon"] <= 4.0
    assert dp_sgd_epsilon(1.0, 6 / 60, (p["steps_done"] + 1) * 4, 1e-3) > 4.0  # one more step would overspend
    with pytest.raises(ValueError, match="too small for"):
        condense_private(images, "psg", config=PSGConfig(epsilon=0.01, sigma=0.3, steps=5, **TINY), device="cpu")


def test_psg_schedules_paper_is_the_default_config():
    from condensekit.privacy.psg import PSG_SCHEDULES

    assert PSGConfig(**PSG_SCHEDULES.get("paper")) == PSGConfig()  # the authors' schedule: the defaults
    cpu = PSGConfig(**PSG_SCHEDULES.get("cpu"))
    assert cpu.steps * cpu.outer_loop * cpu.batch_loop < PSGConfig().steps * 10 * 10  # fewer private gradients
    with pytest.raises(ValueError, match=r"Unknown schedule 'gpu'. Valid values are \{cpu, paper\}"):
        PSG_SCHEDULES.get("gpu")


def test_small_convnet_matching_network_gets_exact_per_sample_gradients(images):
    from condensekit.privacy.psg import PSG_SMALL_CONVNET

    torch.manual_seed(0)
    net = build_image_model(PSG_SMALL_CONVNET, channels=1, num_classes=2, im_size=(8, 8))
    x, y = images.x_train[:4], images.y_train[:4]
    got = private_gradient(net, x, y, clip=1e3, sigma=0.0, expected_batch=4.0)  # no clipping: the batch mean
    want = torch.autograd.grad(F.cross_entropy(net(x), y), list(net.parameters()))
    for a, b in zip(got, want, strict=True):
        assert torch.allclose(a, b, atol=1e-5)
    cfg = PSGConfig(epsilon=8.0, steps=2, **(TINY | {"model": PSG_SMALL_CONVNET}))
    ci = condense_private(images, "psg", config=cfg, seed=0, device="cpu")
    assert ci.x.shape == (4, 1, 8, 8) and torch.isfinite(ci.x).all()


def test_small_convnet_keeps_the_layout_of_its_rows():
    """The benchmark rows of the small matching network were measured with a stem padded by 1 (MNIST:
    28 → 14 → 7, 16·7·7 = 784 features); the full ``convnet`` pads a 1-channel stem by 3 as the reference."""
    from condensekit.privacy.psg import PSG_SMALL_CONVNET

    small = build_image_model(PSG_SMALL_CONVNET, channels=1, num_classes=10, im_size=(28, 28))
    full = build_image_model("convnet", channels=1, num_classes=10, im_size=(28, 28))
    assert (small.feature_dim, full.feature_dim) == (784, 2048)


@pytest.mark.parametrize("model", ["convnet_bn", "mlp_bn"])
def test_psg_refuses_a_batch_norm_matching_network(images, model):
    """Per-sample gradients through batch norm are undefined; it failed deep inside torch.func's vmap."""
    with pytest.raises(ValueError, match=rf"Invalid value '{model}' for argument model: its BatchNorm"):
        condense_private(images, "psg", config=PSGConfig(epsilon=8.0, steps=1, **(TINY | {"model": model})))
