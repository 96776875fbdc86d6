import json

import pytest

from condensekit.core.cli import main
from condensekit.medical.profiles import PROFILES
from tests.medical.test_medical_data import _write


@pytest.fixture
def root(tmp_path):
    _write(tmp_path, "breastmnist", n=(16, 6, 6))
    return tmp_path


def test_experts_condense_evaluate_show(root, tmp_path, capsys):
    buf = tmp_path / "buf"
    rc = main(["medical", "experts", "--flag", "breastmnist", "--root", str(root), "--profile", "cpu", "--num-experts",
               "1", "--epochs", "2", "--model", "mlp", "--out", str(buf), "--device", "cpu"])  # fmt: skip
    assert rc == 0 and (buf / "expert_0000.safetensors").exists()
    art = tmp_path / "art"
    ck = tmp_path / "ck.pt"
    cpu_stages = PROFILES.get("cpu").method_overrides("ptm")["stages"]  # PTM needs iterations >= stages: one each
    args = ["medical", "condense", "--flag", "breastmnist", "--root", str(root), "--method", "ptm", "--ipc", "2",
            "--profile", "cpu", "--experts", str(buf), "--out", str(art), "--quiet", "--device", "cpu",
            "--checkpoint", str(ck), "--model", "mlp", "--iterations", str(cpu_stages), "--syn-steps", "2",
            "--max-start-epoch", "1", "--lr-lr", "1e-8", "--select-every", "0"]  # fmt: skip
    assert main(args) == 0
    card = json.loads((art / "card.json").read_text())
    assert card["domain"] == "medical" and card["method"] == "ptm" and card["budget"]["ipc"] == 2
    assert card["config"]["syn_steps"] == 2 and card["config"]["stages"] == cpu_stages  # flag, then profile
    assert "selection" not in card and card["metrics"]["best_step"] == cpu_stages  # --select-every 0: the last set
    assert main(args) == 0  # the finished checkpoint is reused
    rc = main(["medical", "evaluate", str(art), "--root", str(root), "--models", "mlp", "--runs", "2",
               "--epochs", "2", "--profile", "cpu", "--device", "cpu"])  # fmt: skip
    assert rc == 0
    card = json.loads((art / "card.json").read_text())
    assert set(card["metrics"]["test"]["mlp"]) == {"acc", "auc"}
    png = tmp_path / "grid.png"
    assert main(["medical", "show", str(art), "--png", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_cli_errors(root, tmp_path, capsys):
    base = ["medical", "condense", "--root", str(root), "--ipc", "1", "--device", "cpu", "--quiet"]
    assert main([*base, "--flag", "nosuchmnist", "--method", "random"]) == 2
    assert "pneumoniamnist" in capsys.readouterr().err
    assert main([*base, "--flag", "breastmnist", "--method", "mtt"]) == 2
    assert "needs --experts" in capsys.readouterr().err
    assert main([*base, "--flag", "breastmnist", "--method", "dm", "--syn-steps", "3"]) == 2
    assert "Unknown option" in capsys.readouterr().err
    assert main([*base, "--flag", "breastmnist", "--method", "random", "--size", "64"]) == 2
    assert "not found" in capsys.readouterr().err
    big = ["medical", "condense", "--root", str(root), "--ipc", "99", "--flag", "breastmnist", "--method", "random"]
    assert main(big) == 2
    assert "argument ipc" in capsys.readouterr().err


def test_abbreviated_options_are_refused_by_name(root, tmp_path, capsys):
    """argparse took any unambiguous prefix: ``--run 3`` ran 3 runs, ``--select 5`` selected every 5 iterations."""
    with pytest.raises(SystemExit) as exit_:
        main(["medical", "evaluate", str(tmp_path / "art"), "--run", "3"])
    assert exit_.value.code == 2 and "unrecognized arguments: --run 3" in capsys.readouterr().err
    base = ["medical", "condense", "--root", str(root), "--flag", "breastmnist", "--method", "dm", "--device", "cpu"]
    with pytest.raises(SystemExit):
        main([*base, "--ip", "1"])  # --ipc
    assert "the following arguments are required: --ipc" in capsys.readouterr().err
    assert main([*base, "--ipc", "1", "--select", "5", "--out", str(tmp_path / "a")]) == 2  # --select-every
    assert "Unknown option(s) ['--select', '5'] for method 'dm'" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize(
    ("method", "flags", "argument"),
    [
        ("dm", ["--iterations", "0"], "iterations"),
        ("dm", ["--iterations", "-1"], "iterations"),
        ("dm", ["--iterations", "1", "--lr-img", "0"], "lr_img"),
        ("dm", ["--iterations", "1", "--batch-real", "0"], "batch_real"),
        ("dc", ["--iterations", "1", "--outer-loop", "0"], "outer_loop"),
        ("dc", ["--iterations", "1", "--inner-loop", "-1"], "inner_loop"),
        ("dc", ["--iterations", "1", "--lr-net", "-1"], "lr_net"),
        ("mtt", ["--syn-steps", "0"], "syn_steps"),
        ("mtt", ["--expert-epochs", "0"], "expert_epochs"),
        ("mtt", ["--max-start-epoch", "0"], "max_start_epoch"),
        ("mtt", ["--batch-syn", "-1"], "batch_syn"),
        ("mtt", ["--lr-teacher", "0"], "lr_teacher"),
        ("mtt", ["--lr-lr=-1e-5"], "lr_lr"),
        ("ptm", ["--lr-img", "nan"], "lr_img"),
        ("ptm", ["--overlap-every", "-1"], "overlap_every"),
        ("ptm", ["--retrain-iterations", "-3"], "retrain_iterations"),
    ],
)
def test_non_positive_method_flags_refused_naming_the_argument(root, tmp_path, capsys, method, flags, argument):
    args = ["medical", "condense", "--flag", "breastmnist", "--root", str(root), "--method", method, "--ipc", "1",
            "--profile", "cpu", "--device", "cpu", "--quiet", "--select-every", "0", "--out", str(tmp_path / "a"),
            "--experts", str(tmp_path / "no-buffer"), *flags]  # fmt: skip
    assert main(args) == 2
    assert f"argument {argument}" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()


def test_bad_eval_runs_refused_before_condensing(root, tmp_path, capsys):
    args = ["medical", "condense", "--flag", "breastmnist", "--root", str(root), "--method", "dm", "--ipc", "1",
            "--profile", "cpu", "--device", "cpu", "--quiet", "--select-every", "0", "--iterations", "1",
            "--out", str(tmp_path / "a"), "--checkpoint", str(tmp_path / "ck.pt"), "--eval-runs", "-1"]  # fmt: skip
    assert main(args) == 2
    assert "argument eval_runs" in capsys.readouterr().err
    assert not (tmp_path / "ck.pt").exists()  # refused before any condensation work


def test_evaluate_with_no_model_is_refused_and_keeps_the_card(root, tmp_path, capsys):
    art = tmp_path / "art"
    assert main(["medical", "condense", "--flag", "breastmnist", "--root", str(root), "--method", "random", "--ipc",
                 "1", "--profile", "cpu", "--device", "cpu", "--quiet", "--out", str(art)]) == 0  # fmt: skip
    ev = ["medical", "evaluate", str(art), "--root", str(root), "--runs", "1", "--epochs", "1", "--profile", "cpu",
          "--device", "cpu"]  # fmt: skip
    assert main([*ev, "--models", "mlp"]) == 0
    before = json.loads((art / "card.json").read_text())["metrics"]
    for empty in ("", " , "):
        assert main([*ev, "--models", empty]) == 2
        assert "argument models" in capsys.readouterr().err
    assert json.loads((art / "card.json").read_text())["metrics"] == before  # the mlp results were not erased


def test_grid_puts_no_finding_images_in_their_own_row(monkeypatch, tmp_path):
    import matplotlib.pyplot as plt
    import torch

    from condensekit.core.vision.imageset import CondensedImages
    from condensekit.medical.cli import save_grid

    y = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])  # the last image has no positive label
    source = {"dataset": "chestmnist", "channels": 1, "im_size": [4, 4], "mean": [0.5], "std": [0.25]}
    ci = CondensedImages(x=torch.zeros(3, 1, 4, 4), y=y, card={"source": source, "method": "dm", "budget": {"ipc": 1}})
    figs = []
    monkeypatch.setattr(plt, "close", figs.append)
    save_grid(ci, str(tmp_path / "grid.png"))
    titles = [ax.get_title(loc="left") for ax in figs[0].axes if ax.get_title(loc="left")]
    assert titles == ["class 0", "class 2", "no finding"]


