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


@pytest.mark.parametrize(
    ("flag", "kwargs"),
    [
        ("breastmnist", {}),
        ("pathmnist", {"shape": (28, 28, 3), "labels": 9}),
        ("retinamnist", {"shape": (28, 28, 3), "labels": 5}),
        ("chestmnist", {"cols": 14}),
    ],
)
def test_acc_auc_equal_medmnist_evaluator(tmp_path, flag, kwargs):
    # binary, multi-class, ordinal and multi-label: medmnist's own Evaluator on the same npz and the same scores
    from medmnist import Evaluator

    from condensekit.medical.data import load_medmnist
    from tests.medical.test_medical_data import _write

    _write(tmp_path, flag, n=(8, 4, 120), **kwargs)
    data = load_medmnist(flag, tmp_path)
    logits = torch.randn(data.y_test.shape[0], data.num_classes, generator=torch.Generator().manual_seed(0)) * 2
    probs = logits.sigmoid() if data.multilabel else logits.softmax(-1)
    ref = Evaluator(flag, "test", root=str(tmp_path / "medmnist"), size=28).evaluate(probs.numpy())
    ours = medmnist_metrics(data.task)
    assert ours["acc"](logits, data.y_test) == pytest.approx(ref.ACC, abs=1e-12)
    assert ours["auc"](logits, data.y_test) == pytest.approx(ref.AUC, abs=1e-12)
