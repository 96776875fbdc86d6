"""An output whose folder cannot be written (a read-only mount, no write permission) is refused by the caller's
argument before the work, by one write test in core (:func:`~condensekit.core.atomic.check_writable`, run by
``check_file_target``, ``check_parent_folders`` and ``check_artifact_target``); and an ``OSError`` that still
comes during a run (a disk that fills) ends ``condensekit`` with status 2 and a line naming the file and the
error, not a traceback with status 1. The domains' verbs are tested in their own folders (test_*_unwritable.py)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from condensekit.core.artifact import check_artifact_target
from condensekit.core.atomic import (
    WRITE_TEST_NAME,
    atomic_path,
    check_file_target,
    check_parent_folders,
    check_writable,
    write_json,
)
from condensekit.core.cli import main
from tests.read_only import refuse_writes_under


@pytest.mark.parametrize("check", [check_file_target, check_parent_folders, check_artifact_target, check_writable])
@pytest.mark.parametrize("nested", [False, True])
def test_every_target_check_refuses_a_read_only_folder_by_the_argument(tmp_path, monkeypatch, check, nested) -> None:  # noqa: ANN001
    ro = tmp_path / "ro"
    ro.mkdir()
    refused = refuse_writes_under(ro, monkeypatch)
    target = ro / "a" / "b" / "out" if nested else ro / "out"
    with pytest.raises(ValueError) as err:
        check(target, argument="--out")
    assert str(err.value) == (
        f"Invalid value {str(target)!r} for argument --out: {str(ro)!r} cannot be written (Read-only file system); "
        "give a path in a writable folder"
    )
    assert len(refused) == 1 and Path(refused[0]).parent == ro  # one try, in the nearest existing folder
    assert not any(ro.iterdir())


def test_the_write_test_leaves_the_folder_as_it_was(tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "kept.txt").write_text("mine")
    check_file_target(tmp_path / "x" / "y.json", argument="--json")
    check_writable(tmp_path, argument="artifact", inside=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.txt"]  # no test file, no folder x
    assert (tmp_path / "kept.txt").read_text() == "mine"


def test_inside_tries_the_folder_itself(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    art = tmp_path / "art"
    art.mkdir()
    refuse_writes_under(art, monkeypatch)  # its parent is writable: an artifact on a read-only mount point
    check_writable(art, argument="artifact")  # beside it: a replacing save goes through the parent
    with pytest.raises(ValueError, match=f"argument artifact: {str(art)!r} cannot be written"):
        check_writable(art, argument="artifact", inside=True)  # into it: an updated card
    check_writable(tmp_path / "new", argument="--out", inside=True)  # not there yet: its parent is tried


def test_a_test_file_left_by_a_killed_process_is_removed_by_a_later_test(tmp_path) -> None:  # noqa: ANN001
    from condensekit.core import atomic

    left = tmp_path / f".{WRITE_TEST_NAME}.999999999@{atomic._HOST}.0123456789ab.tmp"  # a pid that is not alive
    left.write_text("")
    os.utime(left, (0, 0))
    check_file_target(tmp_path / "out.json")
    assert not any(tmp_path.iterdir())


def test_a_write_that_fails_names_its_file_and_leaves_no_temp(tmp_path) -> None:  # noqa: ANN001
    target = tmp_path / "out.json"
    with pytest.raises(OSError) as err, atomic_path(target):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # the disk filled while the temp was written
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(target)
    assert not any(tmp_path.iterdir())


def test_an_os_error_during_a_run_exits_2_naming_the_file(tmp_path, monkeypatch, capsys) -> None:  # noqa: ANN001
    from condensekit.core import cli

    target = tmp_path / "art"

    def full(path):  # noqa: ANN001, ANN202
        write_json(target, {"x": 1})  # the verb's last write, on a disk that has filled during the run

    def no_space(self, data):  # noqa: ANN001, ANN202
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(cli, "load_artifact", full)
    monkeypatch.setattr(Path, "write_bytes", no_space)
    assert main(["info", str(tmp_path / "set")]) == 2
    err = capsys.readouterr().err
    assert err == f"condensekit: error: {str(target)!r}: No space left on device (ENOSPC)\n"
    assert not any(tmp_path.iterdir())


def test_an_os_error_without_a_file_is_printed_as_it_is(monkeypatch, capsys) -> None:  # noqa: ANN001
    from condensekit.core import cli

    def broken(path):  # noqa: ANN001, ANN202
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(cli, "load_artifact", broken)
    assert main(["info", "x"]) == 2
    assert capsys.readouterr().err == "condensekit: error: Input/output error (EIO)\n"
