import pytest
import torch

from condensekit.privacy import condense_private
from condensekit.privacy.dp_merf import DPMERFCondensedConfig
from condensekit.privacy.prior import GridPrior, total_variation


def test_total_variation_is_zero_on_flat_images_and_counts_edges():
    flat = torch.full((2, 1, 6, 6), 0.3)
    assert float(total_variation(flat)) == 0.0
    edge = torch.zeros(1, 1, 4, 4)
    edge[..., 2:] = 1.0  # one vertical edge: every row has one jump of 1 among 3 horizontal pairs
    assert float(total_variation(edge)) == pytest.approx(1 / 3)


def test_grid_prior_upsamples_a_coarse_map_to_the_image_size():
    prior = GridPrior(2, (28, 28))
    assert prior.logit_shape(5, 1) == (5, 1, 14, 14)
    assert GridPrior(3, (28, 28)).logit_shape(1, 3) == (1, 3, 10, 10)
    x = prior.images(torch.randn(5, 1, 14, 14))
    assert x.shape == (5, 1, 28, 28) and float(x.min()) >= 0 and float(x.max()) <= 1
    full = GridPrior(1, (28, 28))
    u = torch.randn(2, 1, 28, 28)
    assert torch.equal(full.images(u), torch.sigmoid(u))


@pytest.mark.parametrize("bad", [0, -1, 29])
def test_grid_prior_rejects_bad_factor(bad):
    with pytest.raises(ValueError, match="argument downsample"):
        GridPrior(bad, (28, 28))


def test_smoothness_prior_makes_the_condensed_set_smoother(images):
    def tv_of(**kw):
        cfg = DPMERFCondensedConfig(epsilon=5.0, delta=1e-3, n_features=400, bandwidth=2.0, ipc=3, lr=0.1, **kw)
        ci = condense_private(images, "dp-merf-condensed", config=cfg, steps=60, seed=1, device="cpu")
        return float(total_variation(images.denormalise(ci.x)))

    rough = tv_of(downsample=1, tv=0.0)
    assert tv_of(downsample=1, tv=1.0) < rough
    assert tv_of(downsample=2, tv=0.0) < rough
    for bad in (-1.0, float("nan")):  # NaN passed `tv < 0`
        with pytest.raises(ValueError, match="argument tv"):
            tv_of(tv=bad)
