"""Every graph method's set-up and steps, audited on the CPU for what would fail or wait on CUDA
(tests/device_audit.py): no deviceless factory in a step, no host tensor meeting a device tensor anywhere, and at
most the host syncs counted when this test was written (one per step is the logged loss)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.utils import coalesce

from condensekit.graph.condense import make_config
from condensekit.graph.level.condense import make_graph_config
from condensekit.graph.level.data import GraphSet, graphset_from_list
from condensekit.graph.level.methods import GRAPH_METHODS
from condensekit.graph.methods import NODE_METHODS, node_budgets
from condensekit.graph.task import NodeTask
from tests.device_audit import DeviceAudit, MethodAudit, audit_method, device_run
from tests.graph.level.conftest import make_tiny_graphs

PGE = {"outer_loop": 2, "inner_loop": 1, "hidden": 16, "pge_hidden": 8, "adj_period": 2, "adj_steps": 1}
NODE: dict[str, tuple[dict[str, Any], int]] = {  # method: (config, host syncs per step at most)
    "gcond": (PGE, 1),
    "gcondx": (PGE, 1),
    "doscond": (PGE, 1),
    "gcdm": ({"outer_loop": 2, "hidden": 16}, 1),
    "gcsntk": ({}, 2),  # the logged loss and the kernel solve's one check (finite, scale, Cholesky status)
    **{m: ({"embed_epochs": 2, "hidden": 16}, 0) for m in ("random", "herding", "kcenter")},
}
LEVEL: dict[str, tuple[dict[str, Any], int]] = {
    # DosCond: the logged loss and the node and edge counts of all classes' real batches (one read per outer
    # update); KiDD: the logged loss and one read of the real batch's node count with the KRR solve's checks
    "doscond": ({"batch_real": 4, "init": "random"}, 2),
    "kidd": ({"batch_real": 8, "batch_syn": 4, "init": "random"}, 2),
    "kidd-lr": ({"batch_real": 8, "batch_syn": 4, "init": "random", "rank": 2}, 2),
    **{m: ({"embed_epochs": 2}, 0) for m in ("random", "herding", "kcenter")},
}


def _check(report: MethodAudit, max_syncs: int) -> None:
    assert report.step_factories() == [], report.summary()
    assert report.crashes() == [], report.summary()
    assert all(n <= max_syncs for n in report.syncs_per_step()), report.summary()


def test_every_method_is_audited() -> None:
    assert set(NODE) == set(NODE_METHODS.names()) and set(LEVEL) == set(GRAPH_METHODS.names())


@pytest.mark.parametrize("method", sorted(NODE))
def test_node_method_steps_are_device_clean(tiny_task: NodeTask, method: str) -> None:
    config, max_syncs = NODE[method]
    entry = NODE_METHODS.get(method)
    steps = 2 if method in ("gcond", "gcondx", "doscond", "gcdm", "gcsntk") else 0
    report = audit_method(lambda: entry.cls(tiny_task, node_budgets(tiny_task, budget=9), make_config(method, config)),
                          steps=steps)  # fmt: skip
    _check(report, max_syncs)


@pytest.mark.parametrize("method", ["gcond", "doscond"])
@pytest.mark.parametrize("real_batch", [0, 4])
def test_the_accelerator_path_of_gradient_matching_is_device_clean(tiny_task: NodeTask, method: str, real_batch: int):
    """The batched class gradients run only off the CPU: forced here, so that the CUDA path is audited too."""

    def build() -> Any:
        cfg = make_config(method, PGE | {"real_batch": real_batch})
        algo = NODE_METHODS.get(method).cls(tiny_task, node_budgets(tiny_task, budget=9), cfg)
        algo._loss_looped = algo._loss_batched
        return algo

    report = audit_method(build, steps=2)
    # DosCond with a real batch samples a receptive subgraph per class, GCond (SGC) rows of its precomputed op^K X
    _check(report, 1 if (method == "gcond" or not real_batch) else ring_reads(method, {"real_batch": real_batch}))


# A sampled receptive subgraph (graph.sampling) reads each ring's size once, hops + 1 reads, whatever the fanout;
# a GCN backbone has 2 hops. GCDM grows one subgraph for all classes per update, gradient matching one per class
# (3), in lock-step (one set of reads) without a fanout and class by class with one (its draws keep their order);
# 2 updates per step, plus the logged loss. Before: DosCond 37 (85 with a fanout: a read of each hop's entry count,
# bincount, three boolean masks and torch.unique per hop and class), GCDM 15 (31; Gaussian 13).
def ring_reads(method: str, config: dict[str, Any]) -> int:
    per_class = method != "gcdm" and config.get("real_fanout", 0) > 0
    return 2 * (2 + 1) * (3 if per_class else 1) + 1


SAMPLED = [
    ("doscond", PGE | {"real_batch": 4}),
    ("doscond", PGE | {"real_batch": 4, "dropout": 0.5}),
    ("doscond", PGE | {"real_batch": 4, "real_fanout": 2}),
    ("gcdm", {"outer_loop": 2, "hidden": 16, "real_batch": 4}),
    ("gcdm", {"outer_loop": 2, "hidden": 16, "real_batch": 4, "real_fanout": 2}),
    ("gcdm", {"outer_loop": 2, "hidden": 16, "real_batch": 4, "kernel": "gaussian"}),
]


@pytest.mark.parametrize(("method", "config"), SAMPLED)
def test_sampled_real_nodes_read_each_ring_once(tiny_task: NodeTask, method: str, config: dict[str, Any]) -> None:
    """No read-back per hop beyond the ring's size: the subgraph's entry, kept and new-node counts come in one read
    per ring (nonzero_static of a known size, not boolean masks, torch.unique or bincount), shared by all classes
    without a fanout, and GCDM's labels of the sampled rows are built once (their per-class sizes are fixed), not
    copied from the host at every update."""
    entry = NODE_METHODS.get(method)
    report = audit_method(lambda: entry.cls(tiny_task, node_budgets(tiny_task, budget=9), make_config(method, config)),
                          steps=2)  # fmt: skip
    assert report.syncs_per_step() == [ring_reads(method, config)] * 2, report.summary()
    _check(report, ring_reads(method, config))


def canonical_tiny_graphs() -> GraphSet:
    """The tiny graph set with each graph's edges sorted, simple and loop-free, as every TU dataset's are
    (:attr:`GraphSet.canonical_edges`): batches cut from it need no coalesce."""
    tiny = [Data(x=g.x, edge_index=coalesce(g.edge_index, num_nodes=g.num_nodes), y=g.y) for g in make_tiny_graphs()]
    graphs = graphset_from_list(tiny, name="tiny", seed=0)
    assert graphs.canonical_edges
    return graphs


# Syncs per step, pinned, on graphs with canonical edges (the TU datasets'). Before: DosCond 1 + C x outer x
# model_draws (a read of each class batch's node and edge counts in GraphSet.select: 3 and 9 here), KiDD/KiDD-LR 3
# (the loss, NodeStats.subset's node count, the Cholesky check of krr_predict), GC-SNTK sampled 2 in this audit,
# which did not see index_select and coalesce of induced_subgraph (each a sync on CUDA); now 1 + outer, 2 and 3 (the
# one read of induced_subgraph is visible).
PINNED_LEVEL = [  # LEVEL's own configs first: the test below leaves these methods to this one
    ("doscond", LEVEL["doscond"][0], 2),
    ("doscond", {**LEVEL["doscond"][0], "outer": 2, "inner": 1, "model_draws": 2}, 3),
    ("doscond", {**LEVEL["doscond"][0], "start": "coreset", "mask_padding": True}, 2),
    ("kidd", LEVEL["kidd"][0], 2),
    ("kidd-lr", LEVEL["kidd-lr"][0], 2),
]


@pytest.mark.parametrize("method", sorted(set(LEVEL) - {m for m, _, _ in PINNED_LEVEL}))
def test_graph_level_method_steps_are_device_clean(method: str) -> None:
    """The methods whose syncs PINNED_LEVEL does not pin (test_graph_level_syncs_per_step_are_pinned audits those
    with the same configs and asserts the count exactly)."""
    config, max_syncs = LEVEL[method]
    graphs = canonical_tiny_graphs()  # the real data's kind
    entry = GRAPH_METHODS.get(method)
    steps = 0 if method in ("random", "herding", "kcenter") else 2
    report = audit_method(lambda: entry.cls(graphs, 2, make_graph_config(method, config)), steps=steps)
    _check(report, max_syncs)


def tiny_graphs_with(edges: str) -> GraphSet:
    """The tiny graph set with ``"canonical"`` edges, its own ``"unsorted"`` ones (each cycle lists (i, i+1) then
    (i+1, i); no self loop) or those with a self loop on every graph's node 0 (``"looped"``)."""
    if edges == "canonical":
        return canonical_tiny_graphs()
    graphs = make_tiny_graphs()
    if edges == "looped":
        graphs = [Data(x=g.x, edge_index=torch.cat([g.edge_index, torch.zeros(2, 1, dtype=torch.long)], 1), y=g.y)
                  for g in graphs]  # fmt: skip
    return graphset_from_list(graphs, name="tiny", seed=0)


