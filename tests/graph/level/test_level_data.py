from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.utils import to_dense_adj

from condensekit.graph.level.data import GRAPH_DATASETS, graphset_from_list, load_graph_dataset, stratified_split
from tests.graph.test_graph_data import _Tampered


def test_stratified_split_is_disjoint_complete_per_class_and_fixed_by_seed() -> None:
    y = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    train, val, test = stratified_split(y, seed=3)
    allidx = torch.cat([train, val, test])
    assert allidx.numel() == 100 and torch.unique(allidx).numel() == 100
    for c, n in ((0, 50), (1, 30), (2, 20)):
        assert int((y[train] == c).sum()) == round(0.8 * n)
        assert int((y[val] == c).sum()) == round(0.1 * n)
    again = stratified_split(y, seed=3)
    other = stratified_split(y, seed=4)
    assert all(torch.equal(a, b) for a, b in zip((train, val, test), again, strict=True))
    assert not torch.equal(train, other[0])


def test_select_and_padded_reproduce_each_graph(tiny_set, tiny_graphs) -> None:
    idx = torch.tensor([3, 0, 20, 12])
    x, edge_index, batch = tiny_set.select(idx)
    assert torch.equal(batch.bincount(), torch.tensor([tiny_graphs[i].num_nodes for i in idx.tolist()]))
    xd, adj, mask = tiny_set.padded(idx)
    for k, i in enumerate(idx.tolist()):
        g = tiny_graphs[i]
        n = g.num_nodes
        assert torch.equal(xd[k, :n], g.x) and mask[k, :n].all() and not mask[k, n:].any()
        want = to_dense_adj(g.edge_index, max_num_nodes=n)[0] if g.edge_index.numel() else torch.zeros(n, n)
        assert torch.equal(adj[k, :n, :n], want)
    # truncation keeps the first nodes and the edges among them
    xt, at, mt = tiny_set.padded(idx, max_nodes=2)
    assert xt.shape[1] == 2 and int(mt.sum()) <= 8


def test_bad_graph_lists_name_the_graph_and_the_problem(tiny_graphs) -> None:
    wide = list(tiny_graphs)
    wide[5] = Data(x=torch.zeros(3, 7), edge_index=torch.zeros(2, 0, dtype=torch.long), y=torch.tensor([0]))
    with pytest.raises(ValueError, match=r"graphs\[5\] has 7 node features but graphs\[0\] has 4"):
        graphset_from_list(wide)
    nan = list(tiny_graphs)
    nan[2] = Data(
        x=torch.full((3, 4), float("nan")), edge_index=torch.zeros(2, 0, dtype=torch.long), y=torch.tensor([0])
    )
    with pytest.raises(ValueError, match=r"graphs\[2\]\.x holds NaN or inf"):
        graphset_from_list(nan)
    with pytest.raises(ValueError, match="at least two classes"):
        graphset_from_list([g for g in tiny_graphs if int(g.y) == 0])


def test_labels_with_a_class_missing_are_refused_naming_it(tiny_graphs) -> None:
    """Labels {0, 2}: every method used to fail later on class 1's 0 training graphs ("at most 0 graphs per class")."""
    gapped = [Data(x=g.x, edge_index=g.edge_index, y=g.y * 2) for g in tiny_graphs]
    want = r"no graph has label\(s\) \[1\] \(labels seen: \[0, 2\]\); relabel y to 0\.\.1"
    with pytest.raises(ValueError, match=want):
        graphset_from_list(gapped)
    far = [Data(x=g.x, edge_index=g.edge_index, y=g.y * 1000) for g in tiny_graphs]
    with pytest.raises(
        ValueError, match=r"label\(s\) \[1, 2, 3, 4, 5, 6, 7, 8, \.\.\. \(999\)\] \(labels seen: \[0, 1000\]\)"
    ):
        graphset_from_list(far)


