"""LiteGNTK against a brute-force GNTK on two tiny graphs, and KRR on it."""

from __future__ import annotations

import math

import pytest
import torch

from condensekit.core.objectives.kernel_ridge import krr_predict
from condensekit.graph.level.batch import GraphBatch
from condensekit.graph.level.kernel import SELF_LOOP, SIGMA_EPS, NodeStats, lite_gntk, lite_gntk_stats
from condensekit.graph.level.methods.kidd import KiDDConfig, KiDDLRConfig


def brute_force_gntk(x1, a1, x2, a2, hops=3):
    """Node pair by node pair: Σ = Ã(XX'ᵀ+ε)Ã'ᵀ, one ReLU NTK layer normalised by each graph's own
    diagonal, then Θ ← ÃΘÃ'ᵀ (hops - 1 times), sum readout."""
    t1, t2 = a1 + SELF_LOOP * torch.eye(len(a1)), a2 + SELF_LOOP * torch.eye(len(a2))

    def agg(m, p, q):
        out = torch.zeros(len(p), len(q), dtype=torch.float64)
        for a in range(len(p)):
            for b in range(len(q)):
                out[a, b] = sum(p[a, u] * q[b, v] * m[u, v] for u in range(len(p)) for v in range(len(q)))
        return out

    def sig(xa, xb):
        return xa @ xb.t() + SIGMA_EPS

    s12, s11, s22 = agg(sig(x1, x2), t1, t2), agg(sig(x1, x1), t1, t1), agg(sig(x2, x2), t2, t2)
    theta = torch.zeros_like(s12)
    for a in range(len(x1)):
        for b in range(len(x2)):
            norm = math.sqrt(s11[a, a] * s22[b, b])
            rho = max(-1 + 1e-4, min(1 - 1e-4, float(s12[a, b]) / norm))
            nngp = norm * (rho * (math.pi - math.acos(rho)) + math.sqrt(1 - rho * rho)) / math.pi
            theta[a, b] = s12[a, b] * (math.pi - math.acos(rho)) / math.pi + nngp
    for _ in range(hops - 1):
        theta = agg(theta, t1, t2)
    return float(theta.sum())


def _graph(edges, n, seed):
    a = torch.zeros(n, n, dtype=torch.float64)
    for i, j in edges:
        a[i, j] = a[j, i] = 1.0
    return torch.rand(n, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64), a


def test_lite_gntk_matches_brute_force_on_two_tiny_graphs() -> None:
    x1, a1 = _graph([(0, 1), (1, 2)], 3, 0)
    x2, a2 = _graph([(0, 1), (1, 2), (2, 3), (3, 0)], 4, 1)
    want = brute_force_gntk(x1, a1, x2, a2)
    g1 = GraphBatch.dense(x1[None], a1[None])
    # the second graph in the sparse layout: both layouts must agree with the brute force
    edge_index = a2.nonzero().t()
    g2 = GraphBatch(
        x=x2,
        adj=torch.sparse_coo_tensor(
            edge_index, torch.ones(edge_index.shape[1], dtype=torch.float64), (4, 4), check_invariants=True
        ),
        num_graphs=1,
        batch=torch.zeros(4, dtype=torch.long),
    )
    got_sparse = lite_gntk(lite_gntk_stats(g1), lite_gntk_stats(g2))
    got_dense = lite_gntk(lite_gntk_stats(g1), lite_gntk_stats(GraphBatch.dense(x2[None], a2[None])))
    assert got_sparse.shape == (1, 1)
    assert math.isclose(float(got_sparse), want, rel_tol=1e-6)
    assert math.isclose(float(got_dense), want, rel_tol=1e-6)


def test_lite_gntk_is_symmetric_psd_and_handles_edgeless_and_single_node_graphs() -> None:
    x = torch.rand(4, 5, 3)
    adj = (torch.rand(4, 5, 5) > 0.5).float()
    adj = ((adj + adj.transpose(1, 2)) > 0).float() * (1 - torch.eye(5))
    adj[0] = 0.0  # no edges at all
    mask = torch.ones(4, 5)
    mask[1, 1:] = 0  # a single-node graph, padded
    x[1, 1:] = 0
    adj[1] = 0
    s = lite_gntk_stats(GraphBatch.dense(x, adj, mask))
    k = lite_gntk(s, s)
    assert torch.isfinite(k).all()
    assert torch.allclose(k, k.t(), rtol=1e-4, atol=1e-6)
    assert torch.linalg.eigvalsh(k.double()).min() > -1e-4 * k.diagonal().mean()


