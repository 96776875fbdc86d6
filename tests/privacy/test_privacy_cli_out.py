"""A private verb refuses a bad --out before the release (after it, the privacy budget was spent for a set that
could not be saved), and saves the set before --eval-runs trains on it (a run stopped there lost the set)."""

from __future__ import annotations

import pytest

from condensekit.core.artifact import load_artifact
from condensekit.core.cli import main
from condensekit.core.vision.datasets import IMAGE_DATASETS


@pytest.fixture
def toy(images):  # noqa: ANN001, ANN201
    IMAGE_DATASETS.register("toy", lambda root=None, **_: images)
    yield images
    IMAGE_DATASETS._items.pop("toy")


def _argv(out) -> list[str]:  # noqa: ANN001
    return ["privacy", "dp-merf", "--dataset", "toy", "--epsilon", "2", "--delta", "1e-3", "--ipc", "2", "--steps",
            "2", "--out", str(out), "--quiet", "--device", "cpu", "--n-features", "50", "--bandwidth", "2"]  # fmt: skip


def test_an_out_that_is_a_file_is_refused_before_the_release(tmp_path, monkeypatch, capsys, toy) -> None:  # noqa: ANN001
    from condensekit.privacy import cli as privacy_cli

    reached = []
    monkeypatch.setattr(privacy_cli, "condense_private", lambda *a, **k: reached.append(k))
    target = tmp_path / "set.json"
    target.write_text("{}")
    assert main(_argv(target)) == 2 and reached == []
    assert f"Invalid value {str(target)!r} for argument --out: it is a file" in capsys.readouterr().err


def test_the_set_is_saved_before_the_evaluation(tmp_path, monkeypatch, toy) -> None:  # noqa: ANN001
    from condensekit.privacy import cli as privacy_cli

    def stopped(*a, **k):  # noqa: ANN002, ANN003, ANN202
        raise KeyboardInterrupt  # the user stops the run while the evaluation models train

    monkeypatch.setattr(privacy_cli, "evaluate_private", stopped)
    out = tmp_path / "set"
    with pytest.raises(KeyboardInterrupt):
        main([*_argv(out), "--eval-runs", "1"])
    card = load_artifact(out).card
    assert card["privacy"]["epsilon"] <= 2 and "test" not in card["metrics"]


def test_the_evaluation_is_recorded_in_the_saved_card(tmp_path, monkeypatch, toy) -> None:  # noqa: ANN001
    from condensekit.core.evaluate import Summary
    from condensekit.privacy import cli as privacy_cli

    monkeypatch.setattr(privacy_cli, "evaluate_private", lambda *a, **k: {"lr": Summary([50.0])})
    out = tmp_path / "set"
    assert main([*_argv(out), "--eval-runs", "1"]) == 0
    assert load_artifact(out).card["metrics"]["test"] == {"lr": {"mean": 50.0, "std": 0.0, "runs": [50.0]}}