def test_directed_graphs_are_symmetrised_so_a_coreset_of_them_evaluates_and_loads(tiny_graphs, tmp_path) -> None:
    from condensekit.graph.level.condense import CondensedGraphSet, condense_graphs

    directed = [Data(x=g.x, edge_index=g.edge_index[:, : g.edge_index.shape[1] // 2], y=g.y) for g in tiny_graphs]
    gs = graphset_from_list(directed)
    for i, g in enumerate(directed):
        x, edge_index, _ = gs.select(torch.tensor([i]))
        want = torch.cat([g.edge_index, g.edge_index.flip(0)], 1)
        assert {tuple(e) for e in edge_index.t().tolist()} == {tuple(e) for e in want.t().tolist()}
    assert gs.edge_index.shape[1] == sum(2 * g.edge_index.shape[1] for g in directed)
    # an undirected list is taken as it is, edge order included
    same = graphset_from_list(tiny_graphs)
    assert all(torch.equal(same.select(torch.tensor([i]))[1], g.edge_index) for i, g in enumerate(tiny_graphs))
    cs = condense_graphs(gs, "random", gpc=2, progress=False, device="cpu")
    assert torch.equal(cs.adj, cs.adj.transpose(1, 2))  # was asymmetric: load and evaluate refused it
    cs.save(tmp_path / "g")
    CondensedGraphSet.load(tmp_path / "g")


def test_a_replaced_graph_set_does_not_reuse_the_evaluation_batches_of_the_old_one(tiny_set) -> None:
    from dataclasses import replace

    from condensekit.graph.level.evaluate import _split_batches

    val, _ = _split_batches(tiny_set)
    assert val.num_graphs == tiny_set.val_idx.numel()
    other = replace(tiny_set, val_idx=tiny_set.train_idx)  # e.g. another split of the same graphs
    val, _ = _split_batches(other)
    assert val.num_graphs == tiny_set.train_idx.numel()  # was the old split's cached validation batch


def test_unknown_dataset_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="mutag"):
        load_graph_dataset("cora")


@pytest.mark.real_data
def test_mutag_loads_with_one_hot_labels_and_stratified_splits() -> None:
    gs = load_graph_dataset("mutag")
    assert gs.num_graphs == 188 and gs.num_features == 7 and gs.num_classes == 2
    assert (gs.train_idx.numel(), gs.val_idx.numel(), gs.test_idx.numel()) == (
        150,
        18,
        20,
    )  # 63 and 125 graphs per class
    assert torch.equal(gs.x.sum(1), torch.ones(gs.x.shape[0]))  # one-hot node labels
    assert "imdb-binary" in GRAPH_DATASETS


def test_normalize_features_matches_pyg_normalize_features_graph_by_graph() -> None:
    from torch_geometric.transforms import NormalizeFeatures

    from condensekit.graph.level.data import normalize_features

    gen = torch.Generator().manual_seed(0)
    sizes = [3, 1, 5, 2]
    xs = []
    for i, n in enumerate(sizes):  # an attribute column (one graph with a negative one) + one-hot labels
        attr = torch.randint(0, 30, (n, 1), generator=gen).float() - (40.0 if i == 2 else 0.0)
        xs.append(torch.cat([attr, torch.nn.functional.one_hot(torch.arange(n) % 3, 3).float()], 1))
    ptr = torch.tensor([0] + sizes).cumsum(0)
    got = normalize_features(torch.cat(xs), ptr)
    want = torch.cat([NormalizeFeatures()(Data(x=x.clone())).x for x in xs])
    assert torch.allclose(got, want)
    onehot = torch.eye(4)[torch.tensor([0, 2, 1, 3, 3])]
    assert torch.equal(normalize_features(onehot, torch.tensor([0, 2, 5])), onehot)  # one-hot rows unchanged


def _write_tiny_tu(root, name: str = "MUTAG") -> None:
    """Eight triangles or paths (4 per class) in the TUDataset text layout under ``root/name/raw``."""
    raw = root / name / "raw"
    raw.mkdir(parents=True)
    edges, indicator, node_labels = [], [], []
    for g in range(8):
        base = 3 * g + 1
        pairs = [(0, 1), (1, 2)] + ([(0, 2)] if g % 2 == 0 else [])
        edges += [f"{base + a}, {base + b}" for a, b in pairs] + [f"{base + b}, {base + a}" for a, b in pairs]
        indicator += [str(g + 1)] * 3
        node_labels += ["0", "1", str(g % 2)]
    (raw / f"{name}_A.txt").write_text("\n".join(edges) + "\n")
    (raw / f"{name}_graph_indicator.txt").write_text("\n".join(indicator) + "\n")
    (raw / f"{name}_graph_labels.txt").write_text("\n".join(str(g % 2) for g in range(8)) + "\n")
    (raw / f"{name}_node_labels.txt").write_text("\n".join(node_labels) + "\n")


@pytest.mark.parametrize("file", ["data.pt", "pre_transform.pt", "pre_filter.pt"])
def test_a_tampered_processed_cache_is_refused_not_unpickled(tmp_path, monkeypatch, file: str) -> None:
    _write_tiny_tu(tmp_path / "root")
    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path / "cache"))
    gs = load_graph_dataset("mutag", root=tmp_path / "root")
    assert gs.num_graphs == 8 and gs.num_classes == 2
    assert load_graph_dataset("mutag", root=tmp_path / "root").num_graphs == 8  # the processed cache reads back
    (processed,) = (tmp_path / "cache").rglob(f"MUTAG/processed/{file}")
    sentinel = tmp_path / "code-ran"
    torch.save(_Tampered(str(sentinel)), processed)
    # torch_geometric retries a data.pt that torch.load(weights_only=True) refuses with weights_only=False, after a
    # warning, and reads pre_transform.pt / pre_filter.pt with weights_only=False at every load
    with pytest.raises(ValueError, match="weights_only=True.*not unpickled. Delete the .processed. folder"):
        load_graph_dataset("mutag", root=tmp_path / "root")
    assert not sentinel.exists()


