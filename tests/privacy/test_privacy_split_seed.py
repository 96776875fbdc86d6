"""The privacy audit loads (or is given) the real data split as the artifact's card records it, and refuses another
split of the same size: its "non-members" could be records the set was made from."""

from __future__ import annotations

from dataclasses import replace

import pytest

from condensekit.core.vision.imageset import CondensedImages, image_source
from condensekit.privacy.audit import AuditConfig, audit_artifact
from tests.privacy.conftest import make_images


def test_audit_refuses_data_drawn_with_another_split_seed(tmp_path):
    images = make_images()
    made = replace(images, info={"split_seed": 1, "val_size": len(images.y_val)})
    card = {"domain": "privacy", "method": "toy", "config": {}, "source": image_source(made), "budget": {},
            "seed": 0}  # fmt: skip
    CondensedImages(images.x_train[:8], images.y_train[:8], card).save(tmp_path / "a")
    other = replace(images, info={"split_seed": 2, "val_size": len(images.y_val)})  # same size, other records
    with pytest.raises(ValueError, match=r"'seed': 1.*'seed': 2.*seed=1"):
        audit_artifact(tmp_path / "a", AuditConfig(attack="loss", members=8, model="lr", train_steps=5), data=other)


def _upsampled(size: int):
    """The toy images at ``size`` pixels (the conftest's are 8×8), as a loader of a dataset stored at several sizes."""
    import torch.nn.functional as F

    images = make_images()
    up = {k: F.interpolate(getattr(images, k), size=(size, size)) for k in ("x_train", "x_val", "x_test")}
    return replace(images, name="toyset", **up)


def test_audit_loads_the_real_data_at_the_cards_image_size(tmp_path, monkeypatch):
    """The audit loaded the card's dataset at the registry's default size (28), whatever the set's was: a 16-pixel
    set met 28-pixel real data. It now reads it as core's load_source_data does, at the card's ``im_size``."""
    import torch

    from condensekit.core.vision.datasets import IMAGE_DATASETS

    sizes = []

    def loader(root=None, *, size=28, seed=0):
        sizes.append(size)
        return _upsampled(size)

    monkeypatch.setitem(IMAGE_DATASETS._items, "toyset", loader)
    made = _upsampled(16)
    card = {"domain": "privacy", "method": "toy", "config": {}, "source": image_source(made), "budget": {},
            "seed": 0}  # fmt: skip
    CondensedImages(made.x_train[:8], made.y_train[:8], card).save(tmp_path / "a")
    cfg = AuditConfig(attack="loss", members=8, model="lr", train_steps=5)
    rec = audit_artifact(tmp_path / "a", cfg, record=False)
    assert sizes == [16] and 0.0 <= rec["auc"] <= 1.0
    # real data whose images do not match the card's is refused, naming both shapes
    monkeypatch.setitem(IMAGE_DATASETS._items, "toyset", lambda root=None, *, size=28, seed=0: replace(
        _upsampled(size), x_train=torch.zeros(60, 3, size, size), x_val=torch.zeros(10, 3, size, size),
        x_test=torch.zeros(20, 3, size, size), mean=(0.5,) * 3, std=(0.5,) * 3))  # fmt: skip
    with pytest.raises(ValueError, match=r"images are \[1, 16, 16\].*data is \[3, 16, 16\]"):
        audit_artifact(tmp_path / "a", cfg, record=False)


def test_audit_refuses_given_data_of_another_size_channels_or_classes(tmp_path):
    """Given ``data`` was checked for its split only: a 16-pixel set audited against 28-pixel data died in a matrix
    product (``mat1 and mat2 shapes cannot be multiplied``). It is checked as loaded data is (core's check_source)."""
    made = _upsampled(16)
    card = {"domain": "privacy", "method": "toy", "config": {}, "source": image_source(made), "budget": {},
            "seed": 0}  # fmt: skip
    CondensedImages(made.x_train[:8], made.y_train[:8], card).save(tmp_path / "a")
    cfg = AuditConfig(attack="loss", members=8, model="lr", train_steps=5)
    with pytest.raises(ValueError, match=r"images are \[1, 16, 16\].*data is \[1, 28, 28\].*size=16"):
        audit_artifact(tmp_path / "a", cfg, data=_upsampled(28), record=False)
    rgb = replace(made, **{k: getattr(made, k).repeat(1, 3, 1, 1) for k in ("x_train", "x_val", "x_test")},
                  mean=(0.5,) * 3, std=(0.5,) * 3)  # fmt: skip
    with pytest.raises(ValueError, match=r"images are \[1, 16, 16\].*data is \[3, 16, 16\]"):
        audit_artifact(tmp_path / "a", cfg, data=rgb, record=False)
    k = made.num_classes
    more = replace(made, num_classes=k + 1)
    with pytest.raises(ValueError, match=rf"has {k} classes, the real 'toyset' data {k + 1}"):
        audit_artifact(tmp_path / "a", cfg, data=more, record=False)
    assert 0.0 <= audit_artifact(tmp_path / "a", cfg, data=made, record=False)["auc"] <= 1.0  # the set's own data
