"""A folder that refuses every write, as a read-only mount does, for the tests of outputs that cannot be written.

The tests run as root, which writes through permissions (``chmod`` would prove nothing), so the folder is made
read-only by refusing, under it, every ``os.open`` that may write and every ``os.mkdir`` with ``EROFS``: what a
read-only file system answers. Reads go through. The write tests of :mod:`condensekit.core.atomic` and the atomic
writes use both calls.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest


def refuse_writes_under(folder: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on, refuse every create or write under ``folder`` (``EROFS``); returns the list of refused paths."""
    real_open, real_mkdir = os.open, os.mkdir
    refused: list[str] = []
    folder = Path(os.path.abspath(folder))

    def under(path: str | os.PathLike[str]) -> bool:
        return Path(os.path.abspath(path)).is_relative_to(folder)

    def fake_open(path, flags, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and under(path):
            refused.append(str(path))
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kwargs)

    def fake_mkdir(path, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if under(path):
            refused.append(str(path))
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "mkdir", fake_mkdir)
    return refused


def assert_refused(err: str, value: str | os.PathLike[str], argument: str) -> None:
    """``err`` (a command's stderr) refuses ``value`` by ``argument``'s name as unwritable, without a traceback."""
    assert f"Invalid value {str(value)!r} for argument {argument}: " in err and "cannot be written" in err, err
    assert "Read-only file system" in err and "Traceback" not in err, err


def record_work(monkeypatch: pytest.MonkeyPatch, module: object, **labels: str) -> list[str]:
    """Replace each ``module.<name>`` by a stub that appends ``labels[name]`` to the returned list, so a test of an
    output refused before any work asserts the list stayed empty (``record_work(cli, prepare_task="data")``)."""
    reached: list[str] = []
    for name, label in labels.items():
        monkeypatch.setattr(module, name, lambda *a, _label=label, **k: reached.append(_label))
    return reached