def edge_coalesces(method: str, config: dict[str, Any], edges: str) -> int:
    """The coalesces per step that graphs without canonical edges add (the audit counts coalesce since it was seen
    to miss it): DosCond builds each class's real batch adjacency with one, and with self loops in the set also its
    GCN operator's loops, x C x outer x model_draws (C = 2 classes here); KiDD's real side is built in the set-up."""
    per_batch = {"canonical": 0, "unsorted": 1, "looped": 2}[edges]
    return per_batch * 2 * config.get("outer", 1) * config.get("model_draws", 1) if method == "doscond" else 0


@pytest.mark.parametrize("edges", ["canonical", "unsorted", "looped"])
@pytest.mark.parametrize(("method", "config", "syncs"), PINNED_LEVEL)
def test_graph_level_syncs_per_step_are_pinned(method: str, config: dict[str, Any], syncs: int, edges: str):
    graphs = tiny_graphs_with(edges)
    entry = GRAPH_METHODS.get(method)
    report = audit_method(lambda: entry.cls(graphs, 2, make_graph_config(method, config)), steps=2)
    want = syncs + edge_coalesces(method, config, edges)
    assert report.syncs_per_step() == [want] * 2, report.summary()
    coalesces = [sum(f.op == "coalesce" for f in step) for step in report.steps]
    assert coalesces == [edge_coalesces(method, config, edges)] * 2, report.summary()
    _check(report, want)


