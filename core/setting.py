"""A run's *setting* as plain JSON: what a checkpoint must have been written with to be resumed.

:meth:`condensekit.core.engine.CondensationMethod.setting` returns a dict of the run's data, budget and
method config; the engine stores :func:`jsonable` of it in every checkpoint and, on resume, refuses a
checkpoint whose setting differs (:func:`setting_diff` names the keys). Values are made comparable across
processes, by what they hold and never by where they sit in memory:

* dataclasses become dicts of their fields;
* tensors their shape, dtype and a SHA-256 digest of their bytes (:func:`tensor_digest`), so another tensor
  of the same shape (another initialisation) is another setting;
* callables their ``module.qualname``, as a plain string when that is all they are (a module-level function,
  whose defaults are its source's like its body; a class; a builtin); a function made inside another (a
  ``<locals>`` name: a lambda or closure built at run time) that carries values (closure cells, default
  arguments) becomes ``{"callable": name, "closure": {cell: value}, "defaults": [...], "kwdefaults": {...}}``
  (only the parts it has), a bound method ``{"callable": name, "self": ...}`` and a :func:`functools.partial`
  ``{"partial": func, "args": [...], "keywords": {...}}``, each value described by these same rules;
* any other object by its ``repr``, or its type name where the ``repr`` carries a memory address.

A closure cell or bound ``self`` that is itself such an object (a module, an optimiser) is compared by its
type name alone: what the rules can see of it. A function whose closure refers to itself is described once
(``{"callable": name, "recursive": true}`` inside).

Records written before tensors and closures were described so (``{"tensor": shape, "dtype": ...}`` without a
digest; a lambda, a closure or a partial by name) differ from today's description of the same value, so a
checkpoint holding one is refused: its record cannot tell whether the tensor or the bound values were the same.
Every other record (plain functions, dataclasses, numbers, strings) is written as before and compares as before.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import types
from typing import Any

import torch

__all__ = ["jsonable", "setting_diff", "tensor_digest"]


def tensor_digest(t: torch.Tensor) -> str:
    """SHA-256 (hex) of a tensor's values as they lie in memory, row-major, on the CPU.

    The bytes hashed are those of a contiguous CPU copy (a CUDA tensor is copied to the host: one device
    sync, once per description, never inside a step), so the digest is the same on every device and process
    for the same values. Cost: one pass of SHA-256 over the tensor (about 0.2-0.5 GB/s on one core), paid each
    time a setting is described (the engine does so once per run, and once more on a resume); it is not cached,
    because a cache keyed on the tensor object would miss writes made through ``.data`` or a NumPy view (they do
    not bump the tensor's version counter). Dense (strided) tensors only: a sparse tensor is refused by name.
    """
    if t.layout != torch.strided:
        raise ValueError(f"Argument t must be a dense (strided) tensor to be digested, got layout {t.layout}")
    flat = t.detach().to("cpu").contiguous().reshape(-1)
    raw = flat.view(torch.uint8) if flat.numel() else flat.new_empty(0, dtype=torch.uint8)
    return hashlib.sha256(memoryview(raw.numpy())).hexdigest()


def _named(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{obj.__qualname__}"


#: Functions being described, by ``id`` (never written out): a closure that refers to its own function.
_describing: set[int] = set()


def _function(fn: types.FunctionType) -> str | dict[str, Any]:
    name = _named(fn)
    if "<locals>" not in fn.__qualname__:
        return name  # module level: its defaults are its source's, like its body (and records stay as they were)
    cells, defaults, kwdefaults = fn.__closure__, fn.__defaults__, fn.__kwdefaults__
    if not (cells or defaults or kwdefaults):
        return name
    if id(fn) in _describing:
        return {"callable": name, "recursive": True}
    _describing.add(id(fn))
    try:
        out: dict[str, Any] = {"callable": name}
        if cells:
            out["closure"] = {var: _cell(cell) for var, cell in zip(fn.__code__.co_freevars, cells, strict=True)}
        if defaults:
            out["defaults"] = jsonable(list(defaults))
        if kwdefaults:
            out["kwdefaults"] = jsonable(kwdefaults)
        return out
    finally:
        _describing.discard(id(fn))


def _cell(cell: Any) -> Any:
    try:
        value = cell.cell_contents
    except ValueError:  # a name of the enclosing function not bound yet when the setting is described
        return "<unbound>"
    return jsonable(value)


def _describe(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, torch.Tensor):
        return {"tensor": list(obj.shape), "dtype": str(obj.dtype), "sha256": tensor_digest(obj)}
    if isinstance(obj, (torch.device, torch.dtype)):
        return str(obj)
    if isinstance(obj, functools.partial):
        return {"partial": jsonable(obj.func), "args": jsonable(list(obj.args)), "keywords": jsonable(obj.keywords)}
    if isinstance(obj, types.FunctionType):
        return _function(obj)
    if isinstance(obj, types.MethodType):  # a bound method: what it is bound to counts
        return {"callable": _named(obj.__func__), "self": jsonable(obj.__self__)}
    if isinstance(obj, types.BuiltinMethodType) and not isinstance(obj.__self__, (types.ModuleType, type, type(None))):
        return {"callable": _named(obj), "self": jsonable(obj.__self__)}  # a builtin bound to a value (t.mul)
    if callable(obj) and hasattr(obj, "__qualname__"):  # a class, a builtin
        return _named(obj)
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
