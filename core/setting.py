"""A run's *setting* as plain JSON: what a checkpoint must have been written with to be resumed.

:meth:`condensekit.core.engine.CondensationMethod.setting` returns a dict of the run's data, budget and
method config; the engine stores :func:`jsonable` of it in every checkpoint and, on resume, refuses a
checkpoint whose setting differs (:func:`setting_diff` names the keys). Values are made comparable across
processes: dataclasses become dicts, callables their ``module.qualname``, tensors their shape and dtype, and
any other object whose ``repr`` carries a memory address its type name (so the same setting written by
another process compares equal).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import torch

__all__ = ["jsonable", "setting_diff"]


def _describe(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, torch.Tensor):
        return {"tensor": list(obj.shape), "dtype": str(obj.dtype)}
    if isinstance(obj, (torch.device, torch.dtype)):
        return str(obj)
    if callable(obj) and hasattr(obj, "__qualname__"):
        return f"{getattr(obj, '__module__', '?')}.{obj.__qualname__}"
    text = repr(obj)
    return type(obj).__qualname__ if " at 0x" in text else text


def jsonable(value: Any) -> Any:
    """``value`` as JSON types (dict keys as strings, tuples as lists), via :func:`_describe` where needed."""
    return json.loads(json.dumps(value, default=_describe, sort_keys=True))


def setting_diff(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Top-level keys whose values differ between two :func:`jsonable` settings (a key missing on one side
    differs), sorted. Values are compared as JSON text, so a NaN equals a NaN."""
    missing = object()

    def text(value: Any) -> str:
        return "<missing>" if value is missing else json.dumps(value, sort_keys=True)

    keys = sorted(set(saved) | set(current))
    return [k for k in keys if text(saved.get(k, missing)) != text(current.get(k, missing))]
