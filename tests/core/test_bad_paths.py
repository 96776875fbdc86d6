"""Paths that cannot be used get an error naming the argument, not a traceback: a data root that is a file, and an
output under a file (``--out results.json/set``), whose folders ``mkdir`` could not make."""

from __future__ import annotations

from pathlib import Path

import pytest

from condensekit.core.artifact import check_artifact_target
from condensekit.core.atomic import check_file_target, write_json
from condensekit.core.cli import main


def test_a_data_root_that_is_a_file_is_an_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "data.txt"
    root.write_text("not a folder")
    argv = ["medical", "condense", "--flag", "pneumoniamnist", "--method", "random", "--ipc", "2",
            "--root", str(root), "--out", str(tmp_path / "out")]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"Data root {str(root)!r} (from argument `root`) is a file, not a folder" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


@pytest.mark.parametrize("check", [check_file_target, check_artifact_target])
def test_a_target_under_a_file_names_the_argument_and_the_file(tmp_path: Path, check) -> None:  # noqa: ANN001
    blocker = tmp_path / "results.json"
    blocker.write_text("{}")
    with pytest.raises(ValueError) as err:
        check(blocker / "deeper" / "set", argument="--out")
    assert str(err.value) == (
        f"Invalid value {str(blocker / 'deeper' / 'set')!r} for argument --out: {str(blocker)!r} is a file, so no "
        "folder can be made under it; give a path under a folder"
    )


def test_a_target_under_folders_still_to_be_made_is_fine(tmp_path: Path) -> None:
    check_file_target(tmp_path / "a" / "b" / "c.json", argument="--json")
    check_artifact_target(tmp_path / "a" / "b" / "set", argument="--out")
    write_json(tmp_path / "a" / "b" / "c.json", {"ok": 1})
    assert (tmp_path / "a" / "b" / "c.json").exists()
