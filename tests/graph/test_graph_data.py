"""Node-classification data: validation on tiny generated graphs, and the real Planetoid/Actor files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torch_geometric.transforms as T
from torch_geometric.data import Data

from condensekit.core.data import CACHE_ENV, DATA_ENV
from condensekit.graph.data import (
    INFO,
    NODE_DATASETS,
    load_node_dataset,
    normalize_node_features,
    validate_node_data,
)


def _tiny() -> Data:
    """6 nodes on a ring, 2 classes, 4 features."""
    src = torch.arange(6)
    dst = (src + 1) % 6
    edge_index = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])
    train = torch.tensor([True, True, False, False, False, False])
    val = torch.tensor([False, False, True, True, False, False])
    return Data(
        x=torch.randn(6, 4),
        edge_index=edge_index,
        y=torch.tensor([0, 1, 0, 1, 0, 1]),
        train_mask=train,
        val_mask=val,
        test_mask=~(train | val),
    )


def test_validate_ok() -> None:
    validate_node_data(_tiny())


def test_validate_nan_feature() -> None:
    data = _tiny()
    data.x[2, 1] = float("nan")
    data.x[4, 0] = float("inf")
    with pytest.raises(ValueError, match=r"2 non-finite values \(1 NaN, 1 inf\) in 2 node\(s\): rows 2, 4"):
        validate_node_data(data)


@pytest.mark.parametrize("mask", ["train_mask", "val_mask", "test_mask"])
def test_validate_no_masks(mask: str) -> None:
    data = _tiny()
    del data[mask]
    msg = rf"graph has no '{mask}'; node condensation needs train/val/test masks"
    with pytest.raises(ValueError, match=msg):
        validate_node_data(data)


def test_validate_no_labels() -> None:
    data = _tiny()
    del data.y
    with pytest.raises(ValueError, match="graph has no 'y'"):
        validate_node_data(data)


def test_validate_class_without_training_node() -> None:
    data = _tiny()
    data.y = torch.tensor([0, 1, 2, 1, 3, 1])
    with pytest.raises(ValueError, match=r"class\(es\) \[2, 3\] .* no training node"):
        validate_node_data(data)


def test_validate_other_errors() -> None:
    data = _tiny()
    data.train_mask = torch.zeros(6, dtype=torch.bool)
    with pytest.raises(ValueError, match="'train_mask' selects no nodes"):
        validate_node_data(data)
    data = _tiny()
    data.val_mask = data.val_mask.long()
    with pytest.raises(ValueError, match="'val_mask' must be a 1-D bool tensor of length 6"):
        validate_node_data(data)
    data = _tiny()
    data.y = data.y.float()
    with pytest.raises(ValueError, match="'y' must be a 1-D long tensor"):
        validate_node_data(data)
    data = _tiny()
    data.edge_index = torch.tensor([[0, 1], [1, 9]])
    with pytest.raises(ValueError, match="invalid graph structure"):
        validate_node_data(data)
    data = _tiny()
    data.x = data.x[:5]
    with pytest.raises(ValueError):
        validate_node_data(data)


def test_unknown_dataset(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"Unknown value 'pubmedx' for argument dataset.*actor, citeseer, cora"):
        load_node_dataset("pubmedx", root=tmp_path)


def test_empty_root_names_the_dataset_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match=r"Cora[/\\]raw") as err:
        load_node_dataset("cora", root=tmp_path)
    assert "--download" in str(err.value) and DATA_ENV in str(err.value)
    assert not (tmp_path / "Cora").exists()  # nothing written into the root


def test_spec_table() -> None:
    assert NODE_DATASETS == ("cora", "citeseer", "actor")
    assert INFO["actor"].split == 0
    assert INFO["cora"].folder == "Cora" and INFO["citeseer"].folder == "CiteSeer"


def _real_root() -> Path:
    root = os.environ.get(DATA_ENV)
    if not root:
        pytest.skip(f"{DATA_ENV} is not set; CI points it at the shared real data")
    return Path(root)


EXPECTED = {  # nodes, directed edges, train/val/test
    "cora": (2708, 10556, (140, 500, 1000)),
    "citeseer": (3327, 9104, (120, 500, 1000)),
}


@pytest.mark.real_data
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_planetoid(name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = _real_root()
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    folder = root / INFO[name].folder
    before = sorted(p.name for p in folder.iterdir())
    data = load_node_dataset(name)
    nodes, edges, (n_train, n_val, n_test) = EXPECTED[name]
    assert data.name == name
    assert data.num_nodes == nodes and data.edge_index.size(1) == edges
    assert data.x.size(1) == INFO[name].num_features
    assert int(data.y.max()) + 1 == INFO[name].num_classes
    assert (int(data.train_mask.sum()), int(data.val_mask.sum()), int(data.test_mask.sum())) == (
        n_train,
        n_val,
        n_test,
    )
    sums = data.x.sum(dim=1)
    nonzero = sums > 0
    assert torch.allclose(sums[nonzero], torch.ones(int(nonzero.sum())), atol=1e-5)  # row-normalised
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing written into the root
    raw = load_node_dataset(name, normalize_features=False)
    assert set(raw.x.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.real_data
def test_real_actor(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = _real_root()
    if not (root / "Actor" / "raw").is_dir():
        pytest.skip("Actor is not under the data root")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    data = load_node_dataset("actor", root=root)
    assert data.num_nodes == 7600 and data.edge_index.size(1) == 30019 and data.x.size(1) == 932
    masks = torch.stack([data.train_mask, data.val_mask, data.test_mask])
    assert masks.dim() == 2 and masks.size(1) == 7600  # split 0 taken: 1-D masks
    assert int(masks.sum(dim=0).max()) == 1  # disjoint
    assert int(data.train_mask.sum()) > 3 * int(data.test_mask.sum()) // 2  # 60/20/20


def _evidence(path: str) -> None:
    """What a tampered processed file runs when it is unpickled (here: it leaves a file)."""
    open(path, "w").close()


class _Tampered:
    def __init__(self, sentinel: str) -> None:
        self.sentinel = sentinel

    def __reduce__(self):
        return (_evidence, (self.sentinel,))


@pytest.mark.real_data
@pytest.mark.parametrize("file", ["data.pt", "pre_transform.pt"])
def test_a_tampered_processed_cache_is_refused_not_unpickled(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, file: str
) -> None:
    _real_root()
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    load_node_dataset("cora")
    (processed,) = (tmp_path / "cache").rglob(f"processed/{file}")
    sentinel = tmp_path / "code-ran"
    torch.save(_Tampered(str(sentinel)), processed)
    # torch_geometric retries a file torch.load(weights_only=True) refuses with weights_only=False, after a warning
    with pytest.raises(ValueError, match="weights_only=True.*not unpickled. Delete the .processed. folder"):
        load_node_dataset("cora")
    assert not sentinel.exists()


def test_feature_normalisation_takes_its_shift_from_training_nodes_only() -> None:
    # PyG's NormalizeFeatures shifts every row by the minimum over *all* nodes: with signed features (Reddit,
    # WikiCS) a test node's value moved every training row, which inductive condensation must not see
    x = torch.tensor([[1.0, -1.0], [2.0, 0.0], [0.5, 0.5], [0.0, 3.0]])
    masks = {name: torch.tensor(m) for name, m in (("train_mask", [True, True, False, False]),
             ("val_mask", [False, False, True, False]), ("test_mask", [False, False, False, True]))}  # fmt: skip
    data = Data(x=x.clone(), **masks)
    out = normalize_node_features(data).x
    other = x.clone()
    other[3] = torch.tensor([-50.0, 7.0])  # only a test node changes
    assert torch.equal(normalize_node_features(Data(x=other, **masks)).x[:2], out[:2])
    assert torch.allclose(out[0], torch.tensor([2.0, 0.0]) / 2) and torch.allclose(out[1], torch.tensor([3.0, 1.0]) / 4)
    # non-negative features whose training minimum is 0 (Cora, CiteSeer, Actor): PyG's numbers exactly
    nonneg = Data(x=torch.tensor([[0.0, 2.0], [1.0, 1.0], [3.0, 0.0], [0.0, 0.5]]), **masks)
    assert torch.equal(normalize_node_features(nonneg.clone()).x, T.NormalizeFeatures()(nonneg.clone()).x)


@pytest.mark.parametrize("name", ["citeseer", "actor"])
def test_a_failed_download_is_a_clear_error(name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Offline, ``--download`` ended in aiohttp's ClientConnectorDNSError traceback (an OSError), exit code 1."""
    from torch_geometric.datasets import Actor, Planetoid

    from condensekit.core.cli import main

    def offline(self) -> None:
        raise OSError("Cannot connect to host github.com:443 ssl:default [Name or service not known]")

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    for cls in (Planetoid, Actor):
        monkeypatch.setattr(cls, "download", offline)
    (tmp_path / "root").mkdir()
    with pytest.raises(FileNotFoundError, match=rf"Dataset '{name}' could not be downloaded to .*Cannot connect"):
        load_node_dataset(name, root=tmp_path / "root", download=True)
    argv = ["graph", "condense", "--dataset", name, "--method", "random", "--budget", "10", "--download", "--quiet"]
    assert main([*argv, "--root", str(tmp_path / "root"), "--out", str(tmp_path / "a")]) == 2


def test_an_error_after_the_files_came_is_not_called_a_failed_download(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # any OSError / RuntimeError once the raw files were fetched was reported as "check the network"
    from torch_geometric.datasets import Planetoid

    from condensekit.graph.data import INFO

    def fetched(self) -> None:
        for name in INFO["citeseer"].raw_files:
            (Path(self.raw_dir) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(self.raw_dir) / name).write_bytes(b"")

    def broken(self) -> None:
        raise RuntimeError("processing failed")

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(Planetoid, "download", fetched)
    monkeypatch.setattr(Planetoid, "process", broken)
    (tmp_path / "root").mkdir()
    with pytest.raises(RuntimeError, match="processing failed"):
        load_node_dataset("citeseer", root=tmp_path / "root", download=True)
