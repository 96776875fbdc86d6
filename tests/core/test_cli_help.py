"""Every ``--help`` of the command tree prints and exits 0: each domain's, each verb's and, where a verb takes a
method's flags, each method's (``--method X --help``).

argparse expands a help text with %-formatting, so a config field whose help says "27 % less" broke
``condensekit robust audit --help`` with a ``TypeError`` traceback; these tests print every help there is.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from condensekit.core.cli import CliParser, MethodHelp, build_parser, main
from condensekit.core.config import add_dataclass_args


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, (*path, name))


def _help_argvs() -> list[list[str]]:
    argvs = []
    for path, parser in _parsers(build_parser([])):
        argvs.append([*path, "--help"])
        for action in parser._actions:
            if not isinstance(action, MethodHelp) or not isinstance(action.method_dest, str):
                continue
            options = {o for a in parser._actions for o in a.option_strings}
            for task in ("node", "graph") if "--task" in options else (None,):
                before = ["--task", task] if task else []
                methods = action.methods(argparse.Namespace(task=task)) if callable(action.methods) else action.methods
                for name in methods.names():
                    argvs.append([*path, *before, f"--{action.method_dest.replace('_', '-')}", name, "--help"])
    return argvs


_ARGVS = _help_argvs()


def test_the_tree_has_every_domain_and_method_help() -> None:
    joined = {" ".join(a) for a in _ARGVS}
    for argv in ("robust audit --help", "medical condense --method ptm --help", "robust condense --base sre2l --help",
                 "graph condense --task graph --method kidd --help", "privacy psg --help"):  # fmt: skip
        assert argv in joined


@pytest.mark.parametrize("argv", _ARGVS, ids=[" ".join(a) for a in _ARGVS])
def test_every_help_prints_and_exits_0(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(argv)
    out = capsys.readouterr().out
    assert done.value.code in (0, None), out
    assert "usage:" in out


def test_a_percent_sign_in_a_config_help_is_printed_as_is() -> None:
    @dataclass
    class Cfg:
        speed: float = field(default=0.5, metadata={"help": "27 % less CPU per query, 100% of the images"})
        label: str = "50%"

    parser = CliParser(prog="p")
    add_dataclass_args(parser, Cfg)
    text = " ".join(parser.format_help().split())
    assert "27 % less CPU per query, 100% of the images (default: 0.5)" in text
    assert "(default: 50%)" in text
