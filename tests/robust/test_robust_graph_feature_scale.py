"""The graph audit records the scale its feature-space ε is measured against."""

from __future__ import annotations

import torch

from condensekit.core.evaluate import TrainConfig
from condensekit.graph import NodeEvalConfig, NodeTask, condense_nodes
from condensekit.robust.graph_audit import GraphAuditConfig, audit_graph


def test_graph_audit_records_the_feature_scale_beside_eps(tiny_graph):
    # row-normalised bag-of-words features: a nonzero is ~1/(words in the row), far below the [0, 1] range that
    # ε = 0.05 reads as small against; the record lets a reader put ε on that scale
    g = tiny_graph.clone()
    x = (torch.rand(g.x.shape, generator=torch.Generator().manual_seed(0)) < 0.25).float()
    x[:, 0] = 1.0  # no empty row
    g.x = x / x.sum(1, keepdim=True)
    task = NodeTask.from_data(g)
    cond = condense_nodes(task, "random", budget=9, seed=0, progress=False)
    cfg = GraphAuditConfig(attacks=("feature_pgd",), eps=("0.05",), models=("gcn",), pgd_steps=2,
                           eval=NodeEvalConfig(runs=1, hidden=16, train=TrainConfig(epochs=5)))  # fmt: skip
    feats = audit_graph(cond, task, config=cfg).config["features"]
    nz = g.x[g.x > 0]
    assert feats["dims"] == g.x.shape[1] and feats["min"] == 0.0 and feats["max"] == float(g.x.max())
    assert abs(feats["mean_nonzero"] - float(nz.mean())) < 1e-6 and feats["mean_nonzero"] < 0.5
    assert feats["nonzero_per_node"] == round(float((g.x > 0).sum()) / g.x.shape[0], 2)
