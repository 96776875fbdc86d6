from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from condensekit.core.vision import ImageSplits
from condensekit.core.vision.experts import ExpertConfig, generate_experts
from condensekit.robust.guard import MARKER, GuardConfig, curvature_experts, expert_nets, recompute_batchnorm

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
    for inf in ({"curvature": float("inf")}, {"plugin_curvature": float("inf")}):  # an infinite loss was taken
        with pytest.raises(ValueError, match="curvature. Valid values are finite"):
            GuardConfig(**inf)
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
    curved_buf = curvature_experts(data, tmp_path / "curv", CFG, GuardConfig(curvature=50.0, h=1.0))
    curved = curved_buf.load(0)
    assert torch.equal(plain[0], curved[0])  # same seeded initialisation
    assert not torch.allclose(plain[-1], curved[-1])  # the term changed the training
    card = json.loads((tmp_path / "curv" / "card.json").read_text())
    assert card["regularizer"]["lam"] == 50.0 and curved_buf.expects == card["regularizer"]  # the card records it
    assert not (tmp_path / "curv" / MARKER).exists()  # no second record beside it
    with pytest.raises(ValueError, match=r"trained with regulariser \{'lam': 50\.0.*this run expects None"):
        curvature_experts(data, tmp_path / "curv", CFG, None)
    with pytest.raises(ValueError, match=r"this run expects None"):  # nor by a plain run that makes experts
        generate_experts(data, tmp_path / "curv", CFG)
    generate_experts(data, tmp_path / "plain-elsewhere", CFG)  # a buffer made elsewhere: its card says plain
    assert curvature_experts(data, tmp_path / "plain-elsewhere", CFG, None).regularizer is None
    with pytest.raises(ValueError, match=r"trained with regulariser None, this run expects \{'lam': 100\.0"):
        curvature_experts(data, tmp_path / "plain-elsewhere", CFG, GuardConfig())
    # a run refused after its marker was written but before its buffer began (e.g. workers=0) left a marker
    # alone, which must not refuse (or describe) the buffer made there next
    (tmp_path / "refused").mkdir()
    (tmp_path / "refused" / MARKER).write_text(json.dumps({"curvature": {"lam": 100.0}}))
    assert curvature_experts(data, tmp_path / "refused", CFG, None).regularizer is None
    assert not (tmp_path / "refused" / MARKER).exists()


def test_a_buffer_made_with_the_marker_keeps_its_setting(tmp_path):
    """Buffers made before the card recorded the term: the marker says how they were trained."""
    data = _images()
    guard = GuardConfig(curvature=50.0, h=1.0)
    folder = tmp_path / "old"
    curvature_experts(data, folder, CFG, guard)
    card = json.loads((folder / "card.json").read_text())
    (folder / MARKER).write_text(json.dumps({"curvature": card.pop("regularizer")}))  # as written before
    (folder / "card.json").write_text(json.dumps(card))
    assert curvature_experts(data, folder, CFG, guard).load(0).shape[0] == 2  # reused
    with pytest.raises(ValueError, match=r"old'.*'lam': 50\.0.*this run expects None"):
        curvature_experts(data, folder, CFG, None)


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
    assert plain.card["config"]["experts"]["folder"].endswith("toy-6px-mlp-e2-plain")  # 6×6 images
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


def test_recompute_batchnorm_takes_the_training_data_statistics():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(1, 3, 3)
    net = torch.nn.Sequential(conv, torch.nn.BatchNorm2d(3), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(48, 2)).eval()  # fmt: skip
    x = torch.randn(40, 1, 6, 6) * 2 + 1
    with torch.no_grad():
        z = conv(x)
    recompute_batchnorm(net, x, batch_size=10)  # 4 equal batches: their average mean is the mean
    bn = net[1]
    assert torch.allclose(bn.running_mean, z.mean((0, 2, 3)), atol=1e-5)
    assert bn.momentum == 0.1 and not net.training  # momentum and mode restored
    recompute_batchnorm(net, x, batch_size=40)  # one batch: the unbiased variance, as BN keeps it
    assert torch.allclose(bn.running_var, z.transpose(0, 1).flatten(1).var(1), rtol=1e-4)
    plain = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(36, 2))
    assert recompute_batchnorm(plain, x) is plain


