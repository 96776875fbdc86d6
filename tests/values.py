"""``same_value``: two results are the same value of the same Python type, through tensors, dicts and lists, for the
tests that a numpy argument gives what the Python value gives (and stores the Python value)."""

from __future__ import annotations

from typing import Any

import torch


def same_value(a: Any, b: Any) -> bool:
    """Equal tensors; dicts and lists equal item by item; anything else equal and of the very same type."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return (type(a) is type(b) and len(a) == len(b)
                and all(same_value(x, y) for x, y in zip(a, b, strict=True)))  # fmt: skip
    if isinstance(a, float) and a != a:  # NaN is the same value as NaN
        return type(b) is float and b != b
    return type(a) is type(b) and a == b
