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


def test_another_broken_pipe_is_an_error_not_a_quiet_stop(capsys, monkeypatch) -> None:  # noqa: ANN001
    """A BrokenPipeError that is not stdout's (a worker's pipe, with stdout still read) is reported, status 2: the quiet
    exit is only for a reader of stdout that went away (helper F, sitting 24)."""
    import condensekit.core.cli as cli

    def broken(ns: object) -> int:
        raise BrokenPipeError(32, "Broken pipe (a worker's)")

    monkeypatch.setattr(cli, "_info", broken)
    code = cli.main(["info", "any"])
    assert code == 2 and "condensekit: error: [Errno 32] Broken pipe (a worker's)" in capsys.readouterr().err
