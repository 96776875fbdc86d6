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
        ConvNet(1, 2, im_size=(4, 4), depth=3)
