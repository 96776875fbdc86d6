"""`robust condense` refuses a bad --out before the experts, the teacher and the condensation (it was checked only
when the set was saved, after all of that), and its table names the mode a run used (``auto`` resolved)."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from condensekit.core.cli import main
from condensekit.core.vision import ImageSplits


def _toy(monkeypatch, reached: list) -> None:  # noqa: ANN001
    from condensekit.robust import cli as robust_cli

    x, y = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 0, 1])
    monkeypatch.setattr(robust_cli, "load_image_data", lambda *a, **k: ImageSplits("toy", x, y, x, y, x, y, 2))
    card = {"method": "guard-mtt", "cost": {"steps": 1, "wall_time_s": 0.1, "peak_memory_mb": 1.0}}
    fake = SimpleNamespace(card=card, save=lambda out: reached.append(("save", str(out))))
    monkeypatch.setattr(robust_cli, "robust_condense", lambda *a, **k: reached.append(("condense", k)) or fake)


def test_an_out_that_is_a_file_is_refused_before_any_work(tmp_path, monkeypatch, capsys) -> None:  # noqa: ANN001
    reached: list = []
    _toy(monkeypatch, reached)
    target = tmp_path / "set.json"
    target.write_text("{}")
    code = main(["robust", "condense", "--base", "mtt", "--dataset", "mnist", "--ipc", "1", "--out", str(target)])
    assert code == 2 and reached == []
    assert f"Invalid value {str(target)!r} for argument --out: it is a file" in capsys.readouterr().err


def test_the_table_names_the_mode_auto_resolved_to(tmp_path, monkeypatch, capsys) -> None:  # noqa: ANN001
    reached: list = []
    _toy(monkeypatch, reached)
    out = tmp_path / "set"
    assert main(["robust", "condense", "--base", "mtt", "--dataset", "mnist", "--ipc", "1", "--out", str(out)]) == 0
    assert [r[0] for r in reached] == ["condense", "save"]
    row = capsys.readouterr().out.splitlines()[2]
    assert [c.strip() for c in row.strip("|").split("|")][4] == "teacher"  # MTT's auto: curvature experts


def test_a_checkpoint_that_is_a_folder_is_named_as_such(tmp_path, monkeypatch, capsys) -> None:  # noqa: ANN001
    reached: list = []
    _toy(monkeypatch, reached)
    code = main(["robust", "condense", "--base", "dm", "--dataset", "mnist", "--ipc", "1", "--checkpoint",
                 str(tmp_path), "--out", str(tmp_path / "set")])  # fmt: skip
    assert code == 2 and reached == []  # it said the folder "has no FOLDER.guard.json"
    assert f"Invalid value {str(tmp_path)!r} for argument --checkpoint: it is a folder" in capsys.readouterr().err
