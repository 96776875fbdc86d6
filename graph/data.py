"""Node-classification datasets: Planetoid Cora and CiteSeer (public split), Actor, a user's
``.npz`` file (:mod:`condensekit.graph.npz`) and any torch_geometric dataset by name
(:mod:`condensekit.graph.pyg_datasets`).

One spec table (:data:`INFO`, like ``medmnist/info.py``) says where each dataset lives under
the data root and how torch_geometric reads it. :func:`load_node_dataset` reads the raw files
offline from the data root (see :mod:`condensekit.core.data`), downloads only when asked, and
lets torch_geometric write its ``processed/`` files to a writable cache, so a read-only root
works. :func:`validate_node_data` checks a graph before condensation.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch_geometric.data import Data, InMemoryDataset
from torch_geometric.datasets import Actor, Planetoid

from condensekit.core.data import DATA_ENV, cache_dir, resolve_root, writable_copy
from condensekit.graph.npz import load_npz_graph
from condensekit.graph.pyg_datasets import PYG_ALIASES, load_pyg_node_dataset, resolve_pyg_name, supported_names
from condensekit.graph.weights_only import weights_only_pyg

__all__ = [
    "INFO",
    "NODE_DATASETS",
    "NodeDatasetSpec",
    "load_node_dataset",
    "normalize_node_features",
    "validate_node_data",
]


@dataclass(frozen=True)
class NodeDatasetSpec:
    """Where a node-classification dataset lives and how torch_geometric reads it.

    Attributes:
        name: the condensekit name (lower case).
        folder: the folder under the data root that holds ``raw/``.
        loader: the torch_geometric reader, a key of ``_OPENERS`` (``"planetoid"``, ``"actor"``).
        raw_files: the files the reader needs in ``<folder>/raw/``.
        split: the column of 2-D split masks to use (``None``: masks are already 1-D).
        num_nodes, num_edges, num_features, num_classes: the published statistics (directed edges).
        description: the split and the paper, for ``--help`` and cards.
    """

    name: str
    folder: str
    loader: str
    raw_files: tuple[str, ...]
    split: int | None
    num_nodes: int
    num_edges: int
    num_features: int
    num_classes: int
    description: str


def _planetoid_raw(prefix: str) -> tuple[str, ...]:
    exts = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")
    return tuple(f"ind.{prefix}.{ext}" for ext in exts)


INFO: dict[str, NodeDatasetSpec] = {
    "cora": NodeDatasetSpec(
        name="cora",
        folder="Cora",
        loader="planetoid",
        raw_files=_planetoid_raw("cora"),
        split=None,
        num_nodes=2708,
        num_edges=10556,
        num_features=1433,
        num_classes=7,
        description="Planetoid Cora citation graph, public split 140/500/1000 (Yang et al., ICML 2016)",
    ),
    "citeseer": NodeDatasetSpec(
        name="citeseer",
        folder="CiteSeer",
        loader="planetoid",
        raw_files=_planetoid_raw("citeseer"),
        split=None,
        num_nodes=3327,
        num_edges=9104,
        num_features=3703,
        num_classes=6,
        description="Planetoid CiteSeer citation graph, public split 120/500/1000 (Yang et al., ICML 2016)",
    ),
    "actor": NodeDatasetSpec(
        name="actor",
        folder="Actor",
        loader="actor",
        raw_files=("out1_node_feature_label.txt", "out1_graph_edges.txt")
        + tuple(f"film_split_0.6_0.2_{i}.npz" for i in range(10)),
        split=0,
        num_nodes=7600,
        num_edges=30019,
        num_features=932,
        num_classes=5,
        description="Actor co-occurrence graph (heterophilous), Geom-GCN split 0 of 10, 60/20/20 "
        "(Pei et al., ICLR 2020)",
    ),
}
"""Spec of every node-classification dataset, by name."""

NODE_DATASETS: tuple[str, ...] = tuple(INFO)
"""Names accepted by :func:`load_node_dataset`."""


def _open_planetoid(folder: Path, spec: NodeDatasetSpec) -> InMemoryDataset:
    # Planetoid reads <root>/<name>/raw, so the folder's name must be the Planetoid name.
    return Planetoid(root=str(folder.parent), name=folder.name, split="public")


def _open_actor(folder: Path, spec: NodeDatasetSpec) -> InMemoryDataset:
    return Actor(root=str(folder))


_OPENERS: dict[str, Callable[[Path, NodeDatasetSpec], InMemoryDataset]] = {
    "planetoid": _open_planetoid,
    "actor": _open_actor,
}


def _missing_raw(folder: Path, spec: NodeDatasetSpec) -> list[str]:
    return [f for f in spec.raw_files if not (folder / "raw" / f).is_file()]


@contextmanager
def failed_download(name: str, target: Path, fetched: Callable[[], bool], *, raw: str) -> Iterator[None]:
    """A fetch into ``target`` inside the block: an ``OSError`` / ``RuntimeError`` while the files are not there
    (``fetched()`` false: offline, DNS, HTTP; fsspec and aiohttp raise ``OSError`` subclasses) becomes a
    ``FileNotFoundError`` naming the dataset, the folder and where ``raw`` files go, not a traceback; once the files
    came, an error in reading them is raised as it is."""
    try:
        yield
    except (OSError, RuntimeError) as err:
        if fetched():
            raise
        raise FileNotFoundError(
            f"Dataset {name!r} could not be downloaded to {str(target)!r} ({type(err).__name__}: {err}); check "
            f"the network, or put {raw} under the data root"
        ) from err


def _download_root(root: Path) -> Path:
    """The data root when it is (or can be made) writable, else a cache folder."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:
        return cache_dir("downloads")
    return root if os.access(root, os.W_OK | os.X_OK) else cache_dir("downloads")


