"""A config built from numpy values (a sweep over ``np.arange``, a row of a pandas frame) is taken by value: numpy
integers are integers, numpy floats are numbers, ``np.bool_`` is a bool, and the config stores the Python value so
its card is JSON. A bool is still no integer, a float no count, and a torch tensor no number; a refusal names the
type it got, so "Invalid value np.float64(5.0) ... Valid values are integers" does not read as a contradiction."""

from __future__ import annotations

import dataclasses
import importlib
import json
import pkgutil
import typing
from typing import Any, Literal

import numpy as np
import pytest
import torch

from condensekit.core.config import check_field_types, config_with_overrides
from condensekit.core.registry import MethodEntry, check_int, check_nonnegative, check_positive, python_number
from condensekit.core.vision.methods import IMAGE_METHODS
from condensekit.graph.level.methods import GRAPH_METHODS
from condensekit.graph.methods import NODE_METHODS
from condensekit.privacy.base import PRIVACY_METHODS

INTS = [np.int8(3), np.int16(3), np.int32(3), np.int64(3), np.uint8(3), np.uint64(3)]


@pytest.mark.parametrize("value", INTS, ids=lambda v: type(v).__name__)
def test_numpy_integers_are_integers_and_numbers(value: Any) -> None:
    check_int("iterations", value, 1)
    check_positive("lr", value)
    check_nonnegative("tv", value)


@pytest.mark.parametrize("value", [np.float16(0.5), np.float32(0.5), np.float64(0.5)], ids=lambda v: type(v).__name__)
def test_numpy_floats_are_numbers_not_counts(value: Any) -> None:
    check_positive("lr", value)
    check_nonnegative("tv", value)
    with pytest.raises(ValueError, match=rf"integers >= 1 \(got numpy\.{type(value).__name__}\)$"):
        check_int("iterations", value, 1)


@pytest.mark.parametrize(
    ("value", "got"),
    [
        (np.float64(5.0), "numpy.float64"),  # the case that read "5 is not an integer"
        (5.0, "float"),
        (True, "bool"),
        (np.bool_(True), "numpy.bool"),
        ("5", "str"),
        (None, "NoneType"),
        (torch.tensor(5), "torch.Tensor; pass a number, e.g. value.item()"),  # 0-d: refused, and told the fix
    ],
)
def test_a_value_refused_for_its_type_is_told_its_type(value: Any, got: str) -> None:
    with pytest.raises(ValueError) as err:
        check_int("iterations", value, 1)
    assert str(err.value).startswith(f"Invalid value {value!r} for argument iterations. Valid values are integers >= 1")
    assert str(err.value).endswith(f"(got {got})")


@pytest.mark.parametrize("check", [check_positive, check_nonnegative])
@pytest.mark.parametrize(
    ("value", "got"),
    [(np.bool_(False), "numpy.bool"), (True, "bool"), ("0.1", "str"), (torch.tensor(0.1), "torch.Tensor")],
)
def test_a_number_check_names_the_type_it_refused(check: Any, value: Any, got: str) -> None:
    with pytest.raises(ValueError, match=rf"argument lr\. Valid values are finite numbers >=? 0 \(got {got}"):
        check("lr", value)


@pytest.mark.parametrize(
    ("check", "value", "text"),
    [
        (lambda v: check_int("iterations", v, 1), np.int64(0), "Invalid value np.int64(0) for argument iterations. "
                                                               "Valid values are integers >= 1"),
        (lambda v: check_positive("lr", v), np.float32(-1.0), "Invalid value np.float32(-1.0) for argument lr. "
                                                              "Valid values are finite numbers > 0"),
        (lambda v: check_positive("lr", v), np.float64("nan"), "Invalid value np.float64(nan) for argument lr. "
                                                               "Valid values are finite numbers > 0"),
        (lambda v: check_nonnegative("tv", v), np.float32("inf"), "Invalid value np.float32(inf) for argument tv. "
                                                                  "Valid values are finite numbers >= 0"),
    ],
)  # fmt: skip
def test_a_value_of_the_right_type_out_of_range_is_told_the_range_only(check: Any, value: Any, text: str) -> None:
    with pytest.raises(ValueError) as err:
        check(value)
    assert str(err.value) == text


@dataclasses.dataclass(frozen=True)
class Inner:
    width: int = 4


@dataclasses.dataclass(frozen=True)
class Toy:
    flag: bool = True
    count: int = 3
    rate: float = 0.5
    kind: Literal["a", "b"] = "a"
    maybe: int | None = None
    steps: tuple[int, ...] = ()
    inner: Inner = dataclasses.field(default_factory=Inner)


