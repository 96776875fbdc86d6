"""Does a condensed set lose on the test split because the class balance shifts? A diagnosis that reads the
validation split for every choice and the test split only to report.

PneumoniaMNIST's training and validation splits are 74.2 % pneumonia, its test split 62.5 %. If the only
difference between validation and test were that prior (a *label shift*: the images of each class drawn from
the same distribution), a classifier's per-class recall would carry from validation to test, and its test
accuracy would be predicted from validation alone:

.. math::
    \\widehat{\\mathrm{ACC}}_{\\text{test}} = \\sum_c \\pi^{\\text{test}}_c \\, r^{\\text{val}}_c,
    \\qquad r_c = P(\\hat y = c \\mid y = c),

and the balanced accuracy :math:`\\tfrac1K \\sum_c r_c`, which no prior changes, would rank sets the same way on
validation and on test. :func:`class_shift_diagnosis` trains ``runs`` students on a set with exactly the
protocol of :func:`~condensekit.medical.evaluate.evaluate_medical` (same seeds, so its ``val_acc`` rule
reproduces the benchmark's test ACC run for run) and, at every validation check, records both splits'
accuracy, balanced accuracy and per-class recall. Three rules choose the weights, each from validation or from
nothing, never from test:

* ``val_acc``: the benchmark's rule (best validation ACC; validation carries the training prior);
* ``val_balanced``: best validation balanced accuracy (a rule that does not reward the training prior);
* ``last``: the last weights (MTT's ``evaluate_synset``).

The test split's class shares enter only the prediction above, as a count of labels; no setting is chosen
with them. Single-label tasks only.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import torch
from torch import Tensor

from condensekit.core.evaluate import Summary, check_epoch, repeat
from condensekit.core.registry import check_int
from condensekit.core.vision.augment import DSA
from condensekit.core.vision.models import build_image_model
from condensekit.core.vision.splits import ImageSplits
from condensekit.core.vision.train import ImageTrainConfig, classification_loss, fit_images, predict
from condensekit.medical.evaluate import DEFAULT_EVAL, medmnist_metrics

RULES = ("val_acc", "val_balanced", "last")


def class_shares(y: Tensor, num_classes: int) -> list[float]:
    """The fraction of each class among the labels ``y`` (N int64)."""
    counts = torch.bincount(y.reshape(-1).long().cpu(), minlength=num_classes).double()
    return (counts / counts.sum().clamp_min(1)).tolist()


def split_scores(logits: Tensor, y: Tensor, num_classes: int) -> dict[str, Any]:
    """``{"acc", "balanced_acc", "recall": [r_0, ...], "predicted_share": [...]}`` of argmax predictions: top-1
    accuracy, the mean per-class recall (classes present in ``y``), each class's recall and the fraction of
    images predicted as each class."""
    pred = logits.argmax(-1).reshape(-1).cpu()
    y = y.reshape(-1).long().cpu()
    recall = []
    for c in range(num_classes):
        member = y == c
        recall.append(float((pred[member] == c).float().mean()) if member.any() else float("nan"))
    present = [r for r in recall if not np.isnan(r)]
    return {
        "acc": float((pred == y).float().mean()),
        "balanced_acc": float(np.mean(present)),
        "recall": recall,
        "predicted_share": class_shares(pred, num_classes),
    }


def _choose(checks: list[dict[str, Any]], rule: str) -> int:
    """The index of the check a rule keeps: the first best, as :func:`fit_images` keeps its weights."""
    if rule == "last":
        return len(checks) - 1
    key = "selection_acc" if rule == "val_acc" else None
    scores = [c[key] if key else c["val"]["balanced_acc"] for c in checks]
    return int(np.argmax(scores))  # argmax returns the first maximum


def class_shift_diagnosis(
    x: Tensor,
    y: Tensor,
    data: ImageSplits,
    *,
    runs: int = 5,
    seed: int = 0,
    config: ImageTrainConfig = DEFAULT_EVAL,
    lr: float | None = None,
    model: str = "convnet",
    dsa: bool = True,
) -> dict[str, Any]:
    """Train ``runs`` students on ``(x, y)`` as :func:`~condensekit.medical.evaluate.evaluate_medical` does and
    report, per weight-selection rule (:data:`RULES`), validation and test accuracy, balanced accuracy and
    per-class recall, plus the test ACC predicted from validation recalls under pure label shift (see the module
    docstring).

    Returns ``{"shares": {split: [...]}, "rules": {rule: {"val": {...}, "test": {...},
    "predicted_test_acc": Summary dict, "epoch": [...]}}, "runs": [per-run checks]}``; every ``{...}`` holds
    ``acc`` and ``balanced_acc`` as Summary dicts and ``recall`` as one Summary dict per class."""
    if data.multilabel:
        raise ValueError(f"class_shift_diagnosis needs a single-label task; {data.name!r} is {data.task!r}")
    check_int("config.val_every", config.val_every, 1)
    if lr is not None:
        config = replace(config, lr=float(lr))
    k = data.num_classes
    device = x.device
    val_x, val_y = data.x_val.to(device), data.y_val.to(device)
    test_x, test_y = data.x_test.to(device), data.y_test.to(device)
    select_acc = medmnist_metrics(data.task)["acc"]  # the benchmark's selection metric
    shares = {s: class_shares(getattr(data, f"y_{s}"), k) for s in ("train", "val", "test")}
    augment = DSA(generator=None) if dsa else None
    per_run: list[list[dict[str, Any]]] = []

    def one(run_seed: int) -> float:
        # The same calls, in the same order, as evaluate_image_set's run: same weights, batches and DSA draws.
        net = build_image_model(model, channels=data.channels, num_classes=k, im_size=data.im_size).to(device)
        gen = torch.Generator(device=device).manual_seed(run_seed)
        checks: list[dict[str, Any]] = []

        def validate(m: torch.nn.Module) -> float:
            val_logits, test_logits = predict(m, val_x), predict(m, test_x)
            score = float(select_acc(val_logits, val_y))
            checks.append({"check": len(checks), "selection_acc": score, "val": split_scores(val_logits, val_y, k),
                           "test": split_scores(test_logits, test_y, k)})  # fmt: skip
            return score

        fit_images(net, x, y, config=config, loss_fn=classification_loss, augment=augment, generator=gen,
                   validate=validate)  # fmt: skip
        per_run.append(checks)
        return checks[_choose(checks, "val_acc")]["test"]["acc"]

    repeat(one, runs=runs, seed=seed)
    epochs = _check_epochs(config)
    rules: dict[str, Any] = {}
    for rule in RULES:
        kept = [checks[_choose(checks, rule)] for checks in per_run]
        out: dict[str, Any] = {"epoch": [epochs[c["check"]] for c in kept]}
        for split in ("val", "test"):
            out[split] = {
                "acc": Summary([c[split]["acc"] for c in kept]).to_dict(),
                "balanced_acc": Summary([c[split]["balanced_acc"] for c in kept]).to_dict(),
                "recall": [Summary([c[split]["recall"][j] for c in kept]).to_dict() for j in range(k)],
                "predicted_share": [
                    Summary([c[split]["predicted_share"][j] for c in kept]).to_dict() for j in range(k)
                ],  # fmt: skip
            }
        predicted = [sum(p * r for p, r in zip(shares["test"], c["val"]["recall"], strict=True)) for c in kept]
        out["predicted_test_acc"] = Summary(predicted).to_dict()
        rules[rule] = out
    return {"shares": shares, "rules": rules, "check_epochs": epochs, "runs": per_run}


def _check_epochs(config: ImageTrainConfig) -> list[int]:
    """The epochs (1-based) at which :func:`fit_images` validates."""
    return [e + 1 for e in range(config.epochs) if check_epoch(e, config.epochs, config.val_every)]
