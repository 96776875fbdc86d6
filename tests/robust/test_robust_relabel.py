from __future__ import annotations

import pytest
import torch

from condensekit.core.artifact import update_card
from condensekit.core.vision import ImageTrainConfig, build_image_model, distillation_loss, fit_images
from condensekit.robust import audit as audit_mod
from condensekit.robust.attacks import AttackConfig
from condensekit.robust.audit import AuditConfig, audit_artifact, audit_images
from condensekit.robust.guard import robust_condense
from condensekit.robust.relabel import OnlineRelabel
from condensekit.robust.sre2l import TeacherConfig, squeeze_teacher
from tests.robust.conftest import make_toy_images as _images


def _teacher(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_image_model("mlp_bn", channels=1, num_classes=3, im_size=(6, 6)).eval()


def test_without_augmentation_online_labels_equal_one_stored_label_per_image():
    teacher, x = _teacher(), torch.randn(5, 1, 6, 6)
    online = OnlineRelabel(teacher, temperature=4.0)
    with torch.no_grad():
        stored = torch.softmax(teacher(x) / 4.0, dim=-1)
    assert torch.equal(online.augment(x), x)
    logits = torch.randn(5, 3)
    assert torch.allclose(online.loss(logits, torch.zeros(5)), distillation_loss(4.0)(logits, stored))


def test_each_augmented_view_gets_the_teachers_label_of_that_view():
    teacher, x = _teacher(), torch.randn(5, 1, 6, 6)
    online = OnlineRelabel(teacher, temperature=2.0, augment=lambda t: t.flip(-1))
    view = online.augment(x)
    assert torch.equal(view, x.flip(-1))
    with torch.no_grad():
        want = torch.softmax(teacher(x.flip(-1)) / 2.0, dim=-1)
        other = torch.softmax(teacher(x) / 2.0, dim=-1)
    logits = torch.randn(5, 3)
    got = online.loss(logits, torch.zeros(5))
    assert torch.allclose(got, distillation_loss(2.0)(logits, want))
    assert not torch.allclose(got, distillation_loss(2.0)(logits, other))
    assert not any(p.requires_grad for p in teacher.parameters())  # frozen


def test_student_learns_the_teacher_and_the_teacher_stays_frozen():
    data, teacher = _images(), _teacher()
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    online = OnlineRelabel(teacher, temperature=1.0, augment=lambda t: t + 0.1 * torch.randn_like(t))
    torch.manual_seed(1)
    student = build_image_model("mlp", channels=1, num_classes=3, im_size=(6, 6))
    fit_images(student, data.x_train, data.y_train, config=ImageTrainConfig(epochs=60, lr=0.05),
               loss_fn=online.loss, augment=online.augment)  # fmt: skip
    with torch.no_grad():
        agree = (student(data.x_test).argmax(-1) == teacher(data.x_test).argmax(-1)).float().mean()
    assert agree >= 0.8
    assert all(torch.equal(v, teacher.state_dict()[k]) for k, v in before.items())


def test_bad_relabel_input_errors():
    with pytest.raises(ValueError, match="relabel"):
        AuditConfig(relabel="live")
    with pytest.raises(ValueError, match="temperature"):
        OnlineRelabel(_teacher(), temperature=0.0)
    with pytest.raises(RuntimeError, match="augment first"):
        OnlineRelabel(_teacher(), temperature=1.0).loss(torch.randn(2, 3), torch.zeros(2))
    data = _images()
    with pytest.raises(ValueError, match="pass teacher="):
        audit_images(data.x_train, data.y_train, data, config=AuditConfig(relabel="online"), device="cpu")


def test_online_audit_of_an_sre2l_artifact_uses_its_teacher(tmp_path, monkeypatch):
    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path / "cache"))
    data = _images()
    tcfg = TeacherConfig(model="mlp_bn", epochs=2, batch_size=8)
    cond = robust_condense(data, "sre2l", ipc=2, config={"iterations": 5, "lr_img": 0.05, "temperature": 4.0},
                           teacher_config=tcfg, progress=False)  # fmt: skip
    path = cond.save(tmp_path / "set")
    seen = []
    real_fit = audit_mod.fit_images

    def spy(*args, **kwargs):
        seen.append(kwargs)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(audit_mod, "fit_images", spy)
    cfg = AuditConfig(attacks=("pgd",), eps=("0.02",), models=("mlp",), runs=1, subset=None,
                      train=ImageTrainConfig(epochs=3), attack=AttackConfig(pgd_steps=2), relabel="online")  # fmt: skip
    res, _ = audit_artifact(path, config=cfg, data=data, device="cpu")
    online = seen[0]["loss_fn"].__self__
    assert isinstance(online, OnlineRelabel) and online.temperature == 4.0 and seen[0]["augment"] is not None
    teacher, _ = squeeze_teacher(data, tcfg)
    assert all(torch.equal(a, b) for a, b in zip(online.teacher.state_dict().values(),
                                                  teacher.state_dict().values(), strict=True))  # fmt: skip
    assert res.config["relabel"] == "online"
    plain = cond.save(tmp_path / "plain")
    update_card(plain, config={})
    with pytest.raises(ValueError, match="names its teacher"):
        audit_artifact(plain, config=cfg, data=data, device="cpu")
