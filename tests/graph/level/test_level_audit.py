"""Audit of graph-level condensation (sitting 20): splits, features fitted on the training split only, argument
checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch_geometric.data import Data

from condensekit.graph.level.condense import condense_graphs
from condensekit.graph.level.data import graphset_from_list, load_graph_dataset, stratified_split


def _write_unlabelled_tu(raw: Path, name: str, graphs: list[Data]) -> None:
    """``graphs`` as TUDataset raw text files with neither node labels nor attributes (IMDB-BINARY's layout)."""
    raw.mkdir(parents=True)
    edges, indicator, offset = [], [], 0
    for k, g in enumerate(graphs):
        edges += [f"{i + offset + 1}, {j + offset + 1}" for i, j in g.edge_index.t().tolist()]
        indicator += [str(k + 1)] * g.num_nodes
        offset += g.num_nodes
    (raw / f"{name}_A.txt").write_text("\n".join(edges) + "\n")
    (raw / f"{name}_graph_indicator.txt").write_text("\n".join(indicator) + "\n")
    (raw / f"{name}_graph_labels.txt").write_text("\n".join(str(int(g.y)) for g in graphs) + "\n")


def _undirected(pairs: list[tuple[int, int]]) -> torch.Tensor:
    e = torch.tensor(pairs, dtype=torch.long).t()
    return torch.cat([e, e.flip(0)], 1)


def test_degree_one_hot_is_fitted_on_the_training_graphs_only(tmp_path: Path, monkeypatch) -> None:
    """IMDB-BINARY's one-hot degree took its width from every graph, test graphs included: a test graph with a hub
    widened the features every training graph and model saw. The width is now the training graphs' largest degree,
    and a larger degree of a held-out node falls in the last column."""
    y = torch.tensor([0, 1] * 10)
    train, val, test = stratified_split(y, seed=0)
    hub = int(test[0])
    graphs = []
    for k in range(20):
        if k == hub:  # a star: its centre has degree 9, no training graph has more than 2
            edges, n = _undirected([(0, j) for j in range(1, 10)]), 10
        else:  # paths of 3 or 4 nodes
            n = 3 + k % 2
            edges = _undirected([(j, j + 1) for j in range(n - 1)])
        graphs.append(Data(edge_index=edges, y=y[k : k + 1], num_nodes=n))
    _write_unlabelled_tu(tmp_path / "root" / "IMDB-BINARY" / "raw", "IMDB-BINARY", graphs)
    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path / "cache"))
    gs = load_graph_dataset("imdb-binary", root=tmp_path / "root", seed=0)
    assert torch.equal(gs.test_idx, test) and gs.num_graphs == 20
    assert gs.num_features == 3  # degrees 0, 1, 2 of the training graphs (was 10: the test star's hub)
    centre = int(gs.ptr[hub])
    assert gs.x[centre].tolist() == [0.0, 0.0, 1.0]  # degree 9 -> the last column, "degree >= 2"
    path = int(gs.train_idx[0])
    assert torch.equal(gs.x[gs.ptr[path]], torch.tensor([0.0, 1.0, 0.0]))  # a path's end: degree 1


@pytest.mark.parametrize("seed", [1.5, True, -2])
def test_a_split_seed_that_is_not_a_non_negative_integer_is_refused(tiny_graphs, seed: object) -> None:
    """int(seed) truncated 1.5 to split 1 and took True as split 1, silently."""
    with pytest.raises(ValueError, match=r"argument seed\. Valid values are integers >= 0"):
        graphset_from_list(tiny_graphs, seed=seed)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"argument seed\. Valid values are integers >= 0"):
        load_graph_dataset("mutag", root="/nonexistent", seed=seed)  # type: ignore[arg-type]


def test_a_hand_built_split_that_leaks_or_points_past_the_graphs_is_refused(tiny_set) -> None:
    """A GraphSet built by hand was taken as it was: test graphs that are also training graphs were condensed from
    and scored on, and an index past the last graph failed deep inside a method."""
    from dataclasses import replace

    from condensekit.graph.level.evaluate import GraphEvalConfig, evaluate_graphs

    leak = replace(tiny_set, test_idx=torch.cat([tiny_set.test_idx, tiny_set.train_idx[:1]]))
    shared = int(tiny_set.train_idx[0])
    with pytest.raises(ValueError, match=rf"graphs\.train_idx and graphs\.test_idx share graph {shared}"):
        condense_graphs(leak, "random", gpc=2, progress=False, device="cpu")
    with pytest.raises(ValueError, match="share graph"):
        evaluate_graphs(leak, None, models=["gcn"], config=GraphEvalConfig(runs=1, epochs=1))
    past = replace(tiny_set, val_idx=torch.tensor([0, tiny_set.num_graphs]))
    bounds = r"graphs\.val_idx holds graph indices in \[0, 24\]; valid indices are 0\.\.23"
    with pytest.raises(ValueError, match=bounds):
        condense_graphs(past, "random", gpc=2, progress=False, device="cpu")
    for name, bad, why in (
        ("val_idx", tiny_set.val_idx[:0], "is empty"),
        ("test_idx", torch.cat([tiny_set.test_idx, tiny_set.test_idx[:1]]), "more than once"),
        ("train_idx", tiny_set.train_idx.float(), "integer graph indices"),
    ):
        with pytest.raises(ValueError, match=rf"graphs\.{name} .*{why}"):
            condense_graphs(replace(tiny_set, **{name: bad}), "random", gpc=2, progress=False, device="cpu")
    with pytest.raises(ValueError, match=r"graphs\.y holds labels in \[0, 1\]; valid labels are 0\.\.0"):
        condense_graphs(replace(tiny_set, num_classes=1), "random", gpc=2, progress=False, device="cpu")
    condense_graphs(tiny_set, "random", gpc=2, progress=False, device="cpu")  # the real split passes