def test_recompute_batchnorm_gives_each_submodule_its_own_mode_back():
    # the net was put in train mode for the recomputation and given back with net.train(was_training), which sets
    # every submodule to the top module's: a training net with a frozen (eval-mode) batch norm came back with it
    # training. The frozen one is recomputed as well (every batch norm is), then frozen again
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(1, 3, 3)
    net = torch.nn.Sequential(conv, torch.nn.BatchNorm2d(3), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(48, 2)).train()  # fmt: skip
    net[1].eval()
    x = torch.randn(40, 1, 6, 6) * 2 + 1
    with torch.no_grad():
        z = conv(x)
    recompute_batchnorm(net, x, batch_size=10)
    assert torch.allclose(net[1].running_mean, z.mean((0, 2, 3)), atol=1e-5)
    assert [m.training for m in net.modules()] == [True, True, False, True, True, True]
    assert net[1].momentum == 0.1
    with pytest.raises(RuntimeError):  # an error in the forward: modes and momentum given back too
        recompute_batchnorm(net, torch.randn(4, 2, 6, 6), batch_size=2)
    assert [m.training for m in net.modules()] == [True, True, False, True, True, True]
    assert net[1].momentum == 0.1


def test_expert_nets_of_a_batchnorm_buffer_get_statistics_not_the_initial_ones(tmp_path):
    data = _images()
    cfg = ExpertConfig(num_experts=2, epochs=2, model="mlp_bn", batch_size=8, dsa=False)
    generate_experts(data, tmp_path / "bn", cfg)
    nets = expert_nets(tmp_path / "bn", data)
    assert len(nets) == 2 and not nets[0].training
    bn = next(m for m in nets[0].modules() if isinstance(m, torch.nn.BatchNorm1d))
    assert bn.num_batches_tracked == 2  # 16 training images in batches of 8 (the buffer's batch size)
    with torch.no_grad():
        hidden = nets[0].body[1](nets[0].body[0](data.x_train))  # flatten, linear: what the batch norm sees
    assert torch.allclose(bn.running_mean, hidden.mean(0), atol=1e-5)
    assert not torch.allclose(bn.running_mean, torch.zeros_like(bn.running_mean))
    with pytest.raises(ValueError, match="other data"):
        expert_nets(tmp_path / "bn", ImageSplits("other", *[data.x_train, data.y_train] * 3, num_classes=2))


@pytest.mark.parametrize("base", ["mtt", "sre2l"])
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ipc": 0}, "argument ipc"),
        ({"ipc": 9}, "have only \\[8, 8\\] training images"),
        ({"steps": -1}, "argument steps"),
    ],
)
def test_bad_ipc_or_steps_is_refused_before_the_teacher_or_experts_train(monkeypatch, base, kwargs, message):
    from condensekit.robust import guard as guard_mod

    trained = []
    monkeypatch.setattr(guard_mod, "curvature_experts", lambda *a, **k: trained.append("experts"))
    monkeypatch.setattr(guard_mod, "squeeze_teacher", lambda *a, **k: trained.append("teacher"))
    args = {"ipc": 2} | kwargs
    with pytest.raises(ValueError, match=message):
        guard_mod.robust_condense(_images(), base, guard=GuardConfig(), config={"model": "mlp"}, progress=False, **args)
    assert trained == []  # minutes of expert / teacher training are not spent on a run that cannot start


def test_a_checkpoint_is_not_resumed_under_another_curvature_setting(tmp_path, monkeypatch):
    """The teacher term is not part of the method's setting (the experts' card does not know it), so the
    engine alone resumed a GUARD checkpoint in a plain run and returned the GUARD set as plain MTT's."""
    from condensekit.robust.guard import RESUME_SUFFIX, robust_condense

    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path / "cache"))
    data = _images()
    ecfg = ExpertConfig(num_experts=1, epochs=2, model="mlp", batch_size=8, dsa=False)
    cfg = {"model": "mlp", "syn_steps": 2, "expert_epochs": 1, "max_start_epoch": 1, "dsa": False}
    ckpt = tmp_path / "run.pt"

    def run(guard: GuardConfig | None) -> torch.Tensor:
        return robust_condense(data, "mtt", ipc=2, guard=guard, config=cfg, expert_config=ecfg, steps=2,
                               progress=False, checkpoint=ckpt).x  # fmt: skip

    curved = run(GuardConfig(curvature=10.0, h=1.0))
    assert ckpt.exists() and json.loads((tmp_path / ("run.pt" + RESUME_SUFFIX)).read_text())["curvature"]["lam"] == 10
    assert torch.equal(run(GuardConfig(curvature=10.0, h=1.0)), curved)  # the same setting resumes
    for other in (None, GuardConfig(curvature=20.0, h=1.0), GuardConfig(curvature=10.0, h=2.0)):
        with pytest.raises(ValueError, match="resume with the same curvature setting"):
            run(other)
    (tmp_path / ("run.pt" + RESUME_SUFFIX)).unlink()  # a checkpoint written elsewhere: setting unknown
    with pytest.raises(ValueError, match="setting is unknown"):
        run(GuardConfig(curvature=10.0, h=1.0))
    ckpt.unlink()
    assert not torch.equal(run(None), curved)  # a fresh plain run starts over, with plain experts


