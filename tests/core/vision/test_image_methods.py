import pytest
import torch

from condensekit.core.engine import EngineConfig, run
from condensekit.core.objectives.curvature import CurvatureRegularizer
from condensekit.core.vision.experts import ExpertConfig, generate_experts
from condensekit.core.vision.methods import IMAGE_METHODS, condense_images, make_image_config

SMALL = {
    "dm": {"iterations": 2, "batch_real": 8, "model": "mlp"},
    "dc": {"iterations": 2, "outer_loop": 2, "inner_loop": 2, "batch_real": 8, "model": "mlp"},
    "mtt": {
        "iterations": 2,
        "syn_steps": 3,
        "expert_epochs": 1,
        "max_start_epoch": 2,
        "lr_img": 1.0,
        "lr_lr": 1e-8,
        "model": "mlp",
    },
}


@pytest.fixture
def experts(tmp_path, tiny_images):
    return generate_experts(tiny_images, tmp_path / "buf", ExpertConfig(num_experts=2, epochs=3, model="mlp"))


def _resources(method, experts):
    return {"experts": experts} if method == "mtt" else {}


def test_registry_lists_the_methods():
    assert {"random", "dm", "dc", "mtt"} <= set(IMAGE_METHODS.names())


@pytest.mark.parametrize("method", ["random", "dm", "dc", "mtt"])
def test_each_method_runs_and_keeps_budget(method, tiny_images, experts):
    ci = condense_images(tiny_images, method, ipc=2, domain="test", config=SMALL.get(method), progress=False,
                         device="cpu", **_resources(method, experts))  # fmt: skip
    assert ci.x.shape == (4, 1, 8, 8) and torch.equal(ci.y.sort().values, torch.tensor([0, 0, 1, 1]))
    assert ci.card["budget"] == {"ipc": 2, "images": 4} and ci.card["domain"] == "test"
    real_rows = (ci.x.reshape(4, 1, -1) == tiny_images.x_train.reshape(1, 24, -1)).all(-1).any(-1)
    if method == "random":
        assert real_rows.all()
    else:
        assert not real_rows.all()  # the images were optimised away from their real initialisation
    if method == "mtt":
        assert ci.lr is not None and ci.lr.dim() == 0
    if method != "random":  # a steps= run keeps config.iterations and records the count run beside it
        short = condense_images(tiny_images, method, ipc=2, domain="test", config=SMALL.get(method), steps=1,
                                progress=False, device="cpu", **_resources(method, experts))  # fmt: skip
        assert short.card["steps"] == {"run": 1, "config": 2} and short.card["config"]["iterations"] == 2


@pytest.mark.parametrize("method", ["dm", "dc", "mtt"])
def test_regularizer_enters_the_step(method, tiny_images, experts):
    seen = []

    def reg(model, x, y):
        seen.append(tuple(x.shape))
        return weight * x.square().mean()

    # MTT's image rate is large; a smaller one lets the penalty dominate the two steps.
    cfg, weight = (SMALL[method] | {"lr_img": 1.0}, 50.0) if method == "mtt" else (SMALL[method], 10.0)
    a = condense_images(tiny_images, method, ipc=2, domain="t", config=cfg, progress=False, device="cpu",
                        **_resources(method, experts))  # fmt: skip
    b = condense_images(tiny_images, method, ipc=2, domain="t", config=cfg, progress=False, device="cpu",
                        regularizer=reg, **_resources(method, experts))  # fmt: skip
    assert seen and seen[0] == (4, 1, 8, 8)
    assert b.x.norm() < a.x.norm()  # the penalty on ‖x‖² shrank the images


@pytest.mark.parametrize("method", ["dm", "mtt"])
def test_resume_is_bit_for_bit(method, tmp_path, tiny_images, experts):
    def fresh():
        entry = IMAGE_METHODS.get(method)
        return entry.cls(tiny_images, 2, make_image_config(method, SMALL[method] | {"iterations": 4}),
                         **_resources(method, experts))  # fmt: skip

    full = run(fresh(), EngineConfig(steps=4, device="cpu", progress=False)).condensed
    ck = str(tmp_path / "ck.pt")
    run(fresh(), EngineConfig(steps=4, device="cpu", progress=False, checkpoint=ck, checkpoint_every=1, stop_after=2))
    resumed = run(fresh(), EngineConfig(steps=4, device="cpu", progress=False, checkpoint=ck)).condensed
    assert all(torch.equal(full[k], resumed[k]) for k in full)


