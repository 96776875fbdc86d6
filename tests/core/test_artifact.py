"""Artifacts: safetensors + JSON card round trip, and every way a damaged artifact is refused."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from condensekit.core.artifact import (
    CARD_FILE,
    FORMAT,
    TENSORS_FILE,
    Artifact,
    check_artifact_target,
    format_card,
    load_artifact,
    save_artifact,
    update_card,
)


def _card(**extra: object) -> dict:
    card = {
        "domain": "graph",
        "task": "node_classification",
        "method": "gcond",
        "config": {"lr_feat": 1e-4, "outer_loops": 20},
        "source": {"dataset": "cora", "split": "public"},
        "budget": 70,
        "seed": 0,
    }
    card.update(extra)
    return card


def _tensors() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 4, generator=g, requires_grad=True)
    return {
        "x": x,
        "adj": torch.rand(6, 6, generator=g).t(),  # non-contiguous
        "y": torch.tensor([0, 0, 1, 1, 2, 2]),
    }


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    return save_artifact(tmp_path / "art", _tensors(), _card(metrics={"test_acc": 0.81}))


def test_round_trip(saved: Path) -> None:
    art = load_artifact(saved)
    assert isinstance(art, Artifact) and art.path == saved
    want = _tensors()
    assert set(art.tensors) == set(want)
    for name, t in want.items():
        assert torch.equal(art.tensors[name], t.detach())
        assert art.tensors[name].dtype == t.dtype
    card = art.card
    assert card["format"] == FORMAT and card["format_version"] == 1
    assert card["method"] == "gcond" and card["domain"] == "graph" and card["task"] == "node_classification"
    assert card["config"] == {"lr_feat": 1e-4, "outer_loops": 20}
    assert card["source"]["dataset"] == "cora" and card["budget"] == 70 and card["seed"] == 0
    assert card["metrics"] == {"test_acc": 0.81}
    assert card["tensors"]["x"] == {"shape": [6, 4], "dtype": "float32"}
    assert card["tensors"]["y"] == {"shape": [6], "dtype": "int64"}
    assert len(card["sha256"]) == 64
    assert {"condensekit", "torch", "python"} <= set(card["versions"])
    assert card["created"].endswith("+00:00")
    assert card["privacy"] is None and card["audits"] == []


def test_card_argument_not_modified(tmp_path: Path) -> None:
    card = _card()
    save_artifact(tmp_path / "a", _tensors(), card)
    assert card == _card()


def test_truncated_tensors_file_fails(saved: Path) -> None:
    f = saved / TENSORS_FILE
    f.write_bytes(f.read_bytes()[:-10])
    with pytest.raises(ValueError, match="does not match its card"):
        load_artifact(saved)


def test_flipped_byte_fails(saved: Path) -> None:
    f = saved / TENSORS_FILE
    data = bytearray(f.read_bytes())
    data[-3] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"truncated or modified"):
        load_artifact(saved)


def _edit_card(path: Path, edit) -> None:
    card = json.loads((path / CARD_FILE).read_text())
    edit(card)
    (path / CARD_FILE).write_text(json.dumps(card))


def test_edited_shape_in_card_fails(saved: Path) -> None:
    _edit_card(saved, lambda c: c["tensors"]["x"].update(shape=[6, 5]))
    with pytest.raises(ValueError, match=r"'x' has shape \[6, 4\] but the card says \[6, 5\]"):
        load_artifact(saved)


def test_edited_dtype_and_names_fail(saved: Path) -> None:
    _edit_card(saved, lambda c: c["tensors"]["y"].update(dtype="int32"))
    with pytest.raises(ValueError, match=r"'y' has dtype int64 but the card says int32"):
        load_artifact(saved)
    _edit_card(saved, lambda c: (c["tensors"]["y"].update(dtype="int64"), c["tensors"].pop("adj")))
    with pytest.raises(ValueError, match="the card lists tensors"):
        load_artifact(saved)


def test_missing_card_fails(saved: Path) -> None:
    (saved / CARD_FILE).unlink()
    with pytest.raises(FileNotFoundError, match=CARD_FILE):
        load_artifact(saved)


def test_missing_folder_and_tensors_fail(tmp_path: Path, saved: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_artifact(tmp_path / "nowhere")
    (saved / TENSORS_FILE).unlink()
    with pytest.raises(FileNotFoundError, match=TENSORS_FILE):
        load_artifact(saved)


def test_bad_card_json_and_format_fail(saved: Path) -> None:
    (saved / CARD_FILE).write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_artifact(saved)
    (saved / CARD_FILE).write_text(json.dumps({**_card(), "format": "other"}))
    with pytest.raises(ValueError, match="not a condensekit artifact"):
        load_artifact(saved)
    (saved / CARD_FILE).write_text(json.dumps({**_card(), "format": FORMAT, "format_version": 2}))
    with pytest.raises(ValueError, match="format_version 2"):
        load_artifact(saved)


def test_not_safetensors_fails(tmp_path: Path) -> None:
    path = save_artifact(tmp_path / "a", _tensors(), _card())
    junk = b"\x00" * 64
    (path / TENSORS_FILE).write_bytes(junk)
    _edit_card(path, lambda c: c.update(sha256=hashlib.sha256(junk).hexdigest()))
    with pytest.raises(ValueError, match="not a valid safetensors file"):
        load_artifact(path)


def test_domain_mismatch_fails(tmp_path: Path) -> None:
    path = save_artifact(tmp_path / "m", {"x": torch.zeros(2, 1, 4, 4)}, _card(domain="medical"))
    assert load_artifact(path, domain="medical").domain == "medical"
    msg = r"is a 'medical' artifact; `graph evaluate` needs a 'graph' artifact"
    with pytest.raises(ValueError, match=msg):
        load_artifact(path, domain="graph", purpose="`graph evaluate`")
    with pytest.raises(ValueError, match=r"'medical' artifact.*'graph' artifact"):
        load_artifact(path, domain="graph")


def test_missing_required_key_fails(tmp_path: Path) -> None:
    card = _card()
    del card["seed"], card["budget"]
    with pytest.raises(ValueError, match=r"missing required key\(s\) \['budget', 'seed'\]"):
        save_artifact(tmp_path / "a", _tensors(), card)
    assert not (tmp_path / "a").exists()


def test_bad_fields_fail(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'privacy' is missing"):
        save_artifact(tmp_path / "a", _tensors(), _card(privacy={"epsilon": 1.0}))
    with pytest.raises(ValueError, match="'source' must be a dict"):
        save_artifact(tmp_path / "a", _tensors(), _card(source="cora"))
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        save_artifact(tmp_path / "a", _tensors(), _card(config={"model": object()}))
    with pytest.raises(ValueError, match="not a torch.Tensor"):
        save_artifact(tmp_path / "a", {"x": [1, 2]}, _card())
    assert not (tmp_path / "a").exists()


def test_no_tmp_leftovers(tmp_path: Path, saved: Path) -> None:
    save_artifact(tmp_path / "art", _tensors(), _card())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art"]
    assert sorted(p.name for p in saved.iterdir()) == [CARD_FILE, TENSORS_FILE]


def test_save_over_existing_replaces(saved: Path) -> None:
    (saved / "stray.txt").write_text("old")
    new = {"x": torch.ones(3, 2)}
    save_artifact(saved, new, _card(method="dm", metrics={"test_acc": 0.5}))
    art = load_artifact(saved)
    assert set(art.tensors) == {"x"} and torch.equal(art.tensors["x"], torch.ones(3, 2))
    assert art.card["method"] == "dm" and art.card["metrics"] == {"test_acc": 0.5}
    assert not (saved / "stray.txt").exists()


def test_shared_storage_views_are_saved(tmp_path: Path) -> None:
    base = torch.arange(12.0).reshape(3, 4)
    path = save_artifact(tmp_path / "a", {"a": base, "b": base[1:], "c": base.t()}, _card())
    art = load_artifact(path)
    assert torch.equal(art.tensors["b"], base[1:]) and torch.equal(art.tensors["c"], base.t())


def test_update_card_merges(saved: Path) -> None:
    card = update_card(saved, metrics={"val_acc": 0.79}, audits=[{"kind": "mia", "auc": 0.52}])
    assert card["metrics"] == {"test_acc": 0.81, "val_acc": 0.79}
    audit = {"kind": "robust", "acc": 0.4}
    update_card(saved, metrics={"test_acc": 0.82}, audits=audit, cost={"seconds": 3.5})
    art = load_artifact(saved)
    assert art.card["metrics"] == {"test_acc": 0.82, "val_acc": 0.79}
    assert [a["kind"] for a in art.card["audits"]] == ["mia", "robust"]
    assert art.card["cost"] == {"seconds": 3.5}
    with pytest.raises(ValueError, match="cannot change"):
        update_card(saved, sha256="0" * 64)
    with pytest.raises(ValueError, match="must be a dict"):
        update_card(saved, metrics=[1])
    assert sorted(p.name for p in saved.iterdir()) == [CARD_FILE, TENSORS_FILE]


def test_update_card_refuses_damaged_artifact(saved: Path) -> None:
    f = saved / TENSORS_FILE
    f.write_bytes(f.read_bytes()[:-1])
    with pytest.raises(ValueError, match="does not match its card"):
        update_card(saved, metrics={"x": 1.0})


def test_format_card(saved: Path) -> None:
    update_card(saved, privacy={"epsilon": 2.0, "delta": 1e-5, "accountant": "rdp"}, cost={"seconds": 12.0},
                steps={"run": 2, "config": 300})  # fmt: skip
    text = format_card(load_artifact(saved).card)
    for needle in (
        "steps:    run=2, config=300",
        "gcond",
        "graph / node_classification",
        "dataset=cora",
        "budget:   70",
        "seed:     0",
        "6×4",
        "float32",
        "test_acc: 0.81",
        "seconds=12",
        "ε=2",
        "rdp",
        "torch=",
    ):
        assert needle in text, needle


def test_a_task_other_than_the_callers_is_refused(tmp_path) -> None:
    from condensekit.core.artifact import load_artifact, save_artifact

    card = {"domain": "graph", "task": "graph_classification", "method": "toy"}
    card |= {"config": {}, "source": {"dataset": "toy"}, "budget": {}, "seed": 0}
    save_artifact(tmp_path / "a", {"x": torch.zeros(2, 3)}, card)
    assert load_artifact(tmp_path / "a", task="graph_classification").card["task"] == "graph_classification"
    want = r"'graph' 'graph_classification' set; `x` needs a 'node_classification'.*here"
    with pytest.raises(ValueError, match=want):
        load_artifact(tmp_path / "a", task="node_classification", purpose="`x`", hint=" (here)")


def test_save_replaces_an_artifact_folder(saved: Path) -> None:
    save_artifact(saved, {"x": torch.ones(2, 2)}, _card(seed=1))
    art = load_artifact(saved)
    assert set(art.tensors) == {"x"} and art.card["seed"] == 1


def test_save_refuses_a_folder_that_is_not_an_artifact(tmp_path: Path) -> None:
    # an expert buffer (or any folder) given as --out was swapped out for the artifact and deleted
    buf = tmp_path / "buffer"
    buf.mkdir()
    (buf / "expert_0.pt").write_bytes(b"weights")
    (buf / CARD_FILE).write_text('{"format": "condensekit-experts"}')
    with pytest.raises(ValueError, match=r"'.*buffer'.*argument path.*new path, an empty folder or an existing"):
        save_artifact(buf, _tensors(), _card())
    assert sorted(p.name for p in buf.iterdir()) == [CARD_FILE, "expert_0.pt"]
    assert (buf / "expert_0.pt").read_bytes() == b"weights"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["buffer"]  # no temporary folder left beside it


def test_save_refuses_a_file(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    with pytest.raises(ValueError, match=r"notes\.txt.*argument path: it is a file"):
        save_artifact(notes, _tensors(), _card())
    assert notes.read_text() == "mine"


def test_save_into_a_missing_or_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for target in (tmp_path / "new" / "deeper", tmp_path / "empty"):
        assert load_artifact(save_artifact(target, _tensors(), _card())).card["method"] == "gcond"


def test_check_artifact_target_names_the_callers_argument(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="argument out"):
        check_artifact_target(tmp_path / "f", argument="out")
    check_artifact_target(tmp_path / "missing", argument="out")
