"""The N evaluation students of an image set trained together, with the figures of one at a time.

:func:`~condensekit.core.vision.train.fit_images` trains one model per call: on an accelerator that is a few
hundred tiny kernels per minibatch and a host round trip per validation check, N times over.
:func:`fit_images_batched` trains N freshly built copies of one image model at once (as
:func:`~condensekit.core.batched.train_select_batched` does for graph models): their parameters and buffers
stacked (:func:`torch.func.stack_module_state`), one forward and backward for all of them through
:func:`torch.func.vmap`, one optimiser step over the stacked tensors (the protocol's SGD or Adam,
:func:`~condensekit.core.vision.train.image_optimizer`: fused on CUDA), and the best-validation weights kept
per run on the device with ``torch.where``.

**Same seeds, same figures.** Per-element optimisers (SGD with momentum and weight decay, Adam) update a
stacked tensor exactly as they update its N slices one at a time, and the summed loss gives each run's
parameters its own loss's gradient. What a run draws is replayed from its own streams, in the order it draws
alone: its minibatch order from its own ``torch.Generator`` (``generators[i]``), and its augmentation from the
global generators (DSA with ``generator=None``, as the medical evaluation uses it) set, per minibatch, to the
run's state (:func:`rng_streams`: the host generator's, and the device's on an accelerator, since DSA draws its
op on the host there) and saved back after (:func:`~condensekit.core.batched.replay_stream`). The caller seeds
and builds the models in the one-at-a-time order, so run ``i`` starts from the same weights. Batch norm keeps
its running statistics per run (stacked buffers, updated in place under ``vmap``).

**Where it may differ.** Floating-point summation order: the vmapped convolution is a grouped convolution (and
validation logits are computed in smaller chunks), so a run's weights differ from the one-at-a-time run's by
rounding, which training amplifies over many epochs as it amplifies any rounding: ``benchmarks/
image_eval_batched.py --drift-epochs`` sets the gap beside that of the one-at-a-time run against itself with one
initial weight moved by one ulp. Measured (``benchmarks/results/image_eval_batched.json``, CPU): per-run test
ACC up to 0.051 apart after 300 epochs on 20 BreastMNIST images (8 of 156 test images, in one run of five), while
the weights drift about as far as a 1-ulp nudge moves the one-at-a-time runs' (0.019 against 0.014 after 300
epochs without selection). With selection on few validation images such drift sends a run to another epoch
(``best_epochs``: that run selected epoch 149 batched and 99 alone).
So a run's ACC agrees in distribution, not to the digit; 1,000 epochs are not measured.
An ``augment`` with its own generator cannot be replayed (the one-at-a-time runs share it in sequence) and is
refused.

**Supported models.** Every model whose training forward draws no random numbers and has no data-dependent
Python control flow: all of :data:`~condensekit.core.vision.models.IMAGE_MODELS` (ConvNet with instance, batch
or layer norm, ResNet-18 with batch or instance norm, MLP, logistic regression, the small CNN). A model that
cannot run under ``vmap`` (dropout, ``.item()`` in ``forward``) is refused with a ``ValueError`` before training.

**Host syncs.** None per training step; one per validation check at most (what ``val_score`` reads back; none
when it scores on the device), and two at the end (the selected scores and epochs).

Shapes: ``x`` N_img×C×H×W (shared by every run), ``y`` N_img (or N_img×K, N_img×L, matching ``loss_fn``);
``val_x`` M×C×H×W; ``val_score`` maps the runs' stacked validation logits R×M×K to R scores.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager

import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

from condensekit.core.batched import device_rng_state, keep_best, replay_stream, seeded_builds, where_runs
from condensekit.core.evaluate import check_epoch, lr_drop_epoch
from condensekit.core.vision.train import (
    FitResult,
    ImageTrainConfig,
    LossFn,
    classification_loss,
    fit_lr,
    image_optimizer,
)

__all__ = ["fit_images_batched", "rng_streams", "seeded_runs"]

#: Images per validation forward of one run (``predict``'s batch), shared by the R runs of a chunk.
VAL_BATCH = 1024


def _stream_devices(device: torch.device) -> tuple[torch.device, ...]:
    return (torch.device("cpu"),) if device.type == "cpu" else (torch.device("cpu"), device)


def rng_streams(device: torch.device) -> tuple[Tensor, ...]:
    """The global generators' states a run on ``device`` draws its augmentation from, taken right after its model
    is built: the host generator's, and ``device``'s when it is an accelerator."""
    return tuple(device_rng_state(d) for d in _stream_devices(device))


def seeded_runs(
    build: Callable[[], nn.Module], *, runs: int, seed: int, device: torch.device
) -> tuple[list[nn.Module], list[torch.Generator], list[tuple[Tensor, ...]]]:
    """The ``runs`` models, minibatch-order generators and :func:`rng_streams` that :func:`fit_images_batched`
    takes, made as :func:`~condensekit.core.evaluate.repeat`'s one-at-a-time runs make them: run ``i`` seeded with
    ``seed + i`` (:func:`~condensekit.core.seed.seed_everything`), its model built by ``build`` (on ``device``), its
    generator on ``device`` seeded with ``seed + i``, and its streams taken right after the build."""
    nets, states = seeded_builds(build, runs=runs, seed=seed, state=lambda: rng_streams(device))
    # seeding a torch.Generator leaves the global streams alone, so making them after the builds changes nothing
    gens = [torch.Generator(device=device).manual_seed(seed + i) for i in range(runs)]
    return nets, gens, states


@contextmanager
def _run_streams(device: torch.device, streams: list[list[Tensor]], i: int) -> Iterator[None]:
    with ExitStack() as stack:
        for d, states in zip(_stream_devices(device), streams, strict=True):
            stack.enter_context(replay_stream(d, states, i))
        yield


def fit_images_batched(
    models: Sequence[nn.Module],
    x: Tensor,
    y: Tensor,
    *,
    generators: Sequence[torch.Generator],
    rng_states: Sequence[tuple[Tensor, ...]],
    config: ImageTrainConfig | None = None,
    lr: float | None = None,
    loss_fn: LossFn = classification_loss,
    augment: Callable[[Tensor], Tensor] | None = None,
    val_x: Tensor | None = None,
    val_score: Callable[[Tensor], Tensor] | None = None,
) -> list[FitResult]:
    """:func:`~condensekit.core.vision.train.fit_images` for R models of one architecture at once (see the module
    docstring); each model ends in eval mode with its selected weights, as ``fit_images`` leaves it.

    Args:
        models: R freshly built models of one architecture on ``x``'s device, built in the one-at-a-time order.
        x, y: the training images and targets, shared by every run.
        generators: run ``i``'s minibatch-order generator (on ``x``'s device), as ``fit_images`` gets it.
        rng_states: run ``i``'s :func:`rng_streams` taken right after its model was built; its augmentation
            draws from them.
        config, lr, loss_fn: as for ``fit_images`` (``regularizer`` is not supported).
        augment: a per-batch augmentation drawing from the global generators (``DSA(generator=None)``).
        val_x: the validation images; with ``config.val_every > 0`` and ``val_score`` each run keeps its weights
            with the best score.
        val_score: the R runs' validation logits R×M×K → their R scores (higher is better), one host round trip
            at most (e.g. one ``.cpu()`` then a host metric per run).

    Returns:
        One :class:`~condensekit.core.vision.train.FitResult` per model, in order.
    """
    config = ImageTrainConfig() if config is None else config
    r = len(models)
    if r < 1:
        raise ValueError("Invalid value [] for argument models. Valid values are R >= 1 models")
    for name, given in (("generators", generators), ("rng_states", rng_states)):
        if len(given) != r:
            raise ValueError(f"Invalid value of {len(given)} entries for argument {name}. Valid values are one per "
                             f"model ({r})")  # fmt: skip
    _check_streams(rng_states, x.device)
    base_lr = fit_lr(x, y, config, lr)
    if getattr(augment, "generator", None) is not None:
        raise ValueError("augment draws from its own generator, which the runs would share in sequence one at a "
                         "time; give it generator=None (the global generators, replayed per run)")  # fmt: skip
    base, device = models[0], x.device
    params, buffers = stack_module_state(list(models))
    params = {k: v.detach().requires_grad_(True) for k, v in params.items()}
    streams = [[states[k] for states in rng_states] for k in range(len(_stream_devices(device)))]
    n, bs = x.shape[0], min(config.batch_size, x.shape[0])

    def forward(prm: dict[str, Tensor], buf: dict[str, Tensor], xb: Tensor) -> Tensor:
        return functional_call(base, {**prm, **buf}, (xb,))

    def loss_one(prm: dict[str, Tensor], buf: dict[str, Tensor], xb: Tensor, yb: Tensor) -> Tensor:
        return loss_fn(forward(prm, buf, xb), yb)

    batched_loss = vmap(loss_one, in_dims=(0, 0, 0, 0))
    _check_vmappable(base, forward, params, buffers, x[:bs])

    opt = image_optimizer(params.values(), config, base_lr)
    drop_epoch = lr_drop_epoch(config.epochs, config.lr_drop_at)
    select = config.val_every > 0 and val_score is not None and val_x is not None
    best_val = torch.full((r,), -math.inf, dtype=torch.float64, device=device)
    best_epoch = torch.full((r,), -1, dtype=torch.long, device=device)
    best = {k: v.detach().clone() for k, v in {**params, **buffers}.items()} if select else {}
    for epoch in range(config.epochs):
        if epoch == drop_epoch:
            for group in opt.param_groups:
                group["lr"] = base_lr * config.lr_drop_factor
        base.train()
        orders = [torch.randperm(n, device=device, generator=g) for g in generators] if n > bs else None
        for start in range(0, n, bs):
            xs, ys = [], []
            for i in range(r):
                idx = orders[i][start : start + bs] if orders is not None else None
                xb = x if idx is None else x[idx]
                if augment is not None:
                    with _run_streams(device, streams, i):
                        xb = augment(xb)
                xs.append(xb)
                ys.append(y if idx is None else y[idx])
            opt.zero_grad(set_to_none=True)
            batched_loss(params, buffers, torch.stack(xs), torch.stack(ys)).sum().backward()
            opt.step()
        if select and check_epoch(epoch, config.epochs, config.val_every):
            score = val_score(_val_logits(base, forward, params, buffers, val_x)).to(device, torch.float64)
            best_val, best_epoch = keep_best(score, epoch, best_val, best_epoch, best, {**params, **buffers})
    final = {k: v.detach() for k, v in {**params, **buffers}.items()}
    if select:  # a run whose score never beat -inf (NaN) keeps its last weights, as fit_images does
        never = best_epoch < 0
        final = {k: where_runs(never, v, best[k]) for k, v in final.items()}
    with torch.no_grad():
        for i, m in enumerate(models):
            m.load_state_dict({k: v[i] for k, v in final.items()})
            m.eval()
    if not select:
        return [FitResult(best_epoch=config.epochs - 1, best_val=None) for _ in range(r)]
    return [
        FitResult(best_epoch=ep if ep >= 0 else config.epochs - 1, best_val=val)
        for val, ep in zip(best_val.tolist(), best_epoch.tolist(), strict=True)
    ]


def _check_streams(rng_states: Sequence[tuple[Tensor, ...]], device: torch.device) -> None:
    """Each run's states are :func:`rng_streams` of ``device``: taken on another device they replay the wrong
    generators (one state where an accelerator needs the host's and its own)."""
    devices = _stream_devices(device)
    for i, states in enumerate(rng_states):
        if len(states) != len(devices):
            raise ValueError(
                f"Invalid value of {len(states)} states (run {i}) for argument rng_states. Valid values are "
                f"rng_streams(x.device) for x on {device}: {len(devices)} per run, the generators' states of "
                f"{', '.join(str(d) for d in devices)}"
            )


def _check_vmappable(base: nn.Module, forward: Callable, params: dict, buffers: dict, xb: Tensor) -> None:
    """One training-mode forward of two runs under ``vmap`` on copies of the buffers (batch norm updates them),
    drawing nothing: a model that draws random numbers or branches on a tensor's value fails here, named."""
    base.train()
    two = {k: v[:1].expand(2, *v.shape[1:]) for k, v in params.items()}
    copies = {k: v[:1].expand(2, *v.shape[1:]).clone() for k, v in buffers.items()}
    try:
        with torch.no_grad():
            vmap(forward, in_dims=(0, 0, None), randomness="error")(two, copies, xb)
    except RuntimeError as err:
        raise ValueError(
            f"model {type(base).__name__} cannot be trained batched under torch.func.vmap ({err}); "
            "train its runs one at a time (batched=False)"
        ) from err


@torch.no_grad()
def _val_logits(base: nn.Module, forward: Callable, params: dict, buffers: dict, val_x: Tensor) -> Tensor:
    """The R runs' eval-mode logits on ``val_x``, R×M×K, in chunks of ``VAL_BATCH // R`` images per run."""
    base.eval()
    r = next(iter(params.values())).shape[0]
    step = max(1, VAL_BATCH // r)
    run_all = vmap(forward, in_dims=(0, 0, None))
    return torch.cat([run_all(params, buffers, val_x[i : i + step]) for i in range(0, val_x.shape[0], step)], dim=1)
