"""Bad input to the node-level ``graph`` verbs, on a user's tiny graph file (no real data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from condensekit.core.cli import main


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path / "cache"))


def _graph_file(tmp_path: Path) -> Path:
    n = 12
    src = np.arange(n)
    path = tmp_path / "ring.npz"
    np.savez(
        path,
        x=np.random.default_rng(0).normal(size=(n, 4)).astype(np.float32),
        edge_index=np.stack([src, (src + 1) % n]),
        y=np.arange(n) % 3,
        train_mask=np.arange(n) < 6,
        val_mask=(np.arange(n) >= 6) & (np.arange(n) < 9),
        test_mask=np.arange(n) >= 9,
    )
    return path


def _artifact(tmp_path: Path) -> Path:
    out = tmp_path / "art"
    argv = ["graph", "condense", "--dataset", str(_graph_file(tmp_path)), "--method", "random", "--budget", "3"]
    assert main([*argv, "--quiet", "--out", str(out), "--eval-runs", "1", "--workers", "1", "--device", "cpu"]) == 0
    return out


@pytest.mark.parametrize("models", [",", " , ", ""])
def test_evaluate_refuses_an_empty_model_list_and_keeps_the_card(
    tmp_path: Path, models: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # `--models ,` evaluated nothing, exited 0 and replaced the card's test results with an empty record
    art = _artifact(tmp_path)
    before = json.loads((art / "card.json").read_text())["metrics"]["test"]
    assert set(before) == {"gcn"}
    capsys.readouterr()
    argv = ["graph", "evaluate", str(art), "--models", models, "--runs", "1", "--epochs", "1", "--device", "cpu"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"Invalid value {models!r} for argument --models" in err and "gcn" in err and "mlp" in err
    assert json.loads((art / "card.json").read_text())["metrics"]["test"] == before
    assert not Path(str(art) + ".eval.json").exists()


@pytest.mark.parametrize(
    ("size", "method", "method_flag"),
    [(["--budget", "35"], "gcond", "--lr-feat"), (["--task", "graph", "--gpc", "2"], "kidd", "--ridge")],
)
def test_a_mistyped_verb_option_lists_the_verbs_options_too(
    tmp_path: Path, size: list[str], method: str, method_flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # `--stepz 1` went to the method's flags, whose error listed only the method's: the option meant (--steps of
    # the verb) was in neither list
    out = tmp_path / "art"
    argv = ["graph", "condense", "--dataset", "mutag" if "graph" in size else "cora", "--method", method, *size]
    assert main([*argv, "--stepz", "1", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"Unknown option(s) ['--stepz', '1'] for method '{method}'. Valid options are [" in err
    assert f"'{method_flag}'" in err
    own = err.split("; the options of `graph condense` itself are ")[1]
    assert "'--steps'" in own and "'--eval-runs'" in own and "'--lr-feat'" not in own and "'--help'" not in own
    assert not out.exists()


@pytest.mark.parametrize(
    ("task", "method", "flags"),
    [([], "gcond", ("--lr-feat", "--pge-hidden")), (["--task", "graph"], "kidd", ("--ridge", "--hops"))],
)
def test_method_help_lists_the_method_flags_the_description_promises(
    task: list[str], method: str, flags: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    # "Method-specific flags (e.g. --lr-feat) appear with --method X --help": argparse printed the verb's options only
    with pytest.raises(SystemExit) as done:
        main(["graph", "condense", *task, "--method", method, "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and "--dataset DATASET" in out
    listed = out.split(f"flags of method {method!r}:")[1]
    assert all(flag in listed for flag in flags)
    with pytest.raises(SystemExit):
        main(["graph", "condense", "--method", "kidd", "--help"])  # without --task graph: a node method is meant
    out = capsys.readouterr().out
    assert "unknown method 'kidd'; valid methods are {doscond, gcdm, gcond," in out
    assert "'kidd' is a graph-level method: put --task graph before --help" in out  # the hint core's help prints
    with pytest.raises(SystemExit):
        main(["graph", "condense", "--task", "graph", "--method", "gcond", "--help"])
    out = capsys.readouterr().out
    assert "unknown method 'gcond'; valid methods are {doscond, herding," in out
    assert "'gcond' is a node-level method: drop --task graph" in out
    with pytest.raises(SystemExit):
        main(["graph", "condense", "--method", "nosuch", "--help"])
    assert "nosuch' is a" not in capsys.readouterr().out  # a name of neither task gets no hint
    with pytest.raises(SystemExit):
        main(["graph", "condense", "-h"])
    assert "put --method X before --help" in capsys.readouterr().out


def test_a_method_of_the_other_task_says_which_flag_it_needs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `graph condense --method kidd` without --task graph said only "Unknown method 'kidd'" (the --help had the hint)
    argv = ["graph", "condense", "--dataset", str(_graph_file(tmp_path)), "--method", "kidd", "--budget", "3"]
    assert main([*argv, "--quiet", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "Unknown method 'kidd'" in err and "'kidd' is a graph-level method: add --task graph (with --gpc N)" in err
    argv = ["graph", "condense", "--task", "graph", "--dataset", "mutag", "--method", "gcond", "--gpc", "1"]
    assert main([*argv, "--quiet", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "'gcond' is a node-level method: drop --task graph (and give --budget N or --ratio R" in err
    argv = ["graph", "condense", "--dataset", str(_graph_file(tmp_path)), "--method", "nosuch", "--budget", "3"]
    assert main([*argv, "--quiet", "--device", "cpu"]) == 2
    assert "nosuch' is a" not in capsys.readouterr().err  # a name of neither task gets no hint
