"""Sampled real batches: exact outputs without a fanout, bounded rows with one."""

from __future__ import annotations

import pytest
import torch

from condensekit.graph.models.registry import create_model
from condensekit.graph.sampling import receptive_subgraph, receptive_subgraphs, sample_per_class
from condensekit.graph.task import NodeTask


@pytest.mark.parametrize("model", ["gcn", "sgc", "sage", "appnp", "mlp"])
def test_receptive_subgraph_gives_the_full_graph_outputs(tiny_task: NodeTask, model: str) -> None:
    net = create_model(model, in_channels=tiny_task.num_features, out_channels=3, hidden_channels=8).eval()
    op = tiny_task.op(net)
    batch = tiny_task.train_idx[:4]
    sub, op_sub, pos = receptive_subgraph(op, batch, net.hops)
    assert torch.equal(sub[pos], batch) and sub.unique().numel() == sub.numel()
    with torch.no_grad():
        full = net(tiny_task.x, op)[batch]
        part = net(tiny_task.x[sub], op_sub)[pos]
    assert torch.allclose(part, full, atol=1e-5)
    if 0 < net.hops <= 2:
        assert sub.numel() < tiny_task.x.shape[0]  # 2 hops reach far on 60 nodes, not all


def test_fanout_bounds_rows_and_keeps_row_sums(tiny_task: NodeTask) -> None:
    net = create_model("gcn", in_channels=tiny_task.num_features, out_channels=3)
    op = tiny_task.op(net)
    batch = tiny_task.train_idx[:3]
    gen = torch.Generator().manual_seed(0)
    sub, op_sub, _ = receptive_subgraph(op, batch, 1, fanout=2, generator=gen)
    assert op_sub is not None
    counts = op_sub.crow_indices().diff()[:3]
    assert int(counts.max()) <= 2
    full_sums = op.to_dense()[batch].sum(1)
    sums = torch.stack(
        [receptive_subgraph(op, batch, 1, fanout=2, generator=gen)[1].to_dense()[:3].sum(1) for _ in range(400)]
    ).mean(0)
    assert torch.allclose(sums, full_sums, rtol=0.1)  # reweighted rows: the full sums in expectation


def test_sample_per_class() -> None:
    members = {0: torch.arange(10), 1: torch.arange(10, 13)}
    out = sample_per_class(members, 4, torch.Generator().manual_seed(0))
    assert out[0].numel() == 4 and set(out[0].tolist()) <= set(range(10)) and out[0].unique().numel() == 4
    assert torch.equal(out[1], members[1])


def test_sample_per_class_draws_one_randperm_per_larger_class_in_order() -> None:
    """The draws of recorded runs: one CPU randperm per class with more than ``size`` members, in class order
    (the picks then reach the device in one copy)."""
    members = {2: torch.arange(20, 30), 0: torch.arange(3), 1: torch.arange(40, 47)}
    out = sample_per_class(members, 4, torch.Generator().manual_seed(5))
    gen = torch.Generator().manual_seed(5)
    want = {c: m[torch.randperm(m.numel(), generator=gen)[:4]] if m.numel() > 4 else m for c, m in members.items()}
    assert list(out) == [2, 0, 1] and all(torch.equal(out[c], want[c]) for c in members)


@pytest.mark.parametrize("fanout", [0, 2])
@pytest.mark.parametrize("hops", [1, 2, 3])
def test_receptive_subgraph_is_op_restricted_to_its_rings(tiny_task: NodeTask, hops: int, fanout: int) -> None:
    """The operator is assembled as CSR directly: it must be a valid CSR (columns sorted within a row), its rows
    those of ``op`` on the nodes within ``hops - 1`` hops (a subset of their entries with a fanout, reweighted) and
    empty on the outermost ring, whose nodes come in ascending id after the inner ones."""
    op = tiny_task.op(create_model("gcn", in_channels=tiny_task.num_features, out_channels=3))
    batch = tiny_task.train_idx[torch.tensor([7, 0, 3])]
    gen = torch.Generator().manual_seed(1)
    sub, op_sub, pos = receptive_subgraph(op, batch, hops, fanout=fanout, generator=gen)
    assert op_sub is not None and torch.equal(sub[: batch.numel()], batch) and sub.unique().numel() == sub.numel()
    crow, col = op_sub.crow_indices(), op_sub.col_indices()
    torch.sparse_csr_tensor(crow, col, op_sub.values(), op_sub.shape, check_invariants=True)  # raises if invalid
    assert all(bool((col[a:b].diff() > 0).all()) for a, b in zip(crow[:-1].tolist(), crow[1:].tolist(), strict=True))
    dense, full = op_sub.to_dense(), op.to_dense()[sub][:, sub]
    inner = dense.abs().sum(1) > 0  # rows with entries: the batch and the inner rings only
    # the rings by breadth-first search: on the real operator, or with a fanout on the entries kept
    edges = op.to_dense() != 0
    if fanout:
        edges = torch.zeros_like(edges)
        edges[sub.unsqueeze(1), sub.unsqueeze(0)] = dense != 0
    ring = [batch]
    for _ in range(hops):
        reach = edges[ring[-1]].any(0).nonzero().flatten()
        ring.append(reach[~torch.isin(reach, torch.cat(ring))])
    assert torch.equal(sub, torch.cat(ring))  # each ring in ascending id
    outer = sub.numel() - ring[-1].numel()
    assert not inner[outer:].any()
    if fanout == 0:
        assert torch.equal(dense[:outer], full[:outer])
    else:
        kept = (dense[:outer] != 0) & (full[:outer] == 0)
        assert not kept.any() and int((dense[:outer] != 0).sum(1).max()) <= fanout