@pytest.mark.parametrize("loops", [False, True])
def test_sampled_gcsntk_syncs_per_step_are_pinned(tiny_graph, loops: bool) -> None:
    """The logged loss, the kernel solve's check and induced_subgraph's one read of the sampled real nodes' edges;
    on a graph with self loops also the coalesce that merges them with the induced structure's own (normalize).
    Without self loops (checked once in the set-up) that is a sort: 4 -> 3 syncs per step."""
    if loops:
        some = torch.arange(0, tiny_graph.num_nodes, 3)
        tiny_graph.edge_index = torch.cat([tiny_graph.edge_index, torch.stack([some, some])], 1)
    task = NodeTask.from_data(tiny_graph)
    entry = NODE_METHODS.get("gcsntk")
    config = make_config("gcsntk", {"real_batch": 4})
    report = audit_method(lambda: entry.cls(task, node_budgets(task, budget=9), config), steps=2)
    assert report.syncs_per_step() == [3 + loops] * 2, report.summary()
    assert sum("graph/adjacency.py" in f.site for f in report.steps[0] if f.kind == "sync") == 1 + loops
    assert [f.op for f in report.steps[0] if f.op == "coalesce"] == ["coalesce"] * loops, report.summary()


@pytest.mark.parametrize("batched", [False, True])
def test_node_evaluation_is_device_clean(tiny_task: NodeTask, batched: bool) -> None:
    from condensekit.core.evaluate import TrainConfig
    from condensekit.graph.condense import condense_nodes
    from condensekit.graph.evaluate import NodeEvalConfig, evaluate_node

    cg = condense_nodes(tiny_task, "random", budget=9, progress=False, device="cpu")
    config = NodeEvalConfig(runs=2, hidden=8, train=TrainConfig(epochs=2))
    with DeviceAudit() as audit:
        evaluate_node(tiny_task, cg.tensors(), models=["gcn", "sgc", "cheb", "sage"], config=config, batched=batched)
    assert audit.problems() == [], audit.findings


def test_graph_level_evaluation_is_device_clean() -> None:
    from condensekit.graph.level.condense import condense_graphs
    from condensekit.graph.level.evaluate import GraphEvalConfig, evaluate_graphs

    graphs = graphset_from_list(make_tiny_graphs(), name="tiny", seed=0)
    cs = condense_graphs(graphs, "random", gpc=2, progress=False, device="cpu")
    with DeviceAudit() as audit:
        evaluate_graphs(graphs, cs.tensors(), models=["gcn", "gin"], config=GraphEvalConfig(runs=1, epochs=2))
    assert audit.problems() == [], audit.findings


GPU = "cuda"  # the device of the GPU-visit tests below
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (run on a GPU visit)")


