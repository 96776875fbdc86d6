"""The protocol's N runs of one architecture trained together, with the figures of one at a time.

:func:`~condensekit.core.evaluate.train_select` trains one model per call; on an accelerator that
is thousands of tiny kernels per run and a host synchronisation per epoch (reading the validation
score). :func:`train_select_batched` trains N freshly initialised copies of one architecture at
once: their parameters stacked (:func:`torch.func.stack_module_state`), one forward and backward
for all of them through :func:`torch.func.vmap`, one fused Adam step on the stacked tensors, and
the best-validation weights kept on the device with ``torch.where`` (no host round trip until the
test at the end).

Same seeds, same figures. Run ``i`` is initialised exactly as one at a time (the caller seeds
every RNG with its seed before building it), and its dropout masks are replayed from its own RNG
stream: before every training forward, the generator of the device is set to run ``i``'s state
and :func:`torch.nn.functional.dropout` is applied to ones of each dropout site's shape, which
consumes the stream exactly as the one-at-a-time run does (a CPU or CUDA dropout draws as many
numbers as its input has elements, whatever their values). Models opt in by calling
:func:`dropout` instead of ``F.dropout``. What may still differ is floating-point summation order
(a batched matrix product against N single ones), so a run's accuracy agrees up to that.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

from condensekit.core.evaluate import TrainConfig, TrainResult, check_epoch
from condensekit.core.registry import check_int
from condensekit.core.seed import seed_everything

__all__ = [
    "dropout",
    "device_rng_state",
    "keep_best",
    "replay_stream",
    "seeded_builds",
    "train_select_batched",
    "where_runs",
]


class _Replay:
    """What :func:`dropout` does while a batched run is active: record shapes, or apply masks."""

    def __init__(self, masks: list[Tensor] | None) -> None:
        self.masks = masks
        self.sites: list[tuple[torch.Size, float]] = []
        self.next = 0

    def __call__(self, h: Tensor, p: float) -> Tensor:
        if self.masks is None:
            self.sites.append((h.shape, p))
            return h
        mask = self.masks[self.next]
        self.next += 1
        return h * mask


_ACTIVE: _Replay | None = None


def dropout(h: Tensor, p: float, training: bool) -> Tensor:
    """``F.dropout(h, p, training)``, or, inside :func:`train_select_batched`, the replayed mask of
    this dropout site for every run (see the module docstring)."""
    if _ACTIVE is None or not training:
        return F.dropout(h, p=p, training=training)
    return _ACTIVE(h, p)


@contextmanager
def _replaying(replay: _Replay) -> Iterator[_Replay]:
    global _ACTIVE
    previous, _ACTIVE = _ACTIVE, replay
    try:
        yield replay
    finally:
        _ACTIVE = previous


def device_rng_state(device: torch.device) -> Tensor:
    """The state of the generator ``device``'s random ops draw from (CPU or CUDA)."""
    if device.type == "cuda":
        return torch.cuda.get_rng_state(device)
    if device.type == "cpu":
        return torch.get_rng_state()
    raise ValueError(f"Invalid value {str(device)!r} for argument device. Valid values are cpu, cuda[:N]")


def _set_device_rng_state(device: torch.device, state: Tensor) -> None:
    """Set the generator ``device``'s random ops draw from to ``state`` (:func:`device_rng_state`)."""
    if device.type == "cuda":
        torch.cuda.set_rng_state(state, device)
    else:
        torch.set_rng_state(state)


def seeded_builds(
    build: Callable[[], nn.Module], *, runs: int, seed: int, state: Callable[[], Any]
) -> tuple[list[nn.Module], list[Any]]:
    """The ``runs`` models of a batched evaluation, made as :func:`~condensekit.core.evaluate.repeat`'s one-at-a-time
    runs make them: run ``i`` seeds every RNG with ``seed + i`` (:func:`~condensekit.core.seed.seed_everything`),
    builds its model, then takes ``state()`` (the generators' states its random draws will replay from)."""
    check_int("runs", runs, 1)
    nets, states = [], []
    for i in range(runs):
        seed_everything(seed + i)
        nets.append(build())
        states.append(state())
    return nets, states


@contextmanager
def replay_stream(device: torch.device, states: list[Tensor], i: int) -> Iterator[None]:
    """Inside the block, ``device``'s generator draws from run ``i``'s stream: it starts at ``states[i]``; on exit
    ``states[i]`` becomes where the draws stopped and the generator is put back as it was. A run's draws made
    this way, one block at a time, are those it makes alone with the generator seeded for it."""
    saved = device_rng_state(device)
    _set_device_rng_state(device, states[i])
    try:
        yield
        states[i] = device_rng_state(device)
    finally:
        _set_device_rng_state(device, saved)


class _Call(nn.Module):
    """Lets :func:`torch.func.functional_call` run any closure ``fn(model)`` on given parameters."""

    def __init__(self, model: nn.Module, fn: Callable[[nn.Module], Tensor]) -> None:
        super().__init__()
        self.model = model
        self.fn = fn

    def forward(self) -> Tensor:
        return self.fn(self.model)


