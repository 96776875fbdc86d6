"""Small fully connected image classifiers: logistic regression and a one-hidden-layer MLP.

These are the LR and MLP rows of the DP generative-model tables (DP-MERF, DPDM): the image is
flattened, ``LogReg`` is one linear layer, ``MLP`` is ``linear(hidden) → ReLU → linear``.

Shapes: ``x`` N×C×H×W → logits N×K.
"""

from __future__ import annotations

from torch import Tensor, nn


class LogReg(nn.Module):
    """Multinomial logistic regression on the flattened image."""

    def __init__(self, channels: int, num_classes: int, im_size: tuple[int, int] = (28, 28)) -> None:
        super().__init__()
        self.feature_dim = channels * im_size[0] * im_size[1]
        self.classifier = nn.Linear(self.feature_dim, num_classes)

    def embed(self, x: Tensor) -> Tensor:
        return x.flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.embed(x))


class MLP(nn.Module):
    """``flatten → linear(hidden) → [BatchNorm1d] → ReLU → linear(K)``.

    Args:
        hidden: width of the hidden layer (100 in DP-MERF's MNIST evaluation).
        batchnorm: a BatchNorm1d after the hidden layer (``mlp_bn``: a teacher whose batch statistics
            SRe2L's recovery can match); off by default.
    """

    def __init__(
        self,
        channels: int,
        num_classes: int,
        im_size: tuple[int, int] = (28, 28),
        *,
        hidden: int = 100,
        batchnorm: bool = False,
    ) -> None:
        super().__init__()
        norm: list[nn.Module] = [nn.BatchNorm1d(hidden)] if batchnorm else []
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(channels * im_size[0] * im_size[1], hidden), *norm, nn.ReLU())
        self.feature_dim = hidden
        self.classifier = nn.Linear(hidden, num_classes)

    def embed(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.embed(x))
