from __future__ import annotations

import json

import pytest
import torch

from condensekit.core.artifact import load_artifact
from condensekit.core.evaluate import TrainConfig
from condensekit.graph import NodeEvalConfig, NodeTask, condense_nodes
from condensekit.robust.graph_audit import GraphAuditConfig, audit_graph, audit_graph_artifact, flip_edges

FAST = dict(models=("gcn",), pgd_steps=5, eval=NodeEvalConfig(runs=2, hidden=16, train=TrainConfig(epochs=40)))


@pytest.fixture
def unit_graph(tiny_graph):
    """The tiny SBM graph with features min-max scaled into [0, 1]."""
    g = tiny_graph.clone()
    g.x = (g.x - g.x.min()) / (g.x.max() - g.x.min())
    return g


def test_flip_edges_keeps_the_edge_count_and_symmetry(unit_graph):
    noisy = flip_edges(unit_graph, 0.3, seed=0)
    before = unit_graph.edge_index.shape[1]
    assert noisy.edge_index.shape[1] == before
    pairs = set(map(tuple, noisy.edge_index.t().tolist()))
    assert all((b, a) in pairs for a, b in pairs) and all(a != b for a, b in pairs)
    assert pairs != set(map(tuple, unit_graph.edge_index.t().tolist()))
    assert torch.equal(flip_edges(unit_graph, 0.3, seed=0).edge_index, noisy.edge_index)


def test_flip_edges_counts_the_edges_of_a_directed_input_whichever_way_they_are_stored():
    from torch_geometric.data import Data
    from torch_geometric.utils import to_undirected

    # a directed input (as Actor's): 0-1 stored both ways, 2->1 and 3->2 one way only, a self loop on 3
    ei = torch.tensor([[0, 1, 2, 3, 3], [1, 0, 1, 2, 3]])
    g = Data(x=torch.rand(6, 2), edge_index=ei, num_nodes=6)
    same = flip_edges(g, 0.2, seed=0)  # ⌊0.2 · 3⌋ = 0 flips: the graph the models see, unchanged
    assert torch.equal(same.edge_index, to_undirected(ei, num_nodes=6))  # lost 2->1, 3->2 and the loop before
    one = set(map(tuple, flip_edges(g, 0.4, seed=0).edge_index.t().tolist()))  # one edge out, one non-edge in
    assert (3, 3) in one and len(one - {(3, 3)}) == 6 and len(one & {(0, 1), (1, 2), (2, 3)}) == 2


def test_flip_edges_refuses_more_flips_than_the_graph_has_non_edges():
    from torch_geometric.data import Data
    from torch_geometric.utils import to_undirected

    complete = to_undirected(torch.combinations(torch.arange(5)).t())  # 10 edges, no non-edge to add
    g = Data(x=torch.rand(5, 3), edge_index=complete, y=torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="argument eps of random_edges: .* only 0 non-edges"):
        flip_edges(g, 0.1, seed=0)  # used to loop for ever, drawing non-edges that do not exist
    path = Data(x=torch.rand(4, 3), edge_index=to_undirected(torch.tensor([[0, 1, 2], [1, 2, 3]])), num_nodes=4)
    assert flip_edges(path, 1.0, seed=0).edge_index.shape[1] == 6  # 3 edges out, the 3 non-edges in


def test_graph_audit_rows_fall_with_eps(unit_graph, tmp_path):
    task = NodeTask.from_data(unit_graph)
    cond = condense_nodes(task, "random", budget=9, seed=0, progress=False)
    cfg = GraphAuditConfig(eps=("0.3", "0.02"), **FAST)
    res = audit_graph(cond, task, config=cfg, real=unit_graph)
    keys = [(r["attack"], r["eps"]) for r in res.rows]
    assert keys == [("clean", "0"), ("feature_pgd", "0.02"), ("feature_pgd", "0.3"),
                    ("random_edges", "0.02"), ("random_edges", "0.3")]  # fmt: skip
    by = {k: r["mean"] for k, r in zip(keys, res.rows, strict=True)}
    assert by[("feature_pgd", "0.3")] < by[("clean", "0")]
    assert by[("feature_pgd", "0.3")] <= by[("feature_pgd", "0.02")]
    # neither graph attack cascades over ε: the falling curve is a real check there
    assert {c["status"] for c in res.sanity["checks"]} <= {"passed", "failed"} and res.sanity["checks"]
    cond.save(tmp_path / "tiny-random-9")
    _, files = audit_graph_artifact(tmp_path / "tiny-random-9", config=cfg, real=unit_graph, device="cpu")
    record = json.loads(open(files["json"]).read())
    assert load_artifact(tmp_path / "tiny-random-9").card["audits"][-1]["rows"] == record["rows"]


