from __future__ import annotations

import json
import os

import pytest
import torch

from condensekit.core.artifact import load_artifact, save_artifact
from condensekit.core.cli import main
from condensekit.core.vision import CondensedImages, ImageSplits, image_source, load_mnist


def test_attacks_verb_lists_the_registry(capsys):
    assert main(["robust", "attacks"]) == 0
    out = capsys.readouterr().out
    for name in ("fgsm", "pgd", "pgdl2", "cw", "autoattack"):
        assert name in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--attacks", "fgsm,boom"], "Unknown attack 'boom'. Valid values are {autoattack, cw, fgsm, pgd, pgdl2}"),
        (["--eps", "2/255,3"], "outside the data range"),
        (["--eps", ","], "Invalid value ',' for argument eps"),  # it quoted the parsed tuple: ()
        (["--pgd-steps", "0"], "argument pgd_steps"),
        (["--relabel", "online"], "names its teacher"),
        (["--workers", "0"], "Invalid value 0 for argument workers. Valid values are integers >= 1"),
    ],
)
def test_audit_bad_input_exits_2_with_the_reason(tmp_path, capsys, args, message):
    x, y = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 0, 1])
    data = ImageSplits("toy", x, y, x, y, x, y, num_classes=2)
    path = CondensedImages(x, y, {"domain": "medical", "method": "random", "config": {}, "source": image_source(data),
                                  "budget": 4, "seed": 0}).save(tmp_path / "toy")  # fmt: skip
    assert main(["robust", "audit", str(path), *args]) == 2
    assert message in capsys.readouterr().err


