"""The robust domain's steps, audited on the CPU for what would fail or wait on CUDA (tests/device_audit.py): the
curvature plug-in inside DM / DC steps, SRe2L's recovery step, a GUARD teacher (curvature-regularised expert)
epoch and an audit's attacks make no deviceless tensor and no host tensor that meets a device tensor."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from condensekit.core.vision import ImageTrainConfig, build_image_model
from condensekit.core.vision.experts import ExpertBuffer, ExpertConfig, train_expert
from condensekit.core.vision.methods import IMAGE_METHODS, make_image_config
from condensekit.robust.attacks import AttackConfig
from condensekit.robust.audit import AuditConfig, audit_images
from condensekit.robust.guard import GuardConfig
from condensekit.robust.sre2l import SRe2L, SRe2LConfig
from tests.device_audit import DeviceAudit, audit_method, device_run
from tests.robust.conftest import make_toy_images


@pytest.mark.parametrize("base", ["dm", "dc"])
def test_curvature_plugin_steps_are_device_clean(base):
    data = make_toy_images()
    reg = GuardConfig(curvature=10.0, h=1.0, teacher=False, plugin=True).plugin_regularizer()
    cfg = make_image_config(base, {"model": "convnet", "dsa": False, "iterations": 2, "outer_loop": 2}
                            if base == "dc" else {"model": "convnet", "dsa": False, "iterations": 2})  # fmt: skip
    report = audit_method(lambda: IMAGE_METHODS.get(base).cls(data, 2, cfg, regularizer=reg), steps=2)
    assert report.step_factories() == [] and report.crashes() == [], report.summary()
    assert report.syncs_per_step() == [1, 1], report.summary()  # the logged loss


def test_sre2l_recovery_step_is_device_clean():
    data = make_toy_images()
    teacher = build_image_model("convnet_bn", channels=1, num_classes=3, im_size=(6, 6)).eval()
    report = audit_method(lambda: SRe2L(data, 2, SRe2LConfig(iterations=2), teacher=teacher), steps=2)
    assert report.step_factories() == [] and report.crashes() == [], report.summary()
    assert report.syncs_per_step() == [1, 1], report.summary()  # the three logged values, read together


def test_guard_teacher_epoch_is_device_clean(tmp_path):
    data = make_toy_images()
    config = ExpertConfig(num_experts=1, epochs=1, model="convnet", batch_size=8)
    buffer = ExpertBuffer.create(str(tmp_path / "experts"), data, config)
    with DeviceAudit() as audit:
        train_expert(data, buffer, 0, config, regularizer=GuardConfig(curvature=10.0, h=1.0).regularizer())
    assert audit.problems() == [], audit.findings


def test_an_audit_attack_is_device_clean():
    data = make_toy_images()
    config = AuditConfig(attacks=("pgd",), eps=("0.1",), models=("mlp",), runs=1, subset=6,
                         train=ImageTrainConfig(epochs=2), attack=AttackConfig(pgd_steps=2))  # fmt: skip
    with DeviceAudit() as audit:
        audit_images(data.x_train, data.y_train, data, config=config, device="cpu")
    assert audit.problems() == [], audit.findings
    syncs = Counter(f.site.split(":")[0] for f in audit.syncs)
    assert syncs["robust/attacks.py"] <= 6, syncs  # per call: the pixel-range check, the survivors, the count


def test_flip_edges_keeps_the_new_edges_on_the_graph_device(tiny_graph):
    """The added non-edges were a host tensor concatenated with the kept edges: a crash for a graph on CUDA."""
    from condensekit.robust.graph_audit import flip_edges

    with DeviceAudit() as audit:
        flip_edges(tiny_graph, 0.3, seed=0)
    assert audit.problems() == [], audit.findings


GPU = "cuda"  # the device of the GPU-visit test below


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (run on a GPU visit)")
@pytest.mark.parametrize("which", ["plugin-dm", "plugin-dc", "sre2l"])
def test_robust_steps_run_on_cuda(which, record_property):
    """On a GPU: the plug-in and SRe2L steps on CUDA, a finite set on the device, and the syncs per step as CUDA
    counts them (printed; the CPU audit's figure is 1: the logged values)."""
    data = make_toy_images()
    if which == "sre2l":
        teacher = build_image_model("convnet_bn", channels=1, num_classes=3, im_size=(6, 6)).eval()  # moved by setup
        result, syncs = device_run(lambda: SRe2L(data, 2, SRe2LConfig(iterations=2), teacher=teacher), device=GPU)
    else:
        base = which.split("-")[1]
        reg = GuardConfig(curvature=10.0, h=1.0, teacher=False, plugin=True).plugin_regularizer()
        cfg = make_image_config(base, {"model": "convnet", "iterations": 2})
        result, syncs = device_run(lambda: IMAGE_METHODS.get(base).cls(data, 2, cfg, regularizer=reg), device=GPU)
    record_property("cuda_syncs_per_step", syncs)
    print(f"robust {which}: CUDA syncs per step {syncs} (CPU audit: 1)")
    assert all(torch.isfinite(t.float()).all() and t.device.type == torch.device(GPU).type
               for t in result.condensed.values())  # fmt: skip
