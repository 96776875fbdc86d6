"""Image models by name: ``build_image_model("convnet", channels=1, num_classes=2, im_size=(28, 28))``.

Every model has ``embed(x)`` (features before the last linear layer, N×``feature_dim``) and
``forward(x)`` (logits). Names: ``convnet`` (ConvNet-3, width 128, instance norm), ``convnet_bn``,
``convnet_d4`` (depth 4, for 64×64), all three with the reference's stem padding (3 for 1-channel input, see
:mod:`~condensekit.core.vision.convnet`); ``convnet_pad1`` (``convnet`` with every convolution padded by 1: the
layout of every ConvNet row before 2026-12-03, kept to reproduce them); ``convnet_bn_small`` (depth 2, width 16,
batch norm, stem padding pinned to 1: our own CPU-sized curvature teacher, not a reference model, whose rows
and cached teachers predate the reference padding), ``resnet18`` (batch norm), ``resnet18_in`` (instance norm), ``mlp``,
``mlp_bn`` (batch norm after the hidden layer),
``lr`` (logistic regression), ``cnn`` (the small 2-conv MNIST classifier of the DP literature).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor, nn

from condensekit.core.registry import Registry
from condensekit.core.vision.convnet import ConvNet
from condensekit.core.vision.mlp import MLP, LogReg
from condensekit.core.vision.resnet import ResNet18


class SmallCNN(nn.Module):
    """Two conv layers (32, 64 channels, 3×3, max pool) and a 128-unit hidden layer: the "CNN" classifier of
    DP generative-model evaluations on MNIST (DPDM, DP-Sinkhorn)."""

    def __init__(self, channels: int, num_classes: int, im_size: tuple[int, int] = (28, 28)) -> None:
        super().__init__()
        h, w = im_size[0] // 4, im_size[1] // 4
        self.body = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * h * w, 128), nn.ReLU(),
        )  # fmt: skip
        self.feature_dim = 128
        self.classifier = nn.Linear(128, num_classes)

    def embed(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.embed(x))


ImageModelFactory = Callable[..., nn.Module]
IMAGE_MODELS: Registry[ImageModelFactory] = Registry("image model")
IMAGE_MODELS.register("convnet", ConvNet)
IMAGE_MODELS.register("convnet_bn", partial(ConvNet, norm="batchnorm"))
IMAGE_MODELS.register("convnet_d4", partial(ConvNet, depth=4))
IMAGE_MODELS.register("convnet_pad1", partial(ConvNet, stem_padding=1))  # the layout before 2026-12-03
# robust's CPU teacher: pinned to its original layout so its rows and cached teachers stay valid
IMAGE_MODELS.register("convnet_bn_small", partial(ConvNet, width=16, depth=2, norm="batchnorm", stem_padding=1))
IMAGE_MODELS.register("resnet18", ResNet18)
IMAGE_MODELS.register("resnet18_in", partial(ResNet18, norm="instancenorm"))
IMAGE_MODELS.register("mlp", MLP)
IMAGE_MODELS.register("mlp_bn", partial(MLP, batchnorm=True))
IMAGE_MODELS.register("lr", LogReg)
IMAGE_MODELS.register("cnn", SmallCNN)


def batch_norm_layers(model: nn.Module) -> list[nn.Module]:
    """``model``'s batch-norm layers in module order: what SRe2L's recovery matches, what GUARD's precise-BN
    recomputes, and what DP-SGD's per-sample gradients cannot pass through (each sample's output depends on the
    batch)."""
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def build_image_model(
    name: str,
    *,
    channels: int,
    num_classes: int,
    im_size: tuple[int, int],
    device: torch.device | str | None = None,
) -> nn.Module:
    """A freshly initialised model registered as ``name`` (unknown names list the valid ones). With ``device`` its
    parameters are drawn there (built under ``torch.device``), not on the host and moved: a method that draws a
    fresh network every step (DM, DC, PSG) would otherwise copy, and on CUDA sync, once per tensor."""
    make = IMAGE_MODELS.get(name)
    if device is None:
        return make(channels, num_classes, tuple(im_size))
    with torch.device(device):
        return make(channels, num_classes, tuple(im_size))