def _write_tu(raw: Path, name: str, graphs: list[Data]) -> None:
    """``graphs`` as TUDataset raw text files (1-based ids; node features as continuous attributes)."""
    raw.mkdir(parents=True, exist_ok=True)
    edges, indicator, attrs, offset = [], [], [], 0
    for k, g in enumerate(graphs):
        edges += [f"{i + offset + 1}, {j + offset + 1}" for i, j in g.edge_index.t().tolist()]
        indicator += [str(k + 1)] * g.num_nodes
        attrs += [", ".join(f"{v:.6f}" for v in row) for row in g.x.tolist()]
        offset += g.num_nodes
    for part, lines in (
        ("A", edges),
        ("graph_indicator", indicator),
        ("graph_labels", [str(int(g.y)) for g in graphs]),
        ("node_attributes", attrs),
    ):
        (raw / f"{name}_{part}.txt").write_text("\n".join(lines) + "\n")


def test_download_is_asked_for_and_then_fetches_into_the_root(tiny_graphs, tmp_path, monkeypatch) -> None:
    """``--download`` was accepted by ``graph condense --task graph`` and silently ignored: the run failed on the
    missing files. Offline test: torch_geometric's TUDataset.download is replaced by a writer of tiny raw files."""
    from torch_geometric.datasets import TUDataset

    from condensekit.core.cli import main

    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "root2").mkdir()
    (tmp_path / "root3").mkdir()
    with pytest.raises(FileNotFoundError, match=r"missing from .*Pass --download \(download=True\) to fetch it"):
        load_graph_dataset("mutag", root=root)
    fetched = []
    monkeypatch.setattr(
        TUDataset,
        "download",
        lambda self: fetched.append(self.raw_dir) or _write_tu(Path(self.raw_dir), "MUTAG", tiny_graphs),
    )
    gs = load_graph_dataset("mutag", root=root, download=True)
    assert fetched == [str(root / "MUTAG" / "raw")] and gs.num_graphs == len(tiny_graphs) and gs.num_features == 4
    argv = ["graph", "condense", "--task", "graph", "--dataset", "mutag", "--method", "random", "--gpc", "2"]
    assert main([*argv, "--root", str(tmp_path / "root2"), "--quiet", "--out", str(tmp_path / "art")]) == 2
    assert (
        main([*argv, "--root", str(tmp_path / "root2"), "--download", "--quiet", "--out", str(tmp_path / "art")]) == 0
    )
    assert len(fetched) == 2
    from condensekit.graph.level.condense import condense_graphs  # the error's "download=True" exists here too

    cs = condense_graphs("mutag", "random", gpc=2, root=str(tmp_path / "root3"), download=True, progress=False)
    assert len(fetched) == 3 and len(cs) == 4


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_graph_set_with_nan_features_is_refused_naming_the_graph(tiny_set, value: float) -> None:
    """A GraphSet built by hand skips validate_graphs: DosCond and the coresets condensed it into a NaN set."""
    from condensekit.graph.level.condense import condense_graphs

    tiny_set.x[int(tiny_set.ptr[5]) + 1, 2] = value
    node = int(tiny_set.ptr[5]) + 1
    with pytest.raises(ValueError, match=rf"graphs\.x holds NaN or inf values \(graph 5, node {node}\)"):
        condense_graphs(tiny_set, "random", gpc=2, progress=False, device="cpu")


