"""An image artifact's card records what defined its train / validation split (the split seed and validation size
of a split the loader drew, MNIST's), and readers load the same split or refuse another: with another seed an
evaluation or audit tested on images the set may have been selected on."""

from __future__ import annotations

from dataclasses import replace

import pytest

from condensekit.core.vision.datasets import IMAGE_DATASETS
from condensekit.core.vision.imageset import (
    CondensedImages,
    check_source,
    check_split,
    image_source,
    load_source_data,
    source_split_seed,
)
from condensekit.core.vision.methods import condense_images
from tests.core.vision.conftest import make_tiny_images


def _drawn(seed: int, val_size: int = 8):
    data = make_tiny_images(seed=seed)
    return replace(data, info={"split_seed": seed, "val_size": val_size})


def test_splits_say_what_defined_them():
    assert make_tiny_images().split_record() == {"validation": "given"}
    assert _drawn(3).split_record() == {"validation": "held-out", "seed": 3, "val_size": 8}
    assert _drawn(3).to("cpu").split_record() == _drawn(3).split_record()  # copies keep it


def test_the_card_records_the_split(tmp_path):
    data = _drawn(2)
    assert image_source(data)["split"] == {"validation": "held-out", "seed": 2, "val_size": 8}
    ci = condense_images(data, "random", ipc=1, domain="robust", device="cpu", progress=False)
    ci.save(tmp_path / "set")
    loaded = CondensedImages.load(tmp_path / "set")
    assert loaded.card["source"]["split"] == {"validation": "held-out", "seed": 2, "val_size": 8}
    assert source_split_seed(loaded.card) == 2


def test_data_split_otherwise_is_refused():
    card = {"source": image_source(_drawn(2))}
    check_split(card, _drawn(2))
    with pytest.raises(ValueError, match=r"'set'.*'seed': 2.*'seed': 5.*seed=2"):
        check_split(card, _drawn(5), artifact="set")
    with pytest.raises(ValueError, match=r"'val_size': 8.*'val_size': 4"):
        check_split(card, _drawn(2, val_size=4))
    with pytest.raises(ValueError, match=r"'validation': 'given'.*own splits"):
        check_split({"source": image_source(make_tiny_images())}, _drawn(0))


def test_a_card_from_before_the_record_is_checked_on_its_train_size():
    data = _drawn(4)
    old = {"source": {k: v for k, v in image_source(data).items() if k != "split"}}
    assert source_split_seed(old) == 0  # every command drew the split with the loaders' default seed
    check_split(old, data)  # the seed cannot be told; the size can
    smaller = replace(data, x_train=data.x_train[:-1], y_train=data.y_train[:-1])
    with pytest.raises(ValueError, match=r"condensed from 24 training images.*has 23"):
        check_split(old, smaller)


def test_source_data_loads_the_recorded_split(monkeypatch):
    seen = []

    def loader(root=None, *, size=28, seed=0):
        seen.append(seed)
        return replace(_drawn(seed), name="toyset")

    monkeypatch.setitem(IMAGE_DATASETS._items, "toyset", loader)
    data = replace(_drawn(7), name="toyset")
    ci = CondensedImages(x=data.x_train[:2], y=data.y_train[:2], card={"source": image_source(data)})
    got = ci.source_data()
    assert seen == [7] and got.split_record()["seed"] == 7
    assert load_source_data(ci.card).split_record() == got.split_record()  # what readers with a card alone use

    def fixed(root=None, *, size=28, seed=0):  # a loader that ignores the seed draws another split
        return replace(_drawn(0), name="toyset")

    monkeypatch.setitem(IMAGE_DATASETS._items, "toyset", fixed)
    with pytest.raises(ValueError, match=r"artifact 'a'.*seed=7"):
        ci.source_data(artifact="a")


def test_check_source_refuses_data_the_set_does_not_fit():
    # what load_source_data checked inline, now one function a caller's given data goes through too
    data = make_tiny_images()
    card = {"source": image_source(data)}
    c, h, w = data.channels, *data.im_size
    check_source(card, data)
    bigger = replace(data, **{k: getattr(data, k).repeat(1, 1, 2, 2) for k in ("x_train", "x_val", "x_test")})
    with pytest.raises(
        ValueError, match=rf"artifact 'a'.s images are \[{c}, {h}, {w}\].*data is \[{c}, {2 * h}, {2 * w}\]"
    ):
        check_source(card, bigger, artifact="a")
    colour = replace(data, **{k: getattr(data, k).repeat(1, 3, 1, 1) for k in ("x_train", "x_val", "x_test")})
    with pytest.raises(ValueError, match=rf"with its {c} channel\(s\)"):  # not "at the set's size": the size fits
        check_source(card, colour)
    with pytest.raises(ValueError, match=r"classes"):
        check_source(card, replace(data, num_classes=data.num_classes + 1))
    with pytest.raises(ValueError, match=r"training images"):  # then the split (check_split)
        check_source(card, replace(data, x_train=data.x_train[:-1], y_train=data.y_train[:-1]))
    check_source({"source": {"dataset": data.name}}, bigger)  # a card that records no shape is not refused for it


@pytest.mark.real_data
def test_mnist_split_seeds_are_told_apart():
    from condensekit.core.vision import load_mnist

    a, b = load_mnist(seed=0), load_mnist(seed=1)
    assert a.split_record() == {"validation": "held-out", "seed": 0, "val_size": 5000}
    with pytest.raises(ValueError, match=r"'seed': 0.*'seed': 1"):
        check_split({"source": image_source(a)}, b)
