from __future__ import annotations

import json

import pytest
import torch

from condensekit.core.vision import ImageSplits
from condensekit.core.vision.experts import ExpertConfig, generate_experts
from condensekit.robust.guard import MARKER, GuardConfig, curvature_experts

CFG = ExpertConfig(num_experts=1, epochs=1, model="mlp", batch_size=8, dsa=False)


def _images() -> ImageSplits:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(16, 1, 6, 6, generator=gen)
    y = torch.arange(2).repeat(8)
    x[y == 1, :, :3] += 1.0
    return ImageSplits("toy", x, y, x[:4], y[:4], x[:4], y[:4], num_classes=2)


def test_guard_config_checks_and_regularizer():
    with pytest.raises(ValueError, match="argument curvature"):
        GuardConfig(curvature=-1)
    with pytest.raises(ValueError, match="argument h"):
        GuardConfig(h=0)
    assert not GuardConfig(curvature=0).enabled and GuardConfig().enabled
    reg = GuardConfig(curvature=5.0, h=1.5).regularizer()
    assert (reg.lam, reg.h) == (5.0, 1.5)


def test_curvature_experts_differ_from_plain_and_are_not_mixed(tmp_path):
    data = _images()
    plain = curvature_experts(data, tmp_path / "plain", CFG, None).load(0)
    curved = curvature_experts(data, tmp_path / "curv", CFG, GuardConfig(curvature=50.0, h=1.0)).load(0)
    assert torch.equal(plain[0], curved[0])  # same seeded initialisation
    assert not torch.allclose(plain[-1], curved[-1])  # the term changed the training
    assert json.loads((tmp_path / "curv" / MARKER).read_text())["curvature"]["lam"] == 50.0
    with pytest.raises(ValueError, match="was trained with"):
        curvature_experts(data, tmp_path / "curv", CFG, None)
    generate_experts(data, tmp_path / "unknown", CFG)  # a buffer made elsewhere, setting unknown
    with pytest.raises(ValueError, match="curvature setting is unknown"):
        curvature_experts(data, tmp_path / "unknown", CFG, GuardConfig())
