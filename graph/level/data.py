"""Graph-classification datasets (TUDataset) and the prepared set of graphs methods work on.

One spec table (:data:`INFO`) names the six TU datasets of the issue. :func:`load_graph_dataset`
reads their raw text files offline from the data root (a read-only root works: torch_geometric
processes them in a writable cache mirror, :func:`condensekit.core.data.writable_copy`), builds
node features as the field does (continuous attributes where a dataset has them, then one-hot
node labels, row-normalised per graph as KiDD's ``T.NormalizeFeatures()``; one-hot degree where it
has neither, IMDB-BINARY) and splits the graphs 80/10/10 per class after a seeded shuffle (DosCond's and
KiDD's protocol). :class:`GraphSet` holds all graphs collated once (features, edges, offsets) and
cuts batches out of them without Python loops over graphs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor
from torch_geometric.data import Data

from condensekit.core.data import DATA_ENV, resolve_root, writable_copy
from condensekit.core.registry import check_choice, check_int
from condensekit.graph.data import _download_root, failed_download
from condensekit.graph.weights_only import weights_only_pyg

__all__ = [
    "GRAPH_DATASETS",
    "INFO",
    "GraphDatasetSpec",
    "degree_features",
    "GraphSet",
    "load_graph_dataset",
    "normalize_features",
    "stratified_split",
]


@dataclass(frozen=True)
class GraphDatasetSpec:
    """A TU dataset: its folder under the data root and its published size."""

    name: str
    folder: str
    num_graphs: int
    num_classes: int
    description: str


INFO: dict[str, GraphDatasetSpec] = {
    "mutag": GraphDatasetSpec("mutag", "MUTAG", 188, 2, "mutagenic aromatic compounds (Debnath et al. 1991)"),
    "proteins": GraphDatasetSpec("proteins", "PROTEINS", 1113, 2, "enzymes vs non-enzymes (Borgwardt et al. 2005)"),
    "nci1": GraphDatasetSpec("nci1", "NCI1", 4110, 2, "anti-cancer screens (Wale et al. 2008)"),
    "enzymes": GraphDatasetSpec("enzymes", "ENZYMES", 600, 6, "6 EC top-level classes (Borgwardt et al. 2005)"),
    "ptc_mr": GraphDatasetSpec("ptc_mr", "PTC_MR", 344, 2, "carcinogenicity in male rats (Helma et al. 2001)"),
    "imdb-binary": GraphDatasetSpec("imdb-binary", "IMDB-BINARY", 1000, 2, "actor ego-networks (Yanardag 2015)"),
}
"""Spec of every graph-classification dataset, by name."""

GRAPH_DATASETS: tuple[str, ...] = tuple(INFO)
"""Names accepted by :func:`load_graph_dataset`."""

SPLIT_FRACTIONS = (0.8, 0.1, 0.1)


def stratified_split(y: Tensor, seed: int, fractions: Sequence[float] = SPLIT_FRACTIONS) -> tuple[Tensor, ...]:
    """Train/val/test graph indices: per class, a seeded permutation cut at 80 % and 90 %.

    Every class with at least 3 graphs has one in each split; the split depends only on ``y`` and
    ``seed``.

    Raises:
        ValueError: ``seed`` is not an integer >= 0 (``int()`` truncated 1.5 to split 1, and took ``True``).
    """
    check_int("seed", seed, 0)
    gen = torch.Generator().manual_seed(seed)
    parts: list[list[Tensor]] = [[], [], []]
    for c in torch.unique(y).tolist():
        members = (y == c).nonzero().flatten()
        members = members[torch.randperm(members.numel(), generator=gen)]
        n = members.numel()
        n_train = max(1, int(round(fractions[0] * n)))
        n_val = max(1 if n >= 3 else 0, int(round(fractions[1] * n)))
        n_train = min(n_train, n - n_val - (1 if n >= 3 else 0))
        parts[0].append(members[:n_train])
        parts[1].append(members[n_train : n_train + n_val])
        parts[2].append(members[n_train + n_val :])
    return tuple(torch.sort(torch.cat(p)).values for p in parts)


def _totals(counts: Sequence[tuple[Tensor, Tensor]]) -> list[tuple[int, int]]:
    """The sums ``(nodes, edges)`` of each pair of per-graph node and edge counts, in one host read (a sync on
    CUDA) for all of them."""
    if not counts:
        return []
    flat = torch.stack([c.sum() for pair in counts for c in pair]).tolist()
    return [(int(flat[k]), int(flat[k + 1])) for k in range(0, len(flat), 2)]


def _ranges(starts: Tensor, counts: Tensor, total: int | None = None) -> Tensor:
    """``cat([arange(s, s + c) for s, c in zip(starts, counts)])`` without a Python loop (``total``: ``counts``'
    sum when the caller has it on the host; otherwise it is read back, a sync on CUDA)."""
    total = int(counts.sum()) if total is None else total
    if total == 0:
        return torch.zeros(0, dtype=torch.long, device=starts.device)
    offsets = torch.cumsum(counts, 0) - counts
    # output_size: the length is known, so repeat_interleave need not read it back from the device (a sync)
    repeated = torch.repeat_interleave(starts - offsets, counts, output_size=total)
    return repeated + torch.arange(total, device=starts.device)


@dataclass
class GraphSet:
    """Graphs of one classification task, collated once.

    Attributes:
        x: ``(T, d)`` node features of all graphs, graph after graph.
        edge_index: ``(2, E)`` global node ids, edges grouped by graph (undirected: both directions).
        ptr: ``(G + 1)`` node offsets; graph ``g`` owns nodes ``ptr[g]:ptr[g+1]``.
        eptr: ``(G + 1)`` edge offsets.
        y: ``(G)`` class labels.
        num_classes: C.
        train_idx, val_idx, test_idx: graph indices of the splits.
        name: dataset name.
        split_seed: the seed of :func:`stratified_split` that drew the splits (``None``: not known, a set
            built by hand); a condensed set's card records it, so ``graph evaluate`` re-draws the same split.
    """

    x: Tensor
    edge_index: Tensor
    ptr: Tensor
    eptr: Tensor
    y: Tensor
    num_classes: int
    train_idx: Tensor
    val_idx: Tensor
    test_idx: Tensor
    name: str = "graphs"
    split_seed: int | None = None
    # init=False: dataclasses.replace (another split, other features) starts an empty cache, never the old one's
    _cache: dict[str, object] = field(default_factory=dict, repr=False, init=False)

    @property
    def num_features(self) -> int:
        """Node-feature width ``d`` (``x`` is ``(total nodes, d)``)."""
        return int(self.x.shape[1])

    @property
    def num_graphs(self) -> int:
        """Graphs in the set, ``G`` (every split together)."""
        return int(self.y.numel())

    @property
    def num_nodes(self) -> Tensor:
        """Nodes per graph, ``(G)``."""
        return self.ptr[1:] - self.ptr[:-1]

    @property
    def device(self) -> torch.device:
        """The device every tensor of the set is on."""
        return self.x.device

    @property
    def y_train(self) -> Tensor:
        """Labels of the training graphs, ``(len(train_idx),)`` int64."""
        return self.y[self.train_idx]

    def check_features(self) -> None:
        """Raise ``ValueError`` naming the first graph whose node features hold NaN or inf (one host read): a
        :class:`GraphSet` built by hand skips :func:`validate_graphs`, and NaN features condensed silently into a
        NaN set."""
        bad = ~torch.isfinite(self.x).all(1)
        if bool(bad.any()):
            node = int(bad.nonzero()[0])
            graph = int((self.ptr[1:] <= node).sum())  # graph g owns nodes ptr[g]:ptr[g+1]
            raise ValueError(
                f"graphs.x holds NaN or inf values (graph {graph}, node {node}); clean or impute the node features "
                "first"
            )

    def check_splits(self) -> None:
        """Raise ``ValueError`` unless ``train_idx``, ``val_idx`` and ``test_idx`` are non-empty 1-D integer graph
        indices in ``[0, G)``, each graph at most once, and the splits pairwise disjoint; and unless ``y`` holds
        labels in ``[0, num_classes)`` (a few host reads). A :class:`GraphSet` built by hand skipped every check: a
        test split that shares graphs with the training split was condensed from and scored on the same graphs,
        and an index past the last graph failed deep inside a method."""
        g = self.num_graphs
        names = ("train_idx", "val_idx", "test_idx")
        seen = torch.full((g,), -1, dtype=torch.long, device=self.y.device)
        for k, name in enumerate(names):
            idx = getattr(self, name)
            if not isinstance(idx, Tensor) or idx.dim() != 1 or idx.is_floating_point() or idx.dtype == torch.bool:
                raise ValueError(f"graphs.{name} must be a 1-D tensor of integer graph indices, got {idx!r}")
            if idx.numel() == 0:
                raise ValueError(f"graphs.{name} is empty; every split needs at least one graph")
            low, high = (int(v) for v in torch.stack([idx.min(), idx.max()]).tolist())
            if low < 0 or high >= g:
                raise ValueError(f"graphs.{name} holds graph indices in [{low}, {high}]; valid indices are 0..{g - 1}")
            idx = idx.to(seen.device).long()
            if torch.unique(idx).numel() != idx.numel():
                raise ValueError(f"graphs.{name} lists a graph more than once; each graph belongs to one split once")
            taken = seen[idx]
            if bool((taken >= 0).any()):
                other = names[int(taken[taken >= 0][0])]
                first = int(idx[taken >= 0][0])
                raise ValueError(
                    f"graphs.{other} and graphs.{name} share graph {first}: the splits must be disjoint (a shared "
                    "graph is condensed from and scored on at once)"
                )
            seen[idx] = k
        low, high = (int(v) for v in torch.stack([self.y.min(), self.y.max()]).tolist())
        if low < 0 or high >= self.num_classes:
            raise ValueError(
                f"graphs.y holds labels in [{low}, {high}]; valid labels are 0..{self.num_classes - 1} "
                f"(num_classes={self.num_classes})"
            )

    @property
    def canonical_edges(self) -> bool:
        """Whether every graph's edges are sorted by (source, target), none twice and none a self loop (PyG's TU
        datasets are). Then the edge list of any batch :meth:`select` cuts is coalesced and loop-free, so its
        adjacency and GCN operator are built without ``coalesce`` (a host sync on CUDA each, per batch). One host
        read the first time, for this and :attr:`loop_free_edges`, then kept (and carried by :meth:`to`)."""
        return self._edge_flags()["canonical_edges"]

    @property
    def loop_free_edges(self) -> bool:
        """Whether no graph holds a self loop (canonical edges are loop-free; so are many edge lists that are not
        sorted, or list an edge twice). Then a batch's GCN and loop operators add their self loops by a sort, not a
        ``coalesce``, though its adjacency needs one unless :attr:`canonical_edges`. Read with it, once."""
        return self._edge_flags()["loop_free_edges"]

    def _edge_flags(self) -> dict[str, bool]:
        if "canonical_edges" not in self._cache or "loop_free_edges" not in self._cache:
            src, dst = self.edge_index
            key = src * self.x.shape[0] + dst  # graphs hold increasing node ranges: sorted per graph = sorted overall
            flags = torch.stack([(key[1:] > key[:-1]).all(), (src != dst).all()]) if key.numel() else None
            ordered, loop_free = (True, True) if flags is None else flags.tolist()
            self._cache.setdefault("canonical_edges", bool(ordered and loop_free))
            self._cache.setdefault("loop_free_edges", bool(loop_free))
        return {name: bool(self._cache[name]) for name in ("canonical_edges", "loop_free_edges")}

    def to(self, device: torch.device | str) -> GraphSet:
        """A copy with every tensor on ``device`` (the split and the cached edge checks carried over)."""
        moved = self._moved(device)
        for name in ("canonical_edges", "loop_free_edges"):
            if name in self._cache:
                moved._cache[name] = self._cache[name]
        return moved

    def _moved(self, device: torch.device | str) -> GraphSet:
        return GraphSet(
            self.x.to(device),
            self.edge_index.to(device),
            self.ptr.to(device),
            self.eptr.to(device),
            self.y.to(device),
            self.num_classes,
            self.train_idx.to(device),
            self.val_idx.to(device),
            self.test_idx.to(device),
            self.name,
            self.split_seed,
        )

    def batch_sizes(self, batches: Sequence[Tensor]) -> list[tuple[int, int]]:
        """The node and edge totals ``(nodes, edges)`` of each batch of graph indices in ``batches``, read back
        in one host read (a sync on CUDA) for all of them: pass each to :meth:`select` as ``sizes``, so that a
        step cutting several batches (DosCond's real batch per class) waits for the device once, not per batch."""
        return _totals([self._counts(idx.to(self.ptr.device).long()) for idx in batches])

    def _counts(self, idx: Tensor) -> tuple[Tensor, Tensor]:
        """The node and edge counts of graphs ``idx`` (on the set's device), ``(len(idx),)`` each."""
        return self.num_nodes[idx], (self.eptr[1:] - self.eptr[:-1])[idx]

    def select(self, idx: Tensor, sizes: tuple[int, int] | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Graphs ``idx`` as ``(x, edge_index, batch)``: their nodes concatenated in order,
        edges renumbered, and the position in ``idx`` of each node's graph.

        ``sizes``: the batch's ``(nodes, edges)`` totals when the caller has them on the host (from
        :meth:`batch_sizes`); otherwise they are read back here (one host read, a sync on CUDA). Wrong totals
        give a wrong batch: pass only what :meth:`batch_sizes` returned for this ``idx``."""
        idx = idx.to(self.ptr.device).long()
        counts, ecounts = self._counts(idx)
        n_nodes, n_edges = _totals([(counts, ecounts)])[0] if sizes is None else sizes
        nodes = _ranges(self.ptr[idx], counts, n_nodes)
        edges = _ranges(self.eptr[idx], ecounts, n_edges)
        new_ptr = torch.cumsum(counts, 0) - counts
        # output sizes known from nodes / edges: no host sync to size the results on CUDA
        shift = torch.repeat_interleave(new_ptr - self.ptr[idx], ecounts, output_size=edges.numel())
        batch = torch.repeat_interleave(torch.arange(idx.numel(), device=idx.device), counts, output_size=nodes.numel())
        return self.x[nodes], self.edge_index[:, edges] + shift, batch

    def padded(self, idx: Tensor, max_nodes: int | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Graphs ``idx`` as dense padded tensors ``(x (B, n, d), adj (B, n, n), mask (B, n))``,
        ``n = max_nodes`` or the largest graph; larger graphs are truncated to their first ``n``
        nodes (as DosCond's and KiDD's initialisation do)."""
        x, edge_index, batch = self.select(idx)
        counts = torch.bincount(batch, minlength=idx.numel())
        n = int(counts.max()) if max_nodes is None else int(max_nodes)
        starts = torch.cumsum(counts, 0) - counts
        local = torch.arange(batch.numel(), device=batch.device) - starts[batch]
        keep = local < n
        b = idx.numel()
        xd = x.new_zeros(b, n, x.shape[1])
        xd[batch[keep], local[keep]] = x[keep]
        mask = torch.zeros(b, n, dtype=torch.bool, device=x.device)
        mask[batch[keep], local[keep]] = True
        src, dst = edge_index
        ekeep = keep[src] & keep[dst]
        adj = x.new_zeros(b, n, n)
        adj[batch[src[ekeep]], local[src[ekeep]], local[dst[ekeep]]] = 1.0
        return xd, adj, mask


def _to_graphset(graphs: Sequence[Data], name: str, seed: int, num_classes: int | None = None) -> GraphSet:
    """Collate and validate a list of PyG graphs (see :func:`validate_graphs`)."""
    validate_graphs(graphs)
    xs = [g.x.float() for g in graphs]
    sizes = torch.tensor([x.shape[0] for x in xs], dtype=torch.long)
    ptr = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(sizes, 0)])
    edges = [g.edge_index.long() + ptr[i] for i, g in enumerate(graphs)]
    esizes = torch.tensor([e.shape[1] for e in edges], dtype=torch.long)
    eptr = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(esizes, 0)])
    y = torch.tensor([int(g.y.reshape(-1)[0]) for g in graphs], dtype=torch.long)
    c = int(y.max()) + 1 if num_classes is None else num_classes
    train, val, test = stratified_split(y, seed)
    return GraphSet(torch.cat(xs), torch.cat(edges, 1), ptr, eptr, y, c, train, val, test, name, int(seed))


