"""ResNet-18 for small images (He et al., CVPR 2016), the CIFAR variant used by MedMNIST v2 at 28×28.

A 3×3 stride-1 stem without max pooling, four stages of two basic blocks (64, 128, 256, 512 channels,
stride 2 from the second stage), global average pooling and a linear classifier. ``norm`` is
``batchnorm`` (MedMNIST's ResNet-18) or ``instancenorm`` (the condensation papers' ResNet-18 evaluations
often swap it in); the block structure is otherwise torchvision's.

Shapes: ``x`` N×C×H×W → logits N×K, any H, W ≥ 8.
"""

from __future__ import annotations

from torch import Tensor, nn

from condensekit.core.registry import check_choice

RESNET_NORMS = ("batchnorm", "instancenorm")


def _norm(kind: str, c: int) -> nn.Module:
    return nn.BatchNorm2d(c) if kind == "batchnorm" else nn.GroupNorm(c, c, affine=True)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, norm: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = _norm(norm, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = _norm(norm, cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), _norm(norm, cout))

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn1(self.conv1(x)).relu()
        out = self.bn2(self.conv2(out))
        return (out + self.shortcut(x)).relu()


class ResNet18(nn.Module):
    """ResNet-18 with a CIFAR stem.

    Args:
        channels: input channels C.
        num_classes: outputs K.
        im_size: unused by the layers (global pooling); kept so every image model has one signature.
        norm: one of :data:`RESNET_NORMS`.
    """

    def __init__(
        self, channels: int, num_classes: int, im_size: tuple[int, int] = (28, 28), *, norm: str = "batchnorm"
    ) -> None:
        super().__init__()
        check_choice("norm", norm, RESNET_NORMS)
        self.stem = nn.Sequential(nn.Conv2d(channels, 64, 3, 1, 1, bias=False), _norm(norm, 64), nn.ReLU(inplace=True))
        blocks: list[nn.Module] = []
        cin = 64
        for i, cout in enumerate((64, 128, 256, 512)):
            for j in range(2):
                blocks.append(BasicBlock(cin, cout, 2 if (i > 0 and j == 0) else 1, norm))
                cin = cout
        self.layers = nn.Sequential(*blocks)
        self.feature_dim = 512
        self.classifier = nn.Linear(512, num_classes)

    def embed(self, x: Tensor) -> Tensor:
        """Globally pooled features, N×512."""
        return self.layers(self.stem(x)).mean(dim=(2, 3))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.embed(x))
