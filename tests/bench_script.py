"""Load a script of ``benchmarks/`` as a module for a test (the scripts import their shared helpers and each other's,
e.g. ``from common import hardware``, so ``benchmarks/`` goes on ``sys.path`` for the test's duration)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
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


def write_pneumonia(root: Path, *, val: int = 6) -> None:
    """A tiny PneumoniaMNIST-layout ``<root>/medmnist/pneumoniamnist.npz`` for the robust scripts' tests: 16 / ``val``
    / 6 random 28×28 train / validation / test images, labels alternating 0, 1."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, k in (("train", 16), ("val", val), ("test", 6)):
        arrays[f"{split}_images"] = rng.integers(0, 256, (k, 28, 28)).astype(np.uint8)
        arrays[f"{split}_labels"] = (np.arange(k) % 2).reshape(-1, 1).astype(np.uint8)
    (root / "medmnist").mkdir(parents=True)
    np.savez(root / "medmnist" / "pneumoniamnist.npz", **arrays)


def table_cells(row: str) -> list[str]:
    """The cells of one markdown table row printed by a benchmark's ``--table`` (``| a | b |`` → ``["a", "b"]``)."""
    return [c.strip() for c in row.strip().strip("|").split("|")]
