from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from condensekit.core.objectives.curvature import CurvatureRegularizer
from condensekit.core.setting import jsonable, setting_diff


@dataclass(frozen=True)
class Cfg:
    lr: float = 0.1
    shape: tuple[int, int] = (2, 3)
    missing: float = math.nan


def test_jsonable_is_the_same_across_objects_and_processes():
    a = jsonable({"cfg": Cfg(), "reg": CurvatureRegularizer(lam=2.0), "t": torch.zeros(2, 3), "f": len})
    b = jsonable({"cfg": Cfg(), "reg": CurvatureRegularizer(lam=2.0), "t": torch.ones(2, 3), "f": len})
    assert a["cfg"]["shape"] == [2, 3] and a["reg"]["lam"] == 2.0
    assert a["t"] == {"tensor": [2, 3], "dtype": "torch.float32"}
    assert a["f"] == "builtins.len" and "0x" not in str(a)
    assert setting_diff(a, b) == []  # NaN compares equal as JSON text


def test_setting_diff_names_changed_and_missing_keys():
    assert setting_diff({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 0}) == ["b", "c"]
    assert setting_diff(jsonable({"r": CurvatureRegularizer(lam=1.0)}), jsonable({"r": None})) == ["r"]