def test_an_sre2l_checkpoint_is_not_resumed_with_another_teacher(tmp_path, monkeypatch):
    from condensekit.robust.guard import robust_condense
    from condensekit.robust.sre2l import TeacherConfig

    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path / "cache"))
    data = _images()
    ckpt = tmp_path / "run.pt"
    cfg = {"model": "mlp_bn", "iterations": 2}

    def run(guard: GuardConfig | None, epochs: int = 1) -> None:
        robust_condense(data, "sre2l", ipc=2, guard=guard, config=cfg, progress=False, checkpoint=ckpt,
                        teacher_config=TeacherConfig(epochs=epochs, batch_size=8))  # fmt: skip

    run(GuardConfig(curvature=10.0, h=1.0))
    run(GuardConfig(curvature=10.0, h=1.0))
    for guard, epochs in ((None, 1), (GuardConfig(curvature=10.0, h=1.0), 2)):
        with pytest.raises(ValueError, match="resume with the same curvature setting"):
            run(guard, epochs)


@pytest.mark.parametrize(("base", "steps"), [("random", None), ("dm", 0)])
def test_the_plugin_is_refused_where_no_step_runs(base, steps):
    """A selection (random) has no per-step loss: the CLI's default --curvature 100 gave a 'guard-random'
    artifact whose card recorded a plug-in, with the plain random set's images."""
    from condensekit.robust.guard import robust_condense

    guard = GuardConfig(curvature=100.0, teacher=False, plugin=True)
    cfg = {} if base == "random" else {"model": "mlp"}
    with pytest.raises(ValueError, match="runs no step here"):
        robust_condense(_images(), base, ipc=2, guard=guard, config=cfg, steps=steps, progress=False)
    plain = robust_condense(_images(), base, ipc=2, guard=GuardConfig(curvature=0.0, teacher=False, plugin=True),
                            config=cfg, steps=steps, progress=False)  # fmt: skip
    assert plain.card["method"] == base and plain.card["config"]["guard"] is None


def test_plugin_term_is_taken_on_the_methods_function_on_a_batchnorm_network():
    """The audit's case: DM's and DC's fresh network (and MTT's student at an expert's weights) never set its
    running statistics, so an eval-mode term saw mean 0 / variance 1, a function the step never uses."""
    from condensekit.core.objectives import input_curvature
    from condensekit.core.vision import build_image_model

    data = _images()
    x, y = 3.0 + 2.0 * data.x_train[:8], data.y_train[:8]

    def fresh():
        torch.manual_seed(0)
        return build_image_model("convnet_bn_small", channels=1, num_classes=2, im_size=(6, 6)).train()

    net = fresh()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    plug = GuardConfig(curvature=10.0, h=0.5, teacher=False, plugin=True).plugin_regularizer()
    value = plug(net, x, y)
    assert net.training and all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
    twin = fresh()  # the function DM's step embeds with: train mode, batch statistics
    ce = lambda inp: torch.nn.functional.cross_entropy(twin(inp), y, reduction="none")  # noqa: E731
    assert value.item() == pytest.approx(10.0 * input_curvature(ce, x, h=0.5).mean().item(), rel=1e-5)
    assert value.item() != pytest.approx(GuardConfig(curvature=10.0, h=0.5).regularizer()(net, x, y).item(), rel=1e-2)
    assert GuardConfig().regularizer().eval_mode  # the teacher's term stays the reference's (eval mode)
    assert GuardConfig().describe()["plugin_eval_mode"] is False


