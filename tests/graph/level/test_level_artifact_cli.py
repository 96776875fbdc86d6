from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from condensekit.core.cli import main
from condensekit.graph.condense import CondensedGraph, condense_nodes
from condensekit.graph.level.condense import CondensedGraphSet, condense_graphs


def test_save_load_round_trip_and_wrong_task_errors(tiny_set, tiny_task, tmp_path: Path) -> None:
    cs = condense_graphs(tiny_set, "random", gpc=2, progress=False, device="cpu")
    cs.save(tmp_path / "g")
    back = CondensedGraphSet.load(tmp_path / "g")
    for k, v in cs.tensors().items():
        assert torch.equal(v, back.tensors()[k])
    assert back.card["source"]["num_classes"] == 2
    with pytest.raises(ValueError, match="node_classification"):
        CondensedGraph.load(tmp_path / "g")
    cg = condense_nodes(tiny_task, "random", budget=6, progress=False, device="cpu")
    cg.save(tmp_path / "n")
    with pytest.raises(ValueError, match="'node_classification' set.*'graph_classification'"):
        CondensedGraphSet.load(tmp_path / "n")


def test_cli_errors_name_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "condense", "--task", "graph", "--dataset", "cora", "--method", "kidd", "--gpc", "1"]) == 2
    assert "mutag" in capsys.readouterr().err
    assert (
        main(["graph", "condense", "--task", "graph", "--dataset", "mutag", "--method", "kidd", "--budget", "5"]) == 2
    )
    assert "--gpc" in capsys.readouterr().err
    assert main(["graph", "condense", "--dataset", "cora", "--method", "random", "--gpc", "2"]) == 2
    assert "--task graph" in capsys.readouterr().err


@pytest.mark.real_data
def test_cli_condense_info_evaluate_show_on_mutag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "art")
    argv = ["graph", "condense", "--task", "graph", "--dataset", "mutag", "--method", "kidd", "--gpc", "2"]
    assert main([*argv, "--steps", "2", "--init", "random", "--batch-real", "16", "--quiet", "--out", out]) == 0
    assert main(["info", out]) == 0
    assert "graph_classification" in capsys.readouterr().out
    assert main(["graph", "evaluate", out, "--runs", "1", "--epochs", "2", "--models", "gin"]) == 0
    assert "gin" in capsys.readouterr().out
    png = tmp_path / "g.png"
    assert main(["graph", "show", out, "--png", str(png)]) == 0
    assert png.stat().st_size > 1000
    # a graph-level artifact handed to the node-level path is refused with the reason
    assert main(["graph", "evaluate", out, "--task", "node"]) == 2
    assert "graph_classification" in capsys.readouterr().err


