"""An expert buffer's card records the regulariser its experts were trained with, and a buffer trained with another
one is refused: a plain trajectory-matching run silently matched curvature-trained (GUARD) experts when pointed at
their folder, because only a side file (``curvature.json``) knew the term."""

from __future__ import annotations

import json

import pytest

from condensekit.core.objectives.curvature import CurvatureRegularizer
from condensekit.core.vision.experts import CARD, LEGACY_MARKER, ExpertBuffer, ExpertConfig, generate_experts

CFG = ExpertConfig(num_experts=1, epochs=1, model="mlp", batch_size=8, dsa=False)
CURV = CurvatureRegularizer(lam=5.0, h=1.0)


def test_the_card_records_the_regularizer(tmp_path, tiny_images):
    assert generate_experts(tiny_images, tmp_path / "plain", CFG).card["regularizer"] is None
    buf = generate_experts(tiny_images, tmp_path / "curv", CFG, regularizer=CURV)
    card = json.loads((tmp_path / "curv" / CARD).read_text())
    assert card["regularizer"] == CURV.record() and buf.regularizer == CURV.record()
    assert not (tmp_path / "curv" / LEGACY_MARKER).exists()  # one source of truth: the card


def test_a_buffer_of_another_regularizer_is_refused(tmp_path, tiny_images):
    folder = tmp_path / "curv"
    generate_experts(tiny_images, folder, CFG, regularizer=CURV)
    with pytest.raises(ValueError, match=r"curv'.*regulariser.*'lam': 5\.0.*None"):
        generate_experts(tiny_images, folder, CFG)  # a plain run on a curvature buffer
    with pytest.raises(ValueError, match=r"'lam': 5\.0.*'lam': 7\.0"):
        generate_experts(tiny_images, folder, CFG, regularizer=CurvatureRegularizer(lam=7.0, h=1.0))
    generate_experts(tiny_images, tmp_path / "plain", CFG)
    with pytest.raises(ValueError, match=r"plain'.*None.*'lam': 5\.0"):
        generate_experts(tiny_images, tmp_path / "plain", CFG, regularizer=CURV)
    assert generate_experts(tiny_images, folder, CFG, regularizer=CURV).regularizer == CURV.record()


def test_open_refuses_another_regularizer_when_asked(tmp_path, tiny_images):
    folder = tmp_path / "curv"
    generate_experts(tiny_images, folder, CFG, regularizer=CURV)
    with pytest.raises(ValueError, match=r"trained with regulariser \{'lam': 5\.0.*this run expects None.*folder"):
        ExpertBuffer.open(folder, data=tiny_images, regularizer=None)
    assert ExpertBuffer.open(folder, regularizer=CURV.record()).expects == CURV.record()
    # opened without saying: readable (an attack on the experts takes either kind), taken for plain by matchers
    unchecked = ExpertBuffer.open(folder)
    assert unchecked.regularizer == CURV.record() and unchecked.expects is None
    with pytest.raises(ValueError, match=r"this run expects None"):
        unchecked.check_regularizer(unchecked.expects)


def test_old_buffers_read_the_marker_else_are_plain(tmp_path, tiny_images):
    """Buffers made before the card had the field: the marker GUARD wrote says how they were trained; without one
    they are plain (made by ``generate_experts``, which had no regulariser record)."""
    for name, marker in (("old-curv", {"curvature": CURV.record()}), ("old-plain", {"curvature": None}), ("old", None)):
        folder = tmp_path / name
        generate_experts(tiny_images, folder, CFG)
        card = json.loads((folder / CARD).read_text())
        del card["regularizer"]
        (folder / CARD).write_text(json.dumps(card))
        if marker is not None:
            (folder / LEGACY_MARKER).write_text(json.dumps(marker))
    assert ExpertBuffer.open(tmp_path / "old-curv").regularizer == CURV.record()
    assert ExpertBuffer.open(tmp_path / "old-plain").regularizer is None
    assert ExpertBuffer.open(tmp_path / "old").regularizer is None
    with pytest.raises(ValueError, match=r"old-curv'.*'lam': 5\.0.*None"):
        generate_experts(tiny_images, tmp_path / "old-curv", CFG)
    generate_experts(tiny_images, tmp_path / "old-curv", CFG, regularizer=CURV)  # its own setting: reused
    generate_experts(tiny_images, tmp_path / "old", CFG)
    with pytest.raises(ValueError, match=r"old'.*None.*'lam': 5\.0"):
        generate_experts(tiny_images, tmp_path / "old", CFG, regularizer=CURV)
    (tmp_path / "old-curv" / LEGACY_MARKER).write_text("{not json")
    with pytest.raises(ValueError, match=r"curvature\.json.*not readable"):
        ExpertBuffer.open(tmp_path / "old-curv").regularizer  # noqa: B018


def test_a_stale_marker_without_a_buffer_is_replaced_by_the_card(tmp_path, tiny_images):
    # a GUARD run refused before its buffer began left a marker alone: no expert was trained under it
    folder = tmp_path / "buf"
    folder.mkdir()
    (folder / LEGACY_MARKER).write_text(json.dumps({"curvature": {"lam": 100.0}}))
    assert generate_experts(tiny_images, folder, CFG).regularizer is None
    assert not (folder / LEGACY_MARKER).exists()


def test_a_regularizer_the_card_cannot_record_is_refused(tmp_path, tiny_images):
    def bare(model, x, y):
        return x.new_zeros(())

    with pytest.raises(ValueError, match=r"argument regularizer.*record\(\)"):
        generate_experts(tiny_images, tmp_path / "buf", CFG, regularizer=bare)
    assert not (tmp_path / "buf" / CARD).exists()


def test_mtt_keeps_what_its_buffer_expects(tmp_path, tiny_images):
    """MTT re-opens the buffer it is given: with the expectation of that buffer object, so a buffer opened as plain
    (``ExpertBuffer.open(folder)``) that holds curvature-trained experts is refused, and one opened for them works."""
    from condensekit.core.vision.methods.mtt import MTT, MTTConfig

    folder = tmp_path / "curv"
    generate_experts(tiny_images, folder, CFG, regularizer=CURV)
    cfg = MTTConfig(iterations=1, syn_steps=1, expert_epochs=1, max_start_epoch=1, model="mlp", dsa=False)
    with pytest.raises(ValueError, match=r"trained with regulariser \{'lam': 5\.0.*this run expects None"):
        MTT(tiny_images, 1, cfg, experts=ExpertBuffer.open(folder))
    assert MTT(tiny_images, 1, cfg, experts=ExpertBuffer.open(folder, regularizer=CURV.record())).buffer.expects == (
        CURV.record()
    )
