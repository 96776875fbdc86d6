"""The private methods' steps, audited on the CPU for what would fail or wait on CUDA (tests/device_audit.py): no
deviceless factory in a step (nor a network built on the host and moved: a copy, a sync on CUDA, per tensor), no host
tensor meeting a device tensor, and at most the host syncs counted when this test was written (the logged loss; PSG's
Poisson-sampled real batch has a size only the device knows, one read per private gradient: it was two, one per
boolean-masked tensor, and PSG's per-step network was built on the host and moved)."""

from __future__ import annotations

import pytest
import torch

from condensekit.privacy import PRIVACY_METHODS
from condensekit.privacy.dp_merf import DPMERFCondensedConfig, DPMERFConfig
from condensekit.privacy.psg import PSGConfig
from tests.device_audit import DeviceAudit, audit_method, device_run

CONFIGS = {  # method: (config, host syncs per step at most)
    "dp-merf-condensed": (DPMERFCondensedConfig(epsilon=5.0, delta=1e-3, n_features=400, bandwidth=2.0, ipc=3), 1),
    "dp-merf": (DPMERFConfig(epsilon=2.0, delta=1e-3, n_features=200, bandwidth=2.0, batch_size=20, epochs=2,
                             samples_per_class=4, hidden=16, channels="4,4", kernel_size=3), 1),
    "psg": (PSGConfig(epsilon=10.0, ipc=2, outer_loop=2, inner_loop=1, batch_loop=2, batch_real=6, model="convnet",
                      delta=1e-3), 1 + 2 * 2),
}  # fmt: skip


def test_every_method_is_audited():
    assert set(CONFIGS) == set(PRIVACY_METHODS.names())


@pytest.mark.parametrize("method", sorted(CONFIGS))
def test_private_method_steps_are_device_clean(images, method):
    config, max_syncs = CONFIGS[method]
    report = audit_method(lambda: PRIVACY_METHODS.get(method).cls(images, config), steps=2)
    assert report.step_factories(modules=True) == [] and report.crashes() == [], report.summary()
    assert all(n <= max_syncs for n in report.syncs_per_step()), report.summary()


@pytest.mark.parametrize("attack", ["loss", "lira"])
def test_membership_games_draw_on_the_host_and_move_what_they_draw(images, attack):
    from condensekit.privacy.audit import AuditConfig, audit_set

    cfg = AuditConfig(attack=attack, model="lr", train_steps=5, members=8, shadows=2, canaries=2 * (attack == "loss"))
    with DeviceAudit() as audit:
        audit_set(None, None, images, cfg, size=16)
    assert audit.problems() == [], audit.findings


def test_the_node_graph_membership_game_is_device_clean(tiny_task):
    from condensekit.core.evaluate import TrainConfig
    from condensekit.graph import NodeEvalConfig
    from condensekit.privacy.graph_audit import NodeAuditConfig, audit_node_graph

    cfg = NodeAuditConfig(attack="lira", shadows=2, members=10, canaries=2,
                          eval=NodeEvalConfig(runs=1, hidden=8, train=TrainConfig(epochs=2, val_every=2)))  # fmt: skip
    with DeviceAudit() as audit:
        audit_node_graph(None, tiny_task, cfg)
    assert audit.problems() == [], audit.findings


GPU = "cuda"  # the device of the GPU-visit test below


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (run on a GPU visit)")
@pytest.mark.parametrize("method", sorted(CONFIGS))
def test_private_method_runs_on_cuda(images, method, record_property):
    """On a GPU: two steps on CUDA, a finite set on the device, and the syncs per step as CUDA counts them
    (printed; the CPU audit's figure is in CONFIGS)."""
    config, max_syncs = CONFIGS[method]
    result, syncs = device_run(lambda: PRIVACY_METHODS.get(method).cls(images, config), device=GPU)
    record_property("cuda_syncs_per_step", syncs)
    print(f"privacy {method}: CUDA syncs per step {syncs} (CPU audit: at most {max_syncs})")
    assert all(torch.isfinite(t.float()).all() and t.device.type == torch.device(GPU).type
               for t in result.condensed.values())  # fmt: skip
