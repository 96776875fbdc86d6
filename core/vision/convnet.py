"""The ConvNet of the dataset-condensation literature (Zhao et al., ICLR 2021; Cazenavette et al., CVPR 2022).

``depth`` blocks of ``conv3×3(width) → norm → ReLU → avgpool2×2``, then one linear classifier on the
flattened features. Instance norm is ``GroupNorm(width, width)`` with affine parameters, exactly the
reference's ``instancenorm``; ``batchnorm``, ``layernorm`` and ``none`` are the reference's other options.

**Stem padding.** The reference (``ConvNet._make_layers`` in ``networks.py`` of VICO-UoE/DatasetCondensation,
copied unchanged into GeorgeCazenavette/mtt-distillation) pads the *first* convolution by 3 when the input
has one channel (``padding=3 if channel == 1 and d == 0 else 1``) and every other one by 1. A 1-channel
28×28 image (MNIST, PneumoniaMNIST, BreastMNIST) thus becomes 32×32 after the stem, the maps are
32 → 16 → 8 → 4 and ConvNet-3 has 128·4·4 = 2,048 features, as on 32×32 CIFAR. ``stem_padding=None`` (the
default) follows that rule; an integer forces the stem's padding. Until 2026-12-03 this class padded every
convolution by 1 (28 → 14 → 7 → 3, 1,152 features, the last pooling dropping the 7th row and column); that
layout is registered as ``convnet_pad1`` so earlier rows can be reproduced.

One deviation: for 3-channel 28×28 input the reference sizes its classifier as if the input were 32×32
(``if im_size[0] == 28: im_size = (32, 32)``) yet pads by 1, which does not run; we size the classifier from
the real maps (28 → 14 → 7 → 3).

Shapes: ``x`` N×C×H×W → logits N×K. With stem padding ``p`` the stem's map is ``(H + 2p − 2) × (W + 2p − 2)``,
later convolutions keep the size and each pool halves it (integer division), so the feature map after the
blocks is ``width × H'/2^depth × W'/2^depth`` with ``H' = H + 2p − 2``.
"""

from __future__ import annotations

from torch import Tensor, nn

from condensekit.core.registry import check_choice, check_int, is_integer, type_name

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
        stem_padding: padding of the first convolution; ``None`` is the reference's rule (3 for 1-channel
            input, else 1, see the module docstring).

    Attributes:
        stem_padding: the padding the first convolution got.
        feature_dim: ``width × h × w`` after the blocks (1-channel 28×28, ConvNet-3, width 128: 2,048).
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
        stem_padding: int | None = None,
    ) -> None:
        super().__init__()
        check_choice("norm", norm, NORMS)
        check_choice("pooling", pooling, POOLINGS)
        check_int("depth", depth, 1)
        if stem_padding is None:
            stem_padding = 3 if channels == 1 else 1
        valid = "Valid values are None (the reference rule: 3 for 1-channel input, else 1) or an integer >= 0"
        if not is_integer(stem_padding):
            raise ValueError(  # np.int64 is an integer (check_int's rule)
                f"Invalid value {stem_padding!r} for argument stem_padding. {valid} (got {type_name(stem_padding)})"
            )
        if stem_padding < 0:
            raise ValueError(f"Invalid value {stem_padding!r} for argument stem_padding. {valid}")
        stem_padding = self.stem_padding = int(stem_padding)
        layers: list[nn.Module] = []
        c, (h, w) = channels, im_size
        for d in range(depth):
            pad = stem_padding if d == 0 else 1
            h, w = h + 2 * pad - 2, w + 2 * pad - 2
            if h < 1 or w < 1:
                raise ValueError(f"im_size {im_size} is too small for depth {depth} with stem padding {stem_padding}")
            layers += [nn.Conv2d(c, width, 3, padding=pad), _norm(norm, width, (h, w)), nn.ReLU(inplace=True)]
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
