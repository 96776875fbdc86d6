"""induced_subgraph: the same coalesced tensor as index_select twice and coalesce, bit for bit, with one host read
(no op that sizes its output from the device) for a CSR or coalesced COO adjacency and distinct nodes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch.overrides import TorchFunctionMode

from condensekit.graph.adjacency import induced_subgraph, to_sparse_adj


def _reference(adj: torch.Tensor, nodes: torch.Tensor) -> torch.Tensor:
    return adj.to_sparse_coo().index_select(0, nodes).index_select(1, nodes).coalesce()


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return (
        a.layout == b.layout == torch.sparse_coo
        and a.is_coalesced()
        and b.is_coalesced()
        and a.shape == b.shape
        and torch.equal(a.indices(), b.indices())
        and a.values().dtype == b.values().dtype
        and torch.equal(a.values(), b.values())
    )


@pytest.mark.parametrize("layout", ["csr", "coo"])
def test_induced_subgraph_is_the_index_select_tensor_bit_for_bit(layout: str) -> None:
    gen = torch.Generator().manual_seed(0)
    for trial in range(120):
        n = int(torch.randint(1, 40, (1,), generator=gen))
        edges = torch.randint(0, n, (2, int(torch.randint(0, 4 * n, (1,), generator=gen))), generator=gen)
        weight = torch.rand(edges.shape[1], generator=gen, dtype=torch.float64) if trial % 2 else None
        adj = to_sparse_adj(edges, n, weight, layout=layout)
        nodes = torch.randperm(n, generator=gen)[: int(torch.randint(0, n + 1, (1,), generator=gen))]
        if trial % 3 == 0:
            nodes = nodes.int()
        if trial % 5 == 0 and nodes.numel():
            nodes = torch.cat([nodes, nodes[:1]])  # a repeated node: its row and column twice
        assert _same(induced_subgraph(adj, nodes), _reference(adj, nodes.long())), (trial, layout)


def test_induced_subgraph_of_a_dense_or_uncoalesced_adjacency_is_unchanged() -> None:
    dense = torch.tensor([[0.0, 2.0, 0.0], [2.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    nodes = torch.tensor([2, 1])
    assert _same(induced_subgraph(dense, nodes), _reference(dense, nodes))
    raw = torch.sparse_coo_tensor(torch.tensor([[1, 0, 1], [2, 1, 2]]), torch.tensor([1.0, 2.0, 3.0]), (3, 3))
    assert not raw.is_coalesced()
    assert _same(induced_subgraph(raw, nodes), _reference(raw, nodes))


class _SizedByDevice(TorchFunctionMode):
    """Records the ops whose output size depends on tensor values (each a host sync on CUDA) and the host reads."""

    OPS = frozenset({"index_select", "coalesce", "nonzero", "unique", "masked_select", "tolist", "item"})

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        name = getattr(func, "__name__", str(func))
        if name in self.OPS:
            self.calls.append(name)
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("layout", ["csr", "coo"])
def test_induced_subgraph_reads_the_device_once(layout: str) -> None:
    """Before: index_select twice and coalesce, each sized from the device (a sync each on CUDA); now one
    ``tolist`` (the kept entries' count and the repeat/range check together)."""
    gen = torch.Generator().manual_seed(1)
    edges = torch.randint(0, 50, (2, 200), generator=gen)
    adj = to_sparse_adj(torch.cat([edges, edges.flip(0)], 1), 50, layout=layout)
    nodes = torch.randperm(50, generator=gen)[:20]
    with _SizedByDevice() as seen:
        out = induced_subgraph(adj, nodes)
    assert seen.calls == ["tolist"]
    assert out._nnz() > 0 and _same(out, _reference(adj, nodes))
