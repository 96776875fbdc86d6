from __future__ import annotations

import pytest
import torch
from torch import nn

from condensekit.core.vision import CondensedImages, ImageSplits, build_image_model, image_source
from condensekit.robust.guard import GuardConfig, has_teacher, resolve_mode, robust_condense
from condensekit.robust.sre2l import (
    SRe2L,
    SRe2LConfig,
    TeacherConfig,
    bn_layers,
    load_teacher,
    squeeze_teacher,
    teacher_folder,
    teacher_train_index,
)
from tests.robust.conftest import make_toy_images as _images

TEACHER = TeacherConfig(model="mlp_bn", epochs=2, batch_size=8)


def test_squeeze_caches_the_teacher_and_refuses_another_setting(tmp_path):
    data = _images()
    net, card = squeeze_teacher(data, TEACHER, folder=tmp_path / "t")
    assert not net.training and bn_layers(net) and card["curvature"] is None
    again, _ = squeeze_teacher(data, TEACHER, folder=tmp_path / "t")
    for a, b in zip(net.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)  # loaded, running statistics included
    with pytest.raises(ValueError, match="holds"):
        squeeze_teacher(data, TEACHER, GuardConfig(curvature=5.0).regularizer(), folder=tmp_path / "t")
    with pytest.raises(ValueError, match="no batch-norm layer"):
        squeeze_teacher(data, TeacherConfig(model="mlp"), folder=tmp_path / "u")


def test_bn_term_matches_per_class_batches_like_separate_runs():
    """The g-th image of every class forms BN batch g: the hook's sum equals the per-batch statistics."""
    data = _images()
    teacher = build_image_model("mlp_bn", channels=1, num_classes=3, im_size=(6, 6))
    bn = bn_layers(teacher)[0]
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    teacher.eval()
    algo = SRe2L(data, 2, SRe2LConfig(iterations=1, jitter=0, first_bn_multiplier=1.0), teacher=teacher)
    algo.setup(torch.device("cpu"))
    algo.matching = True
    algo.teacher(algo.x_syn[algo.order])
    algo.matching = False
    want = 0.0
    feats = teacher.body[:2](algo.x_syn.detach())  # the BN layer's input
    for g in range(2):
        rows = torch.stack([feats[algo.syn_slices[c].start + g] for c in range(3)])
        want += float((rows.mean(0) - bn.running_mean).norm() + (rows.var(0, unbiased=False) - bn.running_var).norm())
    assert float(algo.stats[0].detach()) == pytest.approx(want, rel=1e-5)


def test_recover_lowers_the_loss_and_relabels_with_the_teacher(tmp_path, monkeypatch):
    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path / "cache"))
    data = _images()
    cfg = {"iterations": 30, "lr_img": 0.05, "temperature": 4.0}
    cond = robust_condense(data, "sre2l", ipc=2, config=cfg, teacher_config=TEACHER, progress=False)
    assert cond.soft is not None and cond.soft.shape == (6, 3)
    assert torch.allclose(cond.soft.sum(1), torch.ones(6))
    assert cond.card["labels"] == {"kind": "soft", "temperature": 4.0} and cond.card["method"] == "sre2l"
    teacher, _ = squeeze_teacher(data, TEACHER)
    with torch.no_grad():
        want = torch.softmax(teacher(cond.x) / 4.0, dim=-1)
    assert torch.allclose(cond.soft, want, atol=1e-6)
    assert float(cond.x.min()) >= -0.5 / 0.25 - 1e-6 and float(cond.x.max()) <= 0.5 / 0.25 + 1e-6  # pixels clipped
    algo = SRe2L(data, 2, SRe2LConfig(iterations=30, lr_img=0.05, jitter=0, init="noise"), teacher=teacher)
    algo.setup(torch.device("cpu"))
    losses = [algo.step(i)["loss"] for i in range(30)]
    assert losses[-1] < 0.8 * losses[0]  # recovery fits the teacher and its BN statistics
    curved = robust_condense(data, "sre2l", ipc=2, guard=GuardConfig(curvature=10.0, h=1.0), config=cfg,
                             teacher_config=TEACHER, progress=False)  # fmt: skip
    assert curved.card["method"] == "guard-sre2l"
    assert curved.card["config"]["teacher"]["curvature"]["lam"] == 10.0
    assert not torch.allclose(curved.soft, cond.soft)  # another teacher, other labels