def validate_graphs(graphs: Sequence[Data]) -> None:
    """Check a list of graphs for graph classification.

    Every graph needs ``x`` (2-D, finite, the same width for all graphs), a valid ``edge_index``
    (``Data.validate``) and one integer label ``y``; graphs with no edges, isolated nodes or a
    single node are fine. At least two classes, and at least 3 graphs in each (one per split).

    Raises:
        ValueError: naming the graph, the attribute and what is wrong with it.
    """
    if not isinstance(graphs, Sequence) or len(graphs) == 0:
        raise ValueError("graphs must be a non-empty list of torch_geometric Data objects")
    width = None
    for i, g in enumerate(graphs):
        if not isinstance(g, Data):
            raise ValueError(f"graphs[{i}] is a {type(g).__name__}, not a torch_geometric Data")
        for attr in ("x", "y", "edge_index"):  # a numpy array was "'ndarray' object has no attribute 'dim'"
            value = getattr(g, attr, None)
            if value is not None and not isinstance(value, torch.Tensor):
                raise ValueError(
                    f"graphs[{i}].{attr} is a {type(value).__name__}; it must be a torch.Tensor (torch.from_numpy)"
                )
        if g.x is None or g.x.dim() != 2 or g.x.is_complex():  # integer or bool features are cast to float
            shown = repr(g.x) if g.x is None else f"shape {tuple(g.x.shape)}, dtype {g.x.dtype}"
            raise ValueError(f"graphs[{i}] needs real node features x of shape (nodes, features), got {shown}")
        if g.x.shape[0] == 0:
            raise ValueError(f"graphs[{i}] has no nodes; every graph needs at least one node")
        if width is None:
            width = g.x.shape[1]
        elif g.x.shape[1] != width:
            raise ValueError(
                f"graphs[{i}] has {g.x.shape[1]} node features but graphs[0] has {width}; "
                "every graph needs the same node-feature width"
            )
        if not torch.isfinite(g.x).all():
            raise ValueError(f"graphs[{i}].x holds NaN or inf values; clean or impute the node features first")
        if g.y is None or g.y.numel() != 1 or g.y.is_floating_point():
            raise ValueError(f"graphs[{i}] needs one integer class label y, got {g.y!r}")
        try:
            g.validate(raise_on_error=True)
        except Exception as err:  # PyG raises ValueError today; wrap whatever it raises
            raise ValueError(f"graphs[{i}] has an invalid structure: {err}") from err
    labels = torch.tensor([int(g.y.reshape(-1)[0]) for g in graphs])
    if int(labels.min()) < 0:
        raise ValueError(f"class labels must be >= 0, got {int(labels.min())}")
    # unique, not bincount: bincount allocates max(label) + 1 counters, 8 TB for a label 10**12
    seen_t, present = torch.unique(labels, return_counts=True)  # sorted
    seen = seen_t.tolist()
    if len(seen) < 2:
        raise ValueError("graph classification needs at least two classes in y")
    n_absent = seen[-1] + 1 - len(seen)
    if n_absent:  # else every method fails later on a class with 0 training graphs (check_gpc)
        absent: list[int] = []  # the first 8 missing labels, walking the gaps (not range(max label))
        for a, b in zip([-1, *seen], seen, strict=False):
            absent += range(a + 1, min(b, a + 1 + 8 - len(absent)))
            if len(absent) >= 8:
                break

        def show(values: list[int], total: int) -> str:  # labels {0, 10**6} must not print a million numbers
            return str(values) if total <= 8 else f"[{', '.join(map(str, values[:8]))}, ... ({total})]"

        raise ValueError(
            f"class labels must be 0..C-1 with every class present: no graph has label(s) {show(absent, n_absent)} "
            f"(labels seen: {show(seen, len(seen))}); relabel y to 0..{len(seen) - 1}"
        )
    if int(present.min()) < 3:
        small = [c for c, n in zip(seen, present.tolist(), strict=True) if n < 3]
        raise ValueError(f"class(es) {small} have fewer than 3 graphs; each class needs one per split")


