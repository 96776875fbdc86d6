"""An output the medical commands cannot write (a read-only file system, a folder without write permission) is
refused by the argument's name before any work, with exit status 2. It was an ``OSError`` traceback with status 1
after the work: ``condense --json`` on a read-only mount saved the artifact, then failed; ``evaluate --json``
rewrote the card, then failed. Root writes through permissions, so the tests make a folder read-only by refusing
every create under it as a read-only mount does (``os.open`` and ``os.mkdir`` raise ``EROFS``)."""

import errno
import json
import os
import shutil
from pathlib import Path

import pytest

from condensekit.core.cli import main
from tests.medical.test_medical_data import _write


@pytest.fixture
def root(tmp_path):
    _write(tmp_path, "breastmnist", n=(16, 6, 6))
    return tmp_path


@pytest.fixture
def read_only(tmp_path, monkeypatch):
    """A folder ``ro`` whose contents cannot be created, as on a read-only mount; patched once the test is ready."""
    ro = tmp_path / "ro"
    ro.mkdir()
    real_open, real_mkdir = os.open, os.mkdir

    def refused(path):
        return Path(os.path.abspath(path)).is_relative_to(ro)

    def fake_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and refused(path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kwargs)

    def fake_mkdir(path, *args, **kwargs):
        if refused(path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_mkdir(path, *args, **kwargs)

    def patch():
        monkeypatch.setattr(os, "open", fake_open)
        monkeypatch.setattr(os, "mkdir", fake_mkdir)

    return ro, patch


def _condense(root, out, *extra):
    return ["medical", "condense", "--flag", "breastmnist", "--root", str(root), "--method", "random", "--ipc", "1",
            "--profile", "cpu", "--select-every", "0", "--out", str(out), "--quiet", "--device", "cpu",
            *extra]  # fmt: skip


def _refused(capsys, value, argument):
    err = capsys.readouterr().err
    assert f"Invalid value {str(value)!r} for argument {argument}" in err and "cannot be written" in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("nested", [False, True])
def test_condense_out_on_a_read_only_folder(root, tmp_path, read_only, capsys, nested):
    ro, patch = read_only
    out = ro / "sub" / "art" if nested else ro / "art"
    patch()
    assert main(_condense(root, out)) == 2
    _refused(capsys, out, "--out")
    assert not any(ro.iterdir())


@pytest.mark.parametrize("option", ["--json", "--checkpoint"])
def test_condense_json_or_checkpoint_on_a_read_only_folder_leaves_no_artifact(root, tmp_path, read_only, capsys,
                                                                              option):  # fmt: skip
    ro, patch = read_only
    art, target = tmp_path / "art", ro / "x.file"
    patch()
    extra = [option, str(target)] if option == "--json" else ["--method", "dm", "--iterations", "1", option,
                                                              str(target)]  # fmt: skip
    assert main(_condense(root, art, *extra)) == 2
    _refused(capsys, target, option)
    assert not art.exists() and not any(ro.iterdir())


def test_experts_out_on_a_read_only_folder(root, tmp_path, read_only, capsys):
    ro, patch = read_only
    patch()
    argv = ["medical", "experts", "--flag", "breastmnist", "--root", str(root), "--profile", "cpu", "--num-experts",
            "1", "--epochs", "1", "--model", "mlp", "--out", str(ro / "buf"), "--device", "cpu", "--quiet"]  # fmt: skip
    assert main(argv) == 2
    _refused(capsys, ro / "buf", "--out")
    assert not any(ro.iterdir())


def test_evaluate_and_show_on_read_only_targets_keep_the_card(root, tmp_path, read_only, capsys):
    ro, patch = read_only
    art = tmp_path / "art"
    assert main(_condense(root, art)) == 0
    in_ro = ro / "art"
    shutil.copytree(art, in_ro)
    card = (art / "card.json").read_text()
    patch()
    ev = ["--models", "mlp", "--runs", "1", "--epochs", "1", "--profile", "cpu", "--device", "cpu", "--root",
          str(root)]  # fmt: skip
    capsys.readouterr()
    assert main(["medical", "evaluate", str(in_ro), *ev, "--json", str(tmp_path / "e.json")]) == 2
    _refused(capsys, in_ro, "artifact")  # its card.json is rewritten with the scores
    assert main(["medical", "evaluate", str(art), *ev, "--json", str(ro / "e.json")]) == 2
    _refused(capsys, ro / "e.json", "--json")
    assert (art / "card.json").read_text() == card and json.loads(card)["metrics"].get("test") is None
    assert main(["medical", "show", str(art), "--png", str(ro / "g.png")]) == 2
    _refused(capsys, ro / "g.png", "--png")
    assert sorted(p.name for p in ro.iterdir()) == ["art"]
