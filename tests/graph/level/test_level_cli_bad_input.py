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
