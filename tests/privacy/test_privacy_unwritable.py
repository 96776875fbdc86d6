"""The private verbs refuse an output they cannot write (a read-only folder: tests/read_only.py) by the argument's
name before the work, with status 2. After the work it cost more than time: ``dp-merf --json`` on a read-only
folder spent the privacy budget, saved the set, then failed with an ``OSError`` traceback (status 1); ``audit``
trained its shadow models, then failed on the card."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from condensekit.core.cli import main
from condensekit.core.vision import image_source
from condensekit.core.vision.datasets import IMAGE_DATASETS
from condensekit.core.vision.imageset import CondensedImages
from tests.read_only import assert_refused, record_work, refuse_writes_under


@pytest.fixture
def toy(images):  # noqa: ANN001, ANN201
    IMAGE_DATASETS.register("toy", lambda root=None, **_: images)
    yield images
    IMAGE_DATASETS._items.pop("toy")


def _no_work(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from condensekit.privacy import cli as privacy_cli

    return record_work(
        monkeypatch, privacy_cli, load_private_dataset="data", condense_private="release", audit_artifact="audit"
    )


@pytest.mark.parametrize("option", ["--out", "--json"])
def test_dp_merf_refuses_before_the_release(tmp_path, ro, monkeypatch, capsys, option) -> None:  # noqa: ANN001
    reached = _no_work(monkeypatch)
    refuse_writes_under(ro, monkeypatch)
    target = ro / "x"
    argv = ["privacy", "dp-merf", "--dataset", "toy", "--epsilon", "2", "--ipc", "2", "--quiet", "--device", "cpu",
            option, str(target)]  # fmt: skip
    if option != "--out":
        argv += ["--out", str(tmp_path / "set")]
    assert main(argv) == 2 and reached == []
    assert_refused(capsys.readouterr().err, target, option)
    assert not any(ro.iterdir()) and not (tmp_path / "set").exists()


def test_audit_refuses_a_read_only_card_or_json(toy, tmp_path, ro, monkeypatch, capsys) -> None:  # noqa: ANN001
    art = CondensedImages(toy.x_train[:4], toy.y_train[:4], {"domain": "privacy", "method": "random", "config": {},
                          "source": image_source(toy), "budget": 4, "seed": 0}).save(tmp_path / "art")  # fmt: skip
    in_ro = ro / "art"
    shutil.copytree(art, in_ro)
    card = (Path(art) / "card.json").read_text()
    reached = _no_work(monkeypatch)
    refuse_writes_under(ro, monkeypatch)
    assert main(["privacy", "audit", str(in_ro)]) == 2
    assert_refused(capsys.readouterr().err, in_ro, "artifact")  # the audit goes into its card
    assert main(["privacy", "audit", str(art), "--json", str(ro / "a.json")]) == 2
    assert_refused(capsys.readouterr().err, ro / "a.json", "--json")
    assert reached == [] and (Path(art) / "card.json").read_text() == card
    assert sorted(p.name for p in ro.iterdir()) == ["art"]
