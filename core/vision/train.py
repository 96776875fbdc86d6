"""The image train / evaluate routine every image domain shares.

:func:`fit_images` trains a classifier on a (small, synthetic or real) image set with minibatch SGD, the
protocol of the condensation papers (DC/DSA/DM/MTT: SGD, momentum 0.9, weight decay 5e-4, the learning rate
divided by 10 half way); optional per-batch augmentation (DSA on synthetic images), an optional extra
loss term (a curvature regulariser, for robust teachers), and validation-based selection of the weights.
:func:`predict` returns logits in batches. :func:`evaluate_image_set` is the train-on-synthetic,
test-on-real protocol over N seeded runs on top of :func:`condensekit.core.evaluate.repeat`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from condensekit.core.config import check_field_types
from condensekit.core.evaluate import Summary, accuracy, check_epoch, lr_drop_epoch, repeat
from condensekit.core.labels import check_class_indices
from condensekit.core.modes import eval_mode
from condensekit.core.optim import adam, sgd
from condensekit.core.registry import check_choice, check_int, check_nonnegative, check_positive, check_tensor
from condensekit.core.vision.models import build_image_model
from condensekit.core.vision.splits import ImageSplits, check_image_splits

OPTIMIZERS = ("sgd", "adam")
LossFn = Callable[[Tensor, Tensor], Tensor]
Regularizer = Callable[[nn.Module, Tensor, Tensor], Tensor]
Metric = Callable[[Tensor, Tensor], float]


@dataclass(frozen=True)
class ImageTrainConfig:
    """How a classifier is trained on images (defaults: the DC/DM/MTT evaluation protocol).

    Args:
        epochs: passes over the training images.
        lr: initial learning rate (MTT evaluates with its learned synthetic learning rate instead).
        momentum: SGD momentum.
        weight_decay: L2 weight decay.
        batch_size: minibatch size (a synthetic set smaller than it is one batch).
        optimizer: ``sgd`` or ``adam``.
        lr_drop_at: fraction of the epochs after which the rate is multiplied by ``lr_drop_factor``
            (the papers: 0.5, ×0.1), after one epoch at least; 1.0 disables it.
        lr_drop_factor: the factor.
        val_every: validate every k epochs and keep the best weights; 0 keeps the last weights.
    """

    epochs: int = 300
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 256
    optimizer: str = "sgd"
    lr_drop_at: float = 0.5
    lr_drop_factor: float = 0.1
    val_every: int = 0

    def __post_init__(self) -> None:
        check_field_types(self)  # numpy scalars stored as Python values (cards stay JSON); bool / Literal by kind
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        for name in ("epochs", "batch_size"):
            check_int(name, getattr(self, name), 1)
        check_int("val_every", self.val_every, 0)
        for name in ("lr", "lr_drop_at", "lr_drop_factor"):  # a factor <= 0: no training, or ascent, after the drop
            check_positive(name, getattr(self, name))
        for name in ("momentum", "weight_decay"):
            check_nonnegative(name, getattr(self, name))
        if self.lr_drop_at > 1:
            raise ValueError(f"Invalid value {self.lr_drop_at!r} for argument lr_drop_at. Valid values are in (0, 1]")


def classification_loss(logits: Tensor, y: Tensor) -> Tensor:
    """Cross-entropy for int64 labels N or soft labels N×K (rows summing to 1)."""
    return F.cross_entropy(logits, y)


def distillation_loss(temperature: float = 1.0) -> LossFn:
    r"""Knowledge distillation on stored soft labels :math:`p = \mathrm{softmax}(z_T / T)`:
    :math:`T^2 \cdot \mathrm{CE}(\mathrm{softmax}(z_S / T), p)` (Hinton et al., 2015; the :math:`T^2` keeps the
    gradient's scale independent of :math:`T`). Equals :func:`classification_loss` on soft targets at
    ``temperature=1``."""
    check_positive("temperature", temperature)
    t = float(temperature)

    def loss(logits: Tensor, soft: Tensor) -> Tensor:
        return F.cross_entropy(logits / t, soft) * (t * t)

    return loss


def multilabel_loss(logits: Tensor, y: Tensor) -> Tensor:
    """Binary cross-entropy with logits for multi-label targets N×L in {0, 1} (or soft in [0, 1])."""
    return F.binary_cross_entropy_with_logits(logits, y.float())


def image_optimizer(params: Iterable[Tensor], config: ImageTrainConfig, lr: float) -> torch.optim.Optimizer:
    """``config``'s optimiser over ``params``, fused into one kernel per step when they are all on CUDA (SGD and
    Adam alike: the same update, up to the rounding of a fused multiply-add)."""
    if config.optimizer == "adam":
        return adam(params, lr=lr, weight_decay=config.weight_decay)
    return sgd(params, lr=lr, momentum=config.momentum, weight_decay=config.weight_decay)


@torch.no_grad()
def predict(model: nn.Module, x: Tensor, *, batch_size: int = 1024) -> Tensor:
    """Logits of ``model`` on ``x`` (N×C×H×W) in eval mode, computed in batches; N×K. Every submodule keeps its
    own mode afterwards (:func:`~condensekit.core.modes.eval_mode`)."""
    with eval_mode(model):
        return torch.cat([model(x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)])


@dataclass(frozen=True)
class FitResult:
    """What :func:`fit_images` kept: the 0-based epoch of the kept weights (``best_epoch``; the last epoch when
    nothing was validated) and their validation score (``best_val``; ``None`` when nothing was validated)."""

    best_epoch: int
    best_val: float | None


def fit_lr(x: Tensor, y: Tensor, config: ImageTrainConfig, lr: float | None) -> float:
    """The training rate of :func:`fit_images` and its batched twin (``lr``, else ``config.lr``), after checking
    that ``x`` (N images) and ``y`` (N targets) are a non-empty training set and the rate is a finite number > 0."""
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} images but y has {y.shape[0]} targets")
    if x.shape[0] == 0:
        raise ValueError("x is empty: nothing to train on")
    base_lr = config.lr if lr is None else float(lr)
    check_positive("lr", base_lr)
    return base_lr


def check_image_set(x: object, y: object, data: ImageSplits, *, labels: bool = True) -> None:
    """Refuse, before any training, a set ``(x, y)`` that cannot be trained on for ``data`` and scored on its real
    splits, naming the argument, what it holds and what is valid:

    * ``x``: a tensor N×C×H×W with ``data``'s C×H×W, N ≥ 1, finite;
    * ``y`` (when ``labels``): a tensor of N targets as ``data``'s task reads them: single-label tasks N (or N×1)
      integer class indices in [0, K), or N×K soft labels (float rows, ≥ 0, finite); multi-label tasks N×L.

    Before, float class labels trained silently (cast by the caller, or refused deep in torch's cross-entropy), a
    32×32 set trained on 28×28 data and was scored, NaN images failed only in the metric after training, and labels
    past the last class were an ``IndexError`` of the loss."""
    check_image_splits(data)
    check_tensor("x", x)
    check_tensor("y", y)
    assert isinstance(x, Tensor) and isinstance(y, Tensor)
    want = (data.channels, *data.im_size)
    if x.dim() != 4 or tuple(x.shape[1:]) != want:
        raise ValueError(
            f"Invalid argument x: the condensed images are {tuple(x.shape)} (N, C, H, W) but the real images of "
            f"{data.name!r} are N×{'×'.join(map(str, want))}; train and score a set on the data it was made from"
        )
    if x.shape[0] == 0:
        raise ValueError("Invalid argument x: it holds no image; there is nothing to train on")
    if y.shape[:1] != x.shape[:1]:
        raise ValueError(f"x has {x.shape[0]} images but y has {y.shape[0] if y.dim() else 0} targets")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("Invalid argument x: it holds NaN or inf values")
    if not labels:
        return
    k = data.num_classes
    if data.multilabel:
        if y.dim() != 2 or y.shape[1] != k:
            raise ValueError(f"Invalid argument y: shape {tuple(y.shape)}; task {data.task!r} needs N×{k} labels")
        return
    if y.is_floating_point() and y.dim() == 2 and y.shape[1] == k:  # soft labels
        if not bool(torch.isfinite(y).all()) or bool((y < 0).any()):
            raise ValueError("Invalid argument y: soft labels must be finite and >= 0 (rows of class probabilities)")
        return
    check_class_indices(y, k, "y", f"{data.name!r} needs", f" or N×{k} float soft labels")


def fit_images(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    config: ImageTrainConfig = ImageTrainConfig(),
    lr: float | None = None,
    loss_fn: LossFn = classification_loss,
    augment: Callable[[Tensor], Tensor] | None = None,
    regularizer: Regularizer | None = None,
    validate: Callable[[nn.Module], float] | None = None,
    generator: torch.Generator | None = None,
) -> FitResult:
    """Train ``model`` in place on ``(x, y)``.

    Each epoch visits the images once in a random order (``generator`` on ``x``'s device); each batch's
    loss is ``loss_fn(model(augment(xb)), yb) + regularizer(model, augment(xb), yb)``. With
    ``config.val_every > 0`` and a ``validate`` callable (higher is better, called in eval mode without
    gradients), the weights with the best validation score are restored at the end.

    Args:
        model: the classifier, already on ``x``'s device.
        x: N×C×H×W training images.
        y: targets (N int64, N×K soft or N×L multi-label), matching ``loss_fn``.
        lr: overrides ``config.lr`` (MTT's learned learning rate).
    """
    base_lr = fit_lr(x, y, config, lr)
    opt = image_optimizer(model.parameters(), config, base_lr)
    drop_epoch = lr_drop_epoch(config.epochs, config.lr_drop_at)
    select = config.val_every > 0 and validate is not None
    best_val, best_epoch, best_state = -math.inf, config.epochs - 1, None
    n, bs = x.shape[0], min(config.batch_size, x.shape[0])
    for epoch in range(config.epochs):
        if epoch == drop_epoch:
            for group in opt.param_groups:
                group["lr"] = base_lr * config.lr_drop_factor
        model.train()
        order = torch.randperm(n, device=x.device, generator=generator) if n > bs else None
        for start in range(0, n, bs):
            idx = order[start : start + bs] if order is not None else None
            xb = x if idx is None else x[idx]
            yb = y if idx is None else y[idx]
            if augment is not None:
                xb = augment(xb)
            loss = loss_fn(model(xb), yb)
            if regularizer is not None:
                loss = loss + regularizer(model, xb, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if select and check_epoch(epoch, config.epochs, config.val_every):
            model.eval()
            with torch.no_grad():
                score = float(validate(model))  # type: ignore[misc]
            if score > best_val:
                best_val, best_epoch = score, epoch
                best_state = copy.deepcopy(model.state_dict())
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return FitResult(best_epoch=best_epoch, best_val=best_val if select else None)


def accuracy_metric(logits: Tensor, y: Tensor) -> float:
    """Top-1 accuracy in percent for int64 labels of any shape N or N×1 (:func:`core.evaluate.accuracy`)."""
    return accuracy(logits, y.reshape(-1))


def evaluate_image_set(
    x: Tensor,
    y: Tensor,
    data: ImageSplits,
    *,
    model: str = "convnet",
    runs: int = 5,
    seed: int = 0,
    config: ImageTrainConfig = ImageTrainConfig(),
    lr: float | None = None,
    metrics: Mapping[str, Metric] | None = None,
    loss_fn: LossFn | None = None,
    augment: Callable[[Tensor], Tensor] | None = None,
    batched: bool = False,
    on_fit: Callable[[FitResult], None] | None = None,
) -> dict[str, Summary]:
    """Train ``runs`` fresh ``model``s on ``(x, y)``; score each on ``data``'s real test split.

    With ``config.val_every > 0`` every run keeps its weights with the best first metric on the real
    validation split. Returns one :class:`Summary` per metric (default ``{"acc": top-1 %}``).

    ``batched`` trains the runs together (:func:`~condensekit.core.vision.batched.fit_images_batched`: one
    vmapped forward and backward per minibatch for all of them, for accelerators): run ``i`` is seeded, built and
    augmented as one at a time, so its figures are the one-at-a-time ones up to floating-point summation order
    (which hundreds of epochs amplify as they amplify any rounding; measured in
    :mod:`~condensekit.core.vision.batched`). ``augment`` must then draw from the global generators
    (``DSA(generator=None)``).

    ``on_fit`` gets each run's :class:`FitResult` (its selected epoch and validation score), in run order.
    The set is checked first (:func:`check_image_set`; its targets only with the default loss: a custom
    ``loss_fn`` defines its own).
    """
    check_image_set(x, y, data, labels=loss_fn is None)
    if loss_fn is None and not data.multilabel and not y.is_floating_point():  # N×1 or int32 class indices
        y = y.reshape(-1).long()
    metrics = dict(metrics or {"acc": accuracy_metric})
    if not metrics:
        raise ValueError("metrics is empty: name at least one metric")
    first = next(iter(metrics.values()))
    loss = loss_fn or (multilabel_loss if data.multilabel else classification_loss)
    device = x.device
    val_x, val_y = data.x_val.to(device), data.y_val.to(device)
    test_x, test_y = data.x_test.to(device), data.y_test.to(device)
    per_run: list[dict[str, float]] = []

    def build() -> nn.Module:
        net = build_image_model(model, channels=data.channels, num_classes=data.num_classes, im_size=data.im_size)
        return net.to(device)

    def test(net: nn.Module) -> float:
        logits = predict(net, test_x)
        scores = {name: float(fn(logits, test_y)) for name, fn in metrics.items()}
        per_run.append(scores)
        return next(iter(scores.values()))

    if batched:
        together = _fit_together(build, x, y, runs=runs, seed=seed, config=config, lr=lr, loss_fn=loss,
                                 augment=augment, val_x=val_x, val_y=val_y, metric=first)  # fmt: skip
        for net, fit in together:  # in run order, as the one-at-a-time runs report
            if on_fit is not None:
                on_fit(fit)
            test(net)
        return {name: Summary([r[name] for r in per_run]) for name in metrics}

    def one(run_seed: int) -> float:
        net = build()
        gen = torch.Generator(device=device).manual_seed(run_seed)
        fit = fit_images(
            net, x, y, config=config, lr=lr, loss_fn=loss, augment=augment, generator=gen,
            validate=lambda m: first(predict(m, val_x), val_y),
        )  # fmt: skip
        if on_fit is not None:
            on_fit(fit)
        return test(net)

    repeat(one, runs=runs, seed=seed)
    return {name: Summary([r[name] for r in per_run]) for name in metrics}


def _fit_together(
    build: Callable[[], nn.Module],
    x: Tensor,
    y: Tensor,
    *,
    runs: int,
    seed: int,
    val_x: Tensor,
    val_y: Tensor,
    metric: Metric,
    **fit: object,
) -> list[tuple[nn.Module, FitResult]]:
    """:func:`repeat`'s runs of ``build`` + ``fit_images``, trained together (see :func:`evaluate_image_set`): run
    ``i`` seeded with ``seed + i`` before its model is built; each trained model with its fit, in run order."""
    from condensekit.core.vision.batched import fit_images_batched, seeded_runs  # it builds on this module

    nets, gens, states = seeded_runs(build, runs=runs, seed=seed, device=x.device)
    val_y_host = val_y.cpu()

    def scores(logits: Tensor) -> Tensor:
        host = logits.cpu()  # the validation check's one host round trip; the metric runs on the host
        return torch.tensor([float(metric(run, val_y_host)) for run in host], dtype=torch.float64, device="cpu")

    fits = fit_images_batched(nets, x, y, generators=gens, rng_states=states, val_x=val_x, val_score=scores, **fit)
    return list(zip(nets, fits, strict=True))
