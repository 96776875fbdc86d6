"""DosCond (graph level) against its reference: relative gradient distance, initial graphs that fit
the synthetic size, the matched GCN's initialisation, the Adam restart at the decay."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from condensekit.core.engine import EngineConfig, run
from condensekit.core.objectives import gradient_distance
from condensekit.graph.level.batch import GraphBatch
from condensekit.graph.level.condense import make_graph_config
from condensekit.graph.level.methods import GRAPH_METHODS
from condensekit.graph.level.methods.base import fitting_candidates
from condensekit.graph.level.methods.doscond import GraphDosCond


def _method(tiny_set, **over) -> GraphDosCond:
    m = GraphDosCond(tiny_set, 2, make_graph_config("doscond", {"batch_real": 4} | over))
    m.setup(torch.device("cpu"))
    return m


def _assert_resumes_bit_for_bit(graphs, gpc, cfg, tmp_path, *, steps: int, seed: int, stop_after: int) -> None:
    """A run killed after ``stop_after`` steps and resumed from its checkpoint ends where an unbroken one does."""
    full = run(GraphDosCond(graphs, gpc, cfg), EngineConfig(steps=steps, seed=seed, device="cpu", progress=False))
    engine = {"steps": steps, "seed": seed, "device": "cpu", "progress": False, "checkpoint": str(tmp_path / "ck.pt")}
    first = run(GraphDosCond(graphs, gpc, cfg), EngineConfig(**engine, checkpoint_every=1, stop_after=stop_after))
    assert not first.finished
    resumed = run(GraphDosCond(graphs, gpc, cfg), EngineConfig(**engine))
    for k in full.condensed:
        assert torch.equal(full.condensed[k], resumed.condensed[k]), k


def test_mse_is_relative_to_the_real_gradient_as_the_reference_match_loss(tiny_set) -> None:
    m = _method(tiny_set)
    gen = torch.Generator().manual_seed(0)
    g_real = [torch.randn(5, 3, generator=gen), torch.randn(5, generator=gen)]
    g_syn = [torch.randn(5, 3, generator=gen), torch.randn(5, generator=gen)]
    plain = gradient_distance(g_syn, g_real, metric="mse")
    norm = sum(float(g.pow(2).sum()) for g in g_real)
    assert float(m.distance(g_syn, g_real)) == pytest.approx(float(plain) / norm, rel=1e-6)
    # scale-free: gradients 100x larger give the same distance (the unnormalised sum gives 10^4x)
    big = m.distance([100 * g for g in g_syn], [100 * g for g in g_real])
    assert float(big) == pytest.approx(float(m.distance(g_syn, g_real)), rel=1e-5)
    raw = _method(tiny_set, normalise_mse=False)
    assert float(raw.distance(g_syn, g_real)) == pytest.approx(float(plain), rel=1e-6)


def test_initial_graphs_are_whole_real_graphs_of_at_most_the_synthetic_size(tiny_set) -> None:
    torch.manual_seed(0)  # with this seed the truncating init (init_fit=False) picks a graph larger than n
    m = _method(tiny_set, init="random")
    n = m.feat.shape[1]
    train = tiny_set.train_idx
    dense = {int(i): tiny_set.padded(i.reshape(1), n) for i in train}
    for k in range(m.feat.shape[0]):
        real = [
            i
            for i, (x, a, mask) in dense.items()
            if int(tiny_set.num_nodes[i]) <= n and torch.equal(x[0], m.feat.detach()[k])
        ]
        assert real, f"synthetic graph {k} does not start as a whole real graph of <= {n} nodes"
        a0 = dense[real[0]][1][0]
        assert torch.equal((m.logits.detach()[k] > 0).float(), a0)


def test_fitting_candidates_fill_a_short_class_with_its_smallest_graphs(tiny_set) -> None:
    sizes = tiny_set.num_nodes[tiny_set.train_idx]
    y = tiny_set.y_train
    cand = fitting_candidates(tiny_set, 2, 4)
    for c in range(2):
        got = cand[y[cand] == c]
        fit = ((y == c) & (sizes <= 4)).nonzero(as_tuple=True)[0]
        if fit.numel() >= 2:
            assert torch.equal(got, fit)
    # a size no graph fits: each class offers exactly its gpc smallest graphs
    cand = fitting_candidates(tiny_set, 3, 0)
    for c in range(2):
        got = cand[y[cand] == c]
        members = (y == c).nonzero(as_tuple=True)[0]
        assert got.numel() == 3
        assert sizes[got].max() <= torch.sort(sizes[members]).values[2]


def test_matched_gcn_has_glorot_weights_and_zero_biases(tiny_set) -> None:
    m = _method(tiny_set)
    torch.manual_seed(0)
    model = m.matching_model()
    for layer in model.layers:
        assert torch.count_nonzero(layer.bias) == 0
        bound = (6 / (layer.weight.shape[0] + layer.weight.shape[1])) ** 0.5
        assert float(layer.weight.detach().abs().max()) <= bound
    torch.manual_seed(0)
    other = _method(tiny_set, model_init="torch").matching_model()
    assert all(torch.count_nonzero(layer.bias) > 0 for layer in other.layers)
    with pytest.raises(ValueError, match=r"model_init.*glorot"):
        _method(tiny_set, model_init="kaiming")


def test_adam_restarts_at_the_decay_and_a_killed_run_still_resumes_bit_for_bit(tiny_set, tmp_path: Path) -> None:
    cfg = make_graph_config("doscond", {"batch_real": 4, "lr_decay_step": 3})
    m = GraphDosCond(tiny_set, 2, cfg)
    m.setup(torch.device("cpu"))
    for step in range(4):
        m.step(step)
        if step == 2:
            assert int(m.opt_feat.state[m.feat]["step"]) == 3
    assert int(m.opt_feat.state[m.feat]["step"]) == 1  # restarted at step 3
    assert m.opt_feat.param_groups[0]["lr"] == pytest.approx(cfg.lr_feat * 0.1)
    _assert_resumes_bit_for_bit(tiny_set, 2, cfg, tmp_path, steps=6, seed=1, stop_after=3)


def test_padding_nodes_are_no_nodes_with_mask_padding(tiny_set) -> None:
    m = _method(tiny_set, mask_padding=True)
    pad = m.parts[0].node_mask == 0
    assert pad.any() and (~pad).any()  # the fixture's small graphs leave padding
    x_pad0 = m.feat.detach()[pad].clone()
    for step in range(3):
        m.step(step)
    assert torch.equal(m.feat.detach()[pad], x_pad0)  # no gradient reaches them, Adam leaves them
    adj = m.relaxed_adjacency(0)
    both = m.parts[0].node_mask.unsqueeze(-1) * m.parts[0].node_mask.unsqueeze(-2)
    assert torch.count_nonzero(adj * (1 - both)) == 0
    assert torch.allclose(adj, adj.transpose(1, 2)) and torch.count_nonzero(adj.diagonal(0, 1, 2)) == 0
    cond = m.condensed()
    assert torch.equal(cond["mask"], m.parts[0].node_mask)
    assert torch.count_nonzero(cond["adj"] * (1 - both)) == 0
    # the reference's graphs (no mask) keep every node
    assert bool((_method(tiny_set).condensed()["mask"] == 1).all())


@pytest.mark.parametrize("mask_padding", [False, True])
def test_evaluated_graphs_are_the_matched_graphs(tiny_set, mask_padding: bool) -> None:
    """The evaluation's sparse layout of the condensed set gives the matched GCN's dense-layout logits:
    same nodes pooled, same edges, same self loops."""
    m = _method(tiny_set, mask_padding=mask_padding, lr_adj=1.0)
    for step in range(3):
        m.step(step)
    cond = m.condensed()
    torch.manual_seed(0)
    model = m.matching_model()
    with torch.no_grad():
        dense = model(GraphBatch.dense(m.feat, cond["adj"], m.parts[0].node_mask if mask_padding else None))
        sparse = model(GraphBatch.sparse_from_dense(cond["x"], cond["adj"], cond["mask"]))
    assert torch.allclose(dense, sparse, atol=1e-5)
    sym = 0.5 * (m.logits + m.logits.transpose(1, 2)).detach()
    assert torch.equal(cond["adj"] > 0, (sym > 0) & (m.parts[0].pairs > 0) & (m.parts[0].off_diag > 0))


def test_adjacency_logits_get_the_matching_gradient(tiny_set) -> None:
    """Without the sparsity term (beta 0) the logits still get a finite, non-zero gradient: the
    matching loss reaches the structure through the relaxed sample."""
    for mask_padding in (False, True):
        m = _method(tiny_set, beta=0.0, mask_padding=mask_padding)
        m.step(0)
        g = m.logits.grad
        assert g is not None and torch.isfinite(g).all()
        assert float((g * m.parts[0].pairs).abs().sum()) > 0
        assert torch.count_nonzero(g * (1 - m.parts[0].pairs)) == 0


def _coreset_start(tiny_set, gpc: int = 4, **over) -> GraphDosCond:
    cfg = make_graph_config("doscond", {"batch_real": 4, "start": "coreset", "mask_padding": True} | over)
    return GraphDosCond(tiny_set, gpc, cfg)


@pytest.mark.parametrize("init", ["random", "herding", "kcenter"])
def test_coreset_start_is_exactly_the_coreset_of_the_same_seed(tiny_set, init: str) -> None:
    """Step 0 of ``start="coreset"`` is the coreset method's set, tensor for tensor: the same whole
    graphs (none cut, none left out for size), padded to the largest graph kept, padding masked."""
    engine = EngineConfig(steps=0, seed=5, device="cpu", progress=False)
    core = run(GRAPH_METHODS.get(init).cls(tiny_set, 4, make_graph_config(init, {"embed_epochs": 2})), engine)
    ours = _coreset_start(tiny_set, init=init, embed_epochs=2)
    start = run(ours, engine)
    assert len(ours.parts) > tiny_set.num_classes  # the set is held at several widths
    for k in ("x", "adj", "mask", "y"):
        assert torch.equal(start.condensed[k], core.condensed[k].to(start.condensed[k].dtype)), k
    sizes = tiny_set.num_nodes[tiny_set.train_idx]
    assert int(start.condensed["mask"].shape[1]) == int(start.condensed["mask"].sum(1).max()) <= int(sizes.max())
    with pytest.raises(ValueError, match=r"mask_padding with start='coreset'"):
        _coreset_start(tiny_set, mask_padding=False).setup(torch.device("cpu"))
    with pytest.raises(ValueError, match=r"start.*reference"):
        _coreset_start(tiny_set, start="fit").setup(torch.device("cpu"))


def test_coreset_start_learns_per_width_and_resumes_bit_for_bit(tiny_set, tmp_path: Path) -> None:
    m = _coreset_start(tiny_set, beta=0.0, lr_adj=1.0)
    m.setup(torch.device("cpu"))
    x0 = m.dense("feat").clone()
    pad = m.dense("node_mask") == 0
    for step in range(3):
        m.step(step)
    assert any(p.width == 1 for p in m.parts)  # the single-node graph: no pair that may hold an edge
    for p in m.parts:  # every width gets the matching gradient, padding pairs none
        assert p.width == 1 or float((p.logits.grad * p.pairs * p.off_diag).abs().sum()) > 0
        assert torch.count_nonzero(p.logits.grad * (1 - p.pairs * p.off_diag)) == 0
    assert not torch.equal(m.dense("feat")[~pad], x0[~pad]) and torch.equal(m.dense("feat")[pad], x0[pad])
    cond = m.condensed()
    torch.manual_seed(0)
    model = m.matching_model()
    with torch.no_grad():  # the evaluated graphs are the matched ones, at any width
        dense = model(GraphBatch.dense(m.dense("feat"), cond["adj"], cond["mask"]))
        parts = torch.cat([model(GraphBatch.dense(p.feat, cond["adj"][p.idx, : p.width, : p.width], p.node_mask))
                           for p in m.parts])  # fmt: skip
        sparse = model(GraphBatch.sparse_from_dense(cond["x"], cond["adj"], cond["mask"]))
    order = torch.cat([p.idx for p in m.parts])
    assert torch.allclose(dense[order], parts, atol=1e-5) and torch.allclose(dense, sparse, atol=1e-5)
    cfg = m.config
    _assert_resumes_bit_for_bit(tiny_set, 4, cfg, tmp_path, steps=5, seed=2, stop_after=2)


def test_model_draws_average_the_matching_loss_of_independent_gcns(tiny_set) -> None:
    """``model_draws`` GCNs drawn per step: the step's loss is the mean of each GCN's matching loss on the same
    relaxed sample (a second draw is a different GCN, so the mean differs from either)."""
    torch.manual_seed(0)
    m = _method(tiny_set, model_draws=2)
    torch.manual_seed(3)
    models = [m.matching_model() for _ in range(2)]
    adjs = [m.relaxed_adjacency(0, p) for p in m.parts]
    each = [float(m.matching_loss(model, adjs)) for model in models]
    assert each[0] != pytest.approx(each[1])
    torch.manual_seed(0)
    fresh = _method(tiny_set, model_draws=2)  # the same initial graphs
    torch.manual_seed(3)
    assert fresh.step(0)["loss"] * tiny_set.num_classes == pytest.approx(sum(each) / 2, rel=1e-5)


def test_outer_updates_train_the_gcn_between_them_and_resume_bit_for_bit(tiny_set, tmp_path: Path) -> None:
    """``outer`` updates per step, ``inner`` epochs of the matched GCN on the evaluated (discretised) graphs between
    them; one step of outer 3 is three Adam updates of the synthetic set."""
    m = _method(tiny_set, outer=3, inner=2, mask_padding=True)
    m.step(0)
    assert int(m.opt_feat.state[m.feat]["step"]) == 3
    model = m.matching_model()
    cond = m.condensed()
    g = GraphBatch.dense(m.feat.detach(), cond["adj"], m.parts[0].node_mask)
    before = float(torch.nn.functional.cross_entropy(model(g), m.y_syn))
    m.train_inner(model, torch.optim.Adam(model.parameters(), lr=0.05))
    assert float(torch.nn.functional.cross_entropy(model(g), m.y_syn)) < before
    cfg = make_graph_config("doscond", {"batch_real": 4, "outer": 2, "inner": 1, "model_draws": 2})
    _assert_resumes_bit_for_bit(tiny_set, 2, cfg, tmp_path, steps=4, seed=2, stop_after=2)
    for name, bad in (("outer", 0), ("inner", -1), ("model_draws", 0)):
        with pytest.raises(ValueError, match=rf"value {bad} for argument {name}\. Valid values are integers"):
            _method(tiny_set, **{name: bad})