def test_check_field_types_stores_numpy_scalars_as_python_values() -> None:
    cfg = Toy(flag=np.bool_(False), count=np.int64(7), rate=np.float32(0.25), maybe=np.int32(2),
              steps=(np.int64(1), 2), inner=Inner(width=np.int16(8)))  # fmt: skip
    check_field_types(cfg)
    assert dataclasses.astuple(cfg) == (False, 7, 0.25, "a", 2, (1, 2), (8,))
    kinds = [type(v) for v in (cfg.flag, cfg.count, cfg.rate, cfg.maybe, *cfg.steps, cfg.inner.width)]
    assert kinds == [bool, int, float, int, int, int, int]
    assert json.loads(json.dumps(dataclasses.asdict(cfg)))["count"] == 7  # np.int64 was "not JSON serializable"
    assert config_with_overrides(Toy, {"count": np.int64(5)}, owner="toy").count.__class__ is int


@pytest.mark.parametrize(("value", "got"), [(np.int64(1), "numpy.int64"), (1, "int"), ("yes", "str")])
def test_a_bool_field_takes_python_and_numpy_bools_only(value: Any, got: str) -> None:
    with pytest.raises(ValueError) as err:
        check_field_types(Toy(flag=value))
    assert str(err.value) == (
        f"Invalid value {value!r} for argument flag. Valid values are True and False (a field of Toy; got {got})"
    )


# ---------------------------------------------------------------------------------------------------------------
# every config of the library


def _library_configs() -> dict[str, type]:
    """Every dataclass named ``*Config`` defined in a condensekit module (importing each module registers every
    method, so the registries below are complete too)."""
    out = {}
    for pkg in ("core", "graph", "medical", "privacy", "robust"):
        root = importlib.import_module(f"condensekit.{pkg}")
        for info in pkgutil.walk_packages(root.__path__, f"{root.__name__}."):
            module = importlib.import_module(info.name)
            for name, obj in vars(module).items():
                if (isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == module.__name__
                        and name.endswith("Config")):  # fmt: skip
                    out[f"{module.__name__.removeprefix('condensekit.')}.{name}"] = obj
    return out


CONFIGS = _library_configs()


def _registered_configs() -> dict[str, type]:
    """Every method config the method registries expose (node, graph-level, image, private), by ``kind/method``."""
    out = {}
    for reg in (NODE_METHODS, GRAPH_METHODS, IMAGE_METHODS, PRIVACY_METHODS):
        for name in reg.names():
            entry = reg.get(name)
            assert isinstance(entry, MethodEntry)
            out[f"{reg.kind}/{name}"] = entry.config
    return out


def _numpy_kwargs(cls: type) -> dict[str, Any]:
    """Every ``int``, ``float`` and ``bool`` field of ``cls`` that has a default, as a numpy scalar of that default
    (a required ``int``: ``np.int64(1)``)."""
    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else None
        tp = hints[f.name]
        if tp is bool and isinstance(default, bool):
            out[f.name] = np.bool_(default)
        elif tp is int and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            out[f.name] = np.int64(1)
        elif tp is int and isinstance(default, int) and not isinstance(default, bool):
            out[f.name] = np.int64(default)
        elif tp is float and isinstance(default, (int, float)) and not isinstance(default, bool):
            out[f.name] = np.float32(default) if np.float32(default) == default else np.float64(default)
    return out


#: The configs with a count, rate or flag (``RandomRealConfig`` has one ``Literal`` field only).
NUMERIC = sorted(name for name, cls in CONFIGS.items() if _numpy_kwargs(cls))


def test_the_walk_finds_the_configs_of_every_domain() -> None:
    assert len(NUMERIC) >= 30
    for name in ("core.engine.EngineConfig", "core.vision.methods.mtt.MTTConfig", "graph.methods.gcdm.GCDMConfig",
                 "medical.ptm.PTMConfig", "privacy.psg.PSGConfig", "robust.attacks.AttackConfig"):  # fmt: skip
        assert name in CONFIGS
    registered = _registered_configs()
    assert {"image method/mtt", "image method/ptm", "method/gcond", "graph-level method/kidd", "privacy method/psg",
            "privacy method/dp-merf-condensed"} <= set(registered)  # fmt: skip
    assert set(registered.values()) <= set(CONFIGS.values())


@pytest.mark.parametrize("name", NUMERIC)
def test_every_config_takes_numpy_scalars_and_writes_json(name: str) -> None:
    """Built from numpy scalars in every count, rate and flag at once, each config is made (the checks take them),
    and after :func:`check_field_types` (what every entry point and the engine run on a method's config) it holds
    the Python values: ``asdict`` is JSON and equal to the config built from Python values."""
    cls = CONFIGS[name]
    kwargs = _numpy_kwargs(cls)
    cfg = cls(**kwargs)
    check_field_types(cfg)
    plain = cls(**{k: python_number(v) for k, v in kwargs.items()})  # np.float32(0.01): 0.01 as written
    assert json.dumps(dataclasses.asdict(cfg)) == json.dumps(dataclasses.asdict(plain))
    for key in kwargs:
        assert type(getattr(cfg, key)) is type(getattr(plain, key)), key