def test_checkpoint_of_another_selection_or_unreadable_is_refused(root, tmp_path, capsys):
    ck = tmp_path / "ck.pt"
    base = ["medical", "condense", "--flag", "breastmnist", "--root", str(root), "--method", "dm", "--ipc", "1",
            "--profile", "cpu", "--device", "cpu", "--quiet", "--iterations", "2", "--model", "mlp",
            "--checkpoint", str(ck), "--out", str(tmp_path / "a")]  # fmt: skip
    assert main([*base, "--select-every", "1"]) == 0  # the checkpoint holds a set chosen on validation
    # reusing it without selection returned that chosen set under a card recording no selection
    assert main([*base, "--select-every", "0"]) == 2
    assert "select_every=1" in capsys.readouterr().err
    ck.write_bytes(ck.read_bytes()[:500])  # cut off: torch's own error escaped with a traceback
    assert main([*base, "--select-every", "1"]) == 2
    assert "not a readable checkpoint" in capsys.readouterr().err


def test_evaluate_offers_the_download_its_missing_file_error_names(root, tmp_path, capsys, monkeypatch):
    import medmnist.dataset

    art = tmp_path / "art"
    assert main(["medical", "condense", "--flag", "breastmnist", "--root", str(root), "--method", "random", "--ipc",
                 "1", "--profile", "cpu", "--device", "cpu", "--quiet", "--out", str(art)]) == 0  # fmt: skip
    (root / "medmnist" / "breastmnist.npz").unlink()
    ev = ["medical", "evaluate", str(art), "--root", str(root), "--device", "cpu", "--profile", "cpu"]
    assert main(ev) == 2
    assert "--download" in capsys.readouterr().err  # the error names the flag, so `evaluate` must accept it

    def offline(self):
        raise RuntimeError("Automatic download failed!")

    monkeypatch.setattr(medmnist.dataset.MedMNIST, "download", offline)
    assert main([*ev, "--download"]) == 2
    assert "could not be downloaded" in capsys.readouterr().err