def test_krr_on_a_linear_kernel_is_closed_form_least_squares() -> None:
    torch.manual_seed(0)
    xs, ys, xt = (
        torch.randn(6, 3, dtype=torch.float64),
        torch.randn(6, 2, dtype=torch.float64),
        torch.randn(5, 3, dtype=torch.float64),
    )
    # Least squares through the origin in the 6-sample span: ŷ = Xt Xsᵀ (Xs Xsᵀ)⁺ Ys; Xs Xsᵀ has rank 3, so a tiny
    # ridge is needed, and KRR equals ridge regression in the primal: Xt (XsᵀXs + λI)⁻¹ Xsᵀ Ys.
    ridge = 1e-3
    lam = ridge * float(torch.trace(xs @ xs.t())) / 6
    want = xt @ torch.linalg.solve(xs.t() @ xs + lam * torch.eye(3, dtype=torch.float64), xs.t() @ ys)
    got = krr_predict(xt @ xs.t(), xs @ xs.t(), ys, ridge=ridge)
    assert torch.allclose(got, want, atol=1e-8)


def test_krr_singular_system_raises_a_clear_error() -> None:
    k = torch.zeros(3, 3)
    with pytest.raises(ValueError, match="singular"):
        krr_predict(torch.zeros(2, 3), k, torch.eye(3), ridge=0.0)
    with pytest.raises(ValueError, match="NaN"):
        krr_predict(torch.zeros(2, 3), torch.full((3, 3), float("nan")), torch.eye(3))


def test_flat_real_side_equals_padded_dense_graphs(tiny_set) -> None:
    """K between dense synthetic graphs and real graphs: the flat (unpadded) real layout, cut with
    ``subset``, gives the padded dense layout's numbers, for graphs of different sizes."""
    torch.manual_seed(0)
    syn = GraphBatch.dense(torch.rand(3, 6, 4, dtype=torch.float64), (torch.rand(3, 6, 6) > 0.6).double())
    s = lite_gntk_stats(syn)
    all_real = lite_gntk_stats(GraphBatch.from_graphset(tiny_set.to("cpu"), torch.arange(tiny_set.num_graphs)))
    idx = torch.tensor([13, 0, 7, 22])
    x, adj, mask = tiny_set.padded(idx)
    dense = lite_gntk(s, lite_gntk_stats(GraphBatch.dense(x.double(), adj.double(), mask)))
    flat = lite_gntk(
        s,
        NodeStats(
            all_real.z.double(), all_real.norm.double(), all_real.u.double(), all_real.batch, all_real.ptr
        ).subset(idx),
    )
    assert flat.shape == (3, 4)
    assert torch.allclose(flat, dense, rtol=1e-6)


def test_fused_lite_gntk_gives_the_eager_values_and_gradients(tiny_set) -> None:
    """``fused=True`` (torch.compile) is the same function: values and gradients in x and adj."""
    real = lite_gntk_stats(GraphBatch.from_graphset(tiny_set.to("cpu"), torch.arange(9)))
    outs = []
    for fused in (False, True):
        torch.manual_seed(0)
        x = torch.rand(3, 6, tiny_set.num_features, requires_grad=True)
        adj = (torch.rand(3, 6, 6) > 0.6).float().requires_grad_(True)
        s = lite_gntk_stats(GraphBatch.dense(x, adj))
        k = lite_gntk(s, real, mlp_layers=2, fused=fused)
        (k * torch.arange(k.numel()).reshape(k.shape)).sum().backward()
        outs.append((k.detach(), x.grad, adj.grad))
    for eager, fused in zip(*outs, strict=True):
        assert torch.allclose(fused, eager, rtol=1e-4, atol=1e-5 * float(eager.abs().max()))


def test_kidd_defaults_are_its_references_five_layer_kernel_and_kidd_lr_keeps_three() -> None:
    """``GKRRDistill.py`` builds ``LiteNTK(num_layers=5)`` with ``lrA = lrX = 1e-6``;
    ``LowRankGKRRDistill.py`` ``num_layers=3`` with ``1e-3`` (sitting 10 ran KiDD-D with the latter).
    Five layers are four aggregations after the MLP: the brute force with ``hops=5``."""
    kidd, low = KiDDConfig(), KiDDLRConfig()
    assert (kidd.hops, kidd.lr_feat, kidd.lr_adj) == (5, 1e-6, 1e-6)
    assert (low.hops, low.lr_feat, low.lr_adj) == (3, 1e-3, 1e-3)
    x1, a1 = _graph([(0, 1), (1, 2)], 3, 0)
    x2, a2 = _graph([(0, 1), (1, 2), (2, 3), (3, 0)], 4, 1)
    dense = [GraphBatch.dense(x[None], a[None]) for x, a in ((x1, a1), (x2, a2))]
    for hops in (kidd.hops, low.hops):
        got = lite_gntk(*(lite_gntk_stats(g, hops=hops) for g in dense))
        assert math.isclose(float(got), brute_force_gntk(x1, a1, x2, a2, hops=hops), rel_tol=1e-6)
    five = lite_gntk(*(lite_gntk_stats(g, hops=5) for g in dense))
    three = lite_gntk(*(lite_gntk_stats(g, hops=3) for g in dense))
    assert not math.isclose(float(five), float(three), rel_tol=1e-3)
