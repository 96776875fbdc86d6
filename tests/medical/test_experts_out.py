"""`medical experts --out` that is a file, or lies under one, is refused by the option's name before the data is
read (it failed as "[Errno 20] Not a directory: 'OUT/curvature.json'")."""

from __future__ import annotations

import pytest

from condensekit.core.cli import main


@pytest.mark.parametrize("under", [False, True])
def test_an_expert_folder_that_is_a_file_is_refused(tmp_path, capsys, under) -> None:  # noqa: ANN001
    blocker = tmp_path / "experts.json"
    blocker.write_text("{}")
    out = blocker / "buffer" if under else blocker
    code = main(["medical", "experts", "--flag", "pneumoniamnist", "--root", str(tmp_path / "no-data"),
                 "--out", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, err
    expected = f"{str(blocker)!r} is a file, so no folder can be made under it" if under else "it is a file; an expert"
    assert f"Invalid value {str(out)!r} for argument --out: " in err and expected in err


def test_show_refuses_a_png_that_is_a_folder_before_printing_the_card(tmp_path, capsys) -> None:  # noqa: ANN001
    code = main(["medical", "show", str(tmp_path / "no-artifact"), "--png", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert f"Invalid value {str(tmp_path)!r} for argument --png: it is a folder" in captured.err
