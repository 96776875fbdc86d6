"""What every benchmark script shares, and nothing of any domain: where an entry ran (:func:`hardware`), the command
that made it (:func:`records_command`), a results file read, merged into and archived under its lock (:func:`load`,
:func:`save_entry`, :func:`archive_once`) and ``--set FIELD=VALUE`` overrides (:func:`parse_overrides`).

It imports torch and the core only: a script importing it loads no graph library. Until sitting 26 these helpers
lived in ``graph_node.py``, so the medical, privacy and robust scripts imported torch_geometric at every start
(1.5 s, paid again by each spawned worker) and printed its ``torch.jit.script`` FutureWarning. The scripts are run
as ``python benchmarks/<script>.py``, which puts ``benchmarks/`` on ``sys.path``: they import this as ``common``.
"""

from __future__ import annotations

import fcntl
import functools
import inspect
import json
import os
import platform
import shlex
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import torch

from condensekit.core.atomic import free_name, write_json

# torch_geometric's import calls torch.jit.script (deprecated: a FutureWarning at every start) and its sparse ops
# warn that CSR support is in beta. Scripts import this module before any condensekit domain (its isort section
# comes first), so the filters are in place before a graph import: graph_node's own scripts, robust (whose package
# imports its graph audit) and privacy's graph audit.
warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)
warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")

REPO = Path(__file__).resolve().parent.parent

#: Environment variables that choose the CPU's math kernels (instruction set), recorded when set.
KERNEL_ENV = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS", "MKL_CBWR")


def cpu_model() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``), else ``platform.processor()``, else ``"unknown"``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def hardware() -> dict[str, Any]:
    """Where an entry ran. Seeds repeat a CPU run only on the same instruction set: oneDNN, MKL and ATen pick
    their kernels by it (AVX2 and AVX-512 round differently), so the CPU model, ATen's kernel capability and any
    variable that overrides the choice are recorded (sitting 20: rows of 12-03 did not repeat to the digit on
    12-04's AVX-512 machine, at the same commit)."""
    dev = "cuda:" + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return {
        "device": dev,
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "kernel_env": {k: os.environ[k] for k in KERNEL_ENV if k in os.environ},
    }


#: The command line of the benchmark ``main`` running now (set by :func:`records_command`), ``None`` outside one.
_COMMAND: ContextVar[str | None] = ContextVar("benchmark_command", default=None)


def records_command(main: Callable[[list[str] | None], int]) -> Callable[[list[str] | None], int]:
    """Decorate a benchmark script's ``main(argv=None)`` so that every entry it writes records ``command``: the
    command line that made it, ``python <script> <argv>`` shell-quoted (:func:`shlex.join`), with the script's path
    relative to the repository and its argv as given (``sys.argv[1:]`` when ``argv`` is ``None``; a test's explicit
    ``argv``, not pytest's, when given). E.g. ``python benchmarks/robust.py --dataset mnist --base dm --ipc 10``.

    The field is added where entries are written (:func:`save_entry`, :func:`with_command`), so an entry that a
    script *updates* (graph_level's ``--extend``, privacy's merge of another model's evaluation into an entry,
    a forced re-run) records the command that **last** wrote it, not the one that first made it: the earlier
    command is not kept. Copies made by :func:`archive_once` keep the entry they copy as it was (an entry written
    before sitting 21 has no ``command``, and its archive gains none). Outside a decorated ``main`` (a test calling
    a helper) nothing is added."""
    script = Path(inspect.getfile(main)).resolve()
    shown = script.relative_to(REPO).as_posix() if script.is_relative_to(REPO) else str(script)

    @functools.wraps(main)
    def run(argv: list[str] | None = None) -> int:
        args = sys.argv[1:] if argv is None else list(argv)
        token = _COMMAND.set(shlex.join(["python", shown, *args]))
        try:
            return main(argv)
        finally:
            _COMMAND.reset(token)

    return run


