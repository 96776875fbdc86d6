"""Load a script of ``benchmarks/`` as a module for a test (the scripts import each other's helpers, e.g.
``from graph_node import hardware``, so ``benchmarks/`` goes on ``sys.path`` for the test's duration)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def load_bench(script: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``benchmarks/<script>`` executed as a fresh module (not registered in ``sys.modules``)."""
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{Path(script).stem}", BENCH / script)
    assert spec is not None and spec.loader is not None, script
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
