"""The Python API's split: fixed by ``split_seed`` (default 0, as the CLI's), not by the condensation ``seed``."""

from __future__ import annotations

import pytest
import torch

from condensekit.graph.level.condense import condense_graphs
from condensekit.graph.level.data import graphset_from_list


def test_the_python_api_keeps_split_zero_when_the_condensation_seed_changes(tiny_graphs) -> None:
    """condense_graphs(data, ..., seed=s) drew the split with s (the CLI's --seed did until it got --split-seed):
    each seed was condensed from other training graphs and scored on another test split."""
    split0 = graphset_from_list(tiny_graphs, seed=0)
    cs = condense_graphs(tiny_graphs, "random", gpc=2, seed=3, progress=False, device="cpu")
    assert (cs.card["seed"], cs.card["source"]["split"]["seed"]) == (3, 0)
    assert not torch.equal(graphset_from_list(tiny_graphs, seed=3).test_idx, split0.test_idx)  # the split it took
    cs1 = condense_graphs(tiny_graphs, "random", gpc=2, seed=3, split_seed=1, progress=False, device="cpu")
    assert (cs1.card["seed"], cs1.card["source"]["split"]["seed"]) == (3, 1)


def test_split_seed_is_checked_and_a_graph_set_keeps_its_own_split(tiny_graphs, tiny_set) -> None:
    for bad in (-1, 1.5, True, "1"):
        with pytest.raises(ValueError, match=r"argument split_seed\. Valid values are integers >= 0"):
            condense_graphs(tiny_graphs, "random", gpc=2, split_seed=bad, progress=False, device="cpu")
    with pytest.raises(ValueError, match="split_seed: the GraphSet given as data was split with seed 0"):
        condense_graphs(tiny_set, "random", gpc=2, split_seed=1, progress=False, device="cpu")
    cs = condense_graphs(tiny_set, "random", gpc=2, split_seed=0, progress=False, device="cpu")
    assert cs.card["source"]["split"]["seed"] == 0
