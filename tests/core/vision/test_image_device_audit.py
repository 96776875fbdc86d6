"""The image methods' set-up and steps, audited on the CPU for what would fail or wait on CUDA
(tests/device_audit.py): no deviceless factory in a step (the fresh ConvNet a step builds is made on the host and
moved: not counted), no host tensor meeting a device tensor, and at most the host syncs counted when this test
was written without augmentation (the logged values; DSA's op draw adds one per draw, core/vision/augment.py)."""

from __future__ import annotations

import pytest
import torch

from condensekit.core.vision.experts import ExpertConfig, generate_experts
from condensekit.core.vision.methods import IMAGE_METHODS, make_image_config
from tests.device_audit import audit_method, device_run

CONFIGS = {  # method: (config, host syncs per step at most)
    "random": ({}, 0),
    "dm": ({"iterations": 2, "batch_real": 8, "dsa": False}, 1),
    "dc": ({"iterations": 2, "outer_loop": 3, "inner_loop": 2, "batch_real": 8, "dsa": False}, 1),
    "mtt": ({"iterations": 2, "syn_steps": 3, "expert_epochs": 1, "max_start_epoch": 2, "lr_img": 1.0, "lr_lr": 1e-8,
             "dsa": False}, 2),  # fmt: skip
}


@pytest.fixture(scope="module")
def experts(tmp_path_factory):
    from tests.core.vision.conftest import make_tiny_images

    folder = tmp_path_factory.mktemp("experts") / "buf"
    return generate_experts(make_tiny_images(), folder, ExpertConfig(num_experts=1, epochs=3, model="convnet"))


@pytest.mark.parametrize("method", sorted(CONFIGS))
def test_image_method_steps_are_device_clean(method, tiny_images, experts):
    config, max_syncs = CONFIGS[method]
    entry = IMAGE_METHODS.get(method)
    cfg = make_image_config(method, config | ({"model": "convnet"} if config else {}))
    resources = {"experts": experts} if method == "mtt" else {}
    report = audit_method(lambda: entry.cls(tiny_images, 2, cfg, **resources), steps=0 if method == "random" else 2)
    assert report.step_factories() == [] and report.crashes() == [], report.summary()
    assert all(n <= max_syncs for n in report.syncs_per_step()), report.summary()


def test_dsa_steps_stay_device_clean(tiny_images):
    entry = IMAGE_METHODS.get("dc")
    cfg = make_image_config("dc", {"iterations": 2, "outer_loop": 2, "inner_loop": 1, "batch_real": 8})
    report = audit_method(lambda: entry.cls(tiny_images, 2, cfg), steps=1)
    assert report.step_factories() == [] and report.crashes() == [], report.summary()


GPU = "cuda"  # the device of the GPU-visit test below


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (run on a GPU visit)")
@pytest.mark.parametrize("method", sorted(CONFIGS))
def test_image_method_runs_on_cuda(method, tiny_images, experts, record_property):
    """On a GPU: two steps on CUDA with DSA on (the methods' default), a finite set on the device, and the syncs
    per step as CUDA counts them (printed; the CPU audit's figure, without DSA, is in CONFIGS)."""
    config, max_syncs = CONFIGS[method]
    entry = IMAGE_METHODS.get(method)
    with_dsa = {k: v for k, v in config.items() if k != "dsa"}
    cfg = make_image_config(method, with_dsa | ({"model": "convnet"} if config else {}))
    resources = {"experts": experts} if method == "mtt" else {}
    result, syncs = device_run(lambda: entry.cls(tiny_images, 2, cfg, **resources),
                               steps=0 if method == "random" else 2, device=GPU)  # fmt: skip
    record_property("cuda_syncs_per_step", syncs)
    print(f"image {method}: CUDA syncs per step {syncs} (CPU audit without DSA: at most {max_syncs})")
    assert all(torch.isfinite(t.float()).all() and t.device.type == torch.device(GPU).type
               for t in result.condensed.values())  # fmt: skip
