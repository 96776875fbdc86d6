"""`privacy audit` refuses the options of the other kind of audit by name: an image audit's --model and
--train-steps were ignored without a word on a node-graph artifact, and a node audit's --graph-model and
--graph-epochs on an image artifact (`robust audit` refuses its --graph-epochs the same way)."""

from __future__ import annotations

import pytest
import torch

from condensekit.core.artifact import load_artifact, save_artifact
from condensekit.core.cli import main
from condensekit.core.vision import CondensedImages, image_source


@pytest.mark.parametrize(("flag", "value"), [("--graph-epochs", "3"), ("--graph-model", "sgc")])
def test_an_image_audit_refuses_the_node_audits_options(tmp_path, capsys, images, flag, value) -> None:  # noqa: ANN001
    card = {"domain": "medical", "method": "dm", "config": {}, "source": image_source(images), "budget": 4, "seed": 0}
    CondensedImages(images.x_train[:4], images.y_train[:4], card).save(tmp_path / "dm")
    assert main(["privacy", "audit", str(tmp_path / "dm"), "--attack", "loss", flag, value]) == 2
    err = capsys.readouterr().err
    parsed = int(value) if flag == "--graph-epochs" else value
    assert f"Invalid arguments for the image artifact {str(tmp_path / 'dm')!r}: {flag} ({parsed!r}) applies to " in err
    assert "applies to node-graph audits; an image audit trains --model ('mlp') for --train-steps (500)" in err
    assert not load_artifact(tmp_path / "dm").card.get("audits")


@pytest.mark.parametrize(("flag", "value"), [("--model", "cnn"), ("--train-steps", "5")])
def test_a_node_audit_refuses_the_image_audits_options(tmp_path, capsys, flag, value) -> None:  # noqa: ANN001
    save_artifact(tmp_path / "node", {"x": torch.zeros(3, 4), "adj": torch.zeros(3, 3), "y": torch.zeros(3)}, {
        "domain": "graph", "task": "node_classification", "method": "random", "config": {},
        "source": {"dataset": "cora"}, "budget": 3, "seed": 0})  # fmt: skip
    assert main(["privacy", "audit", str(tmp_path / "node"), flag, value]) == 2
    err = capsys.readouterr().err
    parsed = int(value) if flag == "--train-steps" else value
    assert f"Invalid arguments for the node-graph artifact {str(tmp_path / 'node')!r}: {flag} ({parsed!r})" in err
    assert "applies to image audits; a node-graph audit trains --graph-model ('gcn') for --graph-epochs" in err
