"""condense_private and the membership audit refuse bad API input by name, before any work."""

import pytest
import torch

from condensekit.privacy import AuditConfig, audit_artifact, condense_private
from condensekit.privacy.audit import audit_set
from condensekit.privacy.dp_merf import DPMERFCondensedConfig

TINY = DPMERFCondensedConfig(epsilon=1.0, ipc=1, steps=2, n_features=20)


def test_a_dataset_name_is_refused(images) -> None:
    with pytest.raises(ValueError, match=r"Invalid value 'mnist' for argument data. Valid values are ImageSplits"):
        condense_private("mnist", "dp-merf-condensed", config=TINY)  # type: ignore[arg-type]


@pytest.mark.parametrize("steps", [2.5, "3", -1, True])
def test_steps_must_be_a_count(images, steps) -> None:
    # int(2.5) ran 2 steps under a card requesting 2; int("3") took a string
    with pytest.raises(ValueError, match=f"Invalid value {steps!r} for argument steps"):
        condense_private(images, "dp-merf-condensed", config=TINY, steps=steps)


def test_the_audit_checks_its_device_and_data(images, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    x, y = images.x_train[:4], images.y_train[:4]
    with pytest.raises(ValueError, match="'cuda:7' for argument device"):
        audit_set(x, y, images, AuditConfig(shadows=2, train_steps=1), device="cuda:7")
    with pytest.raises(ValueError, match="'cuda:7' for argument device"):
        audit_artifact(tmp_path / "nothing-there", AuditConfig(shadows=2), device="cuda:7")
    with pytest.raises(ValueError, match="'toy' for argument data"):
        audit_set(x, y, "toy", AuditConfig(shadows=2))  # type: ignore[arg-type]
