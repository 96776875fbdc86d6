"""``keep_freed_memory``: glibc keeps freed activation memory in the ``condensekit`` process and its children (no
per-block mmap, the heap's top kept); the user's own variables and ``CONDENSEKIT_MALLOC=default`` win; only the
command does it, never an import. The allocator changes run in subprocesses, so this test process keeps glibc's own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from condensekit.core.malloc import MALLOC_ENV, _glibc, keep_freed_memory

GLIBC = sys.platform.startswith("linux") and _glibc() is not None


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in MALLOC_ENV and k != "CONDENSEKIT_MALLOC"}
    return subprocess.run([sys.executable, "-c", code], env=base | env, capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_the_process_and_its_children_keep_freed_memory() -> None:
    code = (
        "import os, subprocess, sys\n"
        "from condensekit.core.malloc import keep_freed_memory\n"
        "print(keep_freed_memory())\n"
        "child = 'import os; print(os.environ.get(\"MALLOC_MMAP_MAX_\"), os.environ.get(\"MALLOC_TRIM_THRESHOLD_\"))'\n"
        "print(subprocess.run([sys.executable, '-c', child], capture_output=True, text=True).stdout.strip())\n"
    )
    out = _run(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["True", f"0 {MALLOC_ENV['MALLOC_TRIM_THRESHOLD_']}"]


def test_the_users_variables_and_default_leave_the_allocator_alone() -> None:
    mine = {"MALLOC_MMAP_MAX_": "65536", "MALLOC_TRIM_THRESHOLD_": "131072"}
    env = dict(mine)
    assert keep_freed_memory(env) is False and env == mine  # glibc read them at start: nothing to change
    env = {"CONDENSEKIT_MALLOC": "default"}
    assert keep_freed_memory(env) is False and env == {"CONDENSEKIT_MALLOC": "default"}


def test_a_meaningless_mode_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"Invalid value 'off' for the environment variable CONDENSEKIT_MALLOC\. "
                                         r"Valid values are keep .* and default"):  # fmt: skip
        keep_freed_memory({"CONDENSEKIT_MALLOC": "off"})
    out = _run("import sys; from condensekit.core.cli import console; sys.argv = ['condensekit', '--version'];"
               " sys.exit(console())", CONDENSEKIT_MALLOC="off")  # fmt: skip
    assert out.returncode == 2 and "CONDENSEKIT_MALLOC" in out.stderr and "Traceback" not in out.stderr


def test_only_the_command_changes_the_allocator() -> None:
    scripts = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["condensekit"] == "condensekit.core.cli:console"
    out = _run("import os, condensekit.core.cli, condensekit.medical, condensekit.graph;"
               " print(os.environ.get('MALLOC_MMAP_MAX_'))")  # fmt: skip
    assert out.returncode == 0 and out.stdout.strip() == "None", out.stderr


def test_a_glibc_tunable_of_the_users_wins() -> None:
    env = {"GLIBC_TUNABLES": "glibc.malloc.mmap_max=0"}
    assert keep_freed_memory(env) is False and env == {"GLIBC_TUNABLES": "glibc.malloc.mmap_max=0"}
