import math

import pytest
import torch
from torch import nn

from condensekit.core.vision import (
    ImageSplits,
    ImageTrainConfig,
    build_image_model,
    evaluate_image_set,
    fit_images,
    predict,
)


def _blobs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes of 1×8×8 images: bright top half vs bright bottom half, plus noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, 1, 8, 8, generator=g) * 0.3
    x[y == 0, :, :4] += 1.0
    x[y == 1, :, 4:] += 1.0
    return x, y


def _splits() -> ImageSplits:
    (xtr, ytr), (xv, yv), (xt, yt) = _blobs(40, 0), _blobs(20, 1), _blobs(40, 2)
    return ImageSplits("blobs", xtr, ytr, xv, yv, xt, yt, num_classes=2)


def test_fit_learns_a_separable_task_and_is_seeded():
    data = _splits()
    cfg = ImageTrainConfig(epochs=30, batch_size=16, lr=0.05)
    results = []
    for _ in range(2):
        torch.manual_seed(0)
        net = build_image_model("mlp", channels=1, num_classes=2, im_size=(8, 8))
        fit_images(net, data.x_train, data.y_train, config=cfg, generator=torch.Generator().manual_seed(0))
        results.append(net(data.x_test).argmax(1))
    assert torch.equal(results[0], results[1])
    assert (results[0] == data.y_test).float().mean() > 0.9


def test_validation_selection_restores_the_best_epoch():
    data = _splits()
    cfg = ImageTrainConfig(epochs=10, batch_size=40, lr=0.05, val_every=1)
    scores = iter([1.0, 5.0, 2.0] + [0.0] * 7)
    net = build_image_model("lr", channels=1, num_classes=2, im_size=(8, 8))
    res = fit_images(net, data.x_train, data.y_train, config=cfg, validate=lambda m: next(scores))
    assert res.best_epoch == 1 and res.best_val == 5.0


def test_regularizer_and_augment_are_applied_per_batch():
    data = _splits()
    calls = {"aug": 0, "reg": 0}

    def aug(x):
        calls["aug"] += 1
        return x

    def reg(model, x, y):
        calls["reg"] += 1
        return model(x).pow(2).mean() * 0

    net = build_image_model("lr", channels=1, num_classes=2, im_size=(8, 8))
    fit_images(net, data.x_train, data.y_train, config=ImageTrainConfig(epochs=2, batch_size=16), augment=aug,
               regularizer=reg)  # fmt: skip
    assert calls == {"aug": 6, "reg": 6}  # 3 batches of 40 images × 2 epochs


def test_evaluate_image_set_reports_every_metric_over_runs():
    data = _splits()
    out = evaluate_image_set(
        data.x_train, data.y_train, data, model="mlp", runs=2,
        config=ImageTrainConfig(epochs=20, batch_size=40, lr=0.05, val_every=5),
    )  # fmt: skip
    assert set(out) == {"acc"} and len(out["acc"].values) == 2
    assert out["acc"].mean > 85


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="argument optimizer"):
        ImageTrainConfig(optimizer="lbfgs")
    with pytest.raises(ValueError, match="argument epochs"):
        ImageTrainConfig(epochs=0)
    net = build_image_model("lr", channels=1, num_classes=2, im_size=(8, 8))
    with pytest.raises(ValueError, match="40 images but y has 3"):
        fit_images(net, torch.zeros(40, 1, 8, 8), torch.zeros(3, dtype=torch.long))
    x = torch.zeros(2, 1, 8, 8)
    x[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="x_train contains NaN"):
        ImageSplits("bad", x, torch.zeros(2), x[:0], torch.zeros(0), x[:0], torch.zeros(0), num_classes=2)


@pytest.mark.parametrize(
    ("name", "value", "valid"),
    [
        ("val_every", 2.5, "integers >= 0"),  # validated at epochs where (epoch + 1) % 2.5 == 0: 5, 10, ...
        ("val_every", -1, "integers >= 0"),
        ("lr_drop_factor", -0.1, "finite numbers > 0"),  # gradient ascent for the second half
        ("lr_drop_factor", 0.0, "finite numbers > 0"),  # no training for the second half
        ("momentum", -0.9, "finite numbers >= 0"),
        ("weight_decay", math.nan, "finite numbers >= 0"),
        ("lr_drop_at", "0.5", "finite numbers > 0"),
    ],
)
def test_train_config_refuses_bad_values_by_name(name, value, valid):
    with pytest.raises(ValueError, match=rf"Invalid value {value!r} for argument {name}\. Valid values are {valid}"):
        ImageTrainConfig(**{name: value})
    assert ImageTrainConfig(val_every=0, momentum=0.0, weight_decay=0.0, lr_drop_at=1.0).val_every == 0


@pytest.mark.parametrize("drop_at", [0.5, 0.2])
def test_the_rate_is_never_dropped_before_the_first_epoch(drop_at):
    """``int(epochs * lr_drop_at)`` is 0 for one epoch at 0.5 (``--epochs 1``): the whole run trained at a tenth of
    its rate. The drop comes after at least one epoch at the full rate (MTT's ``Epoch // 2 + 1``)."""
    data = _splits()
    out = []
    for at in (drop_at, 1.0):
        torch.manual_seed(0)
        net = build_image_model("mlp", channels=1, num_classes=2, im_size=(8, 8))
        cfg = ImageTrainConfig(epochs=1, batch_size=16, lr=0.05, lr_drop_at=at)
        fit_images(net, data.x_train, data.y_train, config=cfg, generator=torch.Generator().manual_seed(0))
        out.append(torch.cat([p.detach().flatten() for p in net.parameters()]))
    assert torch.equal(out[0], out[1])


def test_distillation_loss_is_t_squared_scaled_soft_cross_entropy():
    from condensekit.core.vision import classification_loss, distillation_loss

    logits, soft = torch.randn(5, 3), torch.softmax(torch.randn(5, 3), dim=-1)
    assert torch.allclose(distillation_loss(1.0)(logits, soft), classification_loss(logits, soft))
    want = 16 * -(soft * torch.log_softmax(logits / 4, dim=-1)).sum(1).mean()
    assert torch.allclose(distillation_loss(4.0)(logits, soft), want)
    with pytest.raises(ValueError, match="argument temperature"):
        distillation_loss(0.0)


def test_predict_gives_each_submodule_its_own_mode_back():
    # predict restored the mode with model.train(was_training), which sets every submodule to the top module's: a
    # training model with a frozen (eval-mode) batch norm came back with it training
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).train()
    model[2].eval()
    seen = []
    model[2].register_forward_pre_hook(lambda m, _inp: seen.append(m.training))
    model[3].register_forward_pre_hook(lambda m, _inp: seen.append(m.training))
    x, _ = _blobs(6, 0)
    assert predict(model, x, batch_size=4).shape == (6, 2)
    assert seen == [False, False, False, False]  # two batches, in eval mode
    assert [m.training for m in model.modules()] == [True, True, True, False, True]