def test_a_repeated_edge_is_kept_once_so_both_layouts_see_the_same_graph(tiny_graphs) -> None:
    """A repeated edge was weight 2 in the sparse layout (real graphs) and 1 in the dense one (coresets, initial
    graphs): the same graphs gave other logits as real graphs and as a condensed set."""
    from condensekit.graph.level.batch import GraphBatch
    from condensekit.graph.level.models import create_graph_model

    doubled = [Data(x=g.x, edge_index=torch.cat([g.edge_index, g.edge_index], 1), y=g.y) for g in tiny_graphs]
    gs = graphset_from_list(doubled)
    assert gs.edge_index.shape[1] == sum(g.edge_index.shape[1] for g in tiny_graphs)
    idx = torch.tensor([1, 2, 13, 14])
    for name in ("gcn", "gin"):
        torch.manual_seed(0)
        model = create_graph_model(name, in_channels=4, out_channels=2, hidden_channels=8, num_layers=2)
        sparse = model(GraphBatch.from_graphset(gs, idx))
        assert torch.allclose(sparse, model(GraphBatch.dense(*gs.padded(idx))), atol=1e-5)


def test_edgeless_graphs_at_the_end_of_the_tu_files_are_kept(tiny_graphs, tmp_path, monkeypatch) -> None:
    """torch_geometric's TU reader cut its edge offsets at the last graph with an edge, so edgeless graphs at the end
    of the files (here the whole of class 1: single nodes and edgeless stars) vanished from the dataset and
    ``graph condense --task graph`` failed with "needs at least two classes"."""
    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path / "cache"))
    edgeless = [
        Data(x=g.x[:1] if k % 2 else g.x, edge_index=torch.zeros(2, 0, dtype=torch.long), y=g.y)
        for k, g in enumerate(tiny_graphs[12:])
    ]
    graphs = tiny_graphs[:12] + edgeless
    _write_tu(tmp_path / "root" / "MUTAG" / "raw", "MUTAG", graphs)
    gs = load_graph_dataset("mutag", root=tmp_path / "root")
    assert gs.num_graphs == len(graphs) and gs.y.bincount().tolist() == [12, 12]
    assert gs.num_nodes.tolist() == [g.num_nodes for g in graphs]
    assert (gs.eptr[1:] - gs.eptr[:-1]).tolist() == [g.edge_index.shape[1] for g in graphs]
    assert load_graph_dataset("mutag", root=tmp_path / "root").num_graphs == len(graphs)  # from the processed cache


def test_a_tu_dataset_without_any_edge_is_refused_by_name(tiny_graphs, tmp_path, monkeypatch) -> None:
    """Its empty ``_A.txt`` made torch_geometric's reader fail with an IndexError traceback."""
    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path / "cache"))
    graphs = [Data(x=g.x, edge_index=torch.zeros(2, 0, dtype=torch.long), y=g.y) for g in tiny_graphs]
    raw = tmp_path / "root" / "MUTAG" / "raw"
    _write_tu(raw, "MUTAG", graphs)
    with pytest.raises(ValueError, match=r"Dataset 'mutag': '.*MUTAG_A\.txt' lists no edge, so no graph has one"):
        load_graph_dataset("mutag", root=tmp_path / "root")


def test_a_failed_download_is_a_clear_error(tmp_path, monkeypatch) -> None:
    """Offline, ``--download`` ended in aiohttp's ClientConnectorDNSError traceback (an OSError), exit code 1."""
    from torch_geometric.datasets import TUDataset

    from condensekit.core.cli import main

    def offline(self):
        raise OSError("Cannot connect to host www.chrsmrrs.com:443 ssl:default [Name or service not known]")

    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(TUDataset, "download", offline)
    (tmp_path / "root").mkdir()
    with pytest.raises(FileNotFoundError, match=r"Dataset 'ptc_mr' could not be downloaded to .*Cannot connect"):
        load_graph_dataset("ptc_mr", root=tmp_path / "root", download=True)
    argv = ["graph", "condense", "--task", "graph", "--dataset", "ptc_mr", "--method", "random", "--gpc", "1"]
    assert main([*argv, "--root", str(tmp_path / "root"), "--download", "--quiet", "--out", str(tmp_path / "a")]) == 2


def test_an_error_after_the_files_came_is_not_called_a_failed_download(tmp_path, tiny_graphs, monkeypatch) -> None:
    """The catch named any OSError / RuntimeError while reading a fetched dataset a failed download ("check the
    network")."""
    from torch_geometric.datasets import TUDataset

    def fetched(self):
        _write_tu(Path(self.raw_dir), "PTC_MR", tiny_graphs)

    def broken(self):
        raise RuntimeError("processing failed")

    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(TUDataset, "download", fetched)
    monkeypatch.setattr(TUDataset, "process", broken)
    (tmp_path / "root").mkdir()
    with pytest.raises(RuntimeError, match="processing failed"):
        load_graph_dataset("ptc_mr", root=tmp_path / "root", download=True)
