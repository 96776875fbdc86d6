"""The ConvNet of the dataset-condensation literature (Zhao et al., ICLR 2021; Cazenavette et al., CVPR 2022).

``depth`` blocks of ``conv3×3(width) → norm → ReLU → avgpool2×2``, then one linear classifier on the
flattened features. Instance norm is ``GroupNorm(width, width)`` with affine parameters, exactly the
reference's ``instancenorm``; ``batchnorm``, ``layernorm`` and ``none`` are the reference's other options.

Shapes: ``x`` N×C×H×W → logits N×K. The feature map after the blocks is
``width × H/2^depth × W/2^depth`` (integer division at each pool).
"""

from __future__ import annotations

from torch import Tensor, nn

from condensekit.core.registry import check_choice

NORMS = ("instancenorm", "batchnorm", "layernorm", "none")
POOLINGS = ("avgpooling", "maxpooling", "none")


def _norm(kind: str, width: int, hw: tuple[int, int]) -> nn.Module:
    if kind == "instancenorm":
        return nn.GroupNorm(width, width, affine=True)
    if kind == "batchnorm":
        return nn.BatchNorm2d(width)
    if kind == "layernorm":
        return nn.LayerNorm([width, hw[0], hw[1]], elementwise_affine=True)
    return nn.Identity()


class ConvNet(nn.Module):
    """ConvNet-``depth`` with ``width`` channels.

    Args:
        channels: input channels C.
        num_classes: outputs K.
        im_size: (H, W) of the input.
        width: channels of every conv layer (128 in the papers).
        depth: number of conv blocks (3 for 28×28 and 32×32 inputs).
        norm: one of :data:`NORMS` (``instancenorm`` in the papers).
        pooling: one of :data:`POOLINGS` (``avgpooling`` in the papers).
    """

    def __init__(
        self,
        channels: int,
        num_classes: int,
        im_size: tuple[int, int] = (28, 28),
        *,
        width: int = 128,
        depth: int = 3,
        norm: str = "instancenorm",
        pooling: str = "avgpooling",
    ) -> None:
        super().__init__()
        check_choice("norm", norm, NORMS)
        check_choice("pooling", pooling, POOLINGS)
        if depth < 1:
            raise ValueError(f"Invalid value {depth!r} for argument depth. Valid values are >= 1")
        layers: list[nn.Module] = []
        c, (h, w) = channels, im_size
        for _ in range(depth):
            layers += [nn.Conv2d(c, width, 3, padding=1), _norm(norm, width, (h, w)), nn.ReLU(inplace=True)]
            if pooling != "none":
                layers.append(nn.AvgPool2d(2, 2) if pooling == "avgpooling" else nn.MaxPool2d(2, 2))
                h, w = h // 2, w // 2
            c = width
        if h < 1 or w < 1:
            raise ValueError(f"im_size {im_size} is too small for depth {depth} with pooling")
        self.features = nn.Sequential(*layers)
        self.feature_dim = width * h * w
        self.classifier = nn.Linear(self.feature_dim, num_classes)

    def embed(self, x: Tensor) -> Tensor:
        """Flattened features before the classifier, N×feature_dim (DM's embedding)."""
        return self.features(x).flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.embed(x))
