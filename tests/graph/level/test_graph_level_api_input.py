"""The graph-level Python API refuses bad input by name, before any training."""

import pytest
import torch
from torch_geometric.data import Data

from condensekit.graph.level import GraphEvalConfig, condense_graphs, evaluate_graphs, prepare_graphs


def _graphs(n: int = 30, f: int = 3) -> list[Data]:
    gen = torch.Generator().manual_seed(0)
    out = []
    for i in range(n):
        k = 4 + i % 3
        src = torch.arange(k)
        ei = torch.cat([torch.stack([src, (src + 1) % k]), torch.stack([(src + 1) % k, src])], dim=1)
        out.append(Data(x=torch.randn(k, f, generator=gen) + i % 2, edge_index=ei, y=torch.tensor([i % 2])))
    return out


CFG = GraphEvalConfig(runs=1, epochs=1)


def test_numpy_features_are_refused_by_name() -> None:
    graphs = _graphs()
    graphs[2] = Data(x=graphs[2].x.numpy(), edge_index=graphs[2].edge_index, y=graphs[2].y)
    with pytest.raises(ValueError, match=r"graphs\[2\].x is a ndarray; it must be a torch.Tensor"):
        prepare_graphs(graphs, device="cpu")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t | {"y": t["y"].float()}, "dtype torch.float32; the condensed graphs need N integer"),
        (lambda t: t | {"mask": t["mask"] * 0.5}, r"tensor .mask. holds 0.5 at index .*valid values are 0 and 1"),
        (lambda t: {k: v[:0] for k, v in t.items()}, "has no graph"),
        (lambda t: t | {"y": t["y"].numpy()}, "condensed y is a ndarray"),
    ],
)
def test_evaluate_graphs_refuses_a_bad_set(change, message) -> None:
    gs = prepare_graphs(_graphs(), device="cpu")
    t = condense_graphs(gs, "random", gpc=2, progress=False, device="cpu").tensors()
    with pytest.raises(ValueError, match=message):
        evaluate_graphs(gs, change(t), models=["gcn"], config=CFG)


def test_evaluate_graphs_names_what_it_takes() -> None:
    graphs = _graphs()
    gs = prepare_graphs(graphs, device="cpu")
    cs = condense_graphs(gs, "random", gpc=2, progress=False, device="cpu")
    with pytest.raises(ValueError, match=r"argument graphs: a list; it must be a GraphSet: prepare_graphs"):
        evaluate_graphs(graphs, cs.tensors(), models=["gcn"], config=CFG)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"a CondensedGraphSet.*\(pass cs.tensors\(\)\)"):
        evaluate_graphs(gs, cs, models=["gcn"], config=CFG)  # type: ignore[arg-type]
    assert len(evaluate_graphs(gs, cs.tensors(), models=["gcn"], config=CFG)["gcn"].values) == 1


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool])
def test_integer_or_bool_node_features_are_cast_not_refused(dtype) -> None:
    """Integer features (one-hot node labels kept as int64) worked until sitting 25's float-only check refused them."""
    graphs = [Data(x=g.x.round().to(dtype), edge_index=g.edge_index, y=g.y) for g in _graphs()]
    gs = prepare_graphs(graphs, seed=0)
    assert gs.x.dtype == torch.float32
    cs = condense_graphs(gs, "random", gpc=2, seed=0)
    res = evaluate_graphs(gs, cs.tensors(), models=["gcn"], config=GraphEvalConfig(runs=1, epochs=1))
    assert set(res) == {"gcn"}


def test_complex_node_features_are_refused() -> None:
    graphs = [Data(x=g.x.to(torch.complex64), edge_index=g.edge_index, y=g.y) for g in _graphs()]
    with pytest.raises(ValueError, match=r"graphs\[0\] needs real node features .*complex64"):
        prepare_graphs(graphs, seed=0)
