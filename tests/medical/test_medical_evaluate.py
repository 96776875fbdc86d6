import math

import pytest
import torch

from condensekit.core.vision.train import ImageTrainConfig
from condensekit.medical.evaluate import evaluate_medical, medmnist_metrics, summaries_to_dict
from tests.core.vision.conftest import make_tiny_images


def test_binary_acc_auc_golden():
    p = torch.tensor([0.2, 0.7, 0.4, 0.1])
    logits = torch.stack([(1 - p).log(), p.log()], dim=1)
    y = torch.tensor([0, 1, 1, 0])
    m = medmnist_metrics("binary-class")
    assert m["acc"](logits, y) == pytest.approx(0.75) and m["auc"](logits, y) == pytest.approx(1.0)


def test_multilabel_uses_sigmoid_per_label():
    logits = torch.tensor([[5.0, -5.0], [-5.0, 5.0], [5.0, 5.0]])
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    m = medmnist_metrics("multi-label, binary-class")
    assert m["acc"](logits, y) == pytest.approx((1.0 + 2 / 3) / 2)


def test_ordinal_scored_as_multiclass():
    logits = torch.eye(3)[[0, 1, 2, 2]] * 4
    y = torch.tensor([0, 1, 2, 1])
    assert medmnist_metrics("ordinal-regression")["acc"](logits, y) == pytest.approx(0.75)


def test_evaluate_medical_runs_and_summarises():
    data = make_tiny_images()
    res = evaluate_medical(data.x_train, data.y_train, data, models=["mlp"], runs=2,
                           config=ImageTrainConfig(epochs=3, val_every=1, batch_size=8))  # fmt: skip
    d = summaries_to_dict(res)
    assert set(d["mlp"]) == {"acc", "auc"} and len(d["mlp"]["acc"]["runs"]) == 2
    assert all(0 <= v <= 1 and not math.isnan(v) for v in d["mlp"]["auc"]["runs"])
    with pytest.raises(ValueError, match="image model"):
        evaluate_medical(data.x_train, data.y_train, data, models=["vit"])
