"""``benchmarks/graph_node.py``'s ``archive_once``: the one way a benchmark script keeps an entry a new run replaces
(privacy's seeded-noise entries, medical's old-layout and former-overlap-rule entries): copied once under
``key/suffix`` with ``archived_from`` (and ``archive_reason``), its saved set moved beside the new one."""

import json

from tests.bench_script import load_bench


def test_archive_once_copies_an_entry_once_with_its_set(tmp_path, monkeypatch):
    mod = load_bench("graph_node.py", monkeypatch)
    path = tmp_path / "results.json"
    runs = tmp_path / "runs"
    folder = runs / "set"
    folder.mkdir(parents=True)
    (folder / "card.json").write_text("{}")
    mod.save_entry("a/b", {"test": 1, "artifact": "runs/set"}, path)
    assert mod.archive_once("a/b", "x=1", "why", {"x": 1}, path, when=lambda e: e["test"] == 2) is None  # not wanted
    assert mod.archive_once("none", "x=1", path=path) is None  # nothing to archive
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
    # no reason: no archive_reason field; a set whose target folder is taken stays put, and the copy keeps its path
    (runs / "other").mkdir()
    (runs / "other-x=1").mkdir()
    mod.save_entry("c", {"test": 3, "artifact": "runs/other"}, path)
    assert mod.archive_once("c", "x=1", path=path, folder=runs / "other", root=tmp_path) == "c/x=1"
    copy = json.loads(path.read_text())["entries"]["c/x=1"]
    assert copy == {"test": 3, "artifact": "runs/other", "archived_from": "c"}
    assert (runs / "other").exists()
