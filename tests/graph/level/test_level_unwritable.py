"""``graph condense --task graph``, ``graph evaluate`` of a graph-level artifact and ``graph show`` refuse an
output they cannot write (a read-only folder: tests/read_only.py) by the argument's name before the work, with
status 2 (an ``OSError`` traceback, status 1, after the condensation or the evaluation)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from condensekit.core.cli import main
from condensekit.graph.level.condense import condense_graphs
from tests.read_only import assert_refused, record_work, refuse_writes_under


def _no_work(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from condensekit.graph.level import cli as level_cli

    return record_work(monkeypatch, level_cli, prepare_graphs="data", evaluate_graphs="evaluation")


@pytest.mark.parametrize("option", ["--out", "--json", "--checkpoint"])
def test_condense_refuses_before_the_data(ro, monkeypatch, capsys, option) -> None:  # noqa: ANN001
    reached = _no_work(monkeypatch)
    refuse_writes_under(ro, monkeypatch)
    target = ro / "sub" / "x"
    argv = ["graph", "condense", "--task", "graph", "--dataset", "mutag", "--method", "random", "--gpc", "1",
            "--quiet", "--device", "cpu", option, str(target)]  # fmt: skip
    if option != "--out":
        argv += ["--out", str(ro.parent / "art")]
    assert main(argv) == 2 and reached == []
    assert_refused(capsys.readouterr().err, target, option)
    assert not any(ro.iterdir()) and not (ro.parent / "art").exists()


def test_evaluate_and_show_refuse_read_only_targets(tiny_set, tmp_path, ro, monkeypatch, capsys) -> None:  # noqa: ANN001
    art = condense_graphs(tiny_set, "random", gpc=2, progress=False, device="cpu").save(tmp_path / "art")
    in_ro = ro / "art"
    shutil.copytree(art, in_ro)
    card = (Path(art) / "card.json").read_text()
    reached = _no_work(monkeypatch)
    refuse_writes_under(ro, monkeypatch)
    assert main(["graph", "evaluate", str(in_ro), "--runs", "1", "--device", "cpu"]) == 2
    assert_refused(capsys.readouterr().err, in_ro, "artifact")
    assert main(["graph", "evaluate", str(art), "--runs", "1", "--device", "cpu", "--json", str(ro / "e.json")]) == 2
    assert_refused(capsys.readouterr().err, ro / "e.json", "--json")
    assert main(["graph", "show", str(art), "--png", str(ro / "g.png")]) == 2
    assert_refused(capsys.readouterr().err, ro / "g.png", "--png")
    assert reached == [] and (Path(art) / "card.json").read_text() == card
    assert sorted(p.name for p in ro.iterdir()) == ["art"]
