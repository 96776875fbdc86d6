"""Multi-label data is refused by name, not failed on inside a tensor op."""

from dataclasses import replace

import pytest
import torch

from condensekit.privacy import condense_private
from condensekit.privacy.audit import AuditConfig, audit_set


def _multilabel(images):
    def sets(y: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(y.shape[0], 3)
        out[torch.arange(y.shape[0]), y] = 1.0
        out[::7] = 0.0  # some records with no positive label
        return out

    return replace(
        images, y_train=sets(images.y_train), y_val=sets(images.y_val), y_test=sets(images.y_test), num_classes=3,
        task="multi-label, binary-class",
    )  # fmt: skip


@pytest.mark.parametrize("method", ["dp-merf-condensed", "dp-merf", "psg"])
def test_private_methods_refuse_multilabel_data(images, method):
    with pytest.raises(ValueError, match=r"Invalid dataset 'toy' for private method .*multi-label"):
        condense_private(_multilabel(images), method, steps=1, device="cpu")


def test_audit_refuses_multilabel_data(images):
    data = _multilabel(images)
    with pytest.raises(ValueError, match=r"Invalid dataset 'toy' for the membership audit"):
        audit_set(data.x_train[:4], data.class_labels()[:4], data, AuditConfig(attack="loss", members=4, model="lr"))


@pytest.mark.parametrize(
    ("method", "field", "value"),
    [
        ("psg", "clip", float("nan")),  # released a NaN set
        ("psg", "clip", 0.0),  # zero gradients: an unfit set, silently
        ("psg", "lr_img", float("nan")),
        ("dp-merf-condensed", "bandwidth", -1.0),  # the error named the feature map's "sigma" (= -0.5)
        ("dp-merf-condensed", "lr", float("inf")),
        ("dp-merf", "batch_size", 0),  # ZeroDivisionError
        ("dp-merf", "samples_per_class", 0),  # torch.cat of an empty list
    ],
)
def test_bad_method_settings_are_refused_by_name(images, method, field, value):
    from condensekit.privacy.base import PRIVACY_METHODS

    base = {"delta": 1e-3}
    if method == "psg":
        base |= {"ipc": 2, "outer_loop": 1, "inner_loop": 1, "batch_loop": 1, "batch_real": 6, "model": "lr"}
    else:
        base |= {"n_features": 100}
    with pytest.raises(ValueError, match=rf"Invalid value .* for argument {field}\."):  # when the config is made
        cfg = PRIVACY_METHODS.get(method).config(**(base | {field: value}))
        condense_private(images, method, config=cfg, steps=1, device="cpu")


def _stats_normalised(images):
    """``images`` as a loader that normalises with its training split's statistics would give them."""

    raw = images.denormalise(images.x_train)
    return images.renormalised((round(float(raw.mean()), 6),), (round(float(raw.std()), 6),))


def test_private_methods_refuse_data_normalised_with_other_constants(images):
    """Before, the set was stored as (x - mean) / std with the training split's mean and std in its card:
    statistics of the private data, published unprotected (and PSG's gradients each depended on every record)."""
    from condensekit.privacy.data import public_normalisation
    from condensekit.privacy.dp_merf import DPMERFCondensedConfig

    stats = _stats_normalised(images)
    cfg = DPMERFCondensedConfig(epsilon=5.0, delta=1e-3, n_features=100, ipc=1)
    with pytest.raises(ValueError, match=r"Invalid data for private method 'dp-merf-condensed': 'toy' is normalised"):
        condense_private(stats, "dp-merf-condensed", config=cfg, steps=1, device="cpu")
    public = public_normalisation(stats)
    assert (public.mean, public.std) == ((0.5,), (0.5,))
    assert torch.allclose(public.x_train, images.x_train, atol=1e-5)
    ci = condense_private(public, "dp-merf-condensed", config=cfg, steps=1, device="cpu")
    assert (ci.card["source"]["mean"], ci.card["source"]["std"]) == ([0.5], [0.5])


def test_audit_reads_the_real_data_in_the_artifacts_normalisation(images, tmp_path):
    """A set made in one normalisation, audited against data loaded in another (the privacy loader's public
    constants against a medical set's training-split statistics): the target and the candidates disagreed."""
    from condensekit.core.vision import CondensedImages, image_source
    from condensekit.privacy.audit import audit_artifact

    stats = _stats_normalised(images)
    card = {"domain": "medical", "method": "toy", "config": {}, "source": image_source(stats), "budget": {},
            "seed": 0}  # fmt: skip
    CondensedImages(stats.x_train[:8], stats.y_train[:8], card).save(tmp_path / "a")
    cfg = AuditConfig(attack="loss", members=8, model="lr", train_steps=30)
    same = audit_artifact(tmp_path / "a", cfg, data=stats, record=False)
    other = audit_artifact(tmp_path / "a", cfg, data=images, record=False)
    assert other["auc"] == pytest.approx(same["auc"], abs=1e-6)
