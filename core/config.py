"""Typed config dataclasses ↔ command-line flags.

Each method's configuration is a dataclass with the paper's defaults; the CLI derives its flags
from the fields (``lr_feat`` → ``--lr-feat``), so there is no global ``args`` object.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import types
import typing
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np

from condensekit.core.registry import python_number, type_name

T = TypeVar("T")


def _field_type(cls: type, f: dataclasses.Field[Any]) -> Any:
    hints = typing.get_type_hints(cls)
    tp = hints[f.name]
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, getattr(__import__("types"), "UnionType", None)) and len(args) == 1:
        return args[0]
    return tp


def _parse_bool(text: str) -> bool:
    low = text.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean (true/false), got {text!r}")


def add_dataclass_args(parser: argparse.ArgumentParser, cls: type, *, prefix: str = "") -> None:
    """Add one ``--flag`` per field of ``cls`` (defaults suppressed, so unset flags keep the
    dataclass default). A ``bool`` field's flag takes an optional value: ``--flag`` alone is true."""
    group = parser.add_argument_group(f"{cls.__name__} (defaults from the paper)")
    for f in dataclasses.fields(cls):
        tp = _field_type(cls, f)
        flag = "--" + prefix + f.name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else None
        kwargs: dict[str, Any] = {"dest": prefix + f.name, "default": argparse.SUPPRESS}
        # argparse %-formats help: a literal "27 % less" reads as a "% l" conversion and breaks --help
        help_text = f.metadata.get("help", "").replace("%", "%%")
        if tp is bool:  # --flag alone means true; --flag false (or 0/no/off) turns a true default off
            kwargs["type"] = _parse_bool
            kwargs["metavar"] = "BOOL"
            kwargs["nargs"] = "?"
            kwargs["const"] = True
        elif tp in (int, float, str):
            kwargs["type"] = tp
        elif typing.get_origin(tp) is typing.Literal:
            kwargs["choices"] = list(typing.get_args(tp))
        else:
            continue  # structured fields are not exposed as flags
        kwargs["help"] = f"{help_text} (default: {str(default).replace('%', '%%')})".strip()
        group.add_argument(flag, **kwargs)


def dataclass_from_args(cls: type[T], ns: argparse.Namespace, *, prefix: str = "", **overrides: Any) -> T:
    """Build ``cls`` from the flags that were given, plus ``overrides``."""
    values = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        key = prefix + f.name
        if hasattr(ns, key):
            values[f.name] = getattr(ns, key)
    values.update(overrides)
    return cls(**values)


@functools.cache
def _field_types(cls: type) -> tuple[tuple[str, Any], ...]:
    """``(name, type)`` of every field of ``cls``, ``X | None`` read as ``X``; none when the hints cannot be
    resolved (a hint naming what only a type checker imports: nothing to check by type)."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:
        return ()
    out = []
    for f in dataclasses.fields(cls):
        tp = hints.get(f.name)
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 1:
            tp = args[0]
        out.append((f.name, tp))
    return tuple(out)


def _checked_fields(cls: type) -> tuple[tuple[str, Any], ...]:
    """``(name, type)`` of the fields of ``cls`` whose type :func:`check_field_types` checks: ``bool`` or a
    ``Literal``."""
    return tuple((n, tp) for n, tp in _field_types(cls) if tp is bool or typing.get_origin(tp) is typing.Literal)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (:func:`~condensekit.core.registry.python_number`:
    ``np.int64(5)`` → ``5``, ``np.float32(0.1)`` → ``0.1`` as written, ``np.bool_`` → ``bool``), element-wise in a
    tuple or list; anything else as it is."""
    if isinstance(value, (np.bool_, np.integer, np.floating)):
        return python_number(value)
    if type(value) in (tuple, list) and any(isinstance(v, (np.bool_, np.integer, np.floating)) for v in value):
        return type(value)(_plain(v) for v in value)
    return value


def _int_fields(cls: type) -> frozenset[str]:
    """The fields of ``cls`` annotated ``int`` (or ``int | None``): a numpy float or bool there is refused by its type
    (``got numpy.float64``), not converted to a Python ``float`` / ``bool`` that a config without its own check of the
    field would keep."""
    return frozenset(n for n, tp in _field_types(cls) if tp is int)