def _read_tu(folder: Path, spec: GraphDatasetSpec) -> list[Data]:
    return _open_tu(writable_copy(folder, spec.folder), spec)


def _download_tu(folder: Path, spec: GraphDatasetSpec) -> list[Data]:
    """The TU dataset fetched by torch_geometric into ``folder`` (its ``raw/`` and ``processed/``); a failed fetch
    (offline, DNS, HTTP: fsspec and aiohttp raise ``OSError`` subclasses) is a ``FileNotFoundError`` naming the
    dataset and the folder, not a traceback; an error once the raw files are there is raised as it is."""
    fetched = (folder / "raw" / f"{spec.folder}_A.txt").is_file
    with failed_download(spec.name, folder, fetched, raw=f"its TUDataset raw files in '{spec.folder}/raw/'"):
        return _open_tu(folder, spec)


def _open_tu(folder: Path, spec: GraphDatasetSpec) -> list[Data]:
    """Every graph of the TU dataset in ``folder`` (read, or fetched when its raw files are missing), edgeless ones
    included.

    torch_geometric's TU reader cuts the edges graph by graph with a ``bincount`` of the edges' graph ids, without
    ``minlength`` (``torch_geometric/io/tu.py::split``, 2.8.1): when the last graphs of the files have no edge, the
    edge offsets stop at the last graph that has one, and the dataset's length (taken from those offsets) silently
    drops the others, so a class of edgeless graphs at the end vanished ("needs at least two classes"). Each missing
    offset is the last one repeated: those graphs hold no edge. A dataset with no edge at all is refused by name
    (the reader fails on its blank ``_A.txt`` with an ``IndexError`` or a ``ValueError`` of ``int('')``)."""
    from torch_geometric.datasets import TUDataset

    edges = folder / "raw" / f"{spec.folder}_A.txt"
    if edges.is_file():  # not yet there when it is to be fetched (an official file has edges)
        with open(edges, "rb") as fh:
            head = fh.read(4096)
        if len(head) < 4096 and not head.strip():  # the reader fails on it with an IndexError or a ValueError
            raise ValueError(
                f"Dataset {spec.name!r}: {str(edges.resolve())!r} lists no edge, so no graph has one; "
                "torch_geometric's TU reader cannot read a dataset without edges (give at least one graph an edge)"
            )
    with weights_only_pyg(folder):
        ds = TUDataset(root=str(folder.parent), name=spec.folder, use_node_attr=True)
    graphs = int(ds.slices["y"].numel()) - 1  # one label per graph
    for key, offsets in ds.slices.items():
        if offsets.numel() < graphs + 1:  # edge-wise offsets cut short by trailing edgeless graphs
            ds.slices[key] = torch.cat([offsets, offsets[-1:].expand(graphs + 1 - offsets.numel())])
    return [ds[i] for i in range(len(ds))]


