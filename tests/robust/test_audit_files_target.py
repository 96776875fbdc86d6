"""`robust audit --out STEM` whose JSON or PNG cannot be written (a folder of that name, or a stem under a file) is
refused by the option's name before the audit; it failed at the write, after the attacks, naming 'path'."""

from __future__ import annotations

import pytest

from condensekit.robust.audit import audit_files


def test_a_stem_under_a_file_is_refused(tmp_path) -> None:  # noqa: ANN001
    blocker = tmp_path / "results.json"
    blocker.write_text("{}")
    with pytest.raises(ValueError) as err:
        audit_files(tmp_path / "set", out=blocker / "audit")
    assert str(err.value).startswith(f"Invalid value {str(blocker / 'audit.json')!r} for argument out: ")
    assert f"{str(blocker)!r} is a file" in str(err.value)


def test_a_stem_whose_png_is_a_folder_is_refused(tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "audit.png").mkdir()
    with pytest.raises(ValueError, match="for argument out: it is a folder"):
        audit_files(tmp_path / "set", out=tmp_path / "audit")


def test_a_new_stem_is_fine(tmp_path) -> None:  # noqa: ANN001
    files = audit_files(tmp_path / "set", out=tmp_path / "deeper" / "audit")
    assert files == {"json": str(tmp_path / "deeper" / "audit.json"), "png": str(tmp_path / "deeper" / "audit.png")}
