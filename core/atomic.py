"""Atomic file writes: write to a temporary name in the same folder, fsync, then rename.

A run killed midway leaves either the old file or the new one, never half of one. A killed writer does leave its
temporary file, ``.NAME.PID@HOST.RANDOM.tmp`` (HOST: a digest of the host name): the next write to the same target on
the same host removes those whose process is gone and that have not changed for ten minutes (POSIX only; a temp of
another host, or of the older ``.NAME.RANDOM.tmp`` form, is kept).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch


def check_file_target(path: str | os.PathLike[str], *, argument: str = "path", write_test: bool = True) -> None:
    """Refuse (``ValueError`` naming ``argument``) a file to be written that is a folder, that lies under a file, or
    (``write_test``) whose nearest existing folder cannot be written (:func:`check_parent_folders`): check it before
    the work that makes the file, since the write would fail only after it."""
    if Path(path).is_dir():
        raise ValueError(f"Invalid value {str(path)!r} for argument {argument}: it is a folder; give a file name")
    check_parent_folders(path, argument=argument, write_test=write_test)


def check_parent_folders(path: str | os.PathLike[str], *, argument: str = "path", write_test: bool = True) -> None:
    """Refuse (``ValueError`` naming ``argument``) a path to be written under a file (``--out results.json/set``):
    its folders could not be made, and ``mkdir`` failed with a ``FileExistsError`` traceback after the work. With
    ``write_test``, also one whose nearest existing folder cannot be written (a read-only mount, no write
    permission): a file is made there and removed (:func:`check_writable`); else the write failed with an
    ``OSError`` traceback, exit status 1, after the work (a condensation saved, then its JSON refused)."""
    for parent in Path(path).absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(
                    f"Invalid value {str(path)!r} for argument {argument}: {str(parent)!r} is a file, so no folder "
                    "can be made under it; give a path under a folder"
                )
            if write_test:
                _write_test(parent, path, argument)
            return


def check_writable(path: str | os.PathLike[str], *, argument: str = "path", inside: bool = False) -> None:
    """Refuse (``ValueError`` naming ``argument``), before any work, an output whose folder cannot be written.

    The folder tried is the nearest existing one on the way to ``path``; with ``inside`` (the files go into
    ``path`` itself: an artifact whose card is rewritten, an expert buffer), ``path`` when it is a folder. It is
    tried by a real write: a ``.condensekit-write-test.PID@HOST.RANDOM.tmp`` is made there and removed at once
    (a folder that exists changes by its modification time alone; none is made), since ``os.access`` says yes to
    root wherever permissions would say no, and knows nothing of a read-only mount. A test file left by a killed
    process is removed by a later test in that folder, as :func:`atomic_path` removes its temps.

    Raises:
        ValueError: the folder refuses the file (``EROFS``, ``EACCES``, ...), or a folder on the way is a file.
    """
    target = Path(path)
    if inside and target.is_dir():
        _write_test(target.absolute(), path, argument)
    else:
        check_parent_folders(target, argument=argument)


#: The name a write test's file is made from, in the folder tried (``.NAME.PID@HOST.RANDOM.tmp``).
WRITE_TEST_NAME = "condensekit-write-test"


def _write_test(folder: Path, path: str | os.PathLike[str], argument: str) -> None:
    """Make and remove a file in ``folder`` (where ``path`` goes), or refuse ``path`` by ``argument``'s name."""
    try:
        probe = _new_temp_file(folder / WRITE_TEST_NAME)
    except OSError as err:
        raise ValueError(
            f"Invalid value {str(path)!r} for argument {argument}: {str(folder)!r} cannot be written "
            f"({err.strerror or err}); give a path in a writable folder"
        ) from err
    try:
        probe.unlink()
    except OSError:
        pass  # a folder that takes a file but refuses its removal: a later test here removes it once stale


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    The caller writes the temporary file (any writer that takes a path); on an exception the
    temporary file is removed and ``path`` is left as it was. A ``path`` that is a folder raises
    ``ValueError`` before anything is written (the rename would fail after the work).
    """
    target = Path(path)
    check_file_target(target, write_test=False)  # the write is the test: a failure names the file (below)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp_path = _new_temp_file(target)
    except OSError as err:
        _name_target(err, target)
        raise
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    except BaseException as err:
        tmp_path.unlink(missing_ok=True)
        if isinstance(err, OSError):
            _name_target(err, target)
        raise


def _name_target(err: OSError, target: Path) -> None:
    """Make ``err`` name ``target`` when it names no file: a write that failed (``ENOSPC`` from ``write`` or
    ``fsync``) said "No space left on device" without saying where. One that names a file is left as it is."""
    if err.filename is None and err.errno is not None:
        err.filename = str(target)


#: This host as it goes into temp names: a digest of its whole name (a pid means nothing on another host; names cut
#: to a length made two pods of one deployment, whose names differ at the end, one host).
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:16]

#: A dead writer's temp is removed only when it has not been written to for this long (seconds): a pid tells a live
#: writer only inside its own process namespace, and a write in progress touches its temp within seconds.
STALE_TEMP_S = 600.0


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists here (one of another user counts; so does a pid reused since)."""
    if pid <= 0:
        return True  # os.kill(0, ...) would signal our own process group: never taken as dead
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True
    return True