def normalize_features(x: Tensor, ptr: Tensor) -> Tensor:
    """PyG's ``T.NormalizeFeatures()`` applied graph by graph (KiDD's transform), vectorised.

    For each graph, its smallest feature value (over all its nodes and columns) is subtracted,
    then every row is divided by its sum clamped at 1. One-hot rows are unchanged; rows with a
    continuous attribute ``a`` ≥ 0 next to a one-hot label become ``[a, 1] / (a + 1)``.
    """
    counts = ptr[1:] - ptr[:-1]
    batch = torch.repeat_interleave(torch.arange(counts.numel(), device=x.device), counts)
    low = x.new_zeros(counts.numel()).scatter_reduce(0, batch, x.min(1).values, "amin", include_self=False)
    x = x - low[batch].unsqueeze(1)
    return x / x.sum(1, keepdim=True).clamp_min(1.0)


def degree_features(graphs: Sequence[Data], train_idx: Tensor) -> list[Data]:
    """``graphs`` with one-hot node degrees as features (PyG's ``OneHotDegree``; out-degree, undirected graphs),
    ``D + 1`` columns for ``D`` the largest degree among the training graphs ``train_idx``: the width is fitted on
    the training split only, and a validation or test node of a larger degree falls in the last column
    ("degree >= D"). The width was fitted on every graph, test graphs included; on IMDB-BINARY's splits 0-4 the
    training graphs hold the largest degree (135), so the features are the same."""
    degs = [torch.bincount(g.edge_index[0], minlength=int(g.num_nodes)) for g in graphs]
    top = max((int(degs[i].max()) for i in train_idx.tolist() if degs[i].numel()), default=0)
    return [
        Data(x=torch.nn.functional.one_hot(d.clamp(max=top), top + 1).float(), edge_index=g.edge_index, y=g.y)
        for g, d in zip(graphs, degs, strict=True)
    ]


