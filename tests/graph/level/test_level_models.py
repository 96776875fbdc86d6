from __future__ import annotations

import pytest
import torch

from condensekit.graph.level.batch import GraphBatch
from condensekit.graph.level.models import GRAPH_MODELS, create_graph_model


@pytest.mark.parametrize("name", ["gcn", "gin"])
@pytest.mark.parametrize("pooling", ["mean", "sum", "max"])
def test_sparse_and_dense_layouts_agree(tiny_set, name: str, pooling: str) -> None:
    torch.manual_seed(0)
    model = create_graph_model(name, in_channels=4, out_channels=2, hidden_channels=8, num_layers=2, pooling=pooling)
    idx = torch.tensor([0, 1, 12, 13, 5])  # includes the edgeless and the single-node graph
    sparse = model(GraphBatch.from_graphset(tiny_set, idx))
    dense = model(GraphBatch.dense(*tiny_set.padded(idx)))
    assert sparse.shape == (5, 2) and torch.isfinite(sparse).all()
    assert torch.allclose(sparse, dense, atol=1e-5)
    from_dense = model(GraphBatch.sparse_from_dense(*tiny_set.padded(idx)))
    assert torch.allclose(sparse, from_dense, atol=1e-5)


def test_dense_adjacency_gets_gradients() -> None:
    x = torch.rand(3, 5, 4)
    adj = torch.rand(3, 5, 5, requires_grad=True)
    model = create_graph_model("gcn", in_channels=4, out_channels=2, hidden_channels=8)
    model(GraphBatch.dense(x, adj)).sum().backward()
    assert adj.grad is not None and torch.isfinite(adj.grad).all() and adj.grad.abs().sum() > 0


def test_unknown_names_list_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"Valid values are \{max, mean, sum\}"):
        create_graph_model("gcn", in_channels=4, out_channels=2, pooling="attention")
    with pytest.raises(ValueError, match=r"gcn, gin"):
        create_graph_model("gat", in_channels=4, out_channels=2)
    assert GRAPH_MODELS.names() == ["gcn", "gin"]


@pytest.mark.parametrize("pooling", ["mean", "sum", "max"])
def test_a_graph_without_nodes_pools_to_zero_in_both_layouts(pooling: str) -> None:
    """A condensed graph whose mask is all 0 (an artifact may hold one): max pooling gave -inf and NaN logits."""
    x, adj = torch.rand(2, 3, 4), torch.zeros(2, 3, 3)
    mask = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    dense = GraphBatch.dense(x, adj, mask)
    sparse = GraphBatch.sparse_from_dense(x, adj, mask)
    for g, h in ((dense, x), (sparse, sparse.x)):
        out = g.pool(h, pooling)
        assert torch.equal(out[1], torch.zeros(4))
        assert torch.allclose(
            out[0], {"mean": x[0, :2].mean(0), "sum": x[0, :2].sum(0), "max": x[0, :2].amax(0)}[pooling]
        )
    model = create_graph_model("gin", in_channels=4, out_channels=2, hidden_channels=8, num_layers=2, pooling=pooling)
    assert torch.isfinite(model(dense)).all() and torch.isfinite(model(sparse)).all()
