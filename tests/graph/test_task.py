"""NodeTask: a directed graph is read as undirected, on purpose, and says so."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Data

from condensekit.core.evaluate import TrainConfig
from condensekit.graph.adjacency import to_sparse_adj
from condensekit.graph.condense import condense_nodes
from condensekit.graph.evaluate import NodeEvalConfig, evaluate_node
from condensekit.graph.models.registry import create_model
from condensekit.graph.task import NodeTask, model_input, symmetrize


def test_symmetrize_unions_both_directions() -> None:
    ei = torch.tensor([[0, 1, 2, 1], [1, 2, 0, 0]])  # 0→1 and 1→0 both present; 1→2, 2→0 one way
    out, weight, meta = symmetrize(ei, None, 3)
    assert weight is None and meta == {"directed_input": True, "symmetrized": True, "edges_in": 4, "edges_used": 6}
    dense = torch.zeros(3, 3)
    dense[out[0], out[1]] = 1
    assert torch.equal(dense, dense.t()) and int(dense.sum()) == 6
    w_out = symmetrize(ei, torch.tensor([1.0, 3.0, 1.0, 2.0]), 3)[1]
    assert w_out is not None and float(w_out.max()) == 3.0  # both directions exist: the larger weight


def test_directed_graph_condenses_and_evaluates(tiny_graph: Data) -> None:
    keep = tiny_graph.edge_index[0] < tiny_graph.edge_index[1]
    tiny_graph.edge_index = tiny_graph.edge_index[:, keep]  # one direction only
    task = NodeTask.from_data(tiny_graph)
    assert task.meta["directed_input"] and task.meta["edges_used"] == 2 * int(keep.sum())
    dense = task.adj.to_dense()
    assert torch.equal(dense, dense.t())
    cg = condense_nodes(task, "random", budget=9, progress=False)
    assert cg.card["source"]["symmetrized"] is True
    assert torch.equal(cg.adj, cg.adj.t())


def test_inductive_condenses_from_the_training_subgraph(tiny_task: NodeTask) -> None:
    sub = tiny_task.training_subgraph()
    n = tiny_task.train_idx.numel()
    assert sub.x.shape[0] == n and torch.equal(sub.train_idx, torch.arange(n))
    dense = tiny_task.adj.to_dense()[tiny_task.train_idx][:, tiny_task.train_idx]
    assert torch.equal(sub.adj.to_dense(), dense)
    cg = condense_nodes(
        sub, "gcdm", budget=9, steps=2, eval_every=1, config={"hidden": 16}, progress=False, eval_task=tiny_task
    )
    assert cg.card["source"]["setting"] == "inductive" and cg.card["source"]["num_nodes"] == 60
    assert cg.card["metrics"]["val_selected"] is not None  # selected on the full graph's validation nodes


def test_inductive_coresets_select_their_embedding_gcn_on_the_full_graphs_validation(tiny_task: NodeTask) -> None:
    # GCond's train_coreset_induct.py: the embedding GCN trains on the training subgraph and is selected
    # on validation nodes; the subgraph holds none, so herding/k-center failed 'accuracy over an empty set'
    sub = tiny_task.training_subgraph()
    assert sub.full is tiny_task
    for method in ("herding", "kcenter"):
        cg = condense_nodes(sub, method, budget=9, config={"embed_epochs": 5, "hidden": 16}, progress=False)
        assert cg.card["source"]["setting"] == "inductive" and cg.y.numel() == 9


def test_inductive_condensation_selects_on_the_full_graph_by_default(tiny_task: NodeTask) -> None:
    # without eval_task the subgraph (no validation nodes) judged the set: a ValueError at step 0
    cg = condense_nodes(
        tiny_task.training_subgraph(), "gcdm", budget=9, steps=2, eval_every=1, config={"hidden": 16}, progress=False
    )
    assert cg.card["metrics"]["val_selected"] is not None and cg.card["source"]["num_nodes"] == 60


def test_repeated_edges_are_kept_once_whether_or_not_the_list_is_symmetric() -> None:
    # a repeated edge was summed into weight 2 when the list was symmetric (no to_undirected) but kept once when
    # it was directed (to_undirected coalesces): the same graph propagated two ways by how it was listed
    both = symmetrize(torch.tensor([[0, 1, 0, 1], [1, 0, 1, 0]]), None, 2)
    one_way = symmetrize(torch.tensor([[0, 0], [1, 1]]), None, 2)
    assert torch.equal(both[0], one_way[0]) and both[1] is None
    assert both[2]["edges_in"] == 4 and both[2]["edges_used"] == 2
    weighted = symmetrize(torch.tensor([[0, 1, 0, 1], [1, 0, 1, 0]]), torch.tensor([1.0, 1.0, 3.0, 3.0]), 2)
    assert weighted[1] is not None and weighted[1].tolist() == [3.0, 3.0]  # the larger, as for both directions


def test_held_out_is_gcond_s_validation_and_test_subgraphs_side_by_side(tiny_task: NodeTask) -> None:
    # GCond's inductive agent validates on adj_val (the validation nodes' own subgraph) and tests on adj_test;
    # we evaluated on the full graph, where held-out nodes also see training nodes and each other
    view = tiny_task.held_out()
    val, test = tiny_task.val_idx, tiny_task.test_idx
    v, t = val.numel(), test.numel()
    assert view.train_idx.numel() == 0
    assert torch.equal(view.val_idx, torch.arange(v)) and torch.equal(view.test_idx, torch.arange(v, v + t))
    assert torch.equal(view.x, tiny_task.x[torch.cat([val, test])]) and torch.equal(view.y[:v], tiny_task.y[val])
    dense, full = view.adj.to_dense(), tiny_task.adj.to_dense()
    assert torch.equal(dense[:v, :v], full[val][:, val]) and torch.equal(dense[v:, v:], full[test][:, test])
    assert not dense[:v, v:].any() and not dense[v:, :v].any()  # no edge between the two blocks
    assert full[val][:, test].any()  # the fixture has such edges: the test above can fail
    assert tiny_task.held_out() is view  # computed once


def test_a_gcn_on_the_held_out_graph_sees_each_block_alone(tiny_task: NodeTask) -> None:
    view = tiny_task.held_out()
    v = tiny_task.val_idx.numel()
    torch.manual_seed(0)
    net = create_model("gcn", in_channels=tiny_task.num_features, out_channels=tiny_task.num_classes,
                       hidden_channels=8, num_layers=2, dropout=0.0).eval()  # fmt: skip
    with torch.no_grad():
        both = net(view.x_in, view.op(net))
        for block, nodes in ((slice(0, v), tiny_task.val_idx), (slice(v, None), tiny_task.test_idx)):
            alone = _induced(tiny_task, nodes)
            torch.testing.assert_close(both[block], net(alone.x_in, alone.op(net)))


def test_held_out_evaluates_the_same_in_worker_processes(tiny_task: NodeTask) -> None:
    # the workers rebuilt the task with validation, which refuses a task without training nodes: BrokenProcessPool
    view = tiny_task.held_out()
    cond = condense_nodes(tiny_task.training_subgraph(), "random", budget=9, progress=False).tensors()
    cfg = NodeEvalConfig(runs=2, train=TrainConfig(epochs=5))
    one = evaluate_node(view, cond, config=cfg, workers=1)["gcn"].values
    two = evaluate_node(view, cond, config=cfg, workers=2)["gcn"].values
    assert len(two) == 2 and two == pytest.approx(one, abs=1e-6)


def _induced(task: NodeTask, nodes: torch.Tensor) -> NodeTask:
    """The subgraph ``nodes`` induce, built by hand from the dense adjacency (splits unused)."""
    x, edges = task.x[nodes], task.adj.to_dense()[nodes][:, nodes].nonzero().t()
    none = torch.zeros(0, dtype=torch.long)
    return NodeTask(x=x, x_in=model_input(x), adj=to_sparse_adj(edges, nodes.numel()), y=task.y[nodes],
                    train_idx=none, val_idx=none, test_idx=none, num_classes=task.num_classes)  # fmt: skip


def test_a_training_subgraph_is_judged_on_the_held_out_graph(tiny_task: NodeTask) -> None:
    sub = tiny_task.training_subgraph()
    assert sub.judge is tiny_task.held_out() and tiny_task.judge is tiny_task
    cg = condense_nodes(sub, "random", budget=9, progress=False)
    assert cg.card["source"]["num_nodes"] == 60 and cg.card["selection"]["graph"] == "held-out subgraphs"


def test_held_out_needs_validation_and_test_nodes(tiny_task: NodeTask) -> None:
    with pytest.raises(ValueError, match="held_out needs validation and test nodes"):
        tiny_task.training_subgraph().held_out()
