from dataclasses import replace

import pytest
import torch

from condensekit.core.vision.train import ImageTrainConfig
from condensekit.medical.evaluate import evaluate_medical
from condensekit.medical.shift import class_shares, class_shift_diagnosis, split_scores
from tests.core.vision.conftest import make_tiny_images

FAST = ImageTrainConfig(epochs=6, val_every=2, batch_size=8)


def test_split_scores_recall_balanced_accuracy_and_shares():
    logits = torch.tensor([[2.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 0.0]])
    y = torch.tensor([0, 0, 1, 1])
    s = split_scores(logits, y, 2)
    assert s["recall"] == [1.0, 0.5] and s["acc"] == 0.75 and s["balanced_acc"] == 0.75
    assert s["predicted_share"] == [0.75, 0.25]
    assert class_shares(torch.tensor([1, 1, 1, 0]), 2) == [0.25, 0.75]


def test_val_acc_rule_reproduces_the_evaluation_run_for_run():
    data = make_tiny_images()
    x, y = data.x_train[::3], data.y_train[::3]
    ref = evaluate_medical(x, y, data, models=["mlp"], runs=2, seed=3, config=FAST, lr=0.05)["mlp"]["acc"]
    diag = class_shift_diagnosis(x, y, data, runs=2, seed=3, config=FAST, lr=0.05, model="mlp")
    assert diag["rules"]["val_acc"]["test"]["acc"]["runs"] == pytest.approx(ref.values)
    assert diag["check_epochs"] == [2, 4, 6] and len(diag["runs"]) == 2 and len(diag["runs"][0]) == 3
    assert diag["rules"]["last"]["epoch"] == [6, 6]
    assert diag["shares"]["test"] == class_shares(data.y_test, 2)


def test_prediction_under_label_shift_uses_validation_recalls_and_test_shares():
    data = make_tiny_images()
    # the test split made 4:1 in class 1, the validation split left balanced
    keep = torch.cat([torch.nonzero(data.y_test == 0).flatten()[:1], torch.nonzero(data.y_test == 1).flatten()])
    shifted = replace(data, x_test=data.x_test[keep], y_test=data.y_test[keep])
    diag = class_shift_diagnosis(data.x_train[::3], data.y_train[::3], shifted, runs=1, config=FAST, model="mlp")
    assert diag["shares"]["test"] == pytest.approx([0.2, 0.8])
    kept = diag["runs"][0][-1]
    r = diag["rules"]["last"]
    assert r["predicted_test_acc"]["mean"] == pytest.approx(
        0.2 * kept["val"]["recall"][0] + 0.8 * kept["val"]["recall"][1]
    )
    best_bal = max(c["val"]["balanced_acc"] for c in diag["runs"][0])
    assert diag["rules"]["val_balanced"]["val"]["balanced_acc"]["mean"] == pytest.approx(best_bal)


def test_multilabel_is_refused():
    data = make_tiny_images()
    onehot = {f"y_{s}": torch.nn.functional.one_hot(getattr(data, f"y_{s}"), 2) for s in ("train", "val", "test")}
    ml = replace(data, task="multi-label, binary-class", **onehot)  # a valid multi-label split (N×2 0/1 labels)
    with pytest.raises(ValueError, match="single-label"):
        class_shift_diagnosis(data.x_train, data.y_train, ml, runs=1, config=FAST, model="mlp")
