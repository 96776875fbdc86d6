"""``evaluate_image_set(..., batched=True)`` gives the one-at-a-time scores per run (its runs seeded, built and
augmented as :func:`~condensekit.core.evaluate.repeat` does them) and reads the validation logits back once per
check. The weight-level agreement and its tolerance are tests/core/vision/test_batched_fit.py's."""

from __future__ import annotations

import pytest
import torch.nn.functional as F

from condensekit.core.vision.augment import DSA
from condensekit.core.vision.train import ImageTrainConfig, accuracy_metric, evaluate_image_set
from tests.core.vision.test_batched_fit import ATOL, RUNS, _data
from tests.device_audit import DeviceAudit


def test_evaluate_image_set_batched_gives_the_one_at_a_time_scores():
    """Top-1 accuracy selects the epoch (a tie keeps the earlier check, in both); the test cross-entropy, a
    continuous score, shows the runs' selected weights agree up to test_batched_fit.py's ATOL."""
    data = _data()
    cfg = ImageTrainConfig(epochs=12, lr=0.05, batch_size=8, val_every=3)
    metrics = {"acc": accuracy_metric, "loss": lambda logits, y: float(F.cross_entropy(logits, y))}
    kw = {"model": "convnet_bn_small", "runs": RUNS, "seed": 4, "config": cfg, "metrics": metrics}
    fits = {False: [], True: []}
    alone = evaluate_image_set(data.x_train, data.y_train, data, augment=DSA(generator=None),
                               on_fit=fits[False].append, **kw)  # fmt: skip
    together = evaluate_image_set(data.x_train, data.y_train, data, augment=DSA(generator=None), batched=True,
                                  on_fit=fits[True].append, **kw)  # fmt: skip
    assert together["acc"].values == alone["acc"].values
    # on_fit gets every run's selected epoch, in run order, the same in both modes
    assert len(fits[True]) == RUNS and [f.best_epoch for f in fits[True]] == [f.best_epoch for f in fits[False]]
    assert [f.best_val for f in fits[True]] == pytest.approx([f.best_val for f in fits[False]], abs=1e-9)
    assert together["loss"].values == pytest.approx(alone["loss"].values, abs=ATOL)
    assert max(alone["loss"].values) - min(alone["loss"].values) > 10 * ATOL  # the runs differ


def test_evaluate_image_set_batched_reads_back_once_per_validation_check():
    """Its host metric (top-1 accuracy here, medmnist's in the medical domain) reads the R runs' validation
    logits back in one copy per check, outside the training steps."""
    data = _data()
    epochs, val_every = 6, 2
    cfg = ImageTrainConfig(epochs=epochs, lr=0.05, batch_size=8, val_every=val_every)
    with DeviceAudit() as audit:
        evaluate_image_set(data.x_train, data.y_train, data, model="convnet_bn_small", runs=RUNS, config=cfg,
                           augment=DSA(generator=None), batched=True)  # fmt: skip
    assert audit.problems() == [], audit.findings
    sites = {s: n for s, n in audit.sync_sites().items() if "augment.py" not in s}
    assert sum(n for s, n in sites.items() if "core/vision/batched.py" in s) == 2, sites
    assert sum(n for s, n in sites.items() if s.startswith("cpu at core/vision/train.py")) == 1 + epochs // val_every
