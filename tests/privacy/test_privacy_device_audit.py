"""The private methods' steps, audited on the CPU for what would fail or wait on CUDA (tests/device_audit.py): no
deviceless factory in a step, no host tensor meeting a device tensor, and at most the host syncs counted when this
test was written (the logged loss; PSG's Poisson-sampled real batch has a size only the device knows, one read
per private gradient)."""

from __future__ import annotations

import pytest

from condensekit.privacy import PRIVACY_METHODS
from condensekit.privacy.dp_merf import DPMERFCondensedConfig, DPMERFConfig
from condensekit.privacy.psg import PSGConfig
from tests.device_audit import audit_method

CONFIGS = {  # method: (config, host syncs per step at most)
    "dp-merf-condensed": (DPMERFCondensedConfig(epsilon=5.0, delta=1e-3, n_features=400, bandwidth=2.0, ipc=3), 1),
    "dp-merf": (DPMERFConfig(epsilon=2.0, delta=1e-3, n_features=200, bandwidth=2.0, batch_size=20, epochs=2,
                             samples_per_class=4, hidden=16, channels="4,4", kernel_size=3), 1),
    "psg": (PSGConfig(epsilon=10.0, ipc=2, outer_loop=2, inner_loop=1, batch_loop=2, batch_real=6, model="convnet",
                      delta=1e-3), 1 + 2 * 2 * 2),
}  # fmt: skip


def test_every_method_is_audited():
    assert set(CONFIGS) == set(PRIVACY_METHODS.names())


@pytest.mark.parametrize("method", sorted(CONFIGS))
def test_private_method_steps_are_device_clean(images, method):
    config, max_syncs = CONFIGS[method]
    report = audit_method(lambda: PRIVACY_METHODS.get(method).cls(images, config), steps=2)
    assert report.step_factories() == [] and report.crashes() == [], report.summary()
    assert all(n <= max_syncs for n in report.syncs_per_step()), report.summary()