def test_subgraphs_grown_together_are_those_of_separate_calls(tiny_task: NodeTask) -> None:
    """Gradient matching's per-class subgraphs share their host reads; they must be the subgraphs one call per
    class gives (overlapping batches, an empty one). Without a fanout only: with one, several batches are refused."""
    op = tiny_task.op(create_model("gcn", in_channels=tiny_task.num_features, out_channels=3))
    t = tiny_task.train_idx
    batches = [t[:4], t[2:6], t[:0], t[9:10]]
    gen_a, gen_b = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    want = [receptive_subgraph(op, b, 2, generator=gen_a) for b in batches]
    got = receptive_subgraphs(op, batches, 2, generator=gen_b)
    assert torch.equal(gen_a.get_state(), gen_b.get_state())
    for (sub, a, pos), (sub2, b, pos2) in zip(want, got, strict=True):
        assert a is not None and b is not None and torch.equal(sub, sub2) and torch.equal(pos, pos2)
        for part in ("crow_indices", "col_indices", "values"):
            assert torch.equal(getattr(a, part)(), getattr(b, part)())


def test_subgraphs_of_several_batches_with_a_fanout_are_refused(tiny_task: NodeTask) -> None:
    """Growing batches together would draw their fanouts in another order than separate calls: several batches with
    a fanout are a ValueError naming the argument and the fix."""
    op = tiny_task.op(create_model("gcn", in_channels=tiny_task.num_features, out_channels=3))
    t = tiny_task.train_idx
    with pytest.raises(ValueError, match=r"Invalid value 2 for argument fanout with 2 batches: .*per batch"):
        receptive_subgraphs(op, [t[:4], t[4:8]], 2, fanout=2)


SMALL = {"outer_loop": 2, "inner_loop": 1, "hidden": 16, "pge_hidden": 8, "adj_period": 2, "adj_steps": 1}


@pytest.mark.parametrize(
    ("method", "config"),
    [
        ("gcond", SMALL),  # SGC backbone: sampled rows of op^K X
        ("doscond", SMALL),  # GCN backbone: sampled batch on its receptive subgraph
        ("gcdm", {"outer_loop": 2, "hidden": 16}),
        ("gcsntk", {}),
    ],
)
def test_methods_run_on_sampled_real_nodes(tiny_task: NodeTask, method: str, config: dict[str, int]) -> None:
    from condensekit.graph.condense import condense_nodes

    extra = {"real_batch": 2} if method == "gcsntk" else {"real_batch": 2, "real_fanout": 3}
    kw = {"budget": 9, "eval_every": 0, "progress": False, "device": "cpu"}
    init = condense_nodes(tiny_task, method, steps=0, config=config | extra, **kw)
    cg = condense_nodes(tiny_task, method, steps=2, config=config | extra, **kw)
    again = condense_nodes(tiny_task, method, steps=2, config=config | extra, **kw)
    assert not torch.equal(init.x, cg.x) and torch.isfinite(cg.x).all()
    assert torch.equal(cg.x, again.x)  # seeded: the sampled batches repeat


def test_gcsntk_refuses_a_kernel_that_does_not_fit(tiny_task: NodeTask, monkeypatch: pytest.MonkeyPatch) -> None:
    import condensekit.graph.methods.krr as krr
    from condensekit.graph.condense import condense_nodes

    monkeypatch.setattr(krr, "available_memory_bytes", lambda device: 1000)  # 1 kB free
    message = r"in set-up of .gcsntk. \(its kernel over all 15 training nodes needs .* --real-batch"
    with pytest.raises(MemoryError, match=message):
        condense_nodes(tiny_task, "gcsntk", budget=9, steps=1, eval_every=0, progress=False, device="cpu")
    cg = condense_nodes(
        tiny_task, "gcsntk", budget=9, steps=1, eval_every=0, progress=False, device="cpu", config={"real_batch": 2}
    )
    assert torch.isfinite(cg.x).all()
