"""Class labels: the one check that a tensor holds N integer class indices, for every domain's evaluation."""

from __future__ import annotations

import torch
from torch import Tensor


def check_class_indices(y: Tensor, num_classes: int, argument: str, needs: str, also: str = "") -> None:
    """Raise ``ValueError`` naming ``argument`` unless ``y`` holds N integer class indices in [0, ``num_classes``)
    (N×1 is read as N): float, complex or bool labels, another shape, or a label out of range. ``needs`` opens the
    "what is valid" clause (``"task 'binary-class' needs"``); ``also`` names another valid form (soft labels)."""
    if (
        y.is_floating_point()
        or y.is_complex()
        or y.dtype == torch.bool
        or not (y.dim() == 1 or (y.dim() == 2 and y.shape[1] == 1))
    ):
        raise ValueError(
            f"{argument} has shape {tuple(y.shape)} and dtype {y.dtype}; {needs} N integer class indices in "
            f"[0, {num_classes}) (int64: y.long()){also}"
        )
    if y.numel():
        low, high = int(y.min()), int(y.max())
        if low < 0 or high >= num_classes:
            raise ValueError(
                f"{argument} holds labels in [{low}, {high}]; valid labels are 0 .. {num_classes - 1} "
                f"(num_classes={num_classes})"
            )
