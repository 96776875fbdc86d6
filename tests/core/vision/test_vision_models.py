import pytest
import torch

from condensekit.core.vision import IMAGE_MODELS, build_image_model


@pytest.mark.parametrize("name", IMAGE_MODELS.names())
@pytest.mark.parametrize("channels,size", [(1, (28, 28)), (3, (32, 32))])
def test_every_model_maps_images_to_logits_and_embeds(name, channels, size):
    torch.manual_seed(0)
    net = build_image_model(name, channels=channels, num_classes=5, im_size=size)
    x = torch.randn(3, channels, *size)
    logits = net(x)
    assert logits.shape == (3, 5)
    emb = net.embed(x)
    assert emb.shape == (3, net.feature_dim)
    assert torch.allclose(net.classifier(emb), logits, atol=1e-5)


def test_convnet_instance_norm_normalises_each_image_alone():
    torch.manual_seed(0)
    net = build_image_model("convnet", channels=1, num_classes=2, im_size=(28, 28)).eval()
    x = torch.randn(4, 1, 28, 28)
    # instance norm: an image's logits do not depend on the other images of the batch
    assert torch.allclose(net(x)[:1], net(x[:1]), atol=1e-5)


def test_unknown_model_and_norm_are_named():
    with pytest.raises(ValueError, match="Unknown image model 'vgg'.*convnet"):
        build_image_model("vgg", channels=1, num_classes=2, im_size=(28, 28))
    from condensekit.core.vision import ConvNet

    with pytest.raises(ValueError, match="argument norm"):
        ConvNet(1, 2, norm="groupnorm")
    with pytest.raises(ValueError, match="too small"):
        ConvNet(1, 2, im_size=(4, 4), depth=3, stem_padding=1)
    with pytest.raises(ValueError, match="too small"):
        ConvNet(3, 2, im_size=(4, 4), depth=3)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="argument stem_padding.*None"):
            ConvNet(1, 2, stem_padding=bad)


def _stem(net):
    return net.features[0]


@pytest.mark.parametrize(
    "name,channels,size,stem,feature_dim",
    [
        # the reference (DC/DM/MTT networks.py): 1-channel 28×28 padded by 3 → 32 → 16 → 8 → 4: 128·4·4
        ("convnet", 1, (28, 28), 3, 2048),
        ("convnet_bn", 1, (28, 28), 3, 2048),
        ("convnet_d4", 1, (64, 64), 3, 128 * 4 * 4),  # 68 → 34 → 17 → 8 → 4
        ("convnet", 3, (32, 32), 1, 2048),  # 3 channels: padding 1 everywhere, as the reference
        ("convnet", 3, (28, 28), 1, 128 * 3 * 3),
        ("convnet_pad1", 1, (28, 28), 1, 128 * 3 * 3),  # the layout before sitting 12: 28 → 14 → 7 → 3
        ("convnet_bn_small", 1, (28, 28), 1, 16 * 7 * 7),  # pinned: robust's teacher keeps its layout
    ],
)
def test_convnet_stem_padding_follows_the_reference(name, channels, size, stem, feature_dim):
    net = build_image_model(name, channels=channels, num_classes=2, im_size=size)
    assert net.stem_padding == stem and _stem(net).padding == (stem, stem)
    assert all(m.padding == (1, 1) for m in net.features[1:] if isinstance(m, torch.nn.Conv2d))
    assert net.feature_dim == feature_dim
    assert net.embed(torch.randn(2, channels, *size)).shape == (2, feature_dim)


def test_convnet_parameter_counts_pinned():
    # ConvNet-3 on 1-channel 28×28, 2 classes: convs 1,280 + 2 × 147,584, GroupNorms 3 × 256, classifier F·2 + 2
    count = lambda name: sum(  # noqa: E731
        p.numel() for p in build_image_model(name, channels=1, num_classes=2, im_size=(28, 28)).parameters()
    )
    assert count("convnet") == 1280 + 2 * 147_584 + 768 + 2048 * 2 + 2 == 301_314
    assert count("convnet_pad1") == 1280 + 2 * 147_584 + 768 + 1152 * 2 + 2 == 299_522


def test_convnet_layernorm_sized_from_the_padded_maps():
    from condensekit.core.vision import ConvNet

    net = ConvNet(1, 2, im_size=(28, 28), norm="layernorm")
    assert net.features[1].normalized_shape == (128, 32, 32)
    assert net(torch.randn(2, 1, 28, 28)).shape == (2, 2)
