"""flip_edges takes a numpy fraction as the shared checks take a config's rate (any real number), as written:
``np.float32(0.29)`` of 100 edges flips 29, as 0.29 does (its binary value 0.28999999 would flip 28); a bool, a
string or a tensor is refused as before, the refusal naming the type."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.utils import to_undirected

from condensekit.robust.graph_audit import flip_edges


def _hundred_edges() -> Data:
    pairs = torch.combinations(torch.arange(30))[torch.randperm(435, generator=torch.Generator().manual_seed(0))[:100]]
    return Data(x=torch.rand(30, 3), edge_index=to_undirected(pairs.t(), num_nodes=30), num_nodes=30)


@pytest.mark.parametrize(
    ("fraction", "written"),
    [(np.float32(0.29), 0.29), (np.float16(0.29), 0.29), (np.float64(0.29), 0.29), (np.int64(0), 0),
     (np.int8(1), 1), (np.float32(0.5), 0.5)],  # fmt: skip
    ids=lambda v: repr(v),
)
def test_a_numpy_fraction_flips_the_edges_its_python_value_flips(fraction: Any, written: float) -> None:
    g = _hundred_edges()
    got, want = flip_edges(g, fraction, seed=3), flip_edges(g, written, seed=3)
    assert torch.equal(got.edge_index, want.edge_index)


@pytest.mark.parametrize(
    ("bad", "got"), [(np.bool_(True), "; got numpy.bool"), ("0.3", "; got str"), (torch.tensor(0.3), "; got "
                     "torch.Tensor"), (np.float32(1.5), ""), (-0.1, "")],  # fmt: skip
)
def test_what_is_no_fraction_is_refused_naming_the_type(bad: Any, got: str) -> None:
    with pytest.raises(ValueError) as err:
        flip_edges(_hundred_edges(), bad, seed=0)
    assert str(err.value) == (
        f"Invalid value {bad!r} for argument fraction of random_edges. Valid values are in [0, 1] (the share of the "
        f"edges removed, and of non-edges added{got})"
    )