def test_png_goes_to_the_path_given(root, tmp_path, capsys):
    art = tmp_path / "art"
    assert main(["medical", "condense", "--flag", "breastmnist", "--root", str(root), "--method", "random", "--ipc",
                 "1", "--profile", "cpu", "--device", "cpu", "--quiet", "--out", str(art)]) == 0  # fmt: skip
    grid = tmp_path / "grid"  # no suffix: matplotlib used to write grid.png while the command printed "png: grid"
    assert main(["medical", "show", str(art), "--png", str(grid)]) == 0
    assert grid.read_bytes()[:4] == b"\x89PNG" and not (tmp_path / "grid.png").exists()
    assert main(["medical", "show", str(art), "--png", str(tmp_path)]) == 2  # a folder: refused, nothing written
    assert "for argument --png: it is a folder" in capsys.readouterr().err


def test_condense_out_never_replaces_a_folder_that_is_not_an_artifact(root, tmp_path, capsys):
    buf = tmp_path / "buf"
    made = ["medical", "experts", "--flag", "breastmnist", "--root", str(root), "--profile", "cpu", "--num-experts",
            "1", "--epochs", "1", "--model", "mlp", "--out", str(buf), "--device", "cpu"]  # fmt: skip
    assert main(made) == 0
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    base = ["medical", "condense", "--flag", "breastmnist", "--root", str(root), "--method", "random", "--ipc", "1",
            "--profile", "cpu", "--device", "cpu", "--quiet"]  # fmt: skip
    for folder in (buf, other):  # an expert buffer, any folder: save_artifact swapped it out for the artifact
        before = sorted(p.name for p in folder.iterdir())
        assert main([*base, "--out", str(folder)]) == 2
        assert "argument --out" in capsys.readouterr().err
        assert sorted(p.name for p in folder.iterdir()) == before
    assert main([*base, "--out", str(other / "keep.txt")]) == 2  # a file: it was replaced by the artifact folder
    assert "argument --out" in capsys.readouterr().err and (other / "keep.txt").read_text() == "mine"
    art = tmp_path / "art"
    assert main([*base, "--out", str(art)]) == 0
    assert main([*base, "--out", str(art), "--seed", "1"]) == 0  # an artifact is replaced, as before
    (tmp_path / "empty").mkdir()
    assert main([*base, "--out", str(tmp_path / "empty")]) == 0


def test_condensed_set_is_saved_before_the_evaluation(root, tmp_path, monkeypatch):
    import condensekit.medical.cli as cli

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the run is stopped while its students train

    monkeypatch.setattr(cli, "evaluate_medical", killed)
    art = tmp_path / "art"
    with pytest.raises(KeyboardInterrupt):
        main(["medical", "condense", "--flag", "breastmnist", "--root", str(root), "--method", "dm", "--ipc", "1",
              "--profile", "cpu", "--device", "cpu", "--quiet", "--iterations", "1", "--select-every", "0",
              "--eval-runs", "1", "--out", str(art)])  # fmt: skip
    assert (art / "card.json").exists()  # the condensation is kept; it was saved only after the evaluation


@pytest.mark.parametrize(("flag", "argument"), [("--checkpoint-every", "checkpoint_every"),
                                                ("--select-every", "select_every")])  # fmt: skip
def test_bad_loop_counts_refused_before_the_data_is_read(tmp_path, capsys, flag, argument):
    """A typo in a count must not wait for a 224×224 ChestMNIST (gigabytes) to be read: no data root here at all."""
    args = ["medical", "condense", "--flag", "chestmnist", "--root", str(tmp_path / "none"), "--method", "dm",
            "--ipc", "1", "--device", "cpu", "--quiet", "--out", str(tmp_path / "a"), flag, "-1"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"argument {argument}" in err and "not found" not in err


@pytest.mark.parametrize(("flags", "argument"), [(["--runs", "0"], "runs"), (["--epochs", "0"], "epochs"),
                                                 (["--models", "convnet,resnet"], "model")])  # fmt: skip
def test_evaluate_refuses_bad_flags_before_reading_the_data(root, tmp_path, capsys, flags, argument):
    art = tmp_path / "art"
    assert main(["medical", "condense", "--flag", "breastmnist", "--root", str(root), "--method", "random", "--ipc",
                 "1", "--profile", "cpu", "--device", "cpu", "--quiet", "--out", str(art)]) == 0  # fmt: skip
    capsys.readouterr()
    # the data root is gone: a refusal that comes after reading the data would say "not found" instead
    assert main(["medical", "evaluate", str(art), "--root", str(tmp_path / "none"), "--device", "cpu", *flags]) == 2
    err = capsys.readouterr().err
    assert argument in err and "not found" not in err