def check_field_types(cfg: Any) -> None:
    """Check the fields of the config dataclass ``cfg`` by kind, and store numpy scalars as Python values.

    A field annotated ``bool`` or ``Literal[...]`` that holds anything else raises ``ValueError`` naming the field,
    its value and what is valid (``None`` is allowed where the annotation allows it): a config built in Python is
    not parsed as the CLI's flags are, so ``structure="yes"`` or ``dsa=0`` ran as truthy / falsy. A numpy bool is a
    bool; a Python or numpy integer is not one.

    A numpy scalar in any field (``np.int64`` from ``np.arange`` or a pandas column, ``np.float32``, ``np.bool_``;
    also inside a tuple or list) is then replaced by its Python value, so ``dataclasses.asdict`` of the config stays
    JSON (the card) and a checkpoint's record loads with ``weights_only``; a config held by this one is checked the
    same way. Counts and rates are left to each config's own checks (:func:`~condensekit.core.registry.check_int`,
    :func:`~condensekit.core.registry.check_positive`), which take numpy scalars as numbers and name their range;
    a config calls this first in its ``__post_init__``, and the engine and every domain's entry point call it on a
    method's config before the method is made."""
    if not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        return
    owner = type(cfg).__name__
    for name, tp in _checked_fields(type(cfg)):
        value = getattr(cfg, name)
        if value is None:
            continue  # an ``X | None`` field; a plain ``X`` given None fails in its own check
        if tp is bool:
            ok, word, valid = isinstance(value, (bool, np.bool_)), "Invalid", "True and False"
        else:  # worded as core.registry.check_choice words it
            choices = typing.get_args(tp)
            ok, word, valid = value in choices, "Unknown", "{" + ", ".join(sorted(map(str, choices))) + "}"
        if not ok:
            raise ValueError(
                f"{word} value {value!r} for argument {name}. Valid values are {valid} (a field of {owner}; got "
                f"{type_name(value)})"
            )
    ints = _int_fields(type(cfg))
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if f.name in ints and isinstance(value, (np.floating, np.bool_)):  # not converted to a float or bool
            raise ValueError(  # that a config without its own check of the field would keep (2.5 ran as 2 steps)
                f"Invalid value {value!r} for argument {f.name}. Valid values are integers (a field of {owner}; got "
                f"{type_name(value)})"
            )
        plain = _plain(value)
        if plain is not value:  # a frozen config too: the same value, as the Python type the card can write
            object.__setattr__(cfg, f.name, plain)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            check_field_types(value)


def config_to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def config_with_overrides(cls: type[T], overrides: dict[str, Any] | None, *, owner: str) -> T:
    """``cls(**overrides)``; unknown keys raise ``ValueError`` naming ``owner`` (e.g. ``"method 'mtt'"``)."""
    overrides = dict(overrides or {})
    valid = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise ValueError(f"Unknown config field(s) {unknown} for {owner}. Valid fields are {sorted(valid)}")
    cfg = cls(**overrides)
    check_field_types(cfg)
    return cfg


def parse_config_flags(
    cls: type, argv: list[str], *, prog: str, owner: str, verb: str | None = None, verb_options: Sequence[str] = ()
) -> dict[str, Any]:
    """The fields of ``cls`` given as ``--flags`` in ``argv`` (a method's extra arguments); an unknown flag
    raises ``ValueError`` listing the valid ones.

    ``argv`` holds whatever the verb did not know, so a typo of the verb's own option (``--ipcs``) lands here too:
    given ``verb`` (``"medical condense"``) and its ``verb_options`` (``main`` puts both on the namespace as
    ``verb_prog`` and ``verb_options``), the error lists those beside the method's, or the option meant would be
    in neither list."""
    parser = argparse.ArgumentParser(prog=prog, add_help=False, allow_abbrev=False)  # --syn is not --syn-steps
    add_dataclass_args(parser, cls)
    ns, rest = parser.parse_known_args(argv)
    if rest:
        valid = sorted("--" + a.dest.replace("_", "-") for a in parser._actions if a.dest != "help")
        own = f"; the options of `{verb}` itself are {list(verb_options)}" if verb and verb_options else ""
        raise ValueError(f"Unknown option(s) {rest} for {owner}. Valid options are {valid}{own}")
    return {f.name: getattr(ns, f.name) for f in dataclasses.fields(cls) if hasattr(ns, f.name)}


def method_flags(cls: type, ns: argparse.Namespace, *, prog: str, owner: str) -> dict[str, Any]:
    """:func:`parse_config_flags` of a verb's leftover arguments (``ns.extra``) with the verb's name and options that
    core's ``main`` put on ``ns`` (``verb_prog``, ``verb_options``), so a typo of the verb's own option is listed
    beside the method's flags: the one call every domain's command line makes."""
    return parse_config_flags(
        cls,
        ns.extra,
        prog=prog,
        owner=owner,
        verb=getattr(ns, "verb_prog", None),
        verb_options=getattr(ns, "verb_options", ()),
    )
