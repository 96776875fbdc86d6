"""Session-wide test setup and tiny generated graphs shared by the graph tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Data

from condensekit.graph.task import NodeTask

# Tiny tensors on a 2-core machine: intra-op threads only add overhead.
torch.set_num_threads(1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``real_data`` tests when no data root is given (a clone without ``../shared/data``):
    they read the real datasets, which are never committed."""
    root = os.environ.get("CONDENSEKIT_DATA")
    if root and Path(root).is_dir():
        return
    skip = pytest.mark.skip(reason=f"CONDENSEKIT_DATA is not a data root ({root!r}): real datasets unavailable")
    for item in items:
        if "real_data" in item.keywords:
            item.add_marker(skip)

NUM_CLASSES, PER_CLASS, NUM_FEATURES = 3, 20, 16
SPLIT = (5, 5, 10)  # train / val / test nodes per class


def make_tiny_graph(seed: int = 0) -> Data:
    """A 3-class stochastic-block graph (20 nodes per class, p_in 0.3, p_out 0.02), undirected,
    without self loops; 16-d features = class signal on column ``y`` plus Gaussian noise;
    5/5/10 train/val/test nodes per class."""
    gen = torch.Generator().manual_seed(seed)
    n = NUM_CLASSES * PER_CLASS
    y = torch.arange(NUM_CLASSES).repeat_interleave(PER_CLASS)
    same = y.unsqueeze(0) == y.unsqueeze(1)
    prob = torch.where(same, torch.tensor(0.3), torch.tensor(0.02))
    upper = (torch.rand(n, n, generator=gen) < prob).triu(diagonal=1)
    adj = upper | upper.t()
    edge_index = adj.nonzero().t().contiguous()

    x = 0.5 * torch.randn(n, NUM_FEATURES, generator=gen)
    x[torch.arange(n), y] += 1.0

    train = torch.zeros(n, dtype=torch.bool)
    val = torch.zeros(n, dtype=torch.bool)
    test = torch.zeros(n, dtype=torch.bool)
    n_train, n_val, n_test = SPLIT
    for c in range(NUM_CLASSES):
        nodes = (y == c).nonzero().flatten()
        nodes = nodes[torch.randperm(nodes.numel(), generator=gen)]
        train[nodes[:n_train]] = True
        val[nodes[n_train : n_train + n_val]] = True
        test[nodes[n_train + n_val : n_train + n_val + n_test]] = True
    return Data(x=x, edge_index=edge_index, y=y, train_mask=train, val_mask=val, test_mask=test)


@pytest.fixture
def tiny_graph() -> Data:
    return make_tiny_graph()


@pytest.fixture
def tiny_task(tiny_graph: Data) -> NodeTask:
    return NodeTask.from_data(tiny_graph)


@pytest.fixture
def ro(tmp_path: Path) -> Path:
    """An empty folder for the tests of outputs that cannot be written (``tests.read_only.refuse_writes_under``)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    return folder
