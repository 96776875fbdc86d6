"""`medical evaluate` takes an image set of any domain condensed from a MedMNIST flag (a privacy or robust set of
PneumoniaMNIST), and refuses what is not such a set (a graph artifact, an MNIST set) by name
(`load_medmnist_set`); it used to refuse every set whose domain was not `medical`. `medical show` only draws a set:
it takes any image set, an MNIST one too."""

from __future__ import annotations

import json

import pytest
import torch

from condensekit.core.artifact import save_artifact
from condensekit.core.cli import main
from condensekit.core.vision import CondensedImages, image_source
from condensekit.medical import cli as medical_cli
from condensekit.medical.data import load_medmnist
from tests.medical.test_medical_data import _write

PUBLIC = ((0.5,), (0.5,))  # the fixed constants a private set is normalised with (privacy/data.py)


@pytest.fixture
def root(tmp_path):
    _write(tmp_path, "breastmnist", n=(16, 6, 6))
    return tmp_path


def _set(root, folder, *, domain, method="dm", renorm=None, dataset=None, soft=False, budget=None):
    """A 4-image set of the tiny BreastMNIST made by ``domain`` (optionally in other constants, or under another
    dataset's name), saved at ``folder``."""
    data = load_medmnist("breastmnist", root)
    if renorm is not None:
        data = data.renormalised(*renorm)
    source = image_source(data) | ({"dataset": dataset} if dataset else {})
    card = {"domain": domain, "method": method, "config": {}, "source": source, "seed": 0,
            "budget": budget or {"ipc": 2, "images": 4}}  # fmt: skip
    ci = CondensedImages(data.x_train[:4].clone(), data.y_train[:4].clone(), card)
    if soft:
        ci.soft = torch.tensor([[0.7, 0.3], [0.6, 0.4], [0.2, 0.8], [0.4, 0.6]])
        ci.card["labels"] = {"kind": "soft", "temperature": 2.0}
    ci.save(folder)
    return folder


def _evaluate(art, root, *extra):
    return main(["medical", "evaluate", str(art), "--root", str(root), "--models", "mlp", "--runs", "1", "--epochs",
                 "1", "--profile", "cpu", "--device", "cpu", *extra])  # fmt: skip


@pytest.mark.parametrize("domain", ["privacy", "robust"])
def test_evaluate_and_show_take_a_medmnist_set_of_another_domain(root, tmp_path, capsys, domain):
    art = _set(root, tmp_path / domain, domain=domain, renorm=PUBLIC if domain == "privacy" else None)
    assert _evaluate(art, root) == 0
    out = capsys.readouterr().out
    assert "on breastmnist, IPC 2 (1 runs" in out
    card = json.loads((art / "card.json").read_text())
    assert set(card["metrics"]["test"]["mlp"]) == {"acc", "auc"}
    png = tmp_path / f"{domain}.png"
    assert main(["medical", "show", str(art), "--png", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_a_set_in_other_constants_meets_the_real_data_in_its_own(root, tmp_path, monkeypatch):
    """A private set is normalised with fixed public constants, not the loader's: the real data is re-expressed in the
    set's normalisation (as the audits do), so models train on the set and test on the same pixels."""
    seen = {}

    def capture(x, y, data, **kw):
        seen.update(x=x, y=y, data=data, **kw)
        return {}

    monkeypatch.setattr(medical_cli, "evaluate_medical", capture)
    art = _set(root, tmp_path / "p", domain="privacy", method="dp-merf", renorm=PUBLIC,
               budget={"samples_per_class": 2, "images": 4})  # fmt: skip
    assert _evaluate(art, root) == 0
    data, loader = seen["data"], load_medmnist("breastmnist", root)
    assert (tuple(data.mean), tuple(data.std)) == PUBLIC
    assert torch.allclose(data.x_test * 0.5 + 0.5, loader.denormalise(loader.x_test), atol=1e-6)
    assert seen["loss_fn"] is None and seen["y"].dtype == torch.int64


def test_a_relabelled_set_trains_on_its_soft_labels(root, tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(medical_cli, "evaluate_medical", lambda x, y, data, **kw: seen.update(y=y, **kw) or {})
    art = _set(root, tmp_path / "s", domain="robust", method="sre2l", soft=True)
    assert _evaluate(art, root) == 0
    assert seen["y"].shape == (4, 2) and seen["y"].is_floating_point()
    logits, soft = torch.tensor([[2.0, 0.0]]), seen["y"][:1]  # the distillation loss at the set's temperature, 2
    want = torch.nn.functional.cross_entropy(logits / 2.0, soft) * 4.0
    assert torch.allclose(seen["loss_fn"](logits, soft), want)
    monkeypatch.undo()  # and the real evaluation trains on them
    assert _evaluate(art, root) == 0
    assert set(json.loads((art / "card.json").read_text())["metrics"]["test"]["mlp"]) == {"acc", "auc"}


def test_what_is_not_a_medmnist_image_set_is_refused_by_evaluate_and_drawn_by_show(root, tmp_path, capsys):
    mnist = _set(root, tmp_path / "mnist", domain="privacy", method="psg", renorm=PUBLIC, dataset="mnist")
    assert main(["medical", "evaluate", str(mnist), "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert f"artifact at {str(mnist)!r} (a 'privacy' 'psg' set) was condensed from 'mnist'" in err
    assert "not a MedMNIST dataset" in err and "pneumoniamnist" in err and "`medical evaluate`" in err
    png = tmp_path / "mnist.png"
    assert main(["medical", "show", str(mnist), "--png", str(png)]) == 0  # as before sitting 25: it only draws it
    assert png.stat().st_size > 0 and "method:   psg" in capsys.readouterr().out
    graph = tmp_path / "graph"
    save_artifact(graph, {"x": torch.zeros(2, 3)}, {"domain": "graph", "task": "node_classification",
                                                      "method": "gcond", "config": {}, "source": {"dataset": "cora"},
                                                      "budget": 2, "seed": 0})  # fmt: skip
    assert _evaluate(graph, root) == 2
    assert "holds a 'graph' 'node_classification' set; `medical evaluate` needs an 'image_classification'" in (
        capsys.readouterr().err
    )


def test_a_medical_set_whose_data_changed_is_still_refused(root, tmp_path, capsys):
    art = _set(root, tmp_path / "m", domain="medical", renorm=PUBLIC)  # a medical set uses its data's constants
    assert _evaluate(art, root) == 2
    assert "was the npz replaced?" in capsys.readouterr().err
