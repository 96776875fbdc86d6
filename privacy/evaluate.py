"""The evaluation of private sets: LR, MLP and CNN trained on the released images, tested on real MNIST.

The DP generative-model papers (DP-MERF, DPDM Table 1) train logistic regression, an MLP and a small CNN on
the synthetic data and report real test accuracy. Here every classifier takes the same number of Adam steps
(lr 1e-3, batch 256, no weight decay, no learning-rate drop) whatever the set size, so a 100-image condensed
set and a 10,000-image generated set get the same optimisation budget; the last weights are tested (no
selection on the private validation split).

``split="validation"`` scores the classifiers on the validation split instead of the test split: what the
benchmark's hyper-parameter selection uses (``benchmarks/privacy.py --select``), so that no setting is ever
chosen on test accuracy. The validation images are private training data, so such a selection is itself not
covered by the DP guarantee of the release (the usual caveat; see BENCHMARKS.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor

from condensekit.core.evaluate import Summary
from condensekit.core.registry import check_choice
from condensekit.core.vision import ImageSplits, ImageTrainConfig, evaluate_image_set
from condensekit.core.vision.models import IMAGE_MODELS

#: The DP tables' three classifiers.
PRIVATE_EVAL_MODELS: tuple[str, ...] = ("lr", "mlp", "cnn")
#: The real split the classifiers are scored on.
EVAL_SPLITS: tuple[str, ...] = ("test", "validation")


def train_config_for(n: int, *, train_steps: int = 500, batch_size: int = 256) -> ImageTrainConfig:
    """Adam for ``train_steps`` minibatch steps on ``n`` images (epochs = steps / batches per epoch, rounded up)."""
    if n < 1 or train_steps < 1:
        raise ValueError(f"Invalid values n={n!r}, train_steps={train_steps!r}. Valid values are >= 1")
    epochs = math.ceil(train_steps / math.ceil(n / batch_size))
    return ImageTrainConfig(
        epochs=epochs, optimizer="adam", lr=1e-3, weight_decay=0.0, batch_size=batch_size, lr_drop_at=1.0
    )


def evaluate_private(
    x: Tensor,
    y: Tensor,
    data: ImageSplits,
    *,
    models: Sequence[str] = PRIVATE_EVAL_MODELS,
    runs: int = 3,
    seed: int = 0,
    train_steps: int = 500,
    split: str = "test",
) -> dict[str, Summary]:
    """Accuracy (%) on the real ``split`` (``"test"`` or ``"validation"``) of each model in ``models`` trained
    ``runs`` times on ``(x, y)``."""
    check_choice("split", split, EVAL_SPLITS)
    models = IMAGE_MODELS.check_names(models, "models")  # "cnn" was read as letters: "Unknown image model 'c'"
    if split == "validation":
        if data.x_val.shape[0] == 0:
            raise ValueError(f"Invalid value 'validation' for argument split: {data.name!r} has no validation images")
        data = data.validation_as_test()
    cfg = train_config_for(int(x.shape[0]), train_steps=train_steps)
    return {m: evaluate_image_set(x, y, data, model=m, runs=runs, seed=seed, config=cfg)["acc"] for m in models}
