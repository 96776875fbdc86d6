"""add_self_loops: the one A + wI of a sparse adjacency that normalize (GCN's self loops) and GraphBatch.loop_op
(GIN's and the LiteGNTK's) share, by a sort where the caller knows there is no diagonal, else by coalesce; and
has_self_loops, the set-up's one read that lets GC-SNTK's sampled steps take the sort."""

from __future__ import annotations

import pytest
import torch

from condensekit.graph.adjacency import add_self_loops, has_self_loops, normalize
from condensekit.graph.methods.krr import _induced_structure


def _graph(n: int, seed: int, *, loops: bool) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    dense = torch.rand(n, n, generator=gen) * (torch.rand(n, n, generator=gen) < 0.3)
    if not loops:
        dense.fill_diagonal_(0.0)
    else:
        dense[0, 0] = 2.0  # one diagonal entry at least, to merge with
    return dense


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.is_coalesced() and b.is_coalesced() and torch.equal(a.indices(), b.indices()) and torch.equal(
        a.values(), b.values())  # fmt: skip


@pytest.mark.parametrize("layout", ["coo", "csr"])
@pytest.mark.parametrize("weight", [1.0, 1e-4, 0.5])
def test_add_self_loops_is_a_plus_w_identity(layout: str, weight: float) -> None:
    for seed in range(5):
        for loops in (True, False):
            dense = _graph(9, seed, loops=loops)
            adj = dense.to_sparse_coo() if layout == "coo" else dense.to_sparse_csr()
            out = add_self_loops(adj, weight)
            assert out.layout == torch.sparse_coo and out.is_coalesced()
            assert torch.equal(out.to_dense(), dense + weight * torch.eye(9))
            if not loops:  # the sort gives the coalescing path's tensor, bit for bit
                assert _same(add_self_loops(adj, weight, loop_free=True), out)


def test_normalize_adds_the_self_loops_it_is_asked_for() -> None:
    # against a dense computation, not against add_self_loops (which normalize calls: that compared it with itself)
    dense = _graph(7, 3, loops=False)
    looped = dense + torch.eye(7)
    by_hand = looped / looped.sum(1, keepdim=True)
    for loop_free in (False, True):
        out = normalize(dense.to_sparse_csr(), kind="row", self_loops=True, loop_free=loop_free).to_dense()
        torch.testing.assert_close(out, by_hand)


def test_add_self_loops_refuses_dense_or_non_square_input() -> None:
    with pytest.raises(ValueError, match="adj must be a torch sparse tensor"):
        add_self_loops(torch.eye(3))
    with pytest.raises(ValueError, match=r"adj must be a square n × n matrix, got shape \(2, 3\)"):
        add_self_loops(torch.ones(2, 3).to_sparse_coo())


def test_has_self_loops_sees_any_stored_diagonal_entry() -> None:
    dense = _graph(6, 0, loops=False)
    for make in (torch.Tensor.to_sparse_coo, torch.Tensor.to_sparse_csr):
        assert not has_self_loops(make(dense)) and has_self_loops(make(_graph(6, 0, loops=True)))
    zero_loop = torch.sparse_coo_tensor(torch.tensor([[0, 2], [1, 2]]), torch.tensor([1.0, 0.0]), (3, 3))
    assert has_self_loops(zero_loop)  # an explicit zero is an entry: adding the loop must merge with it
    with pytest.raises(ValueError, match="adj must be a torch sparse tensor"):
        has_self_loops(dense)


@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_gcsntk_structure_of_a_loop_free_graph_is_the_same_without_coalesce(layout: str) -> None:
    """GC-SNTK's induced A + I, row-normalised: by a sort when the graph has no self loop, bit for bit the coalescing
    path's, for distinct and repeated sampled nodes (a repeated node's positions meet only through a self loop)."""
    gen = torch.Generator().manual_seed(1)
    for seed in range(20):
        dense = _graph(30, seed, loops=False)
        adj = dense.to_sparse_coo().coalesce() if layout == "coo" else dense.to_sparse_csr()
        for nodes in (torch.randperm(30, generator=gen)[:12], torch.randint(0, 30, (12,), generator=gen)):
            fast = _induced_structure(adj, nodes, loop_free=True)
            slow = _induced_structure(adj, nodes)
            assert torch.equal(fast.crow_indices(), slow.crow_indices())
            assert torch.equal(fast.col_indices(), slow.col_indices()) and torch.equal(fast.values(), slow.values())
