"""Graph sets whose graphs hold sorted, simple, loop-free edges (the TU datasets) cut batches whose adjacency and
operators are built without coalesce (a host sync on CUDA per batch), and loop-free ones operators whose self loops
are sorted in: the same tensors, bit for bit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch_geometric.data import Data
from torch_geometric.utils import coalesce

from condensekit.graph.level.batch import GraphBatch
from condensekit.graph.level.data import GraphSet, graphset_from_list


def _canonical(graphs: list[Data]) -> GraphSet:
    return graphset_from_list(
        [Data(x=g.x, edge_index=coalesce(g.edge_index, num_nodes=g.num_nodes), y=g.y) for g in graphs], seed=0
    )


def _ops(batch: GraphBatch) -> list[torch.Tensor]:
    return [batch.adj, batch.op("gcn"), batch.op("sum"), batch.loop_op(1e-4)]


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.layout == torch.sparse_coo:
        return a.is_coalesced() and b.is_coalesced() and torch.equal(a.indices(), b.indices()) and torch.equal(
            a.values(), b.values())  # fmt: skip
    return (torch.equal(a.crow_indices(), b.crow_indices()) and torch.equal(a.col_indices(), b.col_indices())
            and torch.equal(a.values(), b.values()))  # fmt: skip


def test_canonical_edges_is_read_once_and_says_whether_batches_are_coalesced(tiny_graphs: list[Data]) -> None:
    assert not graphset_from_list(tiny_graphs, seed=0).canonical_edges  # cycles listed (i, i+1) then (i+1, i)
    gs = _canonical(tiny_graphs)
    assert gs.canonical_edges and gs.to("cpu")._cache["canonical_edges"] is True
    looped = [Data(x=g.x, edge_index=g.edge_index, y=g.y) for g in tiny_graphs]
    looped[3].edge_index = torch.tensor([[0], [0]])
    assert not graphset_from_list(looped, seed=0).canonical_edges


def test_loop_free_edges_is_read_with_canonical_edges(tiny_graphs: list[Data]) -> None:
    plain = graphset_from_list(tiny_graphs, seed=0)  # unsorted, but no self loop
    assert plain.loop_free_edges and not plain.canonical_edges
    assert plain.to("cpu")._cache == {"canonical_edges": False, "loop_free_edges": True}
    assert _canonical(tiny_graphs).loop_free_edges
    looped = [Data(x=g.x, edge_index=g.edge_index, y=g.y) for g in tiny_graphs]
    looped[3].edge_index = torch.cat([looped[3].edge_index, torch.tensor([[1], [1]])], 1)
    assert not graphset_from_list(looped, seed=0).loop_free_edges


@pytest.mark.parametrize("canonical", [True, False])
def test_canonical_or_loop_free_sets_build_the_same_operators(tiny_graphs: list[Data], canonical: bool) -> None:
    """Canonical edges: no coalesce at all; unsorted but loop-free ones: the adjacency is coalesced, its self loops
    are added by a sort. The same tensors as the coalescing path, bit for bit."""
    make = _canonical if canonical else (lambda graphs: graphset_from_list(graphs, seed=0))
    gs, plain = make(tiny_graphs), make(tiny_graphs)
    plain._cache.update(canonical_edges=False, loop_free_edges=False)  # the coalescing path, as before
    gen = torch.Generator().manual_seed(0)
    for _ in range(10):
        idx = torch.randperm(gs.num_graphs, generator=gen)[:7]
        fast, slow = GraphBatch.from_graphset(gs, idx), GraphBatch.from_graphset(plain, idx)
        assert fast.loop_free and not slow.loop_free
        assert all(_same(a, b) for a, b in zip(_ops(fast), _ops(slow), strict=True))


class _Coalescing(TorchFunctionMode):
    """Records each ``coalesce`` of a tensor not yet coalesced (it sizes its output from the device: a sync)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        if getattr(func, "__name__", "") == "coalesce" and not args[0].is_coalesced():
            self.count += 1
        return func(*args, **(kwargs or {}))


def test_a_canonical_batch_and_its_operators_need_no_coalesce(tiny_graphs: list[Data]) -> None:
    gs = _canonical(tiny_graphs)
    assert gs.canonical_edges  # read before, as DosCond's set-up does
    with _Coalescing() as seen:
        _ops(GraphBatch.from_graphset(gs, torch.tensor([5, 0, 20, 13])))
    assert seen.count == 0
    plain = graphset_from_list(tiny_graphs, seed=0)
    with _Coalescing() as unsorted:
        _ops(GraphBatch.from_graphset(plain, torch.tensor([5, 0, 20, 13])))
    assert unsorted.count == 1  # the adjacency; no self loop to merge with: the operators' loops are sorted in
    plain._cache.update(canonical_edges=False, loop_free_edges=False)
    with _Coalescing() as before:
        _ops(GraphBatch.from_graphset(plain, torch.tensor([5, 0, 20, 13])))
    assert before.count == 4  # the adjacency, the GCN operator's and both loop operators' self loops
