"""The node-graph membership game: members are training nodes, non-members test nodes (labels only differ)."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Data

from condensekit.core.artifact import load_artifact
from condensekit.core.evaluate import TrainConfig
from condensekit.graph import NodeEvalConfig, NodeTask, condense_nodes
from condensekit.privacy.graph_audit import NodeAuditConfig, audit_node_artifact, audit_node_graph, audit_node_graphs

# validated only at the last epoch: the target keeps what it memorised (labels here are noise)
EVAL = NodeEvalConfig(runs=1, hidden=32, dropout=0.0, train=TrainConfig(epochs=100, val_every=100))


def noise_graph(seed: int = 0, n: int = 120, d: int = 64, k: int = 3) -> Data:
    """Random features, random labels, sparse random edges; 40/20/40 train/val/test nodes: a model that fits
    its labelled nodes can only memorise them, so membership is visible in its loss."""
    gen = torch.Generator().manual_seed(seed)
    x, y = torch.randn(n, d, generator=gen), torch.randint(0, k, (n,), generator=gen)
    src, dst = torch.randint(0, n, (2, n), generator=gen)
    keep = src != dst
    edge_index = torch.cat([torch.stack([src[keep], dst[keep]]), torch.stack([dst[keep], src[keep]])], 1)
    perm = torch.randperm(n, generator=gen)
    masks = [torch.zeros(n, dtype=torch.bool) for _ in range(3)]
    for mask, (lo, hi) in zip(masks, ((0, 40), (40, 60), (60, 100)), strict=True):
        mask[perm[lo:hi]] = True
    return Data(x=x, edge_index=edge_index, y=y, train_mask=masks[0], val_mask=masks[1], test_mask=masks[2])


@pytest.fixture
def noise_task() -> NodeTask:
    return NodeTask.from_data(noise_graph())


@pytest.mark.parametrize("attack", ["loss", "lira"])
def test_attacks_find_the_members_of_a_real_graph_target(noise_task, attack):
    rec = audit_node_graph(None, noise_task, NodeAuditConfig(attack=attack, shadows=4, eval=EVAL))
    assert rec["members"] == 40 and rec["target"] == "real graph (members' labels)"
    assert rec["auc"] > 0.75  # the target memorised its 40 noise labels
    assert rec["min_fpr"] == pytest.approx(1 / 40)


def test_one_game_for_several_targets_shares_the_shadows(noise_task):
    cond = condense_nodes(noise_task, "random", budget=6, seed=0, progress=False)
    cfg = NodeAuditConfig(shadows=3, eval=EVAL)
    null = noise_task.val_idx  # 20 nodes, none of them a candidate: nothing to find
    both = audit_node_graphs({"real": None, "random": cond, "null": null}, noise_task, cfg)
    assert both["null"]["target"] == "real graph (other nodes' labels)" and both["null"]["auc"] < 0.7
    for name, target in (("real", None), ("random", cond)):
        alone = audit_node_graph(target, noise_task, cfg)
        assert {k: both[name][k] for k in ("auc", "tpr_at_1fpr")} == {k: alone[k] for k in ("auc", "tpr_at_1fpr")}
    assert both["real"]["auc"] > both["random"]["auc"]  # the coreset holds 6 of the 40 members' labels


def test_lira_online_and_offline_on_a_graph_artifact(noise_task, tmp_path):
    data = noise_graph()
    cond = condense_nodes(noise_task, "random", budget=6, seed=0, progress=False)
    cond.save(tmp_path / "g")
    rec = audit_node_artifact(tmp_path / "g", NodeAuditConfig(shadows=4, eval=EVAL), real=data, device="cpu")
    assert rec["mode"] == "online" and rec["target"] == "audited graph" and 0.0 <= rec["auc"] <= 1.0
    off = audit_node_artifact(
        tmp_path / "g", NodeAuditConfig(mode="offline", shadows=2, members=10, eval=EVAL), real=data, device="cpu"
    )
    assert off["mode"] == "offline" and off["members"] == 10
    audits = load_artifact(tmp_path / "g").card["audits"]
    assert [a["mode"] for a in audits] == ["online", "offline"] and all(a["kind"] == "membership" for a in audits)


def test_mislabelled_canaries_in_the_real_graph_baseline_are_found(noise_task):
    # scored against their wrong labels, canaries are found only if the target trained on those wrong labels
    rec = audit_node_graph(None, noise_task, NodeAuditConfig(attack="loss", canaries=5, eval=EVAL))
    assert rec["canaries"]["count"] == 5 and rec["canaries"]["auc"] > 0.8
    cond = condense_nodes(noise_task, "random", budget=6, seed=0, progress=False)
    with pytest.raises(ValueError, match="cannot be given canaries"):
        audit_node_graph(cond, noise_task, NodeAuditConfig(attack="loss", canaries=5, eval=EVAL))


def test_node_audit_errors(noise_task):
    with pytest.raises(ValueError, match="members must be <= 40"):
        audit_node_graph(None, noise_task, NodeAuditConfig(attack="loss", members=41, eval=EVAL))
    # 120 nodes - 2 × 20 candidates - 20 validation = 60 nodes: three chunks of 20
    with pytest.raises(ValueError, match="make at most 3 chunks"):
        audit_node_graph(None, noise_task, NodeAuditConfig(mode="offline", shadows=4, members=20, eval=EVAL))
    with pytest.raises(ValueError, match="argument shadows"):
        NodeAuditConfig(shadows=1)
    with pytest.raises(ValueError, match="argument attack"):
        NodeAuditConfig(attack="magic")
    with pytest.raises(ValueError, match="gcn"):
        NodeAuditConfig(model="transformer")


def test_lira_global_variance_pools_residuals():
    from condensekit.privacy.mia import lira_scores, lira_variance_for

    # 4 shadows, 2 candidates: candidate 0 IN-shadows at 3±1, OUT at 0±1; candidate 1 the same shifted by +10
    conf = torch.tensor([[4.0, 14.0], [2.0, 12.0], [1.0, 11.0], [-1.0, 9.0]])
    inside = torch.tensor([[True, True], [True, True], [False, False], [False, False]])
    phi = torch.tensor([3.0, 10.0])
    glob = lira_scores(phi, conf, inside, variance="global")
    # pooled residual sd = sqrt(4 · 1 / (4 - 2)) = sqrt(2) per side, whatever the candidates' means
    sd = 2**0.5
    expect = (-(phi - torch.tensor([3.0, 13.0])).pow(2) + (phi - torch.tensor([0.0, 10.0])).pow(2)) / (2 * sd**2)
    assert torch.allclose(glob, expect)
    assert lira_variance_for("auto", 16) == "global" and lira_variance_for("auto", 64) == "per_example"
    with pytest.raises(ValueError, match="lira_variance"):
        lira_variance_for("median", 16)


def test_the_package_exports_the_graph_audit():
    import condensekit.privacy as privacy

    assert privacy.audit_node_graph is audit_node_graph and privacy.NodeAuditConfig is NodeAuditConfig
    with pytest.raises(AttributeError, match="no attribute 'audit_everything'"):
        privacy.audit_everything  # noqa: B018