def _remove_dead_temps(target: Path) -> None:
    """Delete the temporary files of ``target`` that writers on this host left when killed: their pid is gone and
    the file has not changed for :data:`STALE_TEMP_S` seconds."""
    if os.name != "posix":  # os.kill(pid, 0) terminates the process on Windows
        return
    own = re.compile(rf"\.{re.escape(target.name)}\.(\d+)@{re.escape(_HOST)}\.[0-9a-f]{{12}}\.tmp")
    try:
        names = [e.name for e in os.scandir(target.parent)]
    except OSError:
        return
    now = time.time()
    for name in names:
        m = own.fullmatch(name)
        if m is None or _alive(int(m[1])):
            continue
        try:
            if now - (target.parent / name).stat().st_mtime >= STALE_TEMP_S:
                (target.parent / name).unlink(missing_ok=True)
        except OSError:
            pass  # gone already, or not ours to force: the write goes on


def _new_temp_file(target: Path) -> Path:
    """Create an empty, unique ``.<name>.<pid>@<host>.<random>.tmp`` beside ``target``, with the mode a plain
    ``open`` gives (0666 less the umask): ``mkstemp`` makes 0600, which the rename carried onto results,
    checkpoints and updated cards, unreadable to the other users of a shared folder. Temps of the same target left
    by killed writers of this host are removed first (:func:`_remove_dead_temps`)."""
    _remove_dead_temps(target)
    for _ in range(100):
        tmp = target.parent / f".{target.name}.{os.getpid()}@{_HOST}.{secrets.token_hex(6)}.tmp"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"could not create a temporary file beside {str(target)!r}")


def free_name(target: Path) -> Path:
    """``target`` when nothing is there, else the first free ``target-2``, ``target-3``, ... beside it: where a file
    or folder set aside goes without replacing an earlier one."""
    moved, n = target, 1
    while moved.exists():
        n += 1
        moved = target.with_name(f"{target.name}-{n}")
    return moved


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_tensors(path: str | os.PathLike[str], tensors: dict[str, torch.Tensor]) -> None:
    """``tensors`` (detached, on the host, contiguous) as a safetensors file, atomically. Through
    :func:`write_bytes`, not ``safetensors.torch.save_file`` onto the temp: safetensors 0.8's ``save_file`` leaves
    the file 0600 whatever the umask, so a file in a shared folder was unreadable to the other users."""
    import safetensors.torch

    write_bytes(path, safetensors.torch.save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}))


def write_text(path: str | os.PathLike[str], text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def save_torch(path: str | os.PathLike[str], obj: Any) -> None:
    """``torch.save`` atomically. Read back only with ``load_torch`` (``weights_only=True``)."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    write_bytes(path, buf.getvalue())


def load_torch(path: str | os.PathLike[str]) -> Any:
    """``torch.load(..., weights_only=True)``: tensors and plain containers only, nothing unpickled."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"No file at {str(p)!r}")
    return torch.load(p, map_location="cpu", weights_only=True)


def replace_dir(build: Callable[[Path], None], target: str | os.PathLike[str]) -> None:
    """Build a folder in a temporary sibling with ``build(tmp)``, then swap it in for ``target``."""
    dst = Path(target)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", dir=dst.parent))
    try:
        build(tmp)
        if dst.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.old.", dir=dst.parent))
            os.replace(dst, old / "x")
            os.replace(tmp, dst)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
