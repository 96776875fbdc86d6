"""No "Sparse CSR tensor support is in beta" warning reaches a user: `graph condense --task graph` printed torch's
UserWarning (with its source line) on stderr. torch warns once per process, so each check runs in a fresh one."""

from __future__ import annotations

import subprocess
import sys

import pytest

_SETUP = """
import warnings
warnings.simplefilter("always")
import torch
"""

_CASES = {
    "graph-level batch operators": """
from condensekit.graph.level.batch import GraphBatch
adj = torch.sparse_coo_tensor(torch.tensor([[0, 1], [1, 0]]), torch.ones(2), (3, 3)).coalesce()
b = GraphBatch(x=torch.randn(3, 2), adj=adj, num_graphs=1, batch=torch.zeros(3, dtype=torch.long))
b.op("gcn"); b.op("sum")
""",
    "node features": """
from condensekit.graph.task import model_input
x = torch.zeros(50, 40); x[0, 0] = 1.0
assert model_input(x).layout == torch.sparse_csr
""",
}


@pytest.mark.parametrize("case", sorted(_CASES))
def test_csr_conversions_do_not_warn(case: str) -> None:
    done = subprocess.run([sys.executable, "-c", _SETUP + _CASES[case]], capture_output=True, text=True, timeout=120,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Sparse CSR tensor support is in beta" not in done.stderr, done.stderr
