"""A user's graph file: what loads, and every kind of bad input named."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from condensekit.graph.data import load_node_dataset
from condensekit.graph.npz import load_npz_graph


def _arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    n = 12
    src = np.arange(n)
    return {
        "x": rng.normal(size=(n, 4)).astype(np.float32),
        "edge_index": np.stack([src, (src + 1) % n]),  # a directed ring
        "y": np.arange(n) % 3,
        "train_mask": np.arange(n) < 6,
        "val_mask": (np.arange(n) >= 6) & (np.arange(n) < 9),
        "test_mask": np.arange(n) >= 9,
    }


def _write(tmp_path: Path, arrays: dict[str, Any]) -> Path:
    path = tmp_path / "mine.npz"
    np.savez(path, **arrays)
    return path


def test_npz_loads_and_keeps_its_features(tmp_path: Path) -> None:
    arrays = _arrays()
    data = load_node_dataset(str(_write(tmp_path, arrays)))
    assert data.name == "mine" and data.num_nodes == 12
    assert np.allclose(data.x.numpy(), arrays["x"])  # not row-normalised
    assert int(data.train_mask.sum()) == 6 and data.edge_index.shape == (2, 12)


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda a: a.__setitem__(key, value)


BAD: list[tuple[Callable[[dict[str, Any]], None], str]] = [
    (lambda a: a.pop("y"), r"lacks key\(s\) \['y'\]"),
    (_set("x", np.zeros(12)), "'x' must be a real 2-D array"),
    (_set("edge_index", np.zeros((3, 4), dtype=np.int64)), r"shape \(2, E\)"),
    (_set("edge_index", np.array([[0, 12], [1, 2]])), r"outside \[0, 12\)"),
    (_set("edge_index", np.array([[0, -1], [1, 2]])), r"outside \[0, 12\)"),
    (_set("y", np.arange(12) - 1), r"valid labels are 0"),
    (_set("y", np.arange(11)), r"'y' must be 12 integer labels"),
    (_set("num_classes", np.array(2)), r"labels in \[0, 2\]; valid labels are 0 … 1"),
    (_set("test_mask", np.zeros(12, dtype=bool)), "'test_mask' selects no node"),
    (_set("val_mask", (np.arange(12) >= 5) & (np.arange(12) < 9)), "'train_mask' and 'val_mask' overlap in 1 node"),
    (_set("train_mask", np.ones(5, dtype=bool)), "'train_mask' must be 12 booleans"),
    (_set("train_mask", np.full(12, 2)), "'train_mask' must be 12 booleans"),
    (_set("edge_weight", -np.ones(12)), "finite positive weights"),
]


@pytest.mark.parametrize(("corrupt", "message"), BAD)
def test_npz_bad_input(tmp_path: Path, corrupt: Callable[[dict[str, Any]], None], message: str) -> None:
    arrays = _arrays()
    corrupt(arrays)
    with pytest.raises(ValueError, match=message):
        load_npz_graph(_write(tmp_path, arrays))


def test_npz_nan_features(tmp_path: Path) -> None:
    arrays = _arrays()
    arrays["x"][3, 1] = np.nan
    with pytest.raises(ValueError, match=r"'x' holds 1 NaN/inf value\(s\) in 1 node\(s\), first rows \[3\]"):
        load_npz_graph(_write(tmp_path, arrays))


def test_npz_missing_or_not_an_archive(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="--dataset"):
        load_npz_graph(tmp_path / "none.npz")
    bad = tmp_path / "bad.npz"
    bad.write_text("not a zip")
    with pytest.raises(ValueError, match="not a readable .npz"):
        load_npz_graph(bad)


def test_cli_condenses_and_evaluates_a_graph_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from condensekit.core.cli import main

    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path / "cache"))
    path = _write(tmp_path, _arrays())
    out = tmp_path / "art"
    argv = ["graph", "condense", "--dataset", str(path), "--method", "random", "--budget", "3", "--quiet"]
    assert main(argv + ["--out", str(out), "--eval-runs", "1", "--workers", "1", "--device", "cpu"]) == 0
    card = json.loads((out / "card.json").read_text())
    assert card["source"]["dataset"] == "mine" and card["source"]["source_path"] == str(path.resolve())
    assert card["source"]["symmetrized"] is True  # the ring was directed
    evaluate = ["graph", "evaluate", str(out), "--runs", "1", "--epochs", "5", "--workers", "1", "--device", "cpu"]
    assert main(evaluate) == 0


def test_cli_refuses_a_negative_eval_runs_before_condensing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # --eval-runs -1 was truthy: the run condensed, then failed in the evaluation with 'argument runs'
    from condensekit.core.cli import main

    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "art"
    argv = ["graph", "condense", "--dataset", str(_write(tmp_path, _arrays())), "--method", "random", "--budget", "3"]
    assert main(argv + ["--quiet", "--out", str(out), "--eval-runs", "-1", "--device", "cpu"]) == 2
    assert "Invalid value -1 for argument --eval-runs" in capsys.readouterr().err and not out.exists()


def test_cli_evaluates_an_inductive_artifact_on_the_held_out_subgraphs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a set condensed from the training subgraph (GCond's inductive setting) was evaluated on the full graph
    from condensekit.core.cli import main
    from condensekit.graph.condense import condense_nodes, prepare_task

    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path / "cache"))
    task = prepare_task(str(_write(tmp_path, _arrays())), device="cpu")
    out = tmp_path / "inductive"
    condense_nodes(task.training_subgraph(), "random", budget=3, progress=False).save(out)
    report = tmp_path / "eval.json"
    evaluate = ["graph", "evaluate", str(out), "--runs", "1", "--epochs", "5", "--workers", "1", "--device", "cpu"]
    assert main(evaluate + ["--json", str(report)]) == 0
    assert json.loads(report.read_text())["eval_protocol"]["graph"] == "held-out subgraphs"