def test_soft_labels_round_trip_and_are_checked(tmp_path):
    data = _images()
    soft = torch.softmax(torch.randn(6, 3), dim=-1)
    card = {"domain": "robust", "method": "sre2l", "config": {}, "source": image_source(data), "budget": 6,
            "seed": 0, "labels": {"kind": "soft", "temperature": 30.0}}  # fmt: skip
    path = CondensedImages(data.x_train[:6], data.y_train[:6], card, soft=soft).save(tmp_path / "a")
    back = CondensedImages.load(path)
    assert torch.equal(back.soft, soft) and back.temperature == 30.0 and back.targets() is back.soft
    plain = CondensedImages.load(CondensedImages(data.x_train[:6], data.y_train[:6], card | {"labels": None}).save(
        tmp_path / "b"))  # fmt: skip
    assert plain.soft is None and plain.targets() is plain.y and plain.temperature == 1.0
    CondensedImages(data.x_train[:6], data.y_train[:6], card, soft=soft[:, :2]).save(tmp_path / "c")
    with pytest.raises(ValueError, match="soft labels"):
        CondensedImages.load(tmp_path / "c")


def test_sre2l_needs_a_bn_teacher_and_resolves_as_teacher_mode():
    data = _images()
    assert has_teacher("sre2l") and resolve_mode("sre2l", "auto") == (True, False)
    with pytest.raises(ValueError, match="needs a trained teacher"):
        SRe2L(data, 2, SRe2LConfig())
    with pytest.raises(ValueError, match="batch-norm"):
        SRe2L(data, 2, SRe2LConfig(), teacher=nn.Linear(36, 3))
    with pytest.raises(ValueError, match="argument temperature"):
        SRe2LConfig(temperature=0)


def test_teacher_trains_on_a_stratified_subset_with_its_own_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path / "cache"))
    data = _images(k=3, per=8)
    sub = TeacherConfig(model="mlp_bn", epochs=1, batch_size=3, train_subset=9)
    index = teacher_train_index(data, sub)
    assert index is not None and len(index) == 9
    assert torch.equal(torch.bincount(data.y_train[index], minlength=3), torch.tensor([3, 3, 3]))  # stratified
    assert torch.equal(index, teacher_train_index(data, sub))  # seeded
    assert teacher_train_index(data, TeacherConfig(train_subset=0)) is None
    assert teacher_train_index(data, TeacherConfig(train_subset=10_000)) is None  # more than there are: all
    _, card = squeeze_teacher(data, sub)
    assert card["train_images"] == 9 and "-b3-6px-n9-plain-" in card["folder"]  # 6×6 images: own folder
    _, whole = squeeze_teacher(data, TeacherConfig(model="mlp_bn", epochs=1, batch_size=6))
    assert whole["train_images"] == 24 and whole["folder"] != card["folder"]
    with pytest.raises(ValueError, match="argument train_subset"):
        TeacherConfig(train_subset=-1)


def test_a_teacher_card_written_before_train_subset_existed_still_loads(tmp_path):
    import json

    data = _images()
    squeeze_teacher(data, TEACHER, folder=tmp_path / "t")
    card_path = tmp_path / "t" / "card.json"
    card = json.loads(card_path.read_text())
    del card["config"]["train_subset"]
    card_path.write_text(json.dumps(card))
    _, again = squeeze_teacher(data, TEACHER, folder=tmp_path / "t")  # the missing field reads as its default
    assert again["folder"] == str(tmp_path / "t")