def test_abbreviated_options_are_refused_by_name(tmp_path, capsys):
    """``audit --run 3`` was ``--runs 3``; ``condense --teacher-e 5`` was ``--teacher-epochs 5`` (now a method flag,
    refused by the base method)."""
    with pytest.raises(SystemExit) as exit_:
        main(["robust", "audit", str(tmp_path / "none"), "--run", "3"])
    assert exit_.value.code == 2 and "unrecognized arguments: --run 3" in capsys.readouterr().err
    argv = ["robust", "condense", "--base", "dm", "--dataset", "mnist", "--ipc", "1", "--teacher-e", "5"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 2
    assert "Unknown option(s) ['--teacher-e', '5']" in capsys.readouterr().err


def test_audit_refuses_a_task_without_attacks(tmp_path, capsys):
    save_artifact(tmp_path / "gl", {"x": torch.zeros(3, 4), "y": torch.zeros(3)}, {
        "domain": "graph", "task": "graph_classification", "method": "kidd", "config": {},
        "source": {"dataset": "mutag"}, "budget": 3, "seed": 0})  # fmt: skip
    assert main(["robust", "audit", str(tmp_path / "gl")]) == 2
    assert "'graph_classification' set, which has no attack" in capsys.readouterr().err


def test_audit_missing_artifact(tmp_path, capsys):
    assert main(["robust", "audit", str(tmp_path / "none")]) == 2
    assert "No artifact at" in capsys.readouterr().err


@pytest.mark.real_data
@pytest.mark.skipif(not os.environ.get("CONDENSEKIT_DATA"), reason="CONDENSEKIT_DATA is not set")
def test_audit_an_mnist_artifact_end_to_end(tmp_path, capsys):
    data = load_mnist()
    keep = torch.cat([(data.y_train == c).nonzero()[:2, 0] for c in range(10)])
    path = CondensedImages(data.x_train[keep], data.y_train[keep], {
        "domain": "privacy", "method": "random", "config": {}, "source": image_source(data), "budget": 20, "seed": 0,
    }).save(tmp_path / "mnist-random-2")  # fmt: skip
    code = main(["robust", "audit", str(path), "--attacks", "fgsm,pgd", "--eps", "0.1,0.3", "--models", "mlp",
                 "--runs", "1", "--subset", "50", "--epochs", "20", "--pgd-steps", "3", "--device", "cpu"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "stratified 50" in out and "| mlp" in out
    record = json.loads((tmp_path / "mnist-random-2-robust-audit.json").read_text())
    assert record["dataset"] == "mnist" and record["method"] == "random"
    assert [r["attack"] for r in record["rows"]] == ["clean", "fgsm", "fgsm", "pgd", "pgd"]
    assert load_artifact(path).card["audits"][-1]["rows"] == record["rows"]


def test_condense_bad_input(capsys):
    assert main(["robust", "condense", "--base", "dm", "--dataset", "mnist", "--ipc", "1", "--mode", "teacher"]) == 2
    assert "has no teacher" in capsys.readouterr().err
    assert main(["robust", "condense", "--base", "mtt", "--dataset", "mnist", "--ipc", "1", "--h", "0"]) == 2
    assert "argument h" in capsys.readouterr().err
    assert main(["robust", "condense", "--base", "dm", "--dataset", "mnist", "--ipc", "1", "--lr-foo", "1"]) == 2
    err = capsys.readouterr().err
    assert "Unknown option(s) ['--lr-foo', '1'] for method 'dm'" in err
    assert "the options of `robust condense` itself are" in err and "'--ipc'" in err  # a typo of those lands here too
    assert main(["robust", "condense", "--base", "gan", "--dataset", "mnist", "--ipc", "1"]) == 2
    assert "Unknown image method 'gan'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["robust", "condense", "--base", "mtt", "--dataset", "mnist", "--ipc", "1", "--direction", "sign"])
    assert "argument --direction: invalid choice: 'sign' (choose from 'reference', 'unit')" in capsys.readouterr().err


@pytest.mark.real_data
@pytest.mark.skipif(not os.environ.get("CONDENSEKIT_DATA"), reason="CONDENSEKIT_DATA is not set")
def test_condense_guard_mtt_on_mnist_then_audit(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "mnist-guard"
    code = main(["robust", "condense", "--base", "mtt", "--dataset", "mnist", "--ipc", "1", "--curvature", "100",
                 "--num-experts", "1", "--teacher-epochs", "2", "--steps", "2", "--quiet", "--device", "cpu",
                 "--out", str(out), "--model", "lr", "--syn-steps", "2", "--expert-epochs", "1",
                 "--max-start-epoch", "1", "--dsa", "false"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    card = load_artifact(out).card
    assert card["method"] == "guard-mtt" and card["domain"] == "robust" and card["budget"]["ipc"] == 1
    assert card["config"]["guard"]["curvature"] == 100 and card["config"]["experts"]["curvature"]["h"] == 3.0
    buffer = tmp_path / "cache" / "experts" / "mnist-lr-e2-curv100-h3"  # the term in the card (no marker since 0d96c84)
    assert json.loads((buffer / "card.json").read_text())["regularizer"]["lam"] == 100.0
    assert not (buffer / "curvature.json").exists()
    assert main(["robust", "audit", str(out), "--attacks", "fgsm", "--eps", "0.1", "--models", "lr", "--runs", "1",
                 "--subset", "30", "--epochs", "5", "--device", "cpu"]) == 0  # fmt: skip


@pytest.mark.real_data
@pytest.mark.skipif(not os.environ.get("CONDENSEKIT_DATA"), reason="CONDENSEKIT_DATA is not set")
def test_condense_guard_sre2l_on_mnist_then_audit_on_its_soft_labels(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "mnist-guard-sre2l"
    code = main(["robust", "condense", "--base", "sre2l", "--dataset", "mnist", "--ipc", "1", "--curvature", "100",
                 "--teacher-epochs", "1", "--quiet", "--device", "cpu", "--out", str(out), "--iterations", "3",
                 "--temperature", "4", "--teacher-subset", "3000", "--teacher-warmup", "1"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    card = load_artifact(out).card
    assert card["method"] == "guard-sre2l" and card["labels"] == {"kind": "soft", "temperature": 4.0}
    assert card["config"]["teacher"]["curvature"]["lam"] == 100 and card["config"]["teacher"]["val_acc"] > 50
    assert card["config"]["teacher"]["train_images"] == 3000
    assert card["config"]["teacher"]["config"]["warmup_epochs"] == 1
    assert main(["robust", "audit", str(out), "--attacks", "pgd", "--eps", "0.1", "--models", "mlp_bn", "--runs",
                 "1", "--subset", "30", "--epochs", "5", "--device", "cpu"]) == 0  # fmt: skip
    assert load_artifact(out).card["audits"][-1]["rows"][0]["attack"] == "clean"
    assert main(["robust", "audit", str(out), "--attacks", "pgd", "--eps", "0.1", "--models", "mlp_bn", "--runs",
                 "1", "--subset", "30", "--epochs", "5", "--device", "cpu", "--relabel", "online",
                 "--workers", "2"]) == 0  # fmt: skip
    audit = load_artifact(out).card["audits"][-1]
    assert audit["config"]["relabel"] == "online" and audit["config"]["workers"] == audit["cost"]["workers"] == 2


@pytest.mark.real_data
@pytest.mark.skipif(not os.environ.get("CONDENSEKIT_DATA"), reason="CONDENSEKIT_DATA is not set")
def test_audit_a_cora_graph_artifact(tmp_path, capsys, monkeypatch):
    from condensekit.graph import condense_nodes, prepare_task

    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path / "cache"))
    cond = condense_nodes(prepare_task("cora", device="cpu"), "random", budget=35, seed=0, progress=False)
    path = cond.save(tmp_path / "cora-random-35")
    code = main(["robust", "audit", str(path), "--eps", "0.01,0.1", "--runs", "1", "--graph-epochs", "20",
                 "--pgd-steps", "3", "--device", "cpu"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    rows = load_artifact(path).card["audits"][-1]["rows"]
    assert [(r["attack"], r["eps"]) for r in rows] == [
        ("clean", "0"),
        ("feature_pgd", "0.01"),
        ("feature_pgd", "0.1"),
        ("random_edges", "0.01"),
        ("random_edges", "0.1"),
    ]


@pytest.mark.parametrize(
    ("task", "args", "flag"),
    [
        ("node_classification", ["--relabel", "online"], "--relabel"),
        ("node_classification", ["--full-test"], "--full-test"),
        ("node_classification", ["--subset", "200"], "--subset"),
        ("node_classification", ["--epochs", "5"], "--epochs"),
        ("node_classification", ["--cascade-eps", "false"], "--cascade-eps"),  # the image attacks' settings
        ("node_classification", ["--cw-c", "0.5"], "--cw-c"),
        ("node_classification", ["--pgd-step-ratio", "1.0"], "--pgd-step-ratio"),
        ("image_classification", ["--graph-epochs", "5"], "--graph-epochs"),
    ],
)
def test_audit_refuses_options_of_the_other_kind_of_artifact(tmp_path, capsys, task, args, flag):
    # they used to be ignored without a word (a graph audit given --relabel online trained on the stored labels)
    save_artifact(tmp_path / "a", {"x": torch.zeros(3, 4), "y": torch.zeros(3)}, {
        "domain": "graph", "task": task, "method": "random", "config": {}, "source": {"dataset": "cora"},
        "budget": 3, "seed": 0})  # fmt: skip
    assert main(["robust", "audit", str(tmp_path / "a"), *args]) == 2
    assert f"{flag} applies to" in capsys.readouterr().err


@pytest.mark.parametrize("base", ["mtt", "sre2l"])
def test_condense_teacher_epochs_zero_is_refused_not_replaced_by_the_default(monkeypatch, capsys, base):
    from condensekit.robust import cli as robust_cli

    x, y = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 0, 1])
    monkeypatch.setattr(robust_cli, "load_image_data", lambda *a, **k: ImageSplits("toy", x, y, x, y, x, y, 2))
    reached = []
    monkeypatch.setattr(robust_cli, "robust_condense", lambda *a, **k: reached.append(k) or 1 / 0)
    code = main(["robust", "condense", "--base", base, "--dataset", "mnist", "--ipc", "1", "--teacher-epochs", "0"])
    assert reached == [] and code == 2  # `0 or default` trained the experts / teacher for the default epochs
    assert "Invalid value 0 for argument --teacher-epochs. Valid values are >= 1" in capsys.readouterr().err


@pytest.mark.parametrize(("base", "flag"), [("dm", "--batch-real"), ("ptm", "--max-start-epoch")])
def test_condense_help_lists_the_base_methods_flags(base, flag, capsys):
    # the description sent users to --base X for method flags, and --help listed the verb's options only
    with pytest.raises(SystemExit) as done:
        main(["robust", "condense", "--base", base, "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and "--curvature" in out and flag in out.split(f"flags of method {base!r}:")[1]