def test_krr_inputs_of_the_wrong_shape_or_dtype_are_refused_by_name() -> None:
    """Integer one-hot labels, float32 labels against a float64 kernel, a 1-D y_s or k_ts, half precision and an
    empty synthetic set failed inside torch without naming an argument, or (n_s = 0) predicted zeros silently."""
    from condensekit.core.objectives.kernel_ridge import cholesky_jitter, krr_predict

    x = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    k = x @ x.T + torch.eye(5, dtype=torch.float64)
    y = torch.eye(5, 2, dtype=torch.float64)
    assert krr_predict(k[:2], k, y).shape == (2, 2)
    dtype = r"krr_predict needs k_ts, k_ss and y_s of one dtype, float32 or float64"
    for args in (
        (k[:2], k, y.long()),
        (k[:2], k, y.float()),
        (k[:2].float(), k, y),
        (k[:2].half(), k.half(), y.half()),
    ):
        with pytest.raises(ValueError, match=dtype):
            krr_predict(*args)
    shape = r"krr_predict needs k_ts \(n_t, n_s\), k_ss \(n_s, n_s\) and y_s \(n_s, c\) with n_s >= 1"
    for args in ((k[:2], k, y[:, 0]), (k[0], k, y), (k[:2, :0], k[:0, :0], y[:0]), (k[:2], k[:4], y)):
        with pytest.raises(ValueError, match=shape):
            krr_predict(*args)
    for bad, why in ((k[:0, :0], "non-empty square"), (k[:2], "non-empty square"), (k.half(), "float32 or float64")):
        with pytest.raises(ValueError, match=why):
            cholesky_jitter(bad)


FAST = {
    "kidd": {"batch_real": 8, "batch_syn": 4, "init": "random"},
    "kidd-lr": {"batch_real": 8, "batch_syn": 4, "init": "random", "rank": 2},
    "doscond": {"batch_real": 4, "init": "random"},
}


@pytest.mark.parametrize(
    ("method", "field", "value", "valid"),
    [
        ("doscond", "lr_decay_step", 400.5, "integers >= 0"),  # step == 400.5 never held: Adam never restarted
        ("doscond", "mask_padding", "false", "True and False"),  # a truthy string: the padding was masked
        ("doscond", "init_fit", 0, "True and False"),
        ("kidd", "fused", "no", "True and False"),
        ("kidd", "update_adj", None, "True and False"),
        ("kidd-lr", "rank", 2.5, r"1\.\.\d+ \(graph size\)"),  # a TypeError of a tensor slice
        ("kidd-lr", "rank", True, r"1\.\.\d+ \(graph size\)"),
        ("kidd-lr", "rank", 10**6, r"1\.\.\d+ \(graph size\)"),
    ],
)
def test_config_values_of_the_wrong_kind_name_their_argument_before_the_set_up(
    tiny_set, monkeypatch, method: str, field: str, value: object, valid: str
) -> None:
    from condensekit.graph.level import evaluate

    monkeypatch.setattr(evaluate, "real_embeddings", lambda *a, **k: pytest.fail("set-up ran"))  # herding's GCN
    cfg = FAST[method] | {"init": "herding", field: value}
    with pytest.raises(ValueError, match=rf"Invalid value {value!r} for argument {field}\. Valid values are {valid}"):
        condense_graphs(tiny_set, method, gpc=1, config=cfg, steps=1, progress=False, device="cpu")


def test_a_huge_label_is_refused_without_allocating_a_counter_per_label(tiny_graphs) -> None:
    """validate_graphs counted labels with bincount, which allocates max(label) + 1 counters: 8 TB for 10**12, a
    RuntimeError of the allocator (or the machine's memory) instead of the missing-labels error."""
    far = [Data(x=g.x, edge_index=g.edge_index, y=g.y * 10**12) for g in tiny_graphs]
    want = r"label\(s\) \[1, 2, 3, 4, 5, 6, 7, 8, \.\.\. \(999999999999\)\] \(labels seen: \[0, 1000000000000\]\)"
    with pytest.raises(ValueError, match=want):
        graphset_from_list(far)
    shifted = [Data(x=g.x, edge_index=g.edge_index, y=g.y + 1) for g in tiny_graphs]  # labels {1, 2}
    with pytest.raises(ValueError, match=r"no graph has label\(s\) \[0\] \(labels seen: \[1, 2\]\)"):
        graphset_from_list(shifted)
    few = tiny_graphs[:14]  # class 1 keeps 2 graphs
    with pytest.raises(ValueError, match=r"class\(es\) \[1\] have fewer than 3 graphs"):
        graphset_from_list(few)


def test_evaluate_graphs_names_a_single_model_string_as_the_wrong_kind() -> None:
    """models="gcn" was iterated letter by letter: "Unknown graph model 'g'"."""
    from condensekit.graph.level.evaluate import GraphEvalConfig, evaluate_graphs
    from tests.graph.level.conftest import make_tiny_graphs

    gs = graphset_from_list(make_tiny_graphs(), name="tiny")
    with pytest.raises(ValueError, match=r"Invalid value 'gcn' for argument models\. .*\{gcn, gin\}, e\.g\. \['gcn'\]"):
        evaluate_graphs(gs, None, models="gcn", config=GraphEvalConfig(runs=1, epochs=1))
