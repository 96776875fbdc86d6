import pytest

from condensekit.privacy.evaluate import evaluate_private, train_config_for


def test_every_set_size_gets_the_same_number_of_steps():
    assert train_config_for(100, train_steps=300).epochs == 300  # one batch per epoch
    assert train_config_for(10_000, train_steps=300).epochs == 8  # 40 batches per epoch
    cfg = train_config_for(512, train_steps=10)
    assert cfg.optimizer == "adam" and cfg.epochs == 5 and cfg.lr_drop_at == 1.0
    with pytest.raises(ValueError, match="train_steps"):
        train_config_for(10, train_steps=0)


def test_evaluate_private_trains_each_model(images):
    res = evaluate_private(images.x_train, images.y_train, images, models=["lr", "mlp"], runs=2, train_steps=30)
    assert set(res) == {"lr", "mlp"} and len(res["lr"].values) == 2
    assert res["lr"].mean > 90  # the toy classes are linearly separable


def test_validation_split_scores_on_the_validation_images(images):
    import dataclasses

    flipped = dataclasses.replace(images, y_val=1 - images.y_val)  # validation labels wrong, test labels right
    kw = {"models": ["lr"], "runs": 1, "train_steps": 30}
    assert evaluate_private(images.x_train, images.y_train, flipped, **kw)["lr"].mean > 90
    assert evaluate_private(images.x_train, images.y_train, flipped, split="validation", **kw)["lr"].mean < 10
    with pytest.raises(ValueError, match="split"):
        evaluate_private(images.x_train, images.y_train, images, split="train", **kw)
