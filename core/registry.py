"""A small name → factory registry with errors that list the valid names.

Methods, models, datasets and objectives are looked up by name here (as opacus does for its
accountants); the CLI and benchmarks never use ``eval`` or if-chains.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps lower-case names to objects of one kind.

    Args:
        kind: what the registry holds, used in error messages (``"method"``, ``"model"``).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, obj: T | None = None) -> Callable[[T], T] | T:
        """Register ``obj`` under ``name``; used bare or as a decorator ``@reg.register("x")``."""
        key = name.lower()

        def add(item: T) -> T:
            if key in self._items and self._items[key] is not item:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[key] = item
            return item

        return add if obj is None else add(obj)

    def get(self, name: str) -> T:
        """Return the object registered as ``name``; unknown names raise ``ValueError``."""
        key = str(name).lower()
        if key not in self._items:
            raise ValueError(f"Unknown {self.kind} {name!r}. Valid values are {{{', '.join(sorted(self._items))}}}")
        return self._items[key]

    def names(self) -> list[str]:
        return sorted(self._items)

    def parse_names(self, text: str, argument: str) -> list[str]:
        """``"gcn, sgc"`` → ``["gcn", "sgc"]``, each registered (an unknown name raises :meth:`get`'s error); a list
        with no name (``","``, ``""``) raises ``ValueError`` naming ``argument``: a command that evaluates the names
        would evaluate nothing and still replace its record."""
        names = [n.strip() for n in text.split(",") if n.strip()]
        if not names:
            raise ValueError(
                f"Invalid value {text!r} for argument {argument}. Valid values are comma-separated names in "
                f"{{{', '.join(self.names())}}}"
            )
        for name in names:
            self.get(name)
        return names

    def check_names(self, names: object, argument: str) -> list[str]:
        """``names`` (a sequence of registered names) as a list; a plain string (iterated as letters: "Unknown model
        'g'") an empty sequence or an unknown name raises ``ValueError`` naming ``argument``.
        For Python callers; the command line uses :meth:`parse_names`."""
        valid = f"Valid values are non-empty sequences of names in {{{', '.join(self.names())}}}"
        if isinstance(names, str):
            raise ValueError(f"Invalid value {names!r} for argument {argument}. {valid}, e.g. [{names!r}]")
        try:
            out = list(names)  # type: ignore[call-overload]
        except TypeError:
            raise ValueError(f"Invalid value {names!r} for argument {argument}. {valid}") from None
        if not out:
            raise ValueError(f"Invalid value {names!r} for argument {argument}. {valid}")
        for name in out:
            if name not in self:
                known = ", ".join(self.names())
                raise ValueError(f"Unknown {self.kind} {name!r} in argument {argument}. Valid values are {{{known}}}")
        return out

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)


def check_choice(argument: str, value: object, valid: list[str] | tuple[str, ...] | set[str]) -> None:
    """Raise ``ValueError`` naming ``argument`` when ``value`` is not one of ``valid``."""
    if value not in valid:
        raise ValueError(
            f"Unknown value {value!r} for argument {argument}. "
            f"Valid values are {{{', '.join(map(str, sorted(valid)))}}}"
        )


def check_tensor(argument: str, value: object) -> None:
    """Raise ``ValueError`` naming ``argument`` unless ``value`` is a ``torch.Tensor`` (a numpy array failed later,
    e.g. "'ndarray' object has no attribute 'dim'")."""
    import torch

    if not isinstance(value, torch.Tensor):
        raise ValueError(
            f"Invalid value for argument {argument}: a {type(value).__name__}; it must be a torch.Tensor "
            "(torch.from_numpy(array))"
        )


def type_name(value: object) -> str:
    """The type of ``value`` as an error message names it: ``float``, ``numpy.float64``, ``torch.Tensor``."""
    tp = type(value)
    module = tp.__module__.split(".")[0]
    return tp.__qualname__ if module == "builtins" else f"{module}.{tp.__qualname__}"


def _is_bool(value: object) -> bool:
    """A Python or numpy bool (``np.bool_`` is no ``bool`` subclass, nor a ``numbers.Number``)."""
    return isinstance(value, (bool, np.bool_))


def is_integer(value: object) -> bool:
    """An integer by the library's one rule: any :class:`numbers.Integral` (a Python ``int``, ``np.int64``), not a
    Python or numpy bool, a float or a tensor."""
    return not _is_bool(value) and isinstance(value, numbers.Integral)


def is_real(value: object) -> bool:
    """A real number by the library's one rule: any :class:`numbers.Real` (Python or numpy), not a bool or a
    tensor (finiteness is the caller's check)."""
    return not _is_bool(value) and isinstance(value, numbers.Real)


def python_number(value: Any) -> Any:
    """A numpy scalar as the Python value the user wrote; anything else as it is. ``np.int64(5)`` → ``5``,
    ``np.bool_(True)`` → ``True``, and a numpy float as numpy prints it: ``np.float32(0.1)`` → ``0.1``, not its
    binary value ``0.10000000149011612`` (a privacy budget or a fraction of edges is the number written): the shortest
    decimal that is that float32 / float16; a float64 (or wider) is its own value."""
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):  # shortest round-trip digits, whatever np.set_printoptions says
        return float(value) if value.dtype.itemsize >= 8 else float(np.format_float_scientific(value, unique=True))
    return value


def _got(value: object) -> str:
    """`` (got TYPE)``: what a value refused for its type was, so "Valid values are integers" does not read as a
    contradiction of ``np.float64(5.0)``; a tensor is told how to give its number."""
    if type(value).__module__.split(".")[0] == "torch":
        return f" (got {type_name(value)}; pass a number, e.g. value.item())"
    return f" (got {type_name(value)})"


def check_int(argument: str, value: object, low: int) -> None:
    """Raise ``ValueError`` naming ``argument`` unless ``value`` is an integer ``>= low``.

    An integer is any :class:`numbers.Integral`: a Python ``int`` or a numpy integer scalar (``np.int64`` from
    ``np.arange`` or a pandas column); a Python or numpy bool is not one, nor a float (``5.0``, ``np.float64``:
    2.5 ran as 2 under a card recording 2.5), nor a torch tensor (0-d or not: a config would hold it by reference,
    on its device, in its autograd graph; ``.item()`` is its number). A config stores a numpy scalar as the
    Python number (:func:`condensekit.core.config.check_field_types`), so cards stay JSON."""
    if not is_integer(value):
        raise ValueError(
            f"Invalid value {value!r} for argument {argument}. Valid values are integers >= {low}{_got(value)}"
        )
    if value < low:
        raise ValueError(f"Invalid value {value!r} for argument {argument}. Valid values are integers >= {low}")


def _check_real(argument: str, value: object, valid: str, ok: Callable[[Any], bool]) -> None:
    """``value`` a finite real number (Python or numpy, not a bool) for which ``ok`` holds, else ``ValueError``."""
    if not is_real(value):
        raise ValueError(f"Invalid value {value!r} for argument {argument}. Valid values are {valid}{_got(value)}")
    if not ok(value):
        raise ValueError(f"Invalid value {value!r} for argument {argument}. Valid values are {valid}")


def check_positive(argument: str, value: object) -> None:
    """Raise ``ValueError`` naming ``argument`` unless ``value`` is a finite real number ``> 0`` (Python or numpy
    scalar, not a bool or a tensor: see :func:`check_int`; NaN and infinity are refused): learning rates,
    temperatures, scales."""
    _check_real(argument, value, "finite numbers > 0", lambda v: 0 < v < math.inf)


def check_nonnegative(argument: str, value: object) -> None:
    """Raise ``ValueError`` naming ``argument`` unless ``value`` is a finite real number ``>= 0`` (Python or numpy
    scalar, not a bool or a tensor: see :func:`check_int`; NaN and infinity are refused): weights of a loss term,
    ridges, regulariser strengths (0: off)."""
    _check_real(argument, value, "finite numbers >= 0", lambda v: 0 <= v < math.inf)


@dataclass(frozen=True)
class MethodEntry:
    """A registered condensation method: its class, its config dataclass and a one-line description."""

    cls: type
    config: type
    description: str


def method_registrar(registry: Registry[MethodEntry]) -> Callable[[str, type, str], Callable[[Any], Any]]:
    """A class decorator factory ``register(name, config, description)`` that names the class ``name`` and adds
    its :class:`MethodEntry` to ``registry``."""

    def register(name: str, config: type, description: str) -> Callable[[Any], Any]:
        def add(cls: Any) -> Any:
            cls.name = name
            registry.register(name, MethodEntry(cls, config, description))
            return cls

        return add

    return register
