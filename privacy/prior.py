r"""An image prior for sets fit to a private release: a coarse logit grid and a total-variation penalty.

A set fit pixel by pixel to a random-feature embedding keeps the white noise it started from: the gradient of
:math:`\varphi(\mathbf{x}) = [\cos \mathbf{W}\mathbf{x}, \sin \mathbf{W}\mathbf{x}]` lies in the span of the
random frequencies :math:`\mathbf{W}`, which are themselves white noise, so nothing in the loss removes
high-frequency content (a CNN trained on such images generalises badly). Two priors, both pure
post-processing of the release (they never read the private data, so they cost no privacy):

* **coarse grid** (factor :math:`k`): the set is :math:`\mathbf{x}' = \mathrm{sigmoid}(\mathrm{up}_k(\mathbf{u}))`
  with :math:`\mathbf{u} \in \mathbb{R}^{m \times C \times \lceil H/k \rceil \times \lceil W/k \rceil}` and
  :math:`\mathrm{up}_k` bilinear upsampling to the image size (:math:`k` = 1: one logit per pixel);
* **total variation** :math:`\lambda`: the loss adds
  :math:`\lambda \, \lVert \widetilde{\mu}_P \rVert_F^2 \, \mathrm{TV}(\mathbf{x}')`, with
  :math:`\mathrm{TV}` the mean absolute difference of vertically and horizontally adjacent pixels; the factor
  :math:`\lVert \widetilde{\mu}_P \rVert_F^2` (the scale of the embedding loss) makes :math:`\lambda`
  dimensionless.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["GridPrior", "total_variation"]


def total_variation(x: Tensor) -> Tensor:
    """Mean absolute difference between vertically and horizontally adjacent pixels of N×C×H×W ``x``."""
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


@dataclass(frozen=True)
class GridPrior:
    """Images as the sigmoid of a logit map ``downsample`` times coarser than the image, upsampled bilinearly."""

    downsample: int
    im_size: tuple[int, int]

    def __post_init__(self) -> None:
        if not 1 <= self.downsample <= min(self.im_size):
            raise ValueError(
                f"Invalid value {self.downsample!r} for argument downsample. Valid values: 1 (one logit per pixel) "
                f"to {min(self.im_size)} (the image side)"
            )

    def logit_shape(self, n: int, channels: int) -> tuple[int, int, int, int]:
        h, w = (math.ceil(s / self.downsample) for s in self.im_size)
        return (n, channels, h, w)

    def images(self, logits: Tensor) -> Tensor:
        """Pixels in [0, 1] of the images the logits parameterise."""
        if tuple(logits.shape[-2:]) != tuple(self.im_size):
            logits = F.interpolate(logits, size=self.im_size, mode="bilinear", align_corners=False)
        return torch.sigmoid(logits)
