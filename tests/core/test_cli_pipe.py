"""A reader that stops reading ends ``condensekit`` quietly (``condensekit info A | head``), not with a traceback."""

from __future__ import annotations

import os
import subprocess
import sys


def _run_into_closed_pipe(code: str) -> subprocess.CompletedProcess[str]:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the command writes a byte: every write fails with EPIPE
    try:
        return subprocess.run([sys.executable, "-c", code], stdout=write, stderr=subprocess.PIPE, text=True,
                              timeout=120, check=False)  # fmt: skip
    finally:
        os.close(write)


def test_a_long_output_into_a_closed_pipe_exits_quietly(tmp_path) -> None:  # noqa: ANN001
    """Output longer than stdout's buffer (a card with audits) is written, and fails, inside the verb."""
    code = (
        "import sys\n"
        "import condensekit.core.cli as cli\n"
        "cli._info = lambda ns: print('x' * 100_000) or 0\n"
        "sys.exit(cli.main(['info', 'any']))\n"
    )
    done = _run_into_closed_pipe(code)
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert done.returncode == 1
