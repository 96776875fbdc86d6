"""The image benchmark scripts start without the graph library: they import their shared helpers from
``benchmarks/common.py``, which imports no domain. Until sitting 26 those helpers lived in ``graph_node.py``, so
``benchmarks/medical.py --help`` (and each ``--expert-workers`` process it spawns) loaded torch_geometric, 1.5 s of
a 4.5 s start, and printed its ``torch.jit.script`` FutureWarning."""

import json
import subprocess
import sys

from tests.bench_script import BENCH

#: Scripts that use no graph: importing them must not load torch_geometric (robust.py and robust_teachers.py since
#: ``condensekit.robust`` imports its graph audit on first use).
NO_GRAPH = ["common", "medical", "medical_lr_trace", "privacy", "ptm_overlap", "image_eval_batched", "robust",
            "robust_teachers"]  # fmt: skip

PROBE = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
seen = {}
for name in sys.argv[2:]:
    importlib.import_module(name)
    seen[name] = "torch_geometric" in sys.modules
print(json.dumps(seen))
"""


def test_image_benchmark_scripts_import_no_graph_library():
    # One fresh interpreter imports the scripts in turn, so the first that loads torch_geometric is named; graph_node
    # comes last and must load it: the probe sees the import it guards against.
    names = [*NO_GRAPH, "graph_node"]
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(BENCH), *names], capture_output=True, text=True, check=True, timeout=300
    )
    seen = json.loads(out.stdout.splitlines()[-1])
    assert seen == {**dict.fromkeys(NO_GRAPH, False), "graph_node": True}
    assert "FutureWarning" not in out.stderr  # graph_node's torch.jit.script warning is filtered before PyG loads