@CUDA
@pytest.mark.parametrize("method", sorted(NODE))
def test_node_method_runs_on_cuda(tiny_graph, method: str, record_property) -> None:
    """On a GPU: two steps on CUDA, a finite set, and the syncs per step as CUDA counts them (printed; the CPU
    audit's figure is NODE's)."""
    config, max_syncs = NODE[method]
    task = NodeTask.from_data(tiny_graph, device=GPU)
    entry = NODE_METHODS.get(method)
    steps = 2 if method in ("gcond", "gcondx", "doscond", "gcdm", "gcsntk") else 0
    result, syncs = device_run(lambda: entry.cls(task, node_budgets(task, budget=9), make_config(method, config)),
                               steps=steps, device=GPU)  # fmt: skip
    record_property("cuda_syncs_per_step", syncs)
    print(f"node {method}: CUDA syncs per step {syncs} (CPU audit: at most {max_syncs})")
    assert all(torch.isfinite(t.float()).all() for t in result.condensed.values())
    assert all(t.device.type == torch.device(GPU).type for t in result.condensed.values())


@CUDA
@pytest.mark.parametrize("method", sorted(LEVEL))
def test_graph_level_method_runs_on_cuda(method: str, record_property) -> None:
    config, max_syncs = LEVEL[method]
    graphs = graphset_from_list(make_tiny_graphs(), name="tiny", seed=0).to(GPU)
    entry = GRAPH_METHODS.get(method)
    steps = 0 if method in ("random", "herding", "kcenter") else 2
    result, syncs = device_run(lambda: entry.cls(graphs, 2, make_graph_config(method, config)), steps=steps, device=GPU)
    record_property("cuda_syncs_per_step", syncs)
    print(f"graph level {method}: CUDA syncs per step {syncs} (CPU audit: at most {max_syncs})")
    assert all(torch.isfinite(t.float()).all() for t in result.condensed.values())


@CUDA
@pytest.mark.parametrize(("method", "config"), SAMPLED)
def test_sampled_real_nodes_on_cuda(tiny_graph, method: str, config: dict[str, Any], record_property) -> None:
    """On a GPU: the sampled path's syncs per step as CUDA counts them (printed; the pinned copies of the CPU draws
    and the directly assembled CSR should add none to the CPU audit's ring_reads), and a finite set."""
    task = NodeTask.from_data(tiny_graph, device=GPU)
    entry = NODE_METHODS.get(method)
    result, syncs = device_run(lambda: entry.cls(task, node_budgets(task, budget=9), make_config(method, config)),
                               steps=2, device=GPU)  # fmt: skip
    record_property("cuda_syncs_per_step", syncs)
    print(f"sampled {method} {config}: CUDA syncs per step {syncs} (CPU audit: {ring_reads(method, config)})")
    assert all(torch.isfinite(t.float()).all() for t in result.condensed.values())


@CUDA
@pytest.mark.parametrize("loops", [False, True])
def test_sampled_gcsntk_on_cuda(tiny_graph, loops: bool, record_property) -> None:
    """On a GPU: sampled GC-SNTK's syncs per step as CUDA counts them, printed beside the CPU audit's pin (3 without
    self loops, 4 with: the coalesce merging them), and a finite set."""
    if loops:
        some = torch.arange(0, tiny_graph.num_nodes, 3)
        tiny_graph.edge_index = torch.cat([tiny_graph.edge_index, torch.stack([some, some])], 1)
    task = NodeTask.from_data(tiny_graph, device=GPU)
    entry = NODE_METHODS.get("gcsntk")
    config = make_config("gcsntk", {"real_batch": 4})
    result, syncs = device_run(lambda: entry.cls(task, node_budgets(task, budget=9), config), steps=2, device=GPU)
    record_property("cuda_syncs_per_step", syncs)
    print(f"sampled gcsntk, self loops {loops}: CUDA syncs per step {syncs} (CPU audit: {3 + loops})")
    assert all(torch.isfinite(t.float()).all() for t in result.condensed.values())


@CUDA
@pytest.mark.parametrize(("method", "config", "syncs"), PINNED_LEVEL)
def test_graph_level_syncs_on_cuda_with_canonical_edges(method: str, config: dict[str, Any], syncs: int,
                                                        record_property) -> None:  # fmt: skip
    """On a GPU: the syncs per step as CUDA counts them, on graphs whose edges are sorted and loop-free (as every TU
    dataset's: no coalesce per real batch, graph/level/data.py canonical_edges), printed beside the CPU audit's
    figure (PINNED_LEVEL). Before 531c582 each DosCond real batch also coalesced twice (a sync each)."""
    graphs = canonical_tiny_graphs().to(GPU)
    entry = GRAPH_METHODS.get(method)
    result, cuda_syncs = device_run(lambda: entry.cls(graphs, 2, make_graph_config(method, config)), steps=2,
                                    device=GPU)  # fmt: skip
    record_property("cuda_syncs_per_step", cuda_syncs)
    print(f"graph level {method} {config}: CUDA syncs per step {cuda_syncs} (CPU audit: {syncs})")
    assert all(torch.isfinite(t.float()).all() for t in result.condensed.values())
