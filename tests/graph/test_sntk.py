from __future__ import annotations

import pytest
import torch

from condensekit.core.objectives.kernel_ridge import relu_ntk
from condensekit.graph.adjacency import normalize
from condensekit.graph.sntk import sntk, sntk_norms


def test_identity_structure_is_the_mlp_ntk() -> None:
    """With no aggregation, SNTK with K hops of L layers is the NTK of a ReLU MLP of depth K·L
    (aggregation re-seeds nothing: the identity leaves both kernels unchanged)."""
    torch.manual_seed(0)
    g1, g2 = torch.randn(5, 4), torch.randn(3, 4)
    # (up to the correlation clipping, which moves the recomputed self-kernel norms by ~1e-4)
    assert torch.allclose(sntk(g1, g2, None, None, hops=2, layers=2), relu_ntk(g1, g2, depth=4), rtol=1e-3)


def test_aggregation_averages_neighbourhoods_and_sparse_equals_dense() -> None:
    torch.manual_seed(0)
    adj = torch.tensor([[0.0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 0]])
    p = normalize(adj, kind="row", self_loops=True)
    g = torch.randn(4, 3)
    dense = sntk(g, g, p, p, hops=2, layers=1)
    sparse = sntk(g, g, p.to_sparse_csr(), p.to_sparse_csr(), hops=2, layers=1)
    assert torch.allclose(dense, sparse, atol=1e-5)
    assert torch.allclose(dense, dense.t(), atol=1e-5)
    # One hop, one layer by hand: Sigma = P g g^T P^T, then the ReLU layer.
    s = p @ g @ g.t() @ p.t()
    norms = sntk_norms(g, p, hops=1, layers=1)[0]
    assert torch.allclose(norms, s.diagonal().sqrt(), atol=1e-6)
    one = sntk(g, g, p, p, hops=1, layers=1)
    rho = (s / (norms[:, None] * norms[None, :])).clamp(-1 + 1e-4, 1 - 1e-4)
    nngp = norms[:, None] * norms[None, :] * (rho * (torch.pi - rho.arccos()) + (1 - rho**2).sqrt()) / torch.pi
    assert torch.allclose(one, s * (torch.pi - rho.arccos()) / torch.pi + nngp, atol=1e-4)


def test_sntk_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="g1"):
        sntk(torch.zeros(3, 2), torch.zeros(3, 4), None, None)
    with pytest.raises(ValueError, match="hops"):
        sntk(torch.ones(3, 2), torch.ones(3, 2), None, None, hops=0)
