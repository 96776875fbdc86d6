from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from condensekit.core.cli import CliParser, build_parser, main
from condensekit.graph.data import NODE_DATASETS

needs_data = pytest.mark.skipif(
    not os.environ.get("CONDENSEKIT_DATA"), reason="CONDENSEKIT_DATA is not set (no real datasets)"
)


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the module's real-data tests, so Cora is processed once."""
    return tmp_path_factory.mktemp("cache")


def test_graph_methods_lists_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "methods"]) == 0
    out = capsys.readouterr().out
    for name in ("gcond", "gcondx", "doscond", "gcdm", "random", "herding", "kcenter"):
        assert name in out


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "graph" in capsys.readouterr().out


def test_unknown_method_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["graph", "condense", "--dataset", "cora", "--method", "gcdm", "--budget", "35", "--bogus", "1"]
    assert main(argv + ["--out", str(tmp_path / "a"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--bogus" in err and "gcdm" in err
    assert "--outer-loop" in err  # the valid options are listed
    assert not (tmp_path / "a").exists()


def test_unknown_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["graph", "condense", "--dataset", "nope", "--method", "random", "--budget", "35"]
    assert main(argv + ["--out", str(tmp_path / "a"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "nope" in err
    for name in NODE_DATASETS:
        assert name in err


def test_evaluate_missing_artifact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "evaluate", str(tmp_path / "missing")]) == 2
    assert "No artifact" in capsys.readouterr().err


def test_info_missing_artifact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err


def _parsers(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """``parser`` and every sub-parser under it, by their ``prog``."""
    yield parser.prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_no_parser_of_the_tree_takes_abbreviations() -> None:
    """Every domain's every verb (``allow_abbrev`` is not inherited by ``add_parser``; the class is)."""
    found = dict(_parsers(build_parser()))
    assert {"condensekit graph condense", "condensekit medical condense", "condensekit privacy psg",
            "condensekit robust condense", "condensekit graph show"} <= set(found)  # fmt: skip
    assert [prog for prog, p in found.items() if p.allow_abbrev or not isinstance(p, CliParser)] == []
    with pytest.raises(ValueError, match="allow_abbrev of CliParser must be False, got True"):
        CliParser(allow_abbrev=True)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["graph", "evaluate", "x", "--run", "3"], "unrecognized arguments: --run 3"),  # --runs
        (["graph", "show", "x", "--png", "a.png", "--per", "2"], "unrecognized arguments: --per 2"),  # --per-class
        (["graph", "methods", "--ta", "graph"], "unrecognized arguments: --ta graph"),  # --task
        (["--hel"], "unrecognized arguments: --hel"),  # --help
    ],
)
def test_graph_abbreviations_are_refused(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["graph", "condense", "--datas", "cora", "--method", "gcond"], "--datas (for --dataset)"),
        (["graph", "condense", "--dataset=cora", "--meth=gcond"], "--meth (for --method)"),
        (["graph", "show", "x", "--pn", "a.png"], "--pn (for --png)"),
    ],
)
def test_abbreviated_required_option_is_named(argv: list[str], named: str, capsys: pytest.CaptureFixture[str]) -> None:
    """An abbreviated required option left the required one unset, and argparse's error named only that one."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "the following arguments are required" in err
    assert f"an abbreviation is not an option, write it in full: {named}" in err


def test_graph_condense_abbreviation_reaches_the_method_and_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--eval-r`` is not ``--eval-runs``: it goes to the method's flags, which refuse it by name; and a method
    flag's own abbreviation (``--outer 2`` for ``--outer-loop``) is refused too."""
    base = ["graph", "condense", "--dataset", "cora", "--method", "gcdm", "--budget", "35", "--quiet"]
    for flag in ("--eval-r", "--outer"):
        assert main([*base, "--out", str(tmp_path / "a"), flag, "2"]) == 2
        assert f"Unknown option(s) ['{flag}', '2'] for method 'gcdm'" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()


