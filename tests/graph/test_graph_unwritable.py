"""The node-level ``graph`` verbs refuse an output they cannot write (a read-only folder: tests/read_only.py) by
the argument's name before the work, with status 2. It was an ``OSError`` traceback, status 1, after the work:
``condense --json`` saved the artifact and then failed, ``evaluate`` trained every model and then failed on the
card."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from condensekit.core.cli import main
from tests.graph.test_graph_cli_bad_input import _artifact, _graph_file
from tests.read_only import assert_refused, record_work, refuse_writes_under


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path / "cache"))


def _no_work(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from condensekit.graph import cli as node_cli

    return record_work(monkeypatch, node_cli, prepare_task="data", evaluate_node="evaluation")


def _condense(tmp_path: Path, *extra: str) -> list[str]:
    return ["graph", "condense", "--dataset", str(tmp_path / "ring.npz"), "--method", "random", "--budget", "3",
            "--quiet", "--device", "cpu", *extra]  # fmt: skip


@pytest.mark.parametrize(
    ("option", "name"), [("--out", "sub/art"), ("--json", "c.json"), ("--checkpoint", "ck.pt"), (None, "artifacts")]
)
def test_condense_refuses_before_the_data(tmp_path, ro, monkeypatch, capsys, option, name) -> None:  # noqa: ANN001
    reached = _no_work(monkeypatch)
    refuse_writes_under(ro, monkeypatch)
    if option is None:  # no --out: the default artifacts/ folder, in a read-only working folder
        monkeypatch.chdir(ro)
        argv, value, option = _condense(tmp_path), "artifacts", "--out"
    else:
        argv, value = _condense(tmp_path, option, str(ro / name)), ro / name
    assert main(argv) == 2 and reached == []
    assert_refused(capsys.readouterr().err, value, option)
    assert not any(ro.iterdir())


def test_condense_refuses_a_default_json_beside_a_writable_out(tmp_path, monkeypatch, capsys) -> None:  # noqa: ANN001
    reached = _no_work(monkeypatch)
    (tmp_path / "art.json").mkdir()  # the JSON's default name is taken by a folder
    assert main(_condense(tmp_path, "--out", str(tmp_path / "art"))) == 2 and reached == []
    assert (
        f"Invalid value {str(tmp_path / 'art.json')!r} for argument --json: it is a folder" in capsys.readouterr().err
    )


def test_demo_refuses_a_read_only_out_before_the_download(ro, monkeypatch, capsys) -> None:  # noqa: ANN001
    reached = _no_work(monkeypatch)
    refuse_writes_under(ro, monkeypatch)
    assert main(["graph", "demo", "--out", str(ro / "demo"), "--quiet", "--device", "cpu"]) == 2 and reached == []
    assert_refused(capsys.readouterr().err, ro / "demo", "--out")


def test_evaluate_refuses_a_read_only_card_or_json_and_keeps_the_card(tmp_path, ro, monkeypatch, capsys) -> None:  # noqa: ANN001
    art = _artifact(tmp_path)
    in_ro = ro / "art"
    shutil.copytree(art, in_ro)
    card = (art / "card.json").read_text()
    capsys.readouterr()
    reached = _no_work(monkeypatch)
    refuse_writes_under(ro, monkeypatch)
    ev = ["--runs", "1", "--epochs", "1", "--device", "cpu"]
    assert main(["graph", "evaluate", str(in_ro), *ev, "--json", str(tmp_path / "e.json")]) == 2
    assert_refused(capsys.readouterr().err, in_ro, "artifact")  # its card is rewritten with the scores
    assert main(["graph", "evaluate", str(art), *ev, "--json", str(ro / "e.json")]) == 2
    assert_refused(capsys.readouterr().err, ro / "e.json", "--json")
    assert reached == [] and (art / "card.json").read_text() == card == (in_ro / "card.json").read_text()
    assert sorted(p.name for p in ro.iterdir()) == ["art"] and not (tmp_path / "e.json").exists()


def test_a_disk_that_fills_during_condense_exits_2_naming_the_file(tmp_path, monkeypatch, capsys) -> None:  # noqa: ANN001
    import errno
    import os

    _graph_file(tmp_path)
    real = Path.write_bytes

    def no_space_for_json(self, data):  # noqa: ANN001, ANN202
        if ".c.json." in self.name:  # the temp of the JSON, written last
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", no_space_for_json)
    target = tmp_path / "c.json"
    assert main(_condense(tmp_path, "--out", str(tmp_path / "art"), "--json", str(target))) == 2
    err = capsys.readouterr().err
    assert err.endswith(f"condensekit: error: {str(target)!r}: No space left on device (ENOSPC)\n"), err
    assert "Traceback" not in err and not target.exists()
    assert json.loads((tmp_path / "art" / "card.json").read_text())["method"] == "random"  # saved before