@pytest.mark.parametrize("name", sorted(_registered_configs()))
def test_every_registered_method_config_built_from_flags_or_a_dict_holds_python_values(name: str) -> None:
    """The command line and ``config=dict`` build a method's config through :func:`config_with_overrides`: numpy
    values come out as Python values; a bool given for a bool field as ``np.bool_`` is a bool."""
    cls = _registered_configs()[name]
    kwargs = _numpy_kwargs(cls)
    cfg = config_with_overrides(cls, kwargs, owner=name)
    for key, value in kwargs.items():
        want = python_number(value)
        assert getattr(cfg, key) == want and type(getattr(cfg, key)) is type(want), key


# Every config calls check_field_types(self) first in __post_init__: built from numpy scalars, it holds Python
# values from the start (an EngineConfig built in Python from np.int64 wrote a checkpoint that weights_only could
# not load).
@pytest.mark.parametrize("name", NUMERIC)
def test_every_config_stores_python_values_when_it_is_made(name: str) -> None:
    cls = CONFIGS[name]
    cfg = cls(**_numpy_kwargs(cls))
    held = {f.name: type(getattr(cfg, f.name)).__module__ for f in dataclasses.fields(cfg)}
    assert not [k for k, module in held.items() if module == "numpy"], held


def test_a_numpy_float_is_stored_as_written_and_refused_for_a_count_by_its_type() -> None:
    """One rule for numpy floats everywhere (core.registry.python_number): ``np.float32(0.1)`` is the 0.1 written,
    not its binary value 0.10000000149 (a privacy budget must be the one asked for); given for a count, it is left as
    given so the refusal names ``numpy.float64`` (converted first, it read "(got float)")."""
    from condensekit.core.engine import EngineConfig
    from condensekit.core.vision.methods.mtt import MTTConfig
    from condensekit.privacy.accounting import check_epsilon
    from condensekit.privacy.dp_merf import DPMERFConfig

    assert MTTConfig(lr_img=np.float32(0.1)).lr_img == 0.1 and DPMERFConfig(epsilon=np.float32(0.1)).epsilon == 0.1
    assert check_epsilon(np.float32(0.1)) == 0.1 and python_number(np.float64(0.1)) == 0.1
    for make, name in ((lambda: MTTConfig(iterations=np.float64(5.0)), "iterations"),
                       (lambda: EngineConfig(steps=np.float64(3.0)), "steps")):  # fmt: skip
        refusal = rf"argument {name}\. Valid values are integers .*got numpy\.float64\)"
        with pytest.raises(ValueError, match=refusal):
            make()


def _int_fields_of_every_config() -> list[tuple[str, str]]:
    """``(config, field)`` for every field annotated ``int`` (or ``int | None``) of every config of the library."""
    out = []
    for name, cls in sorted(CONFIGS.items()):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            tp = hints[f.name]
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if tp is int or (len(args) == 1 and args[0] is int and len(typing.get_args(tp)) == 2):
                out.append((name, f.name))
    return out


@pytest.mark.parametrize(("name", "field_name"), _int_fields_of_every_config())
@pytest.mark.parametrize("bad", [np.float64(2.5), np.float32(3.0), np.True_], ids=repr)
def test_every_int_field_of_every_config_refuses_a_numpy_non_integer(name: str, field_name: str, bad: object) -> None:
    """A numpy float or bool for a count is refused by every config, naming the field and the numpy type: converted,
    it became a Python float or bool that a config without its own check of the field kept (a graph-level steps of
    2.5 ran 2 steps under a card recording 2.5)."""
    cls = CONFIGS[name]
    required = {f.name: 1 for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}  # fmt: skip
    with pytest.raises(ValueError, match=rf"argument {field_name}\. Valid values are integers.*\(.*got numpy\."):
        cls(**(required | {field_name: bad}))


def test_python_number_ignores_numpy_print_options() -> None:
    """``np.set_printoptions(legacy="1.13")`` prints a float64 with 12 digits: converting through ``str`` cut it."""
    old = np.get_printoptions()
    try:
        np.set_printoptions(legacy="1.13")
        assert python_number(np.float64(0.1234567890123456)) == 0.1234567890123456
        assert python_number(np.float32(0.1)) == 0.1
    finally:
        np.set_printoptions(**old)
