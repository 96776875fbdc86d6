import pytest
import torch

from condensekit.core.artifact import load_artifact, save_artifact
from condensekit.core.cli import main
from condensekit.core.vision import CondensedImages, image_source
from condensekit.core.vision.datasets import IMAGE_DATASETS


@pytest.fixture
def toy(images):
    """Register the tiny data set as the dataset ``toy`` for the CLI."""
    IMAGE_DATASETS.register("toy", lambda root=None, **_: images)
    yield images
    IMAGE_DATASETS._items.pop("toy")


def test_account_prints_both_epsilons(capsys):
    assert main(["privacy", "account", "--sigma", "5", "--delta", "1e-5"]) == 0
    out = capsys.readouterr().out
    assert "= 0.7945" in out and "analytic Gaussian, exact) = 0.7255" in out
    assert main(["privacy", "account", "--target-epsilon", "1", "--delta", "1e-5"]) == 0
    assert "sigma = 3.73" in capsys.readouterr().out
    assert main(["privacy", "account", "--sigma", "5", "--delta", "0"]) == 2
    assert "argument delta" in capsys.readouterr().err


def test_abbreviated_options_are_refused_by_name(capsys):
    """``dp-merf --ip 3`` was taken for ``--ipc 3``: a condensed set instead of the generator; now it reaches the
    method's flags, which refuse it. ``account --sig 5`` was ``--sigma 5``."""
    assert main(["privacy", "dp-merf", "--epsilon", "1", "--ip", "3"]) == 2
    err = capsys.readouterr().err
    assert "Unknown option(s) ['--ip', '3'] for method 'dp-merf'" in err
    assert "the options of `privacy dp-merf` itself are" in err and "'--ipc'" in err  # the option meant is listed
    with pytest.raises(SystemExit) as exit_:
        main(["privacy", "account", "--sig", "5"])
    assert exit_.value.code == 2 and "unrecognized arguments: --sig" in capsys.readouterr().err


def test_account_of_an_artifact_without_privacy_record_errors(tmp_path, capsys, images):
    data = images
    card = {"domain": "medical", "method": "dm", "config": {}, "source": image_source(data), "budget": 4, "seed": 0}
    CondensedImages(data.x_train[:4], data.y_train[:4], card).save(tmp_path / "dm")
    assert main(["privacy", "account", str(tmp_path / "dm")]) == 2
    assert "has no privacy record" in capsys.readouterr().err


def test_dp_merf_condensed_then_account_then_audit(tmp_path, capsys, toy):
    out = tmp_path / "a"
    argv = ["privacy", "dp-merf", "--dataset", "toy", "--epsilon", "2", "--delta", "1e-3", "--ipc", "2",
            "--steps", "5", "--out", str(out), "--quiet", "--device", "cpu", "--n-features", "100", "--bandwidth", "2"]
    assert main(argv) == 0
    assert "(ε=" in capsys.readouterr().out
    assert load_artifact(out).card["config"]["n_features"] == 100
    assert main(["privacy", "account", str(out)]) == 0
    assert "privacy:  (ε=" in capsys.readouterr().out
    assert main(["privacy", "audit", str(out), "--attack", "loss", "--members", "4", "--model", "lr",
                 "--train-steps", "5"]) == 0
    assert "loss audit" in capsys.readouterr().out
    assert load_artifact(out).card["audits"][0]["attack"] == "loss"
    assert main(argv + ["--no-such-flag", "1"]) == 2
    assert "Valid options are" in capsys.readouterr().err


@pytest.mark.parametrize("shadows", ["1"])
def test_audit_bad_shadows(tmp_path, capsys, shadows):
    assert main(["privacy", "audit", str(tmp_path / "missing"), "--shadows", shadows]) == 2
    assert "argument shadows" in capsys.readouterr().err


def test_audit_refuses_a_task_without_a_membership_game(tmp_path, capsys):
    save_artifact(tmp_path / "gl", {"x": torch.zeros(3, 4), "y": torch.zeros(3)}, {
        "domain": "graph", "task": "graph_classification", "method": "kidd", "config": {},
        "source": {"dataset": "mutag"}, "budget": 3, "seed": 0})  # fmt: skip
    assert main(["privacy", "audit", str(tmp_path / "gl")]) == 2
    assert "'graph_classification' set, which has no membership game" in capsys.readouterr().err


@pytest.mark.real_data
def test_audit_a_cora_graph_artifact(tmp_path, capsys, monkeypatch):
    from condensekit.graph import condense_nodes, prepare_task

    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path / "cache"))
    cond = condense_nodes(prepare_task("cora", device="cpu"), "random", budget=35, seed=0, progress=False)
    path = cond.save(tmp_path / "cora-random-35")
    assert main(["privacy", "audit", str(path), "--canaries", "3"]) == 2
    assert "apply to image artifacts here" in capsys.readouterr().err
    code = main(["privacy", "audit", str(path), "--attack", "lira", "--shadows", "2", "--graph-epochs", "20",
                 "--device", "cpu"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert "140 members vs 140 non-members" in capsys.readouterr().out
    audit = load_artifact(path).card["audits"][-1]
    assert audit["kind"] == "membership" and audit["members_from"] == "train nodes" and audit["shadows"] == 2


@pytest.mark.parametrize(
    ("argv", "method", "flag", "absent"),
    [
        (["dp-merf"], "dp-merf", "--hidden", "--tv"),
        (["dp-merf", "--ipc", "10"], "dp-merf-condensed", "--tv", "--hidden"),  # --ipc runs the condensed set
        (["psg"], "psg", "--inner-loop", "--tv"),
    ],
)
def test_help_lists_the_flags_of_the_method_the_verb_runs(argv, method, flag, absent, capsys):
    # method flags follow the verb, and --help listed only the verb's options
    with pytest.raises(SystemExit) as done:
        main(["privacy", *argv, "--help"])
    out = capsys.readouterr().out
    listed = out.split(f"flags of method {method!r}")[1]
    assert done.value.code == 0 and "--epsilon" in out and flag in listed and absent not in listed