def load_node_dataset(
    name: str,
    *,
    root: str | os.PathLike[str] | None = None,
    download: bool = False,
    normalize_features: bool = True,
) -> Data:
    """Load a node-classification graph with its train/val/test masks.

    The raw files are read from ``<root>/<folder>/raw/`` (``root`` resolved by
    :func:`condensekit.core.data.resolve_root`: argument, ``$CONDENSEKIT_DATA``,
    ``~/.cache/condensekit``). torch_geometric processes them in a writable cache mirror
    (:func:`condensekit.core.data.writable_copy`), so the root may be read-only. For datasets
    with several splits (Actor) the masks of split :attr:`NodeDatasetSpec.split` are taken.

    Args:
        name: one of :data:`NODE_DATASETS` (case-insensitive); a graph file ``path/to/graph.npz``
            (:func:`condensekit.graph.npz.load_npz_graph`; features as given); or a torch_geometric
            dataset (:mod:`condensekit.graph.pyg_datasets`: an alias such as ``amazon-computers``, or
            ``ClassName[/name]``), read from ``<root>/<ClassName>/``.
        root: the data root (``--root``); ``None`` uses the environment or the default.
        download: when the raw files are missing, download them with torch_geometric into
            the root if it is writable, else into the cache. Off by default: nothing touches
            the network unless asked.
        normalize_features: row-normalise ``x`` to sum to one (:func:`normalize_node_features`: GCond's
            ``T.NormalizeFeatures``, its shift taken from the training nodes only).

    Returns:
        ``Data(x, edge_index, y, train_mask, val_mask, test_mask)`` with ``data.name = name``.

    Raises:
        ValueError: unknown ``name``, or the loaded graph fails :func:`validate_node_data`.
        FileNotFoundError: an explicit root does not exist, or the raw files are missing and
            ``download`` is false, or the download failed (offline, DNS, HTTP).
    """
    key = str(name).lower()
    if key not in INFO:
        return _load_other(str(name), root=root, download=download, normalize_features=normalize_features)
    spec = INFO[key]
    base = resolve_root(root)
    folder = base / spec.folder
    missing = _missing_raw(folder, spec)
    if not missing:
        mirror = writable_copy(folder, spec.folder)
        with weights_only_pyg(mirror):
            dataset = _OPENERS[spec.loader](mirror, spec)
    elif download:
        target = _download_root(base) / spec.folder
        raw = f"its raw files in '{spec.folder}/raw/'"
        with failed_download(key, target, lambda: not _missing_raw(target, spec), raw=raw):
            with weights_only_pyg(target):
                dataset = _OPENERS[spec.loader](target, spec)
    else:
        shown = ", ".join(missing[:4]) + (", ..." if len(missing) > 4 else "")
        raise FileNotFoundError(
            f"Dataset {key!r} not found: {len(missing)} of its {len(spec.raw_files)} raw files are missing "
            f"from {str(folder / 'raw')!r} ({shown}). Pass --download (download=True) to fetch it, "
            f"or set {DATA_ENV} (or --root) to a data root that holds '{spec.folder}/raw/'."
        )

    data = dataset[0]
    if spec.split is not None:
        for mask in ("train_mask", "val_mask", "test_mask"):
            value = data[mask]
            if value.dim() == 2:
                data[mask] = value[:, spec.split].contiguous()
    if normalize_features:
        data = normalize_node_features(data)
    data.name = key
    validate_node_data(data)
    return data


def _load_other(name: str, *, root: str | os.PathLike[str] | None, download: bool, normalize_features: bool) -> Data:
    """A graph file (``.npz``, features as given) or a torch_geometric dataset by name."""
    if name.endswith(".npz") or Path(name).expanduser().is_file():
        data = load_npz_graph(name)
        validate_node_data(data)
        return data
    spec = resolve_pyg_name(name)
    if spec is None:
        raise ValueError(
            f"Unknown value {name!r} for argument dataset. Valid values are {{{', '.join(sorted(NODE_DATASETS))}}}, "
            f"a graph file path/to/graph.npz, {supported_names()}"
        )
    base = resolve_root(root)
    data = load_pyg_node_dataset(spec, base, download=download, download_root=_download_root(base))
    if normalize_features:
        data = normalize_node_features(data)
    data.name = name.lower() if name.lower() in PYG_ALIASES else str(spec)
    validate_node_data(data)
    return data


