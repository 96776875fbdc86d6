"""The card's ``init`` record (real rows that seeded a set) and the init-member audit that reads it."""

import pytest
import torch

from condensekit.core.vision import CondensedImages, ImageSplits, image_source
from condensekit.core.vision.methods import condense_images
from condensekit.privacy.audit import AuditConfig, audit_artifact


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


def test_init_audit_reads_the_rows_the_core_card_records(tmp_path, images):
    # a DM set made by core's condense_images (0 steps: the set is its seeds); the audit's members are the
    # rows its card names
    ci = condense_images(images, "dm", ipc=5, domain="privacy", config={"model": "mlp", "dsa": False}, seed=7,
                         steps=0, progress=False)  # fmt: skip
    idx = torch.tensor(ci.card["init"]["train_indices"])
    assert torch.equal(images.x_train[idx], ci.x)
    cfg = AuditConfig(attack="loss", member_set="init", model="lr", train_steps=50, members=10)
    rec = audit_artifact(ci.save(tmp_path / "dm"), cfg, data=images)
    assert rec["member_set"] == "init" and rec["members"] == 10


def test_private_sets_record_that_no_real_image_seeded_them(images):
    from condensekit.privacy import condense_private
    from condensekit.privacy.dp_merf import DPMERFCondensedConfig

    cfg = DPMERFCondensedConfig(ipc=2, n_features=64, steps=2, delta=1e-3)
    ci = condense_private(images, "dp-merf-condensed", config=cfg, device="cpu")
    assert ci.card["init"]["train_indices"] is None and "dp-merf-condensed" in ci.card["init"]["reason"]


def test_a_set_that_is_its_init_images_is_detected_and_noise_is_not(tmp_path):
    data = noise_images()
    idx = torch.arange(0, 40, 4)  # 10 training rows seed the set
    init = {"kind": "real", "train_indices": idx.tolist()}
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
    no_seed = {"kind": "noise", "train_indices": None, "reason": "fitted from noise"}
    path = _save(tmp_path, "merf", x, y, images, no_seed)
    with pytest.raises(ValueError, match="member_set.*fitted from noise"):
        audit_artifact(path, AuditConfig(attack="loss", member_set="init", model="lr"), data=images)
    old = _save(tmp_path, "old", x, y, images, None)  # a card made before image cards recorded their seeds
    with pytest.raises(ValueError, match="member_set.*no `init` record.*re-make"):
        audit_artifact(old, AuditConfig(attack="loss", member_set="init", model="lr"), data=images)
    with pytest.raises(ValueError, match="argument member_set"):
        AuditConfig(member_set="seeds")