def load_graph_dataset(
    name: str,
    *,
    root: str | os.PathLike[str] | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    download: bool = False,
) -> GraphSet:
    """Load a TU dataset as a :class:`GraphSet` with stratified 80/10/10 splits fixed by ``seed``.

    Node features: continuous attributes (when the dataset has them), then the one-hot node
    labels, as PyG's ``TUDataset(use_node_attr=True)`` lays them out, row-normalised per graph by
    :func:`normalize_features` (KiDD's ``T.NormalizeFeatures()``; identity on one-hot rows, so
    MUTAG, NCI1 and PTC_MR are unchanged); datasets with neither (IMDB-BINARY) get a one-hot node
    degree (:func:`degree_features`: ``max degree + 1`` columns, as PyG's ``OneHotDegree``, the largest
    degree taken over the training graphs of the split).

    Why not min-max scaling (the previous choice): PROTEINS' one attribute spans -538..798 with
    its 1st..99th percentiles at 2..25, so min-max squeezed 98 % of the nodes into [0.40, 0.42] and
    GIN's whole-data test accuracy on split 0 was 66.4; with KiDD's transform it is ~72.

    The raw files are read from ``<root>/<FOLDER>/raw/`` (root: argument, ``$CONDENSEKIT_DATA``,
    ``~/.cache/condensekit``). Nothing is downloaded unless ``download`` is true: then missing raw files
    are fetched with torch_geometric's ``TUDataset`` into the root if it is writable, else into the cache
    (as node-level datasets are, :func:`condensekit.graph.data.load_node_dataset`).

    Raises:
        ValueError: unknown ``name`` (the error lists the valid ones).
        FileNotFoundError: the raw files are missing and ``download`` is false.
    """
    key = str(name).lower()
    check_choice("dataset", key, GRAPH_DATASETS)
    check_int("seed", seed, 0)  # before any file is read
    spec = INFO[key]
    base = resolve_root(root)
    folder = base / spec.folder
    needed = [f"{spec.folder}_{s}.txt" for s in ("A", "graph_indicator", "graph_labels")]
    missing = [f for f in needed if not (folder / "raw" / f).is_file()]
    if missing and not download:
        raise FileNotFoundError(
            f"Dataset {key!r} not found: {', '.join(missing)} missing from {str(folder / 'raw')!r}. "
            f"Pass --download (download=True) to fetch it, or set {DATA_ENV} (or --root) to a data root that "
            f"holds '{spec.folder}/raw/' (TUDataset layout)."
        )
    graphs = _read_tu(folder, spec) if not missing else _download_tu(_download_root(base) / spec.folder, spec)
    if graphs[0].x is None:  # IMDB-BINARY: no labels, no attributes -> one-hot degree
        y = torch.tensor([int(g.y.reshape(-1)[0]) for g in graphs], dtype=torch.long)
        graphs = degree_features(graphs, stratified_split(y, seed)[0])  # the split _to_graphset draws below
    else:
        graphs = [Data(x=g.x.float(), edge_index=g.edge_index, y=g.y) for g in graphs]
    gs = _to_graphset(graphs, key, seed, spec.num_classes)
    gs.x = normalize_features(gs.x, gs.ptr)
    return gs.to(device)


