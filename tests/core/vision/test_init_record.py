"""The image card records which real training rows seeded a synthetic set (``init.train_indices``)."""

import pytest
import torch

from condensekit.core.vision import CondensedImages
from condensekit.core.vision.methods import condense_images

SMALL = {"iterations": 2, "batch_real": 8, "model": "mlp"}


@pytest.mark.parametrize("init", ["real", "herding", "kcenter"])
def test_record_is_the_rows_the_set_started_from(init, tiny_images):
    # 0 steps: the set *is* its initial images, so the record must name exactly those rows
    ci = condense_images(tiny_images, "random", ipc=3, domain="t", config={"init": init}, seed=5, progress=False,
                         device="cpu")  # fmt: skip
    rec = ci.card["init"]
    assert rec["kind"] == init and len(rec["train_indices"]) == 6
    idx = ci.seed_rows()
    assert torch.equal(tiny_images.x_train[idx], ci.x) and torch.equal(tiny_images.y_train[idx], ci.y)


def test_record_survives_training_and_follows_the_seed(tiny_images):
    kw = {"ipc": 3, "domain": "t", "progress": False, "device": "cpu"}
    start = condense_images(tiny_images, "dm", config=SMALL, seed=3, steps=0, **kw)
    trained = condense_images(tiny_images, "dm", config=SMALL, seed=3, **kw)
    assert not torch.equal(trained.x, start.x)  # the images moved, the record still names their seeds
    assert trained.card["init"]["train_indices"] == start.card["init"]["train_indices"]
    assert torch.equal(tiny_images.x_train[start.seed_rows()], start.x)
    other = condense_images(tiny_images, "dm", config=SMALL, seed=4, steps=0, **kw)
    assert other.card["init"]["train_indices"] != start.card["init"]["train_indices"]  # not luck: seed matters


def test_noise_start_records_no_rows_and_roundtrips(tiny_images, tmp_path):
    ci = condense_images(tiny_images, "dm", ipc=2, domain="t", config=SMALL | {"init": "noise"}, progress=False,
                         device="cpu")  # fmt: skip
    assert ci.card["init"]["train_indices"] is None and ci.seed_rows() is None
    real = condense_images(tiny_images, "random", ipc=2, domain="t", progress=False, device="cpu")
    back = CondensedImages.load(real.save(tmp_path / "set"))
    assert back.card["init"] == real.card["init"] and torch.equal(back.seed_rows(), real.seed_rows())


def test_missing_or_inconsistent_record_is_refused(tiny_images, tmp_path):
    real = condense_images(tiny_images, "random", ipc=2, domain="t", progress=False, device="cpu")
    old = CondensedImages(x=real.x, y=real.y, card={k: v for k, v in real.card.items() if k != "init"})
    with pytest.raises(ValueError, match="no `init` record"):
        old.seed_rows()
    bad = CondensedImages(x=real.x, y=real.y, card=real.card | {"init": {"train_indices": [0, 1, 2, 999]}})
    with pytest.raises(ValueError, match="init.train_indices"):
        CondensedImages.load(bad.save(tmp_path / "bad"))


def test_seed_rows_add_the_rows_copied_in_by_re_initialisation(tiny_images):
    ci = condense_images(tiny_images, "random", ipc=2, domain="t", seed=0, progress=False, device="cpu")
    first = ci.seed_rows().tolist()
    extra = next(r for r in range(tiny_images.x_train.shape[0]) if r not in first)
    ci.card["init"] = ci.card["init"] | {"reinit_train_indices": [first[0], extra]}
    assert ci.seed_rows().tolist() == first + [extra]  # a row already there is not counted twice
