"""A user's node-classification graph from one ``.npz`` file (``--dataset path/to/graph.npz``).

The file holds NumPy arrays (read with ``allow_pickle=False``: nothing is unpickled):

========================  ===========  ==============================================
key                       shape        meaning
========================  ===========  ==============================================
``x``                     (N, F)       node features (float; NaN/inf are refused)
``edge_index``            (2, E)       integer (source, target) pairs in [0, N)
``y``                     (N,)         integer class labels in [0, C)
``train_mask``            (N,)         bool (or 0/1) training nodes
``val_mask``              (N,)         bool (or 0/1) validation nodes
``test_mask``             (N,)         bool (or 0/1) test nodes
``edge_weight`` (opt.)    (E,)         positive edge weights
``num_classes`` (opt.)    ()           C; labels must lie below it
========================  ===========  ==============================================

The masks must be non-empty and pairwise disjoint. A directed edge list is accepted: the task
symmetrises it (see :meth:`condensekit.graph.task.NodeTask.from_data`) and the card records it.

Example::

    np.savez("my.npz", x=x, edge_index=ei, y=y, train_mask=tr, val_mask=va, test_mask=te)
    condensekit graph condense --dataset my.npz --method gcdm --ratio 0.5
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Data

__all__ = ["NPZ_KEYS", "load_npz_graph"]

NPZ_KEYS: tuple[str, ...] = ("x", "edge_index", "y", "train_mask", "val_mask", "test_mask")
"""The keys a graph file must hold."""

_OPTIONAL = ("edge_weight", "num_classes")
_MASKS = ("train_mask", "val_mask", "test_mask")


def load_npz_graph(path: str | os.PathLike[str]) -> Data:
    """Read and check a graph file (see the module docstring); ``data.name`` is the file's stem.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a NumPy archive, or a key is missing or has the wrong shape or
            dtype, edge indices or labels are out of range, masks are empty or overlap, or
            features are not finite; the message names the key, what was found and what is valid.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"Graph file {str(p)!r} not found (argument --dataset)")
    try:
        with np.load(p, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except (OSError, ValueError) as err:
        raise ValueError(f"Graph file {str(p)!r} is not a readable .npz archive without pickles: {err}") from err
    missing = [k for k in NPZ_KEYS if k not in arrays]
    if missing:
        raise ValueError(
            f"Graph file {str(p)!r} lacks key(s) {missing}; it holds {sorted(arrays)}. "
            f"Required: {list(NPZ_KEYS)}; optional: {list(_OPTIONAL)}"
        )
    x, ei, y = arrays["x"], arrays["edge_index"], arrays["y"]
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise ValueError(f"key 'x' must be a real 2-D array (N, F), got shape {x.shape} and dtype {x.dtype}")
    n = x.shape[0]
    bad = ~np.isfinite(x)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise ValueError(
            f"key 'x' holds {int(bad.sum())} NaN/inf value(s) in {rows.size} node(s), first rows {rows[:5].tolist()}"
        )
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"key 'y' must be {n} integer labels (shape ({n},)), got shape {y.shape} and dtype {y.dtype}")
    if ei.ndim != 2 or ei.shape[0] != 2 or not np.issubdtype(ei.dtype, np.integer):
        raise ValueError(f"key 'edge_index' must be an integer array of shape (2, E), got {ei.shape} and {ei.dtype}")
    if ei.size and (ei.min() < 0 or ei.max() >= n):
        outside = np.flatnonzero(((ei < 0) | (ei >= n)).any(axis=0))
        raise ValueError(
            f"key 'edge_index' holds node ids in [{ei.min()}, {ei.max()}], outside [0, {n}) "
            f"({outside.size} edge(s), first columns {outside[:5].tolist()})"
        )
    num_classes = int(y.max()) + 1 if y.size else 0
    if "num_classes" in arrays:
        num_classes = int(arrays["num_classes"])
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"key 'y' holds labels in [{y.min()}, {y.max()}]; valid labels are 0 … {num_classes - 1}")
    masks = {}
    for key in _MASKS:
        m = arrays[key]
        binary = m.dtype == np.bool_ or (np.issubdtype(m.dtype, np.integer) and np.isin(m, (0, 1)).all())
        if m.shape != (n,) or not binary:
            raise ValueError(f"key {key!r} must be {n} booleans (or 0/1), got shape {m.shape} and dtype {m.dtype}")
        masks[key] = m.astype(bool)
        if not masks[key].any():
            raise ValueError(f"key {key!r} selects no node; every split needs at least one")
    for i, a in enumerate(_MASKS):
        for b in _MASKS[i + 1 :]:
            both = np.flatnonzero(masks[a] & masks[b])
            if both.size:
                raise ValueError(f"keys {a!r} and {b!r} overlap in {both.size} node(s), first {both[:5].tolist()}")
    data = Data(
        x=torch.from_numpy(np.ascontiguousarray(x)).float(),
        edge_index=torch.from_numpy(np.ascontiguousarray(ei)).long(),
        y=torch.from_numpy(y).long(),
        **{k: torch.from_numpy(v) for k, v in masks.items()},
    )
    if "edge_weight" in arrays:
        w = arrays["edge_weight"]
        if w.shape != (ei.shape[1],) or not np.isfinite(w).all() or (w <= 0).any():
            raise ValueError(f"key 'edge_weight' must hold {ei.shape[1]} finite positive weights, got shape {w.shape}")
        data.edge_weight = torch.from_numpy(w).float()
    data.name = p.stem
    data.source_path = str(p.resolve())
    return data
