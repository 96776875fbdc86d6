"""The data root and the writable cache.

Real datasets live under a *data root*, in the on-disk layout their standard loaders expect
(``<root>/Cora/raw/ind.cora.x``, ``<root>/medmnist/breastmnist.npz``, ...). The root is, in
order of precedence:

1. the ``root`` argument (``--root`` on the command line),
2. the ``CONDENSEKIT_DATA`` environment variable,
3. ``~/.cache/condensekit``.

The root may be read-only. Loaders that write processed files (torch_geometric writes
``processed/`` next to ``raw/``) work on a :func:`writable_copy` under the *cache*
(``$CONDENSEKIT_CACHE``, else ``~/.cache/condensekit``), which mirrors the raw files with symlinks.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

DATA_ENV = "CONDENSEKIT_DATA"
CACHE_ENV = "CONDENSEKIT_CACHE"


def default_dir() -> Path:
    """``~/.cache/condensekit``: the default data root and the default cache."""
    return Path.home() / ".cache" / "condensekit"


def resolve_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Return the data root: ``root``, else ``$CONDENSEKIT_DATA``, else ``~/.cache/condensekit``.

    A root given explicitly (argument or environment) must exist; an existing but empty root
    resolves, and the loader then reports the missing dataset. The default root need not exist.

    Args:
        root: an explicit data root (``--root``); ``None`` falls back to the environment.

    Raises:
        FileNotFoundError: the explicit root does not exist (the message says where it came from).
        NotADirectoryError: the explicit root is a file.
    """
    if root is not None and str(root) != "":
        path, origin = Path(root).expanduser(), "argument `root`"
    elif os.environ.get(DATA_ENV):
        path, origin = Path(os.environ[DATA_ENV]).expanduser(), f"env {DATA_ENV}"
    else:
        return default_dir().absolute()
    if not path.exists():
        raise FileNotFoundError(
            f"Data root {str(path)!r} (from {origin}) does not exist. Point it at a folder holding "
            f"the datasets (e.g. one with 'Cora/raw/' or 'medmnist/'); with neither --root nor {DATA_ENV} set, "
            f"the root is {str(default_dir())!r}."
        )
    if not path.is_dir():
        raise NotADirectoryError(
            f"Data root {str(path)!r} (from {origin}) is a file, not a folder. Point it at the folder holding the "
            f"datasets (e.g. one with 'Cora/raw/' or 'medmnist/')."
        )
    return path.absolute()


def cache_dir(*parts: str) -> Path:
    """Return a writable cache folder ``<cache>/<parts...>``, creating it on demand.

    The cache is ``$CONDENSEKIT_CACHE``, else ``~/.cache/condensekit``. Processed files go
    here so that a read-only data root works.

    Raises:
        ValueError: a part is absolute, empty or ``..`` (it would leave the cache).
        PermissionError: the folder cannot be created or written.
    """
    for part in parts:
        p = Path(part)
        if not part or p.is_absolute() or ".." in p.parts:
            raise ValueError(f"Invalid cache path part {part!r}: it must be a relative path inside the cache")
    env = os.environ.get(CACHE_ENV)
    base = Path(env).expanduser() if env else default_dir()
    path = base.joinpath(*parts).absolute()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise PermissionError(
            f"Cannot create the cache folder {str(path)!r} ({err.strerror}); set {CACHE_ENV} to a writable folder."
        ) from err
    if not os.access(path, os.W_OK | os.X_OK):
        raise PermissionError(f"The cache folder {str(path)!r} is not writable; set {CACHE_ENV} to a writable folder.")
    return path


def _source_key(src: Path, files: list[Path]) -> str:
    """Hash of the source folder and its files' relative paths, sizes and mtimes."""
    h = hashlib.sha256(str(src).encode("utf-8"))
    for f in files:
        st = f.stat()
        h.update(f"\0{f.relative_to(src)}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _mirrors(target: Path, src: Path, files: list[Path]) -> bool:
    """Whether ``target`` holds a readable entry for every source file, at the same relative path."""
    return all((target / f.relative_to(src)).is_file() for f in files)


def _tree_files(src: Path) -> list[Path]:
    """Every file under ``src`` except what a loader wrote into ``processed/`` folders."""
    return sorted(p for p in src.rglob("*") if p.is_file() and "processed" not in p.relative_to(src).parts)


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.symlink(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def writable_copy(src_dir: str | os.PathLike[str], name: str, *, tree: bool = False) -> Path:
    """Return a writable cache folder ``<cache>/sources/<key>/<name>`` whose ``raw/`` mirrors ``src_dir/raw``
    (with ``tree=True``: that mirrors every file under ``src_dir`` but ``processed/`` folders, for
    loaders whose raw files sit deeper, e.g. ``<root>/Amazon/computers/raw``).

    The raw files are symlinked (copied where symlinks are unavailable), so a loader that writes
    ``processed/`` beside ``raw/`` can run on a read-only ``src_dir``. ``key`` hashes the source
    path and the raw files' names, sizes and mtimes: two roots never share a folder, and changed
    raw files get a fresh one (with no stale processed files). The folder is built under a
    temporary name and renamed into place, so concurrent callers see either nothing or a
    complete mirror; a processed cache already there is kept.

    Args:
        src_dir: the dataset folder holding ``raw/`` (e.g. ``<root>/Cora``).
        name: the name of the returned folder (loaders such as ``Planetoid`` look for it).

    Raises:
        ValueError: ``name`` is not a plain folder name.
        FileNotFoundError: ``src_dir/raw`` is missing or holds no files.
    """
    if not name or Path(name).name != name or name in {".", ".."}:
        raise ValueError(f"Invalid value {name!r} for argument name: it must be a plain folder name")
    src = Path(src_dir).expanduser().resolve()
    if tree:
        if not src.is_dir():
            raise FileNotFoundError(f"No dataset folder at {str(src)!r}")
        files = _tree_files(src)
        if not files:
            raise FileNotFoundError(f"The dataset folder {str(src)!r} holds no files")
    else:
        raw = src / "raw"
        if not raw.is_dir():
            raise FileNotFoundError(f"No raw folder at {str(raw)!r}")
        files = sorted(p for p in raw.iterdir() if p.is_file())
        if not files:
            raise FileNotFoundError(f"The raw folder {str(raw)!r} holds no files")
    parent = cache_dir("sources", _source_key(src, files))
    target = parent / name
    if _mirrors(target, src, files):
        return target

    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=parent))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes 0700
        for f in files:
            dst = tmp / f.relative_to(src)
            dst.parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(f, dst)
        if target.exists() or target.is_symlink():
            # An incomplete or damaged mirror (someone deleted files): move it aside, then replace.
            old = Path(tempfile.mkdtemp(prefix=f".{name}.old.", dir=parent))
            try:
                os.replace(target, old / "x")
            except OSError:
                pass  # another caller replaced it first
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.rename(tmp, target)
        except OSError:
            if not _mirrors(target, src, files):  # not a lost race: a real failure
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another caller built it first
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
