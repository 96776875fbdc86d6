"""Config dataclasses built in Python are checked by kind at the entry points: a bool given as "yes" or a Literal
outside its choices is refused by name instead of running as truthy."""

import dataclasses
from typing import Literal

import pytest
import torch
from torch_geometric.data import Data

from condensekit.core.config import check_field_types, config_with_overrides
from condensekit.core.vision.methods import condense_images
from condensekit.core.vision.methods.dm import DMConfig
from condensekit.graph import condense_nodes
from condensekit.graph.methods import GCondConfig
from condensekit.robust import AttackConfig, GuardConfig
from tests.core.vision.conftest import make_tiny_images


@dataclasses.dataclass(frozen=True)
class Toy:
    flag: bool = True
    count: int = 3
    rate: float = 0.5
    kind: Literal["a", "b"] = "a"
    maybe: int | None = None
    name: str = "x"


def test_the_kinds_are_checked() -> None:
    check_field_types(Toy())
    check_field_types(Toy(rate=1, count=2.5, maybe=None))  # counts and rates: each config's own checks name the range
    for field, value, valid in [
        ("flag", "yes", "True and False"),
        ("flag", 0, "True and False"),
        ("kind", "c", "{a, b}"),
    ]:
        with pytest.raises(ValueError, match=f"value {value!r} for argument {field}. Valid values are {valid}"):
            check_field_types(Toy(**{field: value}))
    with pytest.raises(ValueError, match="argument flag. .*a field of Toy"):
        config_with_overrides(Toy, {"flag": "no"}, owner="toy")


def _graph() -> Data:
    n = 24
    y = torch.arange(n) % 2
    src = torch.arange(n)
    ei = torch.cat([torch.stack([src, (src + 1) % n]), torch.stack([(src + 1) % n, src])], dim=1)
    m = lambda lo, hi: (src >= lo) & (src < hi)  # noqa: E731
    return Data(x=torch.randn(n, 3) + y[:, None], edge_index=ei, y=y, train_mask=m(0, 12), val_mask=m(12, 18),
                test_mask=m(18, n))  # fmt: skip


def test_the_entry_points_refuse_a_wrong_kind_before_any_work() -> None:
    cfg = GCondConfig(epochs=1, outer_loop=1, inner_loop=1, hidden=8, pge_hidden=8)
    with pytest.raises(
        ValueError,
        match="Invalid value 'yes' for argument structure. Valid values are True and False .a field of GCondConfig",
    ):
        condense_nodes(_graph(), "gcond", budget=4, config=dataclasses.replace(cfg, structure="yes"), progress=False,
                       eval_every=0, device="cpu")  # fmt: skip
    with pytest.raises(ValueError, match="argument structure. .*GCondConfig"):
        condense_nodes(_graph(), "gcond", budget=4, config={"structure": 1}, progress=False, device="cpu")
    data = make_tiny_images()
    with pytest.raises(ValueError, match="Invalid value 'yes' for argument dsa. .*DMConfig"):
        condense_images(data, "dm", ipc=1, domain="t", config=DMConfig(iterations=1, dsa="yes"), progress=False)
    with pytest.raises(ValueError, match="Invalid value 0 for argument dsa. .*DMConfig"):
        condense_images(data, "dm", ipc=1, domain="t", config={"iterations": 1, "dsa": 0}, progress=False)
    with pytest.raises(ValueError, match="argument teacher. .*GuardConfig"):
        GuardConfig(teacher="yes")
    with pytest.raises(ValueError, match="argument fold_bn. .*AttackConfig"):
        AttackConfig(fold_bn="yes")
