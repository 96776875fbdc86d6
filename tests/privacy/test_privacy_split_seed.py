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
