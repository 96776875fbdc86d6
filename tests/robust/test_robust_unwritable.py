"""``robust condense`` and ``robust audit`` refuse an output they cannot write (a read-only folder:
tests/read_only.py) by the argument's name before the work, with status 2; it was an ``OSError`` traceback,
status 1, after the experts and the condensation, or after the attacks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from condensekit.core.cli import main
from condensekit.core.vision import ImageSplits, image_source
from condensekit.core.vision.datasets import IMAGE_DATASETS
from condensekit.core.vision.imageset import CondensedImages
from tests.read_only import assert_refused, refuse_writes_under


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> tuple[ImageSplits, list[str]]:
    """A tiny registered image set whose loading is recorded: the first work of both verbs."""
    x, y = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 0, 1])
    data = ImageSplits("toy", x, y, x, y, x, y, num_classes=2)
    reached: list[str] = []
    IMAGE_DATASETS.register("toy", lambda root=None, **_: reached.append("data") or data)
    from condensekit.robust import cli as robust_cli

    monkeypatch.setattr(robust_cli, "robust_condense", lambda *a, **k: reached.append("condensation"))
    yield data, reached
    IMAGE_DATASETS._items.pop("toy")


@pytest.mark.parametrize("option", ["--out", "--checkpoint"])
def test_condense_refuses_before_the_condensation(toy, ro, monkeypatch, capsys, option) -> None:  # noqa: ANN001
    _, reached = toy
    refuse_writes_under(ro, monkeypatch)
    target = ro / "x"
    argv = ["robust", "condense", "--base", "dm", "--dataset", "toy", "--ipc", "1", "--quiet", "--device", "cpu",
            option, str(target)]  # fmt: skip
    assert main(argv) == 2 and "condensation" not in reached
    assert_refused(capsys.readouterr().err, target, option)
    assert not any(ro.iterdir())


def test_audit_refuses_a_read_only_card_or_stem(toy, tmp_path, ro, monkeypatch, capsys) -> None:  # noqa: ANN001
    data, reached = toy
    art = CondensedImages(data.x_train, data.y_train, {"domain": "medical", "method": "random", "config": {},
                          "source": image_source(data), "budget": 4, "seed": 0}).save(tmp_path / "art")  # fmt: skip
    in_ro = ro / "art"
    shutil.copytree(art, in_ro)
    card = (Path(art) / "card.json").read_text()
    refuse_writes_under(ro, monkeypatch)
    ev = ["--runs", "1", "--epochs", "1", "--subset", "2", "--device", "cpu"]
    assert main(["robust", "audit", str(in_ro), *ev]) == 2
    assert_refused(capsys.readouterr().err, in_ro, "artifact")  # the audit goes into its card
    assert main(["robust", "audit", str(art), *ev, "--out", str(ro / "audit")]) == 2
    assert_refused(capsys.readouterr().err, ro / "audit.json", "out")  # audit_files: the JSON and the PNG
    assert reached == [] and (Path(art) / "card.json").read_text() == card
    assert sorted(p.name for p in ro.iterdir()) == ["art"]
