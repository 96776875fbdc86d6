"""Tiny generated image data shared by the robust tests."""

from __future__ import annotations

import torch

from condensekit.core.vision import ImageSplits


def make_toy_images(k: int = 3, per: int = 8) -> ImageSplits:
    """``k`` classes of ``per`` 1×6×6 images; class c has a bright band at rows 2c, 2c + 1 (val = test = train[:6])."""
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(k).repeat(per)
    x = torch.randn(len(y), 1, 6, 6, generator=gen)
    for c in range(k):
        x[y == c, :, 2 * c : 2 * c + 2] += 1.5
    return ImageSplits("toy", x, y, x[:6], y[:6], x[:6], y[:6], num_classes=k, mean=(0.5,), std=(0.25,))
