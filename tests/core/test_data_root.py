"""The data root (argument > $CONDENSEKIT_DATA > ~/.cache/condensekit) and the writable cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from condensekit.core.data import CACHE_ENV, DATA_ENV, cache_dir, resolve_root, writable_copy


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv(DATA_ENV, raising=False)
    monkeypatch.delenv(CACHE_ENV, raising=False)
    return home


def test_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, _isolated: Path) -> None:
    arg, env = tmp_path / "arg", tmp_path / "env"
    arg.mkdir()
    env.mkdir()
    assert resolve_root() == _isolated / ".cache" / "condensekit"
    monkeypatch.setenv(DATA_ENV, str(env))
    assert resolve_root() == env
    assert resolve_root(arg) == arg
    assert resolve_root(str(arg)) == arg
    monkeypatch.setenv(DATA_ENV, "")
    assert resolve_root() == _isolated / ".cache" / "condensekit"


def test_default_root_need_not_exist(_isolated: Path) -> None:
    root = resolve_root()
    assert not root.exists()


def test_nonexistent_explicit_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(FileNotFoundError, match=r"argument `root`") as err:
        resolve_root(missing)
    assert str(missing) in str(err.value)
    monkeypatch.setenv(DATA_ENV, str(missing))
    with pytest.raises(FileNotFoundError, match=r"env CONDENSEKIT_DATA") as err:
        resolve_root()
    assert str(missing) in str(err.value)
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError):
        resolve_root(tmp_path / "file")


def test_empty_root_resolves(tmp_path: Path) -> None:
    assert resolve_root(tmp_path) == tmp_path


def test_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, _isolated: Path) -> None:
    default = cache_dir("a", "b")
    assert default == _isolated / ".cache" / "condensekit" / "a" / "b" and default.is_dir()
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    made = cache_dir("sources")
    assert made == tmp_path / "cache" / "sources" and made.is_dir()
    assert os.access(made, os.W_OK)
    assert cache_dir("sources") == made  # idempotent
    for bad in ("..", "/etc", ""):
        with pytest.raises(ValueError, match="Invalid cache path part"):
            cache_dir(bad)


def _source(tmp_path: Path, name: str) -> Path:
    src = tmp_path / name / "Toy"
    (src / "raw").mkdir(parents=True)
    (src / "raw" / "a.txt").write_text("a")
    (src / "raw" / "b.txt").write_text("bb")
    return src


def test_writable_copy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    src = _source(tmp_path, "root1")
    src.chmod(0o555)  # a read-only dataset folder
    try:
        copy = writable_copy(src, "Toy")
        assert copy.name == "Toy" and copy.is_relative_to(tmp_path / "cache")
        assert sorted(p.name for p in (copy / "raw").iterdir()) == ["a.txt", "b.txt"]
        assert (copy / "raw" / "b.txt").read_text() == "bb"
        (copy / "processed").mkdir()  # a loader can write beside raw/
        assert writable_copy(src, "Toy") == copy and (copy / "processed").is_dir()  # reused, kept
        assert not [p for p in copy.parent.iterdir() if p.name.startswith(".")]  # no temp leftovers
    finally:
        src.chmod(0o755)
    other = writable_copy(_source(tmp_path, "root2"), "Toy")
    assert other != copy  # two roots do not collide


def test_writable_copy_repairs_damaged_mirror(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    src = _source(tmp_path, "root")
    copy = writable_copy(src, "Toy")
    (copy / "raw" / "a.txt").unlink()
    assert writable_copy(src, "Toy") == copy
    assert (copy / "raw" / "a.txt").read_text() == "a"


def test_writable_copy_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match="No raw folder"):
        writable_copy(tmp_path / "none", "Toy")
    with pytest.raises(ValueError, match="plain folder name"):
        writable_copy(_source(tmp_path, "root"), "a/b")
