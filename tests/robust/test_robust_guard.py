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
    assert (reg.lam, reg.h, reg.reduction) == (5.0, 1.5, "mean")
    plug = GuardConfig(curvature=5.0, h=1.5).plugin_regularizer()
    assert (plug.lam, plug.h, plug.reduction) == (5.0, 1.5, "mean")  # defaults: the teacher's term
    plug = GuardConfig(curvature=5.0, h=1.5, plugin_curvature=40.0, plugin_reduction="sum").plugin_regularizer()
    assert (plug.lam, plug.h, plug.reduction) == (40.0, 1.5, "sum")
    with pytest.raises(ValueError, match="argument plugin_curvature"):
        GuardConfig(plugin_curvature=-1.0)
    with pytest.raises(ValueError, match="argument reduction"):
        GuardConfig(plugin_reduction="median")


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


def test_modes_resolve_per_base():
    from condensekit.robust.guard import resolve_mode, uses_experts

    assert uses_experts("mtt") and uses_experts("ptm") and not uses_experts("dm")
    assert resolve_mode("mtt", "auto") == (True, False) and resolve_mode("dm", "auto") == (False, True)
    assert resolve_mode("dc", "plugin") == (False, True) and resolve_mode("mtt", "both") == (True, True)
    with pytest.raises(ValueError, match="has no teacher"):
        resolve_mode("dm", "teacher")
    with pytest.raises(ValueError, match="argument mode"):
        resolve_mode("mtt", "sometimes")


def test_robust_condense_guard_mtt_and_plugin_dm(tmp_path, monkeypatch):
    from condensekit.robust.guard import robust_condense

    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path / "cache"))
    data = _images()
    ecfg = ExpertConfig(num_experts=1, epochs=2, model="mlp", batch_size=8, dsa=False)
    mtt_cfg = {"model": "mlp", "syn_steps": 2, "expert_epochs": 1, "max_start_epoch": 1, "dsa": False}
    plain = robust_condense(data, "mtt", ipc=2, config=mtt_cfg, expert_config=ecfg, steps=2, progress=False)
    guard = GuardConfig(curvature=10.0, h=1.0)
    curved = robust_condense(data, "mtt", ipc=2, guard=guard, config=mtt_cfg, expert_config=ecfg, steps=2,
                             progress=False)  # fmt: skip
    assert plain.card["method"] == "mtt" and curved.card["method"] == "guard-mtt"
    assert curved.card["domain"] == "robust" and curved.card["config"]["guard"]["curvature"] == 10.0
    assert plain.card["config"]["experts"]["folder"].endswith("toy-mlp-e2-plain")
    assert curved.card["config"]["experts"]["curvature"]["lam"] == 10.0
    assert not torch.allclose(plain.x, curved.x)  # other experts, other images
    assert curved.lr is not None
    calls = []
    reg = GuardConfig(curvature=1.0, teacher=False, plugin=True)
    monkeypatch.setattr(
        GuardConfig, "plugin_regularizer", lambda self: lambda m, x, y: calls.append(x.shape) or x.sum() * 0
    )
    dm = robust_condense(data, "dm", ipc=2, guard=reg, config={"model": "mlp", "batch_real": 4, "dsa": False}, steps=3,
                         progress=False)  # fmt: skip
    assert dm.card["method"] == "guard-dm" and len(calls) == 3 and calls[0][0] == 4
    with pytest.raises(ValueError, match="has no teacher"):
        robust_condense(data, "dm", ipc=2, guard=GuardConfig(), steps=1, progress=False)


@pytest.mark.parametrize("base", ["dm", "dc"])
def test_plugin_curvature_changes_the_synthetic_images(base):
    from condensekit.robust.guard import robust_condense

    data = _images()
    cfg = {"model": "mlp", "dsa": False}
    plain = robust_condense(data, base, ipc=2, config=cfg, steps=2, progress=False)
    reg = GuardConfig(curvature=100.0, h=1.0, teacher=False, plugin=True)
    curved = robust_condense(data, base, ipc=2, guard=reg, config=cfg, steps=2, progress=False)
    assert torch.isfinite(curved.x).all() and not torch.allclose(plain.x, curved.x)
    summed = GuardConfig(curvature=100.0, h=1.0, teacher=False, plugin=True, plugin_reduction="sum")
    other = robust_condense(data, base, ipc=2, guard=summed, config=cfg, steps=2, progress=False)
    assert not torch.allclose(other.x, curved.x)  # the sum weighs each image's own curvature
    assert other.card["config"]["guard"]["plugin_reduction"] == "sum"
