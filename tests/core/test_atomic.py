from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from condensekit.core.artifact import save_artifact, update_card
from condensekit.core.atomic import atomic_path, load_torch, save_torch, write_json, write_text


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(p: Path) -> int:
    return p.stat().st_mode & 0o777


def test_atomic_writes_get_the_mode_a_plain_write_gets(tmp_path: Path, umask_022: None) -> None:
    # mkstemp's temp files are 0600 whatever the umask: results, checkpoints and updated cards were unreadable to
    # the other users of a shared folder
    write_text(tmp_path / "a.txt", "x")
    write_json(tmp_path / "b.json", {"a": 1})
    save_torch(tmp_path / "c.pt", {"t": torch.zeros(2)})
    for name in ("a.txt", "b.json", "c.pt"):
        assert _mode(tmp_path / name) == 0o644, name
    assert torch.equal(load_torch(tmp_path / "c.pt")["t"], torch.zeros(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.json", "c.pt"]  # no temp file left


def test_an_updated_card_stays_readable(tmp_path: Path, umask_022: None) -> None:
    card = {"domain": "d", "task": "t", "method": "m", "config": {}, "source": {"dataset": "x"}, "budget": 1, "seed": 0}
    path = save_artifact(tmp_path / "art", {"x": torch.zeros(2)}, card)
    update_card(path, metrics={"acc": 1.0})
    assert _mode(path / "card.json") == 0o644


def test_a_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_a_folder_as_the_target_is_refused_by_name(tmp_path: Path) -> None:
    # the rename's IsADirectoryError came after the work (e.g. `--json DIR` once the artifact was saved)
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(ValueError, match=r"Invalid value '.*out' for argument path: it is a folder; give a file name"):
        write_json(folder, {"a": 1})
    with pytest.raises(ValueError, match="it is a folder"), atomic_path(folder):
        pytest.fail("the body ran")
    assert list(folder.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.skipif(os.name != "posix", reason="dead writers are found with os.kill(pid, 0), POSIX only")
def test_a_later_write_removes_the_temps_of_killed_writers_of_this_host(tmp_path: Path) -> None:
    # kill -9 during a write left `.NAME.<hex>.tmp` beside the target for good (4 of 5 killed `robust audit` runs)
    import re
    import subprocess
    import sys

    with atomic_path(tmp_path / "probe") as probe:  # the temp names the writer: its pid and host
        named = re.fullmatch(r"\.probe\.(\d+)@([0-9a-f]{16})\.[0-9a-f]{12}\.tmp", probe.name)
        probe.write_text("")
    assert named is not None and int(named[1]) == os.getpid(), probe.name
    host = named[2]
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    dead = int(done.stdout)  # a process that has exited
    target = tmp_path / "a.json"
    killed = tmp_path / f".a.json.{dead}@{host}.0123456789ab.tmp"
    kept = [
        tmp_path / f".a.json.{os.getpid()}@{host}.0123456789ab.tmp",  # a live writer's
        tmp_path / f".a.json.{dead}@another-host.0123456789ab.tmp",  # a pid of another host means nothing here
        tmp_path / ".a.json.0123456789ab.tmp",  # the older form: no pid to tell
        tmp_path / f".b.json.{dead}@{host}.0123456789ab.tmp",  # another target's
    ]
    fresh = tmp_path / f".a.json.{dead}@{host}.fedcba987654.tmp"  # dead pid, but written just now: kept
    for p in [killed, *kept, fresh]:
        p.write_text("half")
        if p is not fresh:
            os.utime(p, (0, 0))  # untouched for long
    write_text(target, "{}")
    assert not killed.exists() and all(p.exists() for p in [*kept, fresh])
    assert target.read_text() == "{}"
