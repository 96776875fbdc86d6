"""Any single-graph node-classification dataset of torch_geometric, by name.

``--dataset`` takes a short name of :data:`PYG_ALIASES` (``amazon-computers``, ``coauthor-cs``,
``wikics``, ``pubmed``, ...) or the form ``ClassName`` / ``ClassName/name`` of any class in
:mod:`torch_geometric.datasets` (``Amazon/Photo``, ``WebKB/Cornell``, ``LastFMAsia``). The files
live under ``<root>/<ClassName>/`` in the class's own layout; ``--download`` fetches them there
with PyG's downloader (into the cache when the root is read-only). A read-only root works: the
folder is mirrored into the writable cache, where PyG writes ``processed/``.

Splits. A dataset with train/val/test masks keeps them (column 0 of 2-D masks, e.g. WikiCS's 20
splits). One without (Amazon, Coauthor) gets the split of Shchur et al., "Pitfalls of Graph
Neural Network Evaluation" (2018): per class, 20 training and 30 validation nodes drawn at random
(seed 0), the rest for testing; a class with fewer than 50 nodes gives 40 % / 30 % of them (at
least one training node). The card records which (``data.split``).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path

import torch
import torch_geometric.datasets as pyg_datasets
from torch import Tensor
from torch_geometric.data import Data, InMemoryDataset

from condensekit.core.data import writable_copy
from condensekit.graph.weights_only import weights_only_pyg

__all__ = ["PYG_ALIASES", "PygSpec", "load_pyg_node_dataset", "resolve_pyg_name"]


@dataclass(frozen=True)
class PygSpec:
    """A torch_geometric dataset class and its ``name`` argument (``None``: the class takes none)."""

    cls: str
    name: str | None = None

    @property
    def folder(self) -> str:
        return self.cls

    def __str__(self) -> str:
        return self.cls if self.name is None else f"{self.cls}/{self.name}"


PYG_ALIASES: dict[str, PygSpec] = {
    "pubmed": PygSpec("Planetoid", "PubMed"),
    "amazon-computers": PygSpec("Amazon", "Computers"),
    "amazon-photo": PygSpec("Amazon", "Photo"),
    "coauthor-cs": PygSpec("Coauthor", "CS"),
    "coauthor-physics": PygSpec("Coauthor", "Physics"),
    "wikics": PygSpec("WikiCS"),
    "flickr": PygSpec("Flickr"),
    "reddit": PygSpec("Reddit"),
    "cora-full": PygSpec("CitationFull", "Cora"),
    "cornell": PygSpec("WebKB", "Cornell"),
    "texas": PygSpec("WebKB", "Texas"),
    "wisconsin": PygSpec("WebKB", "Wisconsin"),
    "chameleon": PygSpec("WikipediaNetwork", "chameleon"),
    "squirrel": PygSpec("WikipediaNetwork", "squirrel"),
    "roman-empire": PygSpec("HeterophilousGraphDataset", "Roman-empire"),
    "amazon-ratings": PygSpec("HeterophilousGraphDataset", "Amazon-ratings"),
    "lastfm-asia": PygSpec("LastFMAsia"),
}
"""Short names of common torch_geometric node-classification datasets."""

_SPLIT_TRAIN, _SPLIT_VAL = 20, 30


def _classes() -> list[str]:
    return sorted(n for n in dir(pyg_datasets) if n[:1].isupper() and inspect.isclass(getattr(pyg_datasets, n)))


def resolve_pyg_name(name: str) -> PygSpec | None:
    """The :class:`PygSpec` of an alias or ``ClassName[/name]``, or ``None`` when ``name`` is neither.

    Raises:
        ValueError: ``ClassName`` needs a ``/name`` it was not given, or takes none and got one.
    """
    key = name.strip()
    if key.lower() in PYG_ALIASES:
        return PYG_ALIASES[key.lower()]
    cls_name, _, sub = key.partition("/")
    if cls_name not in _classes():
        return None
    params = inspect.signature(getattr(pyg_datasets, cls_name)).parameters
    takes_name = "name" in params and params["name"].default is inspect.Parameter.empty
    if takes_name and not sub:
        raise ValueError(f"Invalid value {name!r} for argument --dataset: {cls_name} needs a name, as {cls_name}/NAME")
    if sub and "name" not in params:
        raise ValueError(f"Invalid value {name!r} for argument --dataset: {cls_name} takes no name; use {cls_name}")
    return PygSpec(cls_name, sub or None)


def load_pyg_node_dataset(spec: PygSpec, base: Path, *, download: bool, download_root: Path) -> Data:
    """Read ``spec`` from ``<base>/<ClassName>`` (mirrored into the cache), or download it into
    ``<download_root>/<ClassName>``; pick or draw the split (module docstring)."""
    folder = base / spec.folder
    if folder.is_dir() and any(folder.iterdir()):
        root = writable_copy(folder, spec.folder, tree=True)
    elif download:
        root = download_root / spec.folder
    else:
        raise FileNotFoundError(
            f"Dataset {str(spec)!r} not found: no folder {str(folder)!r}. Pass --download (download=True) to fetch "
            f"it with torch_geometric's {spec.cls} loader, or point --root at a data root that holds '{spec.folder}/'."
        )
    cls = getattr(pyg_datasets, spec.cls)
    kwargs = {} if spec.name is None else {"name": spec.name}
    try:
        with weights_only_pyg(root):
            dataset: InMemoryDataset = cls(root=str(root), **kwargs)
    except (OSError, RuntimeError) as err:  # a failed download or unreadable raw files
        raise FileNotFoundError(
            f"torch_geometric could not read or fetch {str(spec)!r} under {str(root)!r}: {err}"
        ) from err
    if len(dataset) != 1:
        raise ValueError(
            f"Invalid value {str(spec)!r} for argument --dataset: it holds {len(dataset)} graphs; node "
            "condensation needs one graph (graph-level datasets go to graph classification)"
        )
    data = dataset[0]
    if getattr(data, "y", None) is None or data.y.dim() != 1:
        raise ValueError(f"Invalid value {str(spec)!r} for argument --dataset: it has no 1-D node labels 'y'")
    if all(getattr(data, m, None) is not None for m in ("train_mask", "val_mask", "test_mask")):
        for m in ("train_mask", "val_mask", "test_mask"):
            if data[m].dim() == 2:
                data[m] = data[m][:, 0].contiguous()
        data.split = "given (column 0 of 2-D masks)"
    else:
        data.train_mask, data.val_mask, data.test_mask = per_class_split(data.y)
        data.split = f"random per class: {_SPLIT_TRAIN} train, {_SPLIT_VAL} val, rest test (seed 0; Shchur et al. 2018)"
    return data


def per_class_split(y: Tensor, *, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """Train/val/test masks: per class 20 / 30 / the rest, drawn with ``seed`` (classes under 50
    nodes: 40 % / 30 % / the rest, at least one training node)."""
    gen = torch.Generator().manual_seed(seed)
    n = y.numel()
    masks = [torch.zeros(n, dtype=torch.bool) for _ in range(3)]
    for c in torch.unique(y).tolist():
        nodes = (y == c).nonzero().flatten()
        nodes = nodes[torch.randperm(nodes.numel(), generator=gen)]
        k = nodes.numel()
        if k >= _SPLIT_TRAIN + _SPLIT_VAL:
            n_tr, n_va = _SPLIT_TRAIN, _SPLIT_VAL
        else:
            n_tr = max(1, int(0.4 * k))
            n_va = int(0.3 * k)
        masks[0][nodes[:n_tr]] = True
        masks[1][nodes[n_tr : n_tr + n_va]] = True
        masks[2][nodes[n_tr + n_va :]] = True
    return masks[0], masks[1], masks[2]


def supported_names() -> str:
    """What ``--dataset`` accepts besides the built-in names and files (for error messages)."""
    return f"aliases {sorted(PYG_ALIASES)}, or ClassName[/name] of torch_geometric.datasets (e.g. Amazon/Photo)"