def normalize_node_features(data: Data) -> Data:
    """Row-normalise ``data.x`` in place, as torch_geometric's ``NormalizeFeatures`` (GCond's preprocessing),
    with the shift taken from the training nodes only:

    .. math::
        x_i \\leftarrow \\frac{x_i - m}{\\max(\\mathbf{1}^\\top (x_i - m),\\ 1)}, \\qquad
        m = \\min_{j \\in \\text{train},\\, k} x_{jk}

    PyG takes :math:`m` over every node, so with signed features (Reddit, WikiCS) a validation or test
    node's value moved every training row, which inductive condensation (the training subgraph only) must
    not see. For non-negative features with a zero among the training nodes (Cora, CiteSeer, Actor) both are
    :math:`m = 0`, the same numbers.
    """
    x = data.x
    if x is not None and x.numel() > 0:
        train = getattr(data, "train_mask", None)
        seen = x[train] if isinstance(train, torch.Tensor) and train.dtype == torch.bool and bool(train.any()) else x
        x = x - seen.min()
        data.x = x / x.sum(dim=-1, keepdim=True).clamp(min=1.0)
    return data


def _require(data: Data, attr: str, why: str) -> torch.Tensor:
    value = getattr(data, attr, None)
    if value is None:
        raise ValueError(f"graph has no {attr!r}; {why}")
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"graph attribute {attr!r} must be a tensor, got {type(value).__name__}")
    return value


def validate_node_data(data: Data) -> None:
    """Check that ``data`` is a node-classification graph that condensation can use.

    Requires ``x`` (2-D float, finite), ``y`` (1-D integer labels, one per node), a valid
    ``edge_index`` (``Data.validate``), boolean ``train_mask``/``val_mask``/``test_mask`` of
    length N with non-empty train and val, and at least one training node in every class
    that occurs in ``y``.

    Raises:
        ValueError: naming the attribute and what is wrong with it.
    """
    if not isinstance(data, Data):
        raise ValueError(f"Expected a torch_geometric.data.Data, got {type(data).__name__}")
    x = _require(data, "x", "node condensation needs node features")
    y = _require(data, "y", "node classification needs labels")
    _require(data, "edge_index", "node condensation needs the graph's edges")
    for mask in ("train_mask", "val_mask", "test_mask"):
        _require(data, mask, "node condensation needs train/val/test masks")

    if x.dim() != 2 or not x.is_floating_point():
        raise ValueError(f"graph 'x' must be a 2-D float tensor (N × F), got shape {list(x.shape)} and {x.dtype}")
    bad = ~torch.isfinite(x)
    if bad.any():
        rows = bad.any(dim=1).nonzero().flatten()
        nan, inf = int(torch.isnan(x).sum()), int(torch.isinf(x).sum())
        preview = ", ".join(str(int(r)) for r in rows[:5]) + (", ..." if rows.numel() > 5 else "")
        raise ValueError(
            f"graph 'x' has {int(bad.sum())} non-finite values ({nan} NaN, {inf} inf) "
            f"in {rows.numel()} node(s): rows {preview}"
        )
    n = x.size(0)
    if y.dim() != 1 or y.dtype != torch.long:
        raise ValueError(
            f"graph 'y' must be a 1-D long tensor of class indices, got shape {list(y.shape)} and {y.dtype}"
        )
    if y.numel() != n:
        raise ValueError(f"graph 'y' has {y.numel()} labels but 'x' has {n} nodes")
    if data.num_nodes is not None and data.num_nodes != n:
        raise ValueError(f"graph num_nodes is {data.num_nodes} but 'x' has {n} rows")
    try:
        data.validate(raise_on_error=True)
    except Exception as err:  # PyG raises ValueError today; wrap whatever it raises
        raise ValueError(f"invalid graph structure: {err}") from err

    masks: dict[str, torch.Tensor] = {}
    for name in ("train_mask", "val_mask", "test_mask"):
        mask = data[name]
        if mask.dtype != torch.bool or mask.dim() != 1 or mask.numel() != n:
            raise ValueError(
                f"graph {name!r} must be a 1-D bool tensor of length {n}, got shape {list(mask.shape)} and {mask.dtype}"
            )
        masks[name] = mask
    for name in ("train_mask", "val_mask", "test_mask"):
        if not masks[name].any():
            raise ValueError(f"graph {name!r} selects no nodes; condensation needs training, validation and test nodes")
    names = list(masks)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            both = int((masks[a] & masks[b]).sum())
            if both:
                raise ValueError(f"graph {a!r} and {b!r} overlap in {both} node(s); the splits must be disjoint")
    if int(y.min()) < 0:
        raise ValueError(f"graph 'y' holds negative labels (min {int(y.min())}); valid labels are 0 … C-1")

    classes = torch.unique(y)
    trained = torch.unique(y[masks["train_mask"]])
    lacking = sorted(set(classes.tolist()) - set(trained.tolist()))
    if lacking:
        raise ValueError(
            f"class(es) {lacking} occur in 'y' but have no training node in 'train_mask'; "
            "condensation needs at least one training node per class"
        )
