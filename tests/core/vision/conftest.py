"""Tiny generated image data shared by the vision tests."""

from __future__ import annotations

import pytest
import torch

from condensekit.core.vision.splits import ImageSplits


def make_tiny_images(n_per_class: int = 12, classes: int = 2, size: int = 8, channels: int = 1, seed: int = 0):
    """Class c is a bright square at position c plus noise; train/val/test = n/4/4 per class."""
    gen = torch.Generator().manual_seed(seed)

    def split(k: int):
        y = torch.arange(classes).repeat_interleave(k)
        x = 0.3 * torch.randn(y.numel(), channels, size, size, generator=gen)
        for c in range(classes):
            x[y == c, :, c : c + 3, c : c + 3] += 2.0
        return x, y

    (xt, yt), (xv, yv), (xs, ys) = split(n_per_class), split(4), split(4)
    return ImageSplits(
        name="tiny", x_train=xt, y_train=yt, x_val=xv, y_val=yv, x_test=xs, y_test=ys, num_classes=classes,
        task="multi-class" if classes > 2 else "binary-class", mean=(0.5,) * channels, std=(0.25,) * channels,
    )  # fmt: skip


@pytest.fixture
def tiny_images() -> ImageSplits:
    return make_tiny_images()
