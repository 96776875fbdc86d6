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


def test_help_shows_each_options_default_once() -> None:
    """``CliParser``'s help appends ``(default: X)`` where the text does not already speak of the default, and
    leaves flags, ``None`` defaults and positionals alone."""
    parser = CliParser(prog="p")
    parser.add_argument("artifact")
    parser.add_argument("--runs", type=int, default=5, help="models trained")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eps", default="2/255", help="ε, 100%% of it (default: 2/255, the issue's)")
    parser.add_argument("--out", default=None, help="folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    group = parser.add_argument_group("g")
    group.add_argument("--profile", default="paper", help="one of {cpu, paper}")
    lines = {ln.split()[0]: " ".join(ln.split()[1:]) for ln in parser.format_help().splitlines() if ln.strip()}
    assert lines["--runs"] == "RUNS models trained (default: 5)"
    assert lines["--seed"] == "SEED (default: 0)"
    assert lines["--eps"] == "EPS ε, 100% of it (default: 2/255, the issue's)"
    assert lines["--out"] == "OUT folder"
    assert lines["--quiet"] == "no progress bar"
    assert lines["--profile"] == "PROFILE one of {cpu, paper} (default: paper)"
    assert lines["artifact"] == ""


def test_every_verb_shows_the_default_of_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    """The verbs whose help hid a default a user needs (the profile of `medical`, the runs of an evaluation)."""
    for argv, option, default in ((["medical", "experts", "--help"], "--profile", "paper"),
                                  (["medical", "evaluate", "--help"], "--runs", "5"),
                                  (["graph", "evaluate", "--help"], "--runs", "10"),
                                  (["robust", "condense", "--help"], "--direction", "reference")):  # fmt: skip
        with pytest.raises(SystemExit):
            main(argv)
        text = " ".join(capsys.readouterr().out.split()).split(" options: ", 1)[1]  # past the description
        after = text.split(f" {option} ", 1)[1].split(" --", 1)[0]
        assert f"(default: {default})" in after, (argv, after)


def test_medical_experts_help_says_the_profile_replaces_the_paper_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    """`--num-experts ... (default: 100)` is the paper's; `--profile cpu` trains 10 (fewer on a large set)."""
    with pytest.raises(SystemExit):
        main(["medical", "experts", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--profile replaces some of them (cpu: 10 experts x 5 epochs" in text


def test_version_prints_the_versions_a_card_records(capsys: pytest.CaptureFixture[str]) -> None:
    from condensekit.core.artifact import library_versions

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code in (0, None)
    versions = library_versions()
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"condensekit {versions['condensekit']} (torch {versions['torch']}, ")
    assert line.endswith(f"python {versions['python']})") and "\n" not in line


def _root_verbs() -> list[tuple[str, ...]]:
    """Every verb of the command tree that takes ``--root``, found in the parsers (not listed by hand)."""
    return [path for path, parser in _parsers(build_parser([]))
            if any("--root" in action.option_strings for action in parser._actions)]  # fmt: skip


_ROOT_VERBS = _root_verbs()


def test_the_root_verbs_are_found_in_every_domain() -> None:
    assert {("privacy", "audit"), ("medical", "evaluate")} <= set(_ROOT_VERBS)  # the two this test once listed
    assert {path[0] for path in _ROOT_VERBS} == {"graph", "medical", "privacy", "robust"}


@pytest.mark.parametrize("verb", _ROOT_VERBS, ids=[" ".join(v) for v in _ROOT_VERBS])
def test_every_root_option_names_both_fallbacks(verb: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    """`--root`'s help names $CONDENSEKIT_DATA and the ~/.cache/condensekit fallback everywhere (privacy audit named
    only the first, medical evaluate neither)."""
    with pytest.raises(SystemExit):
        main([*verb, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--root ROOT data root (default: $CONDENSEKIT_DATA, else ~/.cache/condensekit)" in text