def test_warmup_epochs_train_plain_first_and_get_their_own_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path / "cache"))
    data = _images()
    reg = GuardConfig(curvature=5.0, h=1.0).regularizer()
    warm = TeacherConfig(model="mlp_bn", epochs=1, batch_size=8, warmup_epochs=2)
    net, card = squeeze_teacher(data, warm, reg)
    cold, cold_card = squeeze_teacher(data, TeacherConfig(model="mlp_bn", epochs=1, batch_size=8), reg)
    assert "-w2-" in card["folder"] and "-w" not in cold_card["folder"].rsplit("/", 1)[-1]
    assert card["config"]["warmup_epochs"] == 2
    assert not torch.allclose(net.classifier.weight, cold.classifier.weight)  # the plain phase ran
    with pytest.raises(ValueError, match="argument warmup_epochs"):
        TeacherConfig(warmup_epochs=-1)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"iterations": 0}, "iterations"),  # returned the initial noise, relabelled, as the condensed set
        ({"iterations": -1}, "iterations"),  # was refused as "Invalid value None for argument steps"
        ({"jitter": 1.5}, "jitter"),
        ({"lr_img": float("inf")}, "lr_img"),
        ({"r_bn": float("nan")}, "r_bn"),
    ],
)
def test_sre2l_config_refuses_what_it_took(kwargs, argument):
    with pytest.raises(ValueError, match=f"argument {argument}"):
        SRe2LConfig(**kwargs)
    with pytest.raises(ValueError, match="argument warmup_epochs"):
        TeacherConfig(warmup_epochs=1.5)


@pytest.mark.parametrize("model", ["mlp_bn", "resnet18"])
def test_a_teacher_for_images_of_another_size_is_refused_not_loaded(tmp_path, model):
    """A MedMNIST flag keeps its name at every size, and the card checked only the name: a resnet18 teacher
    (adaptive pooling) for 8×8 images was loaded silently for 16×16 ones, an MLP's failed in load_state_dict."""

    def images(size: int) -> ImageSplits:
        x = torch.randn(16, 1, size, size, generator=torch.Generator().manual_seed(0))
        y = torch.arange(2).repeat(8)
        return ImageSplits("toy", x, y, x[:4], y[:4], x[:4], y[:4], num_classes=2)

    cfg = TeacherConfig(model=model, epochs=1, batch_size=8)
    squeeze_teacher(images(8), cfg, folder=tmp_path / "t")
    with pytest.raises(ValueError, match=r"other 'toy' images \(im_size: teacher \[8, 8\], data \[16, 16\]\)"):
        squeeze_teacher(images(16), cfg, folder=tmp_path / "t")
    with pytest.raises(ValueError, match="other 'toy' images"):
        load_teacher(tmp_path / "t", images(16))  # the online-relabel audit's path
    assert teacher_folder(images(8), cfg, None) != teacher_folder(images(16), cfg, None)  # the default folders differ


def test_the_squeeze_does_not_overwrite_an_expert_buffer_passed_as_its_folder(tmp_path):
    """`robust condense --base sre2l --experts FOLDER` with an MTT expert buffer trained a teacher there and wrote
    its card over the buffer's."""
    from condensekit.core.vision.experts import ExpertConfig, generate_experts

    data = _images()
    generate_experts(data, tmp_path / "experts", ExpertConfig(num_experts=1, epochs=1, model="mlp", batch_size=8))
    card = (tmp_path / "experts" / "card.json").read_text()
    with pytest.raises(ValueError, match="not a teacher"):
        squeeze_teacher(data, TeacherConfig(epochs=1, batch_size=8), folder=tmp_path / "experts")
    assert (tmp_path / "experts" / "card.json").read_text() == card


def test_a_cached_teacher_gets_the_mode_a_plain_write_gets(tmp_path):
    # safetensors' save_file made model.safetensors 0600 whatever the umask (as it did the expert files, d05214e)
    import os

    old = os.umask(0o022)
    try:
        squeeze_teacher(_images(), TEACHER, folder=tmp_path / "t")
    finally:
        os.umask(old)
    assert (tmp_path / "t" / "model.safetensors").stat().st_mode & 0o777 == 0o644