def where_runs(mask: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """Run by run (dim 0 of the stacked ``a`` and ``b``, R×...): ``a``'s slice where ``mask`` (R) holds, else
    ``b``'s."""
    return torch.where(mask.view(-1, *([1] * (a.dim() - 1))), a, b)


def keep_best(
    score: Tensor, epoch: int, best_val: Tensor, best_epoch: Tensor, best: dict[str, Tensor], current: dict[str, Tensor]
) -> tuple[Tensor, Tensor]:
    """One validation check of R stacked runs, on the device (no host read): a run whose ``score`` (R) beats its
    ``best_val`` strictly, as one at a time does, takes ``epoch`` and its slice of ``current`` into ``best`` (in
    place). Returns the new ``best_val`` and ``best_epoch``."""
    better = score > best_val
    for k, v in current.items():
        best[k] = where_runs(better, v.detach(), best[k])
    return torch.where(better, score, best_val), torch.where(better, torch.full_like(best_epoch, epoch), best_epoch)


def train_select_batched(
    models: Sequence[nn.Module],
    *,
    rng_states: Sequence[Tensor],
    train_loss: Callable[[nn.Module], Tensor],
    validate: Callable[[nn.Module], Tensor],
    test: Callable[[nn.Module], float],
    config: TrainConfig | None = None,
) -> list[TrainResult]:
    """:func:`~condensekit.core.evaluate.train_select` for N models of one architecture at once.

    Args:
        models: N freshly initialised models of the same architecture on one device (built one
            at a time after seeding, as the one-at-a-time runs are).
        rng_states: each run's device-generator state right after its model was built
            (:func:`device_rng_state`); its dropout masks are drawn from it.
        train_loss: the training loss of one model (called under :func:`torch.func.vmap`, so
            it must use batchable ops; models must call :func:`dropout`).
        validate: the validation score of one model as a 0-d tensor (higher is better), e.g. the
            count of correct validation nodes; it stays on the device.
        test: the test score of one model (called once per run, after selection).
        config: as for ``train_select`` (default ``TrainConfig()``).

    Returns:
        One :class:`~condensekit.core.evaluate.TrainResult` per model, in order. ``val`` is what
        ``validate`` returned at the selected epoch.
    """
    config = TrainConfig() if config is None else config
    n = len(models)
    if n < 1 or len(rng_states) != n:
        raise ValueError(f"need N >= 1 models and N rng_states, got {n} and {len(rng_states)}")
    base = models[0]
    device = next(base.parameters()).device
    params, buffers = stack_module_state(list(models))
    params = {k: v.detach().requires_grad_(True) for k, v in params.items()}
    states = list(rng_states)
    call_train = _Call(base, train_loss)
    call_val = _Call(base, validate)

    # Dropout sites and their shapes, from one forward that draws nothing.
    base.train()
    with torch.no_grad(), _replaying(_Replay(None)) as probe:
        functional_call(call_train, _slice(params, buffers, 0), ())
    sites = probe.sites

    def loss_one(prm: dict[str, Tensor], buf: dict[str, Tensor], masks: list[Tensor]) -> Tensor:
        with _replaying(_Replay(masks)):
            return functional_call(call_train, {**_prefix(prm), **_prefix(buf)}, ())

    batched_loss = vmap(loss_one, in_dims=(0, 0, 0))

    def adam(lr: float) -> torch.optim.Optimizer:
        return torch.optim.Adam(list(params.values()), lr=lr, weight_decay=config.weight_decay, fused=True)

    opt = adam(config.lr)
    drop_epoch = config.drop_epoch()
    best_val = torch.full((n,), -math.inf, device=device)
    best_epoch = torch.full((n,), -1, dtype=torch.long, device=device)
    best = {k: v.detach().clone() for k, v in params.items()}
    for epoch in range(config.epochs):
        if epoch == drop_epoch:
            opt = adam(config.lr * config.lr_drop_factor)  # GCond re-creates Adam (fresh moments)
        base.train()
        masks = _draw_masks(sites, states, device)
        opt.zero_grad(set_to_none=True)
        batched_loss(params, buffers, masks).sum().backward()
        opt.step()
        if check_epoch(epoch, config.epochs, config.val_every):
            base.eval()
            with torch.no_grad():
                score = torch.stack(
                    [functional_call(call_val, _slice(params, buffers, i), ()).float() for i in range(n)]
                )
                best_val, best_epoch = keep_best(score, epoch, best_val, best_epoch, best, params)
    base.eval()
    out = []
    for i, (val, ep) in enumerate(zip(best_val.tolist(), best_epoch.tolist(), strict=True)):
        with torch.no_grad():
            base.load_state_dict({k: v[i] for k, v in best.items()} | {k: v[i] for k, v in buffers.items()})
            out.append(TrainResult(val=val, test=float(test(base)), best_epoch=ep))
    return out


def _prefix(tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    return {f"model.{k}": v for k, v in tensors.items()}


def _slice(params: dict[str, Tensor], buffers: dict[str, Tensor], i: int) -> dict[str, Any]:
    return {**_prefix({k: v[i] for k, v in params.items()}), **_prefix({k: v[i] for k, v in buffers.items()})}


def _draw_masks(sites: list[tuple[torch.Size, float]], states: list[Tensor], device: torch.device) -> list[Tensor]:
    """Per dropout site (shape, p), the N runs' masks (scaled by 1/(1-p)), each drawn from its run's stream."""
    if not sites:
        return []
    per_run = []
    for i in range(len(states)):
        with replay_stream(device, states, i):
            per_run.append([F.dropout(torch.ones(s, device=device), p=p, training=True) for s, p in sites])
    return [torch.stack([run[k] for run in per_run]) for k in range(len(sites))]
