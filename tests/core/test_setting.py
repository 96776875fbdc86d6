from __future__ import annotations

import functools
import json
import math
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from condensekit.core.objectives.curvature import CurvatureRegularizer
from condensekit.core.setting import jsonable, setting_diff, tensor_digest


@dataclass(frozen=True)
class Cfg:
    lr: float = 0.1
    shape: tuple[int, int] = (2, 3)
    missing: float = math.nan


def scaled(k: float) -> Callable[[float], float]:
    """A closure: the same name whatever ``k``."""
    return lambda x: x * k


def power(x: float, p: float = 2.0) -> float:
    return x**p


def test_jsonable_is_the_same_across_objects_and_processes():
    a = jsonable({"cfg": Cfg(), "reg": CurvatureRegularizer(lam=2.0), "t": torch.zeros(2, 3), "f": len})
    b = jsonable({"cfg": Cfg(), "reg": CurvatureRegularizer(lam=2.0), "t": torch.zeros(2, 3), "f": len})
    assert a["cfg"]["shape"] == [2, 3] and a["reg"]["lam"] == 2.0
    assert a["t"] == {"tensor": [2, 3], "dtype": "torch.float32", "sha256": tensor_digest(torch.zeros(2, 3))}
    assert a["f"] == "builtins.len" and "0x" not in str(a)
    assert setting_diff(a, b) == []  # NaN compares equal as JSON text


def test_plain_callables_are_recorded_as_before():
    """What checkpoints written before closures and digests recorded: a module-level function (defaults and
    all), a class, a builtin and the curvature term's loss keep their name, so those checkpoints still resume."""
    reg = jsonable(CurvatureRegularizer(lam=2.0))
    assert reg == {"direction": "reference", "eval_mode": True, "h": 3.0, "lam": 2.0,
                   "loss": "condensekit.core.objectives.curvature._per_sample_ce", "reduction": "mean"}  # fmt: skip
    assert jsonable([power, Cfg, len, torch.relu]) == [f"{__name__}.power", f"{__name__}.Cfg", "builtins.len",
                                                       "torch._VariableFunctionsClass.relu"]  # fmt: skip


def test_tensors_compare_by_content():
    """Another initial tensor of the same shape and dtype is another setting (it resumed silently)."""
    t = torch.arange(6.0).reshape(2, 3)
    assert setting_diff(jsonable({"init": t}), jsonable({"init": t.clone()})) == []
    assert setting_diff(jsonable({"init": t}), jsonable({"init": t + 1})) == ["init"]
    assert setting_diff(jsonable({"init": t}), jsonable({"init": t.double()})) == ["init"]
    assert setting_diff(jsonable({"init": t}), jsonable({"init": t.t().contiguous().t()})) == []  # layout: no
    assert tensor_digest(torch.tensor([1.0])) != tensor_digest(torch.tensor([1.0 + 1e-7]))
    assert tensor_digest(torch.zeros(0)) == tensor_digest(torch.zeros(0, 3))  # no bytes: shape tells them apart
    with pytest.raises(ValueError, match="dense .* got layout torch.sparse_coo"):
        tensor_digest(torch.eye(2).to_sparse())


def test_callables_compare_by_what_they_are_bound_to():
    """A lambda, closure or partial of another argument was the same setting by name; now it is another."""

    def with_default(x: float, k: float = 3.0) -> float:
        return x * k

    assert setting_diff(jsonable({"f": scaled(2.0)}), jsonable({"f": scaled(2.0)})) == []
    assert setting_diff(jsonable({"f": scaled(2.0)}), jsonable({"f": scaled(3.0)})) == ["f"]
    assert setting_diff(jsonable({"f": scaled(torch.ones(2))}), jsonable({"f": scaled(torch.zeros(2))})) == ["f"]
    p2, p3 = functools.partial(power, p=2.0), functools.partial(power, p=3.0)
    assert setting_diff(jsonable({"f": p2}), jsonable({"f": functools.partial(power, p=2.0)})) == []
    assert setting_diff(jsonable({"f": p2}), jsonable({"f": p3})) == ["f"]
    assert jsonable(p3) == {"partial": f"{__name__}.power", "args": [], "keywords": {"p": 3.0}}
    assert jsonable(scaled(2.0)) == {"callable": f"{__name__}.scaled.<locals>.<lambda>", "closure": {"k": 2.0}}
    assert jsonable(with_default)["defaults"] == [3.0]
    reg = CurvatureRegularizer(lam=1.0)
    assert jsonable(reg.__call__)["self"]["lam"] == 1.0  # a bound method: its object's fields
    assert setting_diff(jsonable({"m": reg.__call__}), jsonable({"m": CurvatureRegularizer(lam=2.0).__call__}))
    assert jsonable(torch.ones(1).mul)["self"]["sha256"] == tensor_digest(torch.ones(1))


def test_a_recursive_closure_is_described_once():
    def countdown(n: int) -> int:
        return 0 if n == 0 else countdown(n - 1)

    out = jsonable(countdown)
    assert out["closure"]["countdown"] == {"callable": out["callable"], "recursive": True}


def test_an_old_record_of_a_tensor_or_closure_is_refused():
    """A record written before digests and closures were described cannot tell whether the tensor or the bound
    values were the same: setting_diff names it, so the engine refuses the checkpoint."""
    old = {"init": {"tensor": [2, 3], "dtype": "torch.float32"}, "f": f"{__name__}.scaled.<locals>.<lambda>",
           "lr": 0.1}  # fmt: skip
    assert setting_diff(old, jsonable({"init": torch.zeros(2, 3), "f": scaled(2.0), "lr": 0.1})) == ["f", "init"]


def test_the_description_is_the_same_in_another_process():
    value = {"t": torch.arange(5.0), "f": scaled(2.0), "p": functools.partial(power, p=3.0)}
    code = (
        "import json, functools, torch; from condensekit.core.setting import jsonable; "
        f"from {__name__} import scaled, power; "
        "print(json.dumps(jsonable({'t': torch.arange(5.0), 'f': scaled(2.0), 'p': functools.partial(power, p=3.0)})))"
    )
    root = Path(__file__).resolve().parents[__name__.count(".")]  # where this module imports by its own name
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == jsonable(value)


def test_setting_diff_names_changed_and_missing_keys():
    assert setting_diff({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 0}) == ["b", "c"]
    assert setting_diff(jsonable({"r": CurvatureRegularizer(lam=1.0)}), jsonable({"r": None})) == ["r"]