def with_command(entry: dict[str, Any]) -> dict[str, Any]:
    """``entry`` with ``command`` set to the running benchmark's command line (:func:`records_command`); ``entry``
    itself when no decorated ``main`` is running. For scripts that write an entry without :func:`save_entry`."""
    command = _COMMAND.get()
    return entry if command is None else entry | {"command": command}


def load(path: Path) -> dict[str, Any]:
    """The results file at ``path``; ``{"entries": {}}`` when there is none yet."""
    if path.exists():
        return json.loads(path.read_text())
    return {"entries": {}}


@contextmanager
def results_lock(path: Path) -> Iterator[None]:
    """Hold the lock of a results file (``<path>.lock``) while reading and writing it: several benchmark processes
    may run. Not re-entrant: ``save_entry`` inside it would wait for itself."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def save_entry(key: str, entry: dict[str, Any], path: Path) -> None:
    """Merge one entry into a results file under a lock (several benchmark processes may run), with the command
    line of the running benchmark (:func:`records_command`, :func:`with_command`)."""
    with results_lock(path):
        results = load(path)
        results["entries"][key] = with_command(entry)
        write_json(path, results)


def archive_once(
    key: str, suffix: str, reason: str | None = None, extra: dict[str, Any] | None = None, path: Path | None = None, *,
    when: Callable[[dict[str, Any]], bool] | None = None, folder: Path | None = None, root: Path | None = None,
) -> str | None:  # fmt: skip
    """Before a new entry replaces ``key``: copy the entry there, **once**, to ``key + "/" + suffix``, with ``extra``'s
    fields, ``archived_from`` (``key``) and, when given, ``archive_reason`` set. Nothing is copied when there is no
    entry, the archive key exists already (archived once) or ``when(entry)`` is false; the check and the copy
    happen under the results lock (:func:`results_lock`), so two processes cannot both archive, nor archive an
    entry another one has just replaced.

    ``folder``: the saved set the new run is about to write. When it exists it is moved to ``folder-{suffix}`` and the
    copy's ``artifact`` points to it (relative to ``root`` when given), so the archived entry keeps its set instead
    of naming a folder the new set overwrites. When that name is taken (a set archived there before), the set goes
    to the first free ``folder-{suffix}-2``, ``-3``... and the copy's ``artifact_note`` says why. A ``folder`` not
    under ``root`` is refused (``ValueError``) before anything moves or is written. Returns the archive key, ``None``
    when nothing was archived. Nothing is deleted.

    ``path``: the results file, required (it comes after ``reason`` and ``extra``, which callers pass by position)."""
    if path is None:
        raise TypeError("archive_once() missing the results file: pass path=<the script's results JSON>")
    if folder is not None and root is not None and not folder.is_relative_to(root):
        raise ValueError(
            f"Invalid value {str(folder)!r} for argument folder: the set to archive must lie under root "
            f"{str(root)!r}, which the archived entry's artifact is written relative to"
        )
    archive = f"{key}/{suffix}"
    with results_lock(path):
        results = load(path)
        old = results["entries"].get(key)
        if old is None or archive in results["entries"] or (when is not None and not when(old)):
            return None
        record = old | (extra or {}) | {"archived_from": key} | ({} if reason is None else {"archive_reason": reason})
        if folder is not None and folder.exists():
            target = folder.with_name(f"{folder.name}-{suffix}")
            moved = free_name(target)
            if moved != target:
                record["artifact_note"] = (
                    f"the set was moved to {moved.name}: {target.name} already held another set when it was archived"
                )
            record["artifact"] = str(moved if root is None else moved.relative_to(root))
            folder.rename(moved)
        results["entries"][archive] = record
        write_json(path, results)
    return archive


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``--set FIELD=VALUE`` items as config overrides; a VALUE that parses as JSON (numbers,
    ``true``/``false``, lists) is taken as that, anything else as a string."""
    overrides: dict[str, Any] = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise ValueError(f"Invalid value {item!r} for argument --set. Valid values are FIELD=VALUE")
        try:
            overrides[k] = json.loads(v)
        except json.JSONDecodeError:
            overrides[k] = v
    return overrides
