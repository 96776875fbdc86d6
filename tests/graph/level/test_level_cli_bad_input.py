"""Bad input to the graph-level command line, from issue 7's list."""

import pytest

from condensekit.core.cli import main


def test_a_graph_level_dataset_without_task_graph_says_to_add_it(tmp_path, capsys) -> None:
    # the node loader refused 'mutag' with its list of node datasets and aliases, not a word of --task graph
    argv = ["graph", "condense", "--dataset", "MUTAG", "--method", "random", "--budget", "10", "--quiet"]
    assert main([*argv, "--root", str(tmp_path), "--out", str(tmp_path / "art")]) == 2
    err = capsys.readouterr().err
    assert "Invalid value 'MUTAG' for argument --dataset: it is a graph-classification dataset; add --task graph" in err
    assert not (tmp_path / "art").exists()


@pytest.mark.parametrize("verb", [["methods"], ["methods", "--task", "node"]])
def test_verbs_without_a_dataset_still_dispatch(verb, capsys) -> None:
    assert main(["graph", *verb]) == 0
    assert "gcond" in capsys.readouterr().out


def test_show_refuses_a_folder_as_png_before_drawing(tiny_set, tmp_path, capsys) -> None:
    # the drawing was made, then its rename onto the folder failed: an IsADirectoryError traceback, exit code 1
    from condensekit.graph.level.condense import condense_graphs

    condense_graphs(tiny_set, "random", gpc=2, progress=False, device="cpu").save(tmp_path / "g")
    (tmp_path / "pngs").mkdir()
    assert main(["graph", "show", str(tmp_path / "g"), "--png", str(tmp_path / "pngs")]) == 2
    assert f"Invalid value '{tmp_path / 'pngs'}' for argument --png: it is a folder" in capsys.readouterr().err
    assert list((tmp_path / "pngs").iterdir()) == [] and not list(tmp_path.glob(".pngs.*"))


@pytest.mark.real_data
def test_evaluate_with_no_model_is_refused_and_keeps_the_card(tmp_path, capsys) -> None:
    # `--models ,` evaluated nothing and replaced the card's test results with an empty record (rc 0)
    import json

    out = tmp_path / "art"
    argv = ["graph", "condense", "--task", "graph", "--dataset", "mutag", "--method", "random", "--gpc", "1"]
    assert main([*argv, "--quiet", "--out", str(out), "--eval-runs", "1"]) == 0
    before = json.loads((out / "card.json").read_text())["metrics"]["test"]
    assert set(before) == {"gcn", "gin"}
    assert main(["graph", "evaluate", str(out), "--models", ",", "--runs", "1", "--epochs", "1"]) == 2
    assert "Invalid value ',' for argument --models. Valid values are comma-separated names in {gcn, gin}" in (
        capsys.readouterr().err
    )
    assert json.loads((out / "card.json").read_text())["metrics"]["test"] == before
    assert main(["graph", "evaluate", str(out), "--models", "", "--runs", "1", "--epochs", "1"]) == 2  # not gcn,gin
    assert "Invalid value '' for argument --models" in capsys.readouterr().err
