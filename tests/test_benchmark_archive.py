"""``benchmarks/common.py``'s ``archive_once``: the one way a benchmark script keeps an entry a new run replaces
(privacy's seeded-noise entries, medical's old-layout and former-overlap-rule entries): copied once under
``key/suffix`` with ``archived_from`` (and ``archive_reason``), its saved set moved beside the new one."""

import json

import pytest

from tests.bench_script import load_bench


def test_archive_once_copies_an_entry_once_with_its_set(tmp_path, monkeypatch):
    mod = load_bench("common.py", monkeypatch)
    path = tmp_path / "results.json"
    runs = tmp_path / "runs"
    folder = runs / "set"
    folder.mkdir(parents=True)
    (folder / "card.json").write_text("{}")
    mod.save_entry("a/b", {"test": 1, "artifact": "runs/set"}, path)
    assert mod.archive_once("a/b", "x=1", "why", {"x": 1}, path, when=lambda e: e["test"] == 2) is None  # not wanted
    assert mod.archive_once("none", "x=1", path=path) is None  # nothing to archive
    with pytest.raises(TypeError, match="missing the results file: pass path="):
        mod.archive_once("a/b", "x=1", "why")  # common.py has no default results file (graph_node's was)
    got = mod.archive_once("a/b", "x=1", "why", {"x": 1}, path, folder=folder, root=tmp_path)
    assert got == "a/b/x=1"
    entries = mod.load(path)["entries"]
    assert list(entries["a/b/x=1"]) == ["test", "artifact", "x", "archived_from", "archive_reason"]
    assert entries["a/b/x=1"] == {"test": 1, "artifact": "runs/set-x=1", "x": 1, "archived_from": "a/b",
                                  "archive_reason": "why"}  # fmt: skip
    assert (runs / "set-x=1" / "card.json").exists() and not folder.exists()  # the set went with its entry
    assert entries["a/b"] == {"test": 1, "artifact": "runs/set"}  # the replaced entry itself is the caller's
    mod.save_entry("a/b", {"test": 2}, path)
    before = path.read_text()
    assert mod.archive_once("a/b", "x=1", "why", path=path) is None  # archived once: the copy is never replaced
    assert path.read_text() == before
    # no reason: no archive_reason field
    mod.save_entry("d", {"test": 4, "artifact": "runs/gone"}, path)
    assert mod.archive_once("d", "x=1", path=path, folder=runs / "gone", root=tmp_path) == "d/x=1"
    copy = json.loads(path.read_text())["entries"]["d/x=1"]
    assert copy == {"test": 4, "artifact": "runs/gone", "archived_from": "d"}  # no set on disk: nothing moved


def test_archive_once_keeps_a_set_whose_archive_folder_is_taken(tmp_path, monkeypatch):
    # the set stayed put and the copy kept naming the folder the new run was about to overwrite, with no note
    mod = load_bench("common.py", monkeypatch)
    path, runs = tmp_path / "results.json", tmp_path / "runs"
    for name, card in (("other", "old"), ("other-x=1", "archived before"), ("other-x=1-2", "archived before too")):
        (runs / name).mkdir(parents=True)
        (runs / name / "card.json").write_text(card)
    mod.save_entry("c", {"test": 3, "artifact": "runs/other"}, path)
    assert mod.archive_once("c", "x=1", path=path, folder=runs / "other", root=tmp_path) == "c/x=1"
    copy = json.loads(path.read_text())["entries"]["c/x=1"]
    assert copy["artifact"] == "runs/other-x=1-3" and "other-x=1 already held another set" in copy["artifact_note"]
    assert (runs / "other-x=1-3" / "card.json").read_text() == "old" and not (runs / "other").exists()
    assert (runs / "other-x=1" / "card.json").read_text() == "archived before"  # nothing overwritten
    assert (runs / "other-x=1-2" / "card.json").read_text() == "archived before too"


def test_archive_once_refuses_a_set_outside_root_before_moving_it(tmp_path, monkeypatch):
    # moved.relative_to(root) ran after folder.rename(moved): the set had moved and no archive entry was written
    mod = load_bench("common.py", monkeypatch)
    path, outside = tmp_path / "results.json", tmp_path / "elsewhere" / "set"
    outside.mkdir(parents=True)
    mod.save_entry("e", {"test": 5, "artifact": "set"}, path)
    before = path.read_text()
    with pytest.raises(ValueError, match=r"for argument folder: the set to archive must lie under root"):
        mod.archive_once("e", "x=1", path=path, folder=outside, root=tmp_path / "runs")
    assert outside.exists() and not (outside.parent / "set-x=1").exists() and path.read_text() == before
