"""The robust audit loads (or is given) the real data split as the artifact's card records it, and refuses another
split: an audit on MNIST re-derived with another split seed tested on images the set may have been selected on."""

from __future__ import annotations

from dataclasses import replace

import pytest

from condensekit.core.vision.datasets import IMAGE_DATASETS
from condensekit.core.vision.imageset import CondensedImages, image_source
from condensekit.core.vision.train import ImageTrainConfig
from condensekit.robust.audit import AuditConfig, audit_artifact
from condensekit.robust.data import data_for_card
from tests.core.vision.conftest import make_tiny_images


def _drawn(seed: int):
    return replace(make_tiny_images(seed=seed), name="toyset", info={"split_seed": seed, "val_size": 8})


def test_data_for_card_loads_the_recorded_split(monkeypatch):
    seen = []
    monkeypatch.setitem(IMAGE_DATASETS._items, "toyset", lambda root=None, *, size=28, seed=0: seen.append(seed)
                        or _drawn(seed))  # fmt: skip
    assert data_for_card({"source": image_source(_drawn(3))}).split_record()["seed"] == 3 and seen == [3]


def test_the_audit_refuses_given_data_of_another_split(tmp_path):
    card = {"domain": "robust", "method": "toy", "config": {}, "source": image_source(_drawn(3)), "budget": {},
            "seed": 0}  # fmt: skip
    data = _drawn(3)
    CondensedImages(data.x_train[:4], data.y_train[:4], card).save(tmp_path / "a")
    with pytest.raises(ValueError, match=r"'seed': 3.*'seed': 5.*seed=3"):
        cheap = AuditConfig(attacks=("fgsm",), eps=("0.1",), models=("mlp",), runs=1, train=ImageTrainConfig(epochs=1))
        audit_artifact(tmp_path / "a", config=cheap, data=_drawn(5), device="cpu")  # cheap, should it run
