"""The card's ``init`` record (real rows that seeded a set) and the init-member audit that reads it."""

import pytest
import torch

from condensekit.core.vision import CondensedImages, ImageSplits, image_source
from condensekit.core.vision.methods import condense_images
from condensekit.privacy.audit import AuditConfig, audit_artifact
from condensekit.privacy.init_record import no_real_init, real_init_record


def noise_images(n_train: int = 40, n_out: int = 10, seed: int = 0) -> ImageSplits:
    """Random pixels, random labels: nothing generalises, so only memorised members are recognisable."""
    gen = torch.Generator().manual_seed(seed)

    def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.randn(n, 1, 8, 8, generator=gen), torch.randint(0, 2, (n,), generator=gen)

    (xt, yt), (xv, yv), (xs, ys) = split(n_train), split(n_out), split(n_out)
    return ImageSplits("noise", xt, yt, xv, yv, xs, ys, num_classes=2, mean=(0.0,), std=(1.0,))


def _save(tmp_path, name, x, y, data, init):
    card = {"domain": "privacy", "method": "toy", "config": {}, "source": image_source(data), "budget": {},
            "seed": 0, "init": init}  # fmt: skip
    CondensedImages(x, y, card).save(tmp_path / name)
    return tmp_path / name


@pytest.mark.parametrize("method", ["dm", "random"])
def test_replayed_init_rows_are_the_engine_runs_initial_images(images, method):
    cfg = {"model": "mlp", "dsa": False} if method == "dm" else {}
    ci = condense_images(images, method, ipc=3, domain="privacy", config=cfg, seed=7, steps=0, progress=False)
    rec = real_init_record(images, method, ipc=3, config=cfg, seed=7)
    idx = torch.tensor(rec["train_indices"])
    assert idx.numel() == 6 and torch.equal(images.x_train[idx], ci.x) and torch.equal(images.y_train[idx], ci.y)
    other = real_init_record(images, method, ipc=3, config=cfg, seed=8)["train_indices"]
    assert other != rec["train_indices"]  # the seed matters, so agreement above is not luck
    assert real_init_record(images, "dm", ipc=3, config={"init": "noise"}, seed=7)["train_indices"] is None


def test_a_set_that_is_its_init_images_is_detected_and_noise_is_not(tmp_path):
    data = noise_images()
    idx = torch.arange(0, 40, 4)  # 10 training rows seed the set
    init = {"from": "real training images", "train_indices": idx.tolist()}
    copy = _save(tmp_path, "copy", data.x_train[idx], data.y_train[idx], data, init)
    fresh = torch.randn(10, 1, 8, 8, generator=torch.Generator().manual_seed(5))
    noise = _save(tmp_path, "noise", fresh, data.y_train[idx], data, init)
    for attack in ("loss", "lira"):
        cfg = AuditConfig(attack=attack, shadows=4, member_set="init", model="lr", train_steps=300)
        hit = audit_artifact(copy, cfg, data=data)
        miss = audit_artifact(noise, cfg, data=data)
        assert hit["member_set"] == "init" and hit["members"] == 10
        assert hit["auc"] >= 0.85, (attack, hit["auc"])
        assert 0.2 < miss["auc"] < 0.8, (attack, miss["auc"])
    # the random-member game on the copy finds (almost) nothing: its members are not the seeds
    rnd = audit_artifact(copy, AuditConfig(attack="loss", members=10, model="lr", train_steps=300), data=data)
    assert rnd["member_set"] == "random" and rnd["auc"] < hit["auc"]


def test_init_audit_needs_a_real_init(tmp_path, images):
    x, y = images.x_train[:8], images.y_train[:8]
    path = _save(tmp_path, "merf", x, y, images, no_real_init("fitted from noise"))
    with pytest.raises(ValueError, match="member_set.*fitted from noise"):
        audit_artifact(path, AuditConfig(attack="loss", member_set="init", model="lr"), data=images)
    with pytest.raises(ValueError, match="argument member_set"):
        AuditConfig(member_set="seeds")
