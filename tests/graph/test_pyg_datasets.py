"""torch_geometric datasets by name: aliases, ClassName[/name], splits, and the errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from condensekit.core.data import CACHE_ENV, DATA_ENV
from condensekit.graph.data import load_node_dataset
from condensekit.graph.pyg_datasets import PygSpec, load_pyg_node_dataset, per_class_split, resolve_pyg_name


def test_names_resolve() -> None:
    assert resolve_pyg_name("amazon-computers") == PygSpec("Amazon", "Computers")
    assert resolve_pyg_name("WikiCS") == PygSpec("WikiCS")
    assert resolve_pyg_name("WebKB/Cornell") == PygSpec("WebKB", "Cornell")
    assert resolve_pyg_name("NoSuchSet") is None
    with pytest.raises(ValueError, match="Amazon needs a name, as Amazon/NAME"):
        resolve_pyg_name("Amazon")
    with pytest.raises(ValueError, match="WikiCS takes no name"):
        resolve_pyg_name("WikiCS/x")


def test_unknown_name_lists_what_is_supported(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"Unknown value 'nosuch'.*graph.npz.*amazon-computers.*ClassName\[/name\]"):
        load_node_dataset("nosuch", root=tmp_path)


def test_missing_pyg_dataset_says_download(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match=r"'Coauthor/CS' not found.*--download"):
        load_node_dataset("coauthor-cs", root=tmp_path)


def test_per_class_split_is_disjoint_and_seeded() -> None:
    y = torch.cat([torch.zeros(80, dtype=torch.long), torch.ones(10, dtype=torch.long)])
    tr, va, te = per_class_split(y)
    assert not ((tr & va) | (tr & te) | (va & te)).any() and bool((tr | va | te).all())
    assert int(tr[:80].sum()) == 20 and int(va[:80].sum()) == 30  # 20 / 30 / rest
    assert int(tr[80:].sum()) == 4 and int(va[80:].sum()) == 3  # small class: 40 % / 30 %
    assert all(torch.equal(a, b) for a, b in zip(per_class_split(y), (tr, va, te), strict=True))


@pytest.mark.real_data
def test_class_name_form_reads_actor_and_takes_split_0(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = os.environ.get(DATA_ENV)
    if not root or not (Path(root) / "Actor" / "raw").is_dir():
        pytest.skip("Actor is not under the data root")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    # "Actor" is also a built-in name; the generic loader must read the same graph and split.
    data = load_pyg_node_dataset(PygSpec("Actor"), Path(root), download=False, download_root=tmp_path / "none")
    builtin = load_node_dataset("actor", normalize_features=False)
    assert data.split.startswith("given") and data.train_mask.dim() == 1
    assert torch.equal(data.train_mask, builtin.train_mask) and torch.equal(data.x, builtin.x)
    assert not (tmp_path / "none").exists()