def test_bad_input(tiny_images, experts):
    with pytest.raises(ValueError, match=r"have only \[12, 12\] training images; valid values are 1..12"):
        condense_images(tiny_images, "random", ipc=13, domain="t")
    with pytest.raises(ValueError, match="needs experts"):
        condense_images(tiny_images, "mtt", ipc=1, domain="t")
    with pytest.raises(ValueError, match="has 3"):
        condense_images(tiny_images, "mtt", ipc=1, domain="t", config={"max_start_epoch": 5, "model": "mlp"},
                        experts=experts)  # fmt: skip
    with pytest.raises(ValueError, match="holds 'mlp' experts"):
        condense_images(tiny_images, "mtt", ipc=1, domain="t", experts=experts)
    with pytest.raises(ValueError, match="Unknown config field"):
        condense_images(tiny_images, "dm", ipc=1, domain="t", config={"lr": 1})


def test_mtt_divergence_is_an_error(tiny_images, experts):
    with pytest.raises(FloatingPointError, match="diverged at iteration"):
        condense_images(tiny_images, "mtt", ipc=2, domain="t", progress=False, device="cpu", experts=experts,
                        config=SMALL["mtt"] | {"lr_img": 1e30, "iterations": 3})  # fmt: skip


def test_mtt_reports_the_student_to_expert_step_budget(tiny_images, experts):
    ci = condense_images(tiny_images, "mtt", ipc=2, domain="t", progress=False, device="cpu", experts=experts,
                         config=SMALL["mtt"])  # fmt: skip
    n = tiny_images.x_train.shape[0]
    expert = -(-n // 256) * 1 * 0.01  # steps per epoch x expert_epochs x expert lr
    assert ci.card["metrics"]["student_to_expert_step_budget"] == pytest.approx(3 * 0.01 / expert, abs=1e-4)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"config": {"lr_img": 5.0}}, "lr_img=0.1"),
        ({"ipc": 3}, "ipc=2"),
        ({"regularizer": CurvatureRegularizer(lam=1.0, h=0.5)}, "regularizer=None"),
    ],
)
def test_resume_with_another_setting_is_refused(change, message, tmp_path, tiny_images):
    """A checkpoint of another config, budget or regulariser is refused naming what differs; before, another
    lr_img resumed silently to the old run's tensors and another ipc failed in a tensor copy."""

    def fresh(config=None, ipc=2, regularizer=None):
        cfg = make_image_config("dm", SMALL["dm"] | {"iterations": 4, "lr_img": 0.1} | (config or {}))
        return IMAGE_METHODS.get("dm").cls(tiny_images, ipc, cfg, regularizer=regularizer)

    ck = str(tmp_path / "ck.pt")
    run(fresh(), EngineConfig(steps=4, device="cpu", progress=False, checkpoint=ck, checkpoint_every=1, stop_after=2))
    with pytest.raises(ValueError, match=f"was written by a run with .*{message}"):
        run(fresh(**change), EngineConfig(steps=4, device="cpu", progress=False, checkpoint=ck))
    # the same setting resumes (a regulariser is compared by its fields, not its identity)
    run(fresh(), EngineConfig(steps=4, device="cpu", progress=False, checkpoint=ck))


def test_a_class_without_training_images_is_refused(tiny_images):
    # it got budget 0, so the set silently lacked the class (only medical refused it, in its own check)
    import dataclasses

    keep = tiny_images.y_train == 1
    data = dataclasses.replace(tiny_images, x_train=tiny_images.x_train[keep], y_train=tiny_images.y_train[keep])
    with pytest.raises(ValueError, match=r"argument data: the training split of 'tiny' holds no image of class\(es\) "
                                         r"\[0\] \(of 2\)"):  # fmt: skip
        condense_images(data, "random", ipc=1, domain="t")


def test_a_multilabel_ipc_error_names_the_groups_it_counts(tiny_images):
    # a multi-label image is budgeted by its first positive label (or "no finding"); the error said "class(es) [1, 3]
    # have only [2, 1] training images" where label 1 has 3 positive images, and named the "no finding" group as a
    # class index past the last label
    import dataclasses

    y = torch.tensor([[1, 1, 0], [1, 0, 0], [1, 0, 1], [0, 1, 0], [0, 1, 1], [0, 0, 1], [0, 0, 0], [1, 0, 0]]).float()
    n = y.shape[0]
    x = tiny_images.x_train[:n]
    data = dataclasses.replace(tiny_images, x_train=x, y_train=y, x_val=x, y_val=y, x_test=x, y_test=y,
                               num_classes=3, task="multi-label, binary-class")  # fmt: skip
    want = (r"argument ipc: the multi-label groups \['first positive label 1', 'first positive label 2', "
            r"'no finding'\] have only \[2, 1, 1\] training images \(an image counts once, in the group of its "
            r"first positive label, or 'no finding' when none is positive\); valid values are 1..1")  # fmt: skip
    with pytest.raises(ValueError, match=want):
        condense_images(data, "random", ipc=3, domain="t")