def test_card_records_the_split_seed_and_evaluate_refuses_an_unknown_one(
    tiny_graphs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dataclasses import replace

    from condensekit.graph.level.data import graphset_from_list

    split1 = graphset_from_list(tiny_graphs, name="mutag", seed=1)
    cs = condense_graphs(split1, "random", gpc=2, seed=0, progress=False, device="cpu")
    assert cs.card["source"]["split"]["seed"] == 1 and cs.card["seed"] == 0  # the split's seed, not the method's
    by_hand = replace(split1, split_seed=None)  # a GraphSet whose split is not known
    cs = condense_graphs(by_hand, "random", gpc=2, progress=False, device="cpu")
    assert cs.card["source"]["split"]["seed"] is None
    cs.save(tmp_path / "g")
    assert main(["graph", "evaluate", str(tmp_path / "g"), "--runs", "1", "--epochs", "1"]) == 2
    assert "records no split seed" in capsys.readouterr().err


def test_evaluate_refuses_real_data_that_cannot_be_the_condensed_sets_source(
    tiny_graphs, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from condensekit.graph.level import cli as level_cli
    from condensekit.graph.level.data import graphset_from_list

    cs = condense_graphs(graphset_from_list(tiny_graphs, name="mutag"), "random", gpc=2, progress=False, device="cpu")
    cs.save(tmp_path / "g")
    bigger = graphset_from_list([*tiny_graphs, *tiny_graphs[:4]], name="mutag")  # another release of "mutag"
    monkeypatch.setattr(level_cli, "prepare_graphs", lambda *a, **k: bigger)
    # the split seed drawn over other data is another split: its test graphs may be the ones condensed from
    assert main(["graph", "evaluate", str(tmp_path / "g"), "--runs", "1", "--epochs", "1"]) == 2
    assert "num_graphs=24, but the real 'mutag' data loads with num_graphs=28" in capsys.readouterr().err
    monkeypatch.setattr(level_cli, "prepare_graphs", lambda *a, **k: graphset_from_list(tiny_graphs, name="mutag"))
    assert main(["graph", "evaluate", str(tmp_path / "g"), "--runs", "1", "--epochs", "1"]) == 0


def test_evaluate_epochs_zero_is_refused_not_replaced_by_the_default(
    tiny_task, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from condensekit.graph import cli as node_cli

    condense_nodes(tiny_task, "random", budget=6, progress=False, device="cpu").save(tmp_path / "n")
    seen = []
    monkeypatch.setattr(node_cli, "_evaluate", lambda ns: seen.append(ns.epochs) or 0)
    assert main(["graph", "evaluate", str(tmp_path / "n"), "--epochs", "0"]) == 2  # `0 or 600` ran 600 epochs
    assert seen == []
    assert "Invalid value 0 for argument --epochs. Valid values are integers >= 1" in capsys.readouterr().err
    assert main(["graph", "evaluate", str(tmp_path / "n")]) == 0 and seen == [600]  # the node-level default


@pytest.mark.parametrize(("name", "value"), [("adj", 0.5), ("adj", 2.0), ("mask", 0.5), ("mask", 2.0), ("mask", -1.0)])
def test_load_refuses_an_adjacency_or_mask_that_is_not_binary(
    tiny_set, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, value: float
) -> None:
    """A tampered graph-level artifact (a weighted edge, a half node) is refused at load, naming the tensor, the
    value and the valid ones; it used to load and train on edge weights the card's method never made."""
    from condensekit.core.artifact import save_artifact

    cs = condense_graphs(tiny_set, "random", gpc=2, progress=False, device="cpu")
    tensors = {k: v.clone() for k, v in cs.tensors().items()}
    if name == "adj":
        tensors["adj"][1, 0, 1] = tensors["adj"][1, 1, 0] = value  # still symmetric and non-negative
    else:
        tensors["mask"][1, 0] = value
    save_artifact(tmp_path / "g", tensors, cs.card)
    with pytest.raises(ValueError, match=rf"tensor '{name}' holds {value:g} .*valid values are 0 and 1"):
        CondensedGraphSet.load(tmp_path / "g")
    assert main(["graph", "evaluate", str(tmp_path / "g"), "--runs", "1", "--epochs", "1"]) == 2
    assert f"tensor '{name}' holds {value:g}" in capsys.readouterr().err


def test_evaluate_of_a_set_condensed_from_a_graph_list_says_so(
    tiny_graphs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A list of graphs is named "graphs": evaluate said "Unknown value 'graphs' for argument dataset", an
    argument the user never passed."""
    condense_graphs(tiny_graphs, "random", gpc=2, progress=False, device="cpu").save(tmp_path / "g")
    assert main(["graph", "evaluate", str(tmp_path / "g"), "--runs", "1", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "condensed from 'graphs', not a dataset this command loads" in err and "evaluate_graphs(" in err


@pytest.mark.real_data
def test_cli_seed_seeds_the_method_and_split_seed_the_split(tmp_path: Path) -> None:
    argv = ["graph", "condense", "--task", "graph", "--dataset", "mutag", "--method", "random", "--gpc", "2", "--quiet"]
    cards = {}
    for name, extra in {"seed1": ["--seed", "1"], "split1": ["--split-seed", "1"]}.items():
        out = tmp_path / name
        assert main([*argv, *extra, "--out", str(out)]) == 0
        cards[name] = json.loads((out / "card.json").read_text())
    # --seed no longer moves the split (it did: a seeded condensation was scored on another test split)
    assert (cards["seed1"]["seed"], cards["seed1"]["source"]["split"]["seed"]) == (1, 0)
    assert (cards["split1"]["seed"], cards["split1"]["source"]["split"]["seed"]) == (0, 1)


def test_cli_split_seed_is_checked_before_any_data_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    graph = ["graph", "condense", "--task", "graph", "--dataset", "mutag", "--method", "random", "--gpc", "2"]
    assert main([*graph, "--split-seed", "-1", "--root", str(tmp_path)]) == 2
    assert "--split-seed" in capsys.readouterr().err
    node = ["graph", "condense", "--dataset", "cora", "--method", "random", "--budget", "7", "--split-seed", "1"]
    assert main([*node, "--root", str(tmp_path)]) == 2
    assert "--split-seed is for graph classification" in capsys.readouterr().err


def test_cli_refuses_a_negative_eval_runs_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # --eval-runs -1 was checked only by the evaluation, after the condensation had run (and no artifact was written);
    # now before anything is read: the empty root would otherwise be the error
    argv = ["graph", "condense", "--task", "graph", "--dataset", "mutag", "--method", "random", "--gpc", "1"]
    assert main([*argv, "--eval-runs", "-1", "--root", str(tmp_path), "--quiet"]) == 2
    assert "Invalid value -1 for argument --eval-runs" in capsys.readouterr().err


def test_card_says_how_many_steps_ran_beside_the_configs(tiny_set, tmp_path: Path) -> None:
    # a steps= (--steps) override runs another count than config.steps (300 for KiDD), which the card keeps as the
    # method's setting: the card's ``steps`` says which ran
    fast = {"batch_real": 8, "batch_syn": 4, "init": "random"}
    cs = condense_graphs(tiny_set, "kidd", gpc=2, config=fast, steps=2, progress=False, device="cpu")
    assert cs.card["config"]["steps"] == 300 and cs.card["cost"]["steps"] == 2
    assert cs.card["steps"] == {"run": 2, "config": 300}
    cs.save(tmp_path / "k")
    assert CondensedGraphSet.load(tmp_path / "k").card["steps"]["run"] == 2
    own = condense_graphs(tiny_set, "kidd", gpc=2, config=fast | {"steps": 3}, progress=False, device="cpu")
    assert own.card["steps"] == {"run": 3, "config": 3} and own.card["cost"]["steps"] == 3
