"""Tiny generated graph-classification data shared by the graph-level tests."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Data

from condensekit.graph.level.data import GraphSet, graphset_from_list

NUM_FEATURES = 4


def make_tiny_graphs(per_class: int = 12, seed: int = 0) -> list[Data]:
    """Two classes: cycles whose nodes carry feature 0, and stars whose nodes carry feature 1
    (plus noise in [0, 0.2)); 3-7 nodes. Class 0 holds an edgeless graph and class 1 a
    single-node graph, which everything must handle."""
    gen = torch.Generator().manual_seed(seed)
    graphs = []
    for c in range(2):
        for i in range(per_class):
            n = 3 + int(torch.randint(0, 5, (1,), generator=gen))
            if c == 0:
                src = torch.arange(n)
                edges = torch.stack([src, (src + 1) % n])
            else:
                edges = torch.stack([torch.zeros(n - 1, dtype=torch.long), torch.arange(1, n)])
            if c == 0 and i == 0:
                edges = torch.zeros(2, 0, dtype=torch.long)  # no edges at all
            if c == 1 and i == 0:
                n, edges = 1, torch.zeros(2, 0, dtype=torch.long)  # a single node
            edges = torch.cat([edges, edges.flip(0)], 1)
            x = 0.2 * torch.rand(n, NUM_FEATURES, generator=gen)
            x[:, c] += 0.8
            graphs.append(Data(x=x, edge_index=edges, y=torch.tensor([c])))
    return graphs


@pytest.fixture
def tiny_graphs() -> list[Data]:
    return make_tiny_graphs()


@pytest.fixture
def tiny_set(tiny_graphs: list[Data]) -> GraphSet:
    return graphset_from_list(tiny_graphs, name="tiny", seed=0)