def graphset_from_list(
    graphs: Sequence[Data], *, name: str = "graphs", seed: int = 0, device: str | torch.device = "cpu"
) -> GraphSet:
    """A :class:`GraphSet` from a user's list of PyG graphs (validated, split 80/10/10 by ``seed``).

    Directed graphs are symmetrised (an edge ``(i, j)`` gains ``(j, i)``), as node-level graphs are: every
    method and evaluation model treats graphs as undirected, and a coreset of directed graphs would keep an
    asymmetric adjacency that its own artifact check refuses. A repeated edge is kept once: the sparse layout
    (real graphs) summed it into weight 2 where the dense one (coresets, initial graphs) holds 1, so the same
    graphs gave other logits in the two. Undirected simple graphs are taken as they are.
    """
    return _to_graphset([_undirected(g) for g in graphs], name, seed).to(device)


def _undirected(g: Data) -> Data:
    """``g`` itself when its edges are undirected and simple (or it is not a graph :func:`validate_graphs` accepts:
    that check names the problem), else a copy with both directions of every edge, each once."""
    from torch_geometric.utils import coalesce, is_undirected, to_undirected

    edge_index = getattr(g, "edge_index", None) if isinstance(g, Data) else None
    if not isinstance(edge_index, Tensor) or edge_index.dim() != 2 or edge_index.shape[0] != 2:
        return g
    n = g.num_nodes
    if edge_index.numel() == 0 or n is None or int(edge_index.min()) < 0 or int(edge_index.max()) >= n:
        return g
    edge_index = edge_index.long()
    simple = coalesce(edge_index, num_nodes=n)
    if simple.shape[1] == edge_index.shape[1] and is_undirected(simple, num_nodes=n):
        return g
    # only what a GraphSet keeps: an edge_attr of the given edges would no longer fit
    return Data(x=g.x, edge_index=to_undirected(simple, num_nodes=n), y=g.y, num_nodes=n)