def test_graph_audit_bad_input(tiny_graph):
    with pytest.raises(ValueError, match="argument attacks"):
        GraphAuditConfig(attacks=("nettack",))
    with pytest.raises(ValueError, match=r"outside the data range.*\(feature_pgd's features and random_edges'"):
        GraphAuditConfig(eps=("1.5",))  # not "images are attacked in [0, 1] pixel space"
    task = NodeTask.from_data(tiny_graph)  # raw features are not in [0, 1]
    cond = condense_nodes(task, "random", budget=9, seed=0, progress=False)
    with pytest.raises(ValueError, match=r"features lie in"):
        audit_graph(cond, task, config=GraphAuditConfig(**FAST), real=tiny_graph)


def test_graph_audit_config_refuses_empty_lists_and_keeps_names_once():
    for arg in ("attacks", "models"):
        with pytest.raises(ValueError, match=f"argument {arg}"):
            GraphAuditConfig(**{arg: ()})  # was accepted: an audit of clean accuracy only, or of nothing
    cfg = GraphAuditConfig(attacks=("feature_pgd", "feature_pgd"), models=("gcn", "gcn"))
    assert cfg.attacks == ("feature_pgd",) and cfg.models == ("gcn",)


def test_graph_audit_config_refuses_zero_runs_and_fractional_steps():
    with pytest.raises(ValueError, match="argument runs"):
        GraphAuditConfig(eval=NodeEvalConfig(runs=0))  # audited no model and said nothing
    with pytest.raises(ValueError, match="argument pgd_steps"):
        GraphAuditConfig(pgd_steps=2.5)


def test_feature_pgd_ascends_the_loss_of_the_test_nodes_it_scores(unit_graph, monkeypatch):
    """It attacked the mean loss of every node (train and validation labels included), a weaker attack on the
    test nodes than the audit reports."""
    from condensekit.robust import graph_audit as mod

    seen = []
    real_pgd = mod.torchattacks.PGD

    class Recording(real_pgd):
        def forward(self, x, y):
            seen.append((tuple(self.get_logits(x).shape), tuple(y.shape)))
            return super().forward(x, y)

    monkeypatch.setattr(mod.torchattacks, "PGD", Recording)
    task = NodeTask.from_data(unit_graph)
    cond = condense_nodes(task, "random", budget=9, seed=0, progress=False)
    cfg = GraphAuditConfig(attacks=("feature_pgd",), eps=("0.1",), **(FAST | {"eval": NodeEvalConfig(runs=1, hidden=16,
                           train=TrainConfig(epochs=5))}))  # fmt: skip
    audit_graph(cond, task, config=cfg, real=unit_graph)
    n = len(task.test_idx)
    assert n < unit_graph.num_nodes and seen == [((n, task.num_classes), (n,))]


def test_graph_audit_config_takes_a_comma_separated_string():
    # a plain string was taken letter by letter: 'f' is not an attack
    cfg = GraphAuditConfig(attacks="random_edges, feature_pgd", models="gcn")
    assert cfg.attacks == ("random_edges", "feature_pgd") and cfg.models == ("gcn",)


def _hundred_edges():
    from torch_geometric.data import Data
    from torch_geometric.utils import to_undirected

    pairs = torch.combinations(torch.arange(30))[torch.randperm(435, generator=torch.Generator().manual_seed(0))[:100]]
    return Data(x=torch.rand(30, 3), edge_index=to_undirected(pairs.t(), num_nodes=30), num_nodes=30)


def _pairs(g) -> set[tuple[int, int]]:
    return {(a, b) for a, b in g.edge_index.t().tolist() if a < b}


def test_flip_edges_counts_the_fraction_as_written_and_nests_the_flips():
    g = _hundred_edges()
    base = _pairs(g)
    assert len(base) == 100
    # 0.29 · 100 is 28.999... in floats: ⌊ε·|E|⌋ is 29
    assert len(base - _pairs(flip_edges(g, 0.29, seed=3))) == 29
    # one seed, growing ε: the flips of the smaller ε are among those of the larger (removed and added)
    small, large = _pairs(flip_edges(g, 0.1, seed=3)), _pairs(flip_edges(g, 0.3, seed=3))
    assert base - small <= base - large and small - base <= large - base
    assert len(large - base) == 30


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), True])
def test_flip_edges_refuses_a_fraction_outside_0_1_by_name(bad):
    # -0.1 kept the last 10 edges of the permutation (90 removed, none added) without a word
    with pytest.raises(ValueError, match=r"for argument fraction of random_edges. Valid values are in \[0, 1\]"):
        flip_edges(_hundred_edges(), bad, seed=0)