@pytest.mark.parametrize("base", ["dm", "dc"])
def test_plugin_on_a_batchnorm_network_condenses(base):
    from condensekit.robust.guard import robust_condense

    data = _images()
    cfg = {"model": "convnet_bn_small", "dsa": False}
    reg = GuardConfig(curvature=100.0, h=1.0, teacher=False, plugin=True)
    curved = robust_condense(data, base, ipc=2, guard=reg, config=cfg, steps=2, progress=False)
    plain = robust_condense(data, base, ipc=2, config=cfg, steps=2, progress=False)
    assert torch.isfinite(curved.x).all() and not torch.allclose(plain.x, curved.x)


def test_guard_direction_reaches_both_terms_and_names_its_own_folders(tmp_path, monkeypatch):
    from condensekit.robust.guard import _teacher_record, default_experts_dir
    from condensekit.robust.sre2l import TeacherConfig, teacher_folder

    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path))
    unit = GuardConfig(curvature=5.0, h=0.5, direction="unit")
    assert unit.regularizer().direction == unit.plugin_regularizer().direction == "unit"
    assert GuardConfig().regularizer().direction == "reference"
    with pytest.raises(ValueError, match="'u' for argument direction. Valid values are {reference, unit}"):
        GuardConfig(direction="u")
    data = _images()
    # the reference direction's folders and records are those written before the option existed
    assert default_experts_dir(data, CFG, GuardConfig(curvature=5.0, h=0.5)).name == "toy-6px-mlp-e1-curv5-h0.5"
    assert default_experts_dir(data, CFG, unit).name == "toy-6px-mlp-e1-curv5-h0.5-unit"
    assert "direction" not in _teacher_record(GuardConfig(curvature=5.0))["curvature"]
    assert _teacher_record(unit)["curvature"]["direction"] == "unit"
    tcfg = TeacherConfig(model="mlp_bn", epochs=1)
    assert teacher_folder(data, tcfg, GuardConfig(curvature=5.0, h=0.5).regularizer()).name.endswith("-h0.5-s0")
    assert teacher_folder(data, tcfg, unit.regularizer()).name.endswith("-h0.5-unit-s0")


@pytest.mark.parametrize("base", ["mtt", "sre2l"])
def test_every_record_of_the_teacher_term_follows_one_rule(tmp_path, monkeypatch, base):
    # the teacher's term (guard.regularizer() when guard trains the teacher at a λ > 0) was worked out in four
    # places (the folder, the experts, the SRe2L teacher, the card / checkpoint record); teacher_term is the one rule
    # and every record of it must agree, for each way of asking for no term
    from condensekit.robust.guard import RESUME_SUFFIX, robust_condense, teacher_term
    from condensekit.robust.sre2l import TeacherConfig

    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path / "cache"))
    data = _images()
    ecfg = ExpertConfig(num_experts=1, epochs=2, model="mlp", batch_size=8, dsa=False)
    cfg = ({"model": "mlp", "syn_steps": 2, "expert_epochs": 1, "max_start_epoch": 1, "dsa": False} if base == "mtt"
           else {"model": "mlp_bn", "iterations": 1})  # fmt: skip
    guards = [None, GuardConfig(curvature=0.0), GuardConfig(curvature=5.0, teacher=False, plugin=True),
              GuardConfig(curvature=5.0, h=0.5), GuardConfig(curvature=5.0, h=0.5, direction="unit")]  # fmt: skip
    for i, guard in enumerate(guards):
        reg = teacher_term(guard)
        assert (reg is None) == (guard is None or not guard.teacher or guard.curvature == 0)
        want = None if reg is None else json.loads(json.dumps(reg.record()))
        ckpt = tmp_path / f"run{i}.pt"
        cond = robust_condense(data, base, ipc=2, guard=guard, config=cfg, expert_config=ecfg, steps=1,
                               teacher_config=TeacherConfig(epochs=1, batch_size=8), progress=False,
                               checkpoint=ckpt)  # fmt: skip
        record = cond.card["config"]["experts" if base == "mtt" else "teacher"]
        folder_card = json.loads((tmp_path / "cache" / record["folder"] / "card.json").read_text())
        assert record["curvature"] == json.loads((tmp_path / f"run{i}.pt{RESUME_SUFFIX}").read_text())["curvature"]
        assert record["curvature"] == folder_card["regularizer" if base == "mtt" else "curvature"] == want
        tag = "plain" if reg is None else reg.tag()
        assert Path(record["folder"]).name.endswith(f"-{tag}" if base == "mtt" else f"-{tag}-s0")