@pytest.mark.real_data
@needs_data
def test_condense_info_evaluate_on_cora(
    shared_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CONDENSEKIT_CACHE", str(shared_cache))
    art = tmp_path / "a"
    argv = ["graph", "condense", "--dataset", "cora", "--method", "random", "--budget", "35"]
    assert main(argv + ["--out", str(art), "--quiet"]) == 0
    assert (art / "card.json").is_file() and (art / "tensors.safetensors").is_file()
    summary = json.loads((tmp_path / "a.json").read_text())
    assert summary["method"] == "random" and summary["budget"]["nodes"] == 35
    capsys.readouterr()

    assert main(["info", str(art)]) == 0
    out = capsys.readouterr().out
    assert "random" in out and "cora" in out

    argv = ["graph", "evaluate", str(art), "--models", "gcn,mlp", "--runs", "1", "--epochs", "20"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "gcn" in out and "mlp" in out
    result = json.loads((tmp_path / "a.eval.json").read_text())
    assert set(result["test"]) == {"gcn", "mlp"}
    assert all(0 <= s["mean"] <= 100 and len(s["runs"]) == 1 for s in result["test"].values())
    card = json.loads((art / "card.json").read_text())
    assert set(card["metrics"]["test"]) == {"gcn", "mlp"}

    assert main(argv + ["--workers", "-1"]) == 2
    assert "--workers" in capsys.readouterr().err


@pytest.mark.real_data
@needs_data
def test_method_specific_flags_on_cora(
    shared_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CONDENSEKIT_CACHE", str(shared_cache))
    art = tmp_path / "g"
    argv = ["graph", "condense", "--dataset", "cora", "--method", "gcdm", "--budget", "35", "--steps", "2"]
    argv += ["--outer-loop", "1", "--hidden", "16", "--eval-every", "0", "--out", str(art), "--quiet"]
    assert main(argv + ["--eval-runs", "1"]) == 0
    card = json.loads((art / "card.json").read_text())
    assert card["method"] == "gcdm"
    assert len(card["metrics"]["test"]["gcn"]["runs"]) == 1
    assert json.loads((tmp_path / "g.json").read_text())["test"] == card["metrics"]["test"]
    assert card["config"]["outer_loop"] == 1 and card["config"]["hidden"] == 16
    assert card["cost"]["steps"] == 2


@pytest.mark.real_data
@needs_data
def test_bad_ratio_on_cora(
    shared_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CONDENSEKIT_CACHE", str(shared_cache))
    argv = ["graph", "condense", "--dataset", "cora", "--method", "random", "--ratio", "1.5"]
    assert main(argv + ["--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert "ratio" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_domain_command_imports_only_its_domain() -> None:
    """`condensekit graph ...` must not pay for importing medmnist/sklearn/opacus (command start)."""
    import subprocess
    import sys

    code = (
        "import sys; from condensekit.core.cli import build_parser; p = build_parser(['graph', 'methods']); "
        "print(sorted(m for m in ('condensekit.graph.cli', 'condensekit.medical.cli', 'condensekit.privacy.cli', "
        "'condensekit.robust.cli') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['condensekit.graph.cli']"


def test_out_of_memory_is_reported_as_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the engine's MemoryError names the run's size, what lowers memory and the intact checkpoint; main let it
    # through as a traceback, with that line at its end
    message = "out of memory on cuda in step 3 of 'toy': lower the budget. rerun the same command to resume"

    def oom(path: str) -> None:
        raise MemoryError(message)

    monkeypatch.setattr("condensekit.core.cli.load_artifact", oom)
    assert main(["info", "somewhere"]) == 1
    assert capsys.readouterr().err == f"condensekit: error: {message}\n"


def test_method_flags_are_not_abbreviated() -> None:
    """A method's own flags (``parse_config_flags``) are matched in full: ``--syn 3`` was read as ``--syn-steps 3``."""
    from dataclasses import dataclass

    from condensekit.core.config import parse_config_flags

    @dataclass
    class Cfg:
        syn_steps: int = 1

    assert parse_config_flags(Cfg, ["--syn-steps", "3"], prog="p", owner="method 'x'") == {"syn_steps": 3}
    with pytest.raises(ValueError, match=r"Unknown option\(s\) \['--syn', '3'\] for method 'x'"):
        parse_config_flags(Cfg, ["--syn", "3"], prog="p", owner="method 'x'")


def _ring_graph(tmp_path: Path) -> Path:
    """A 12-node graph file (``--dataset path.npz``): the node-level verbs without real data."""
    import numpy as np

    n = 12
    path = tmp_path / "ring.npz"
    np.savez(path, x=np.random.default_rng(0).normal(size=(n, 4)).astype(np.float32),
             edge_index=np.stack([np.arange(n), (np.arange(n) + 1) % n]), y=np.arange(n) % 3,
             train_mask=np.arange(n) < 6, val_mask=(np.arange(n) >= 6) & (np.arange(n) < 9),
             test_mask=np.arange(n) >= 9)  # fmt: skip
    return path


def test_json_naming_a_folder_is_refused_before_the_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the JSON is written last: a folder gave IsADirectoryError's traceback (exit code 1) after the condensation
    # (or evaluation) had run and its artifact (or card) had been written
    folder = tmp_path / "results"
    folder.mkdir()
    art = tmp_path / "art"
    condense = ["graph", "condense", "--dataset", str(_ring_graph(tmp_path)), "--method", "random", "--budget", "3",
                "--quiet", "--out", str(art), "--device", "cpu"]  # fmt: skip
    assert main([*condense, "--json", str(folder)]) == 2
    assert f"Invalid value {str(folder)!r} for argument --json: it is a folder" in capsys.readouterr().err
    assert not art.exists()

    assert main(condense) == 0
    card = (art / "card.json").read_text()
    evaluate = ["graph", "evaluate", str(art), "--runs", "1", "--epochs", "1", "--workers", "1", "--device", "cpu"]
    assert main([*evaluate, "--json", str(folder)]) == 2
    assert "for argument --json: it is a folder" in capsys.readouterr().err
    assert (art / "card.json").read_text() == card  # no test record was written
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize(
    ("argv", "verb", "option"),
    [
        (["graph", "evaluate", "art", "--bogus"], "graph evaluate", "--models"),
        (["graph", "show", "art", "--png", "a.png", "--bogus", "1"], "graph show", "--per-class"),
        (["medical", "evaluate", "art", "--bogus"], "medical evaluate", "--runs"),
        (["medical", "experts", "--flag", "breastmnist", "--bogus", "3"], "medical experts", "--workers"),
    ],
)
def test_an_unknown_option_gets_the_verbs_usage_and_options(
    argv: list[str], verb: str, option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # a verb that passes no flag to a method got the top level's usage (`condensekit [-h] COMMAND ...`) and no list
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith(f"usage: condensekit {verb} ")
    unknown = " ".join(argv[argv.index("--bogus") :])
    assert f"condensekit {verb}: error: unrecognized arguments: {unknown}. Valid options are [" in err
    assert f"'{option}'" in err and "'--help'" not in err


def test_method_flag_errors_list_the_verbs_options_when_given() -> None:
    from dataclasses import dataclass

    from condensekit.core.config import parse_config_flags

    @dataclass
    class Cfg:
        syn_steps: int = 1

    with pytest.raises(ValueError) as err:
        parse_config_flags(Cfg, ["--ipcs", "2"], prog="p", owner="method 'x'", verb="v c", verb_options=["--ipc"])
    assert str(err.value) == (
        "Unknown option(s) ['--ipcs', '2'] for method 'x'. Valid options are ['--syn-steps']; "
        "the options of `v c` itself are ['--ipc']"
    )


def test_method_help_prints_the_verbs_hint_for_an_unknown_method(capsys: pytest.CaptureFixture[str]) -> None:
    """``add_method_help(..., hint=f)``: under an unknown method, ``f(namespace, name)`` says how to reach it (a
    method of another kind); nothing more when it returns ``""``."""
    from dataclasses import dataclass

    from condensekit.core.cli import add_method_help
    from condensekit.core.registry import MethodEntry, Registry

    @dataclass
    class Cfg:
        steps: int = 1

    methods: Registry[MethodEntry] = Registry("method")
    methods.register("a", MethodEntry(object, Cfg, "a method"))
    parser = CliParser(prog="p", add_help=False)
    add_method_help(parser, methods, hint=lambda ns, name: f"{name!r} needs --kind b first" if name == "b" else "")
    parser.add_argument("--method")
    for name, hint in (("b", "'b' needs --kind b first"), ("c", None)):
        with pytest.raises(SystemExit):
            parser.parse_args(["--method", name, "--help"])
        tail = capsys.readouterr().out.split(f"unknown method {name!r}; valid methods are {{a}}")[1]
        assert tail.strip() == (hint or "")


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["graph", "methods", "--tas", "graph"], "--tas (for --task)"),
        (["medical", "show", "x", "--pn", "a.png"], "--pn (for --png)"),
    ],
)
def test_abbreviated_optional_option_is_named_once(argv: list[str], named: str, capsys) -> None:  # noqa: ANN001
    """An abbreviated optional option: the hint names the full option, never the abbreviation 'for' itself
    (``--tas (for --tas)``, when the candidates came from the message, which names the abbreviation too)."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    abbreviation = named.split()[0]
    assert exit_.value.code == 2 and f"write it in full: {named}" in err and f"(for {abbreviation})" not in err


def test_nothing_after_a_bare_double_dash_is_taken_for_an_abbreviation(capsys) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit):
        main(["graph", "methods", "--", "--tas"])
    assert "abbreviation" not in capsys.readouterr().err
