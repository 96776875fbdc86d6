"""`graph condense` (both tasks) refuses a bad --out before loading the data and condensing (it was checked only
when the set was saved, after the condensation, and the error named `argument path`)."""

from __future__ import annotations

import pytest

from condensekit.core.cli import main


def _no_work(monkeypatch: pytest.MonkeyPatch, reached: list) -> None:
    from condensekit.graph import cli as node_cli
    from condensekit.graph.level import cli as level_cli

    def loader(*args: object, **kwargs: object) -> None:
        reached.append("data")
        raise AssertionError("the data was loaded before --out was checked")

    monkeypatch.setattr(node_cli, "prepare_task", loader)
    monkeypatch.setattr(level_cli, "prepare_graphs", loader)


@pytest.mark.parametrize(
    "task", [["--dataset", "cora", "--method", "random", "--budget", "7"], ["--task", "graph", "--dataset", "mutag",
                                                                        "--method", "random", "--gpc", "1"]]
)  # fmt: skip
def test_an_out_that_holds_something_else_is_refused_before_any_work(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], task: list[str]
) -> None:  # noqa: ANN001
    reached: list = []
    _no_work(monkeypatch, reached)
    folder = tmp_path / "experts"
    folder.mkdir()
    (folder / "buffer.safetensors").write_text("not an artifact")
    assert main(["graph", "condense", *task, "--out", str(folder)]) == 2
    assert reached == []
    assert f"Invalid value {str(folder)!r} for argument --out" in capsys.readouterr().err
    assert (folder / "buffer.safetensors").read_text() == "not an artifact"


def test_graph_evaluate_help_states_both_tasks_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["graph", "evaluate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "a graph-level artifact: gcn,gin" in text and "GCN 500, GIN 200" in text
    assert "training runs per model" in text
