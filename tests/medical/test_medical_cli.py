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
    args = ["medical", "condense", "--flag", "breastmnist", "--root", str(root), "--method", "ptm", "--ipc", "2",
            "--profile", "cpu", "--experts", str(buf), "--out", str(art), "--quiet", "--device", "cpu",
            "--checkpoint", str(ck), "--model", "mlp", "--iterations", "3", "--syn-steps", "2",
            "--max-start-epoch", "1", "--lr-lr", "1e-8", "--select-every", "0"]  # fmt: skip
    assert main(args) == 0
    card = json.loads((art / "card.json").read_text())
    assert card["domain"] == "medical" and card["method"] == "ptm" and card["budget"]["ipc"] == 2
    cpu_stages = PROFILES.get("cpu").method_overrides("ptm")["stages"]
    assert card["config"]["syn_steps"] == 2 and card["config"]["stages"] == cpu_stages  # flag, then profile
    assert "selection" not in card and card["metrics"]["best_step"] == 3  # --select-every 0: the last set
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
