"""The train-on-synthetic, test-on-real protocol, domain-free.

A domain supplies three closures over one freshly built model: the training loss on the condensed
set, the validation score on real data, and the test score on real data. :func:`train_select`
trains from scratch and keeps the weights with the best validation score; :func:`repeat` runs that
N times with distinct seeds and summarises mean ± std.
"""

from __future__ import annotations

import copy
import math
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from condensekit.core.config import check_field_types
from condensekit.core.registry import check_int, check_nonnegative, check_positive
from condensekit.core.seed import seed_everything


def lr_drop_epoch(epochs: int, drop_at: float) -> int:
    """The epoch before which a ``drop_at`` fraction of ``epochs`` drops the rate (-1: never, ``drop_at`` >= 1).
    At least 1: ``int(1 * 0.5)`` is 0, which dropped it before the first epoch and trained a one-epoch run at a
    tenth of its rate (GCond's ``train_iters // 2`` does the same; MTT's ``Epoch // 2 + 1`` does not). Shared by
    the graph and image training routines."""
    return max(1, int(epochs * drop_at)) if drop_at < 1 else -1


def check_epoch(epoch: int, epochs: int, every: int) -> bool:
    """Whether a run of ``epochs`` validates after epoch ``epoch`` (0-based): every ``every`` epochs and after the
    last one. Shared by the graph and image training routines."""
    return (epoch + 1) % every == 0 or epoch == epochs - 1


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained on a condensed set (defaults: GCond's evaluation protocol).

    Args:
        epochs: training epochs (full-batch steps).
        lr: Adam learning rate.
        weight_decay: Adam weight decay.
        lr_drop_at: fraction of the epochs after which the learning rate is multiplied by
            ``lr_drop_factor`` (GCond's ``fit_with_val`` drops it 10× at half way), after one epoch
            at least; 1.0 disables it.
        lr_drop_factor: the factor.
        val_every: validate every k epochs.
    """

    epochs: int = 600
    lr: float = 0.01
    weight_decay: float = 5e-4
    lr_drop_at: float = 0.5
    lr_drop_factor: float = 0.1
    val_every: int = 1

    def __post_init__(self) -> None:
        check_field_types(self)  # numpy scalars stored as Python values (cards stay JSON); bool / Literal by kind
        check_int("epochs", self.epochs, 1)
        check_positive("lr", self.lr)
        check_nonnegative("weight_decay", self.weight_decay)
        check_positive("lr_drop_factor", self.lr_drop_factor)
        check_int("val_every", self.val_every, 1)
        if not 0 < self.lr_drop_at <= 1:
            raise ValueError(f"Invalid value {self.lr_drop_at!r} for argument lr_drop_at. Valid values are in (0, 1]")

    def drop_epoch(self) -> int:
        """The epoch before which the rate drops (:func:`lr_drop_epoch`)."""
        return lr_drop_epoch(self.epochs, self.lr_drop_at)


@dataclass(frozen=True)
class TrainResult:
    val: float
    test: float
    best_epoch: int


def train_select(
    model: nn.Module,
    *,
    train_loss: Callable[[nn.Module], Tensor],
    validate: Callable[[nn.Module], float],
    test: Callable[[nn.Module], float],
    config: TrainConfig = TrainConfig(),
) -> TrainResult:
    """Train ``model`` with Adam on ``train_loss``; return validation and test at the best epoch.

    ``validate`` and ``test`` are called in eval mode without gradients; the weights with the
    highest validation score (first one on ties, as in GCond) are restored before ``test``.
    """
    # fused: one kernel for all parameters, same update rule (the per-parameter loop was a fifth of
    # a Cora evaluation profile).
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True)
    drop_epoch = config.drop_epoch()
    best_val, best_epoch = -math.inf, -1
    best_state = copy.deepcopy(model.state_dict())
    for epoch in range(config.epochs):
        if epoch == drop_epoch:
            # GCond re-creates Adam with the lower rate; a fresh optimiser resets its moments too.
            opt = torch.optim.Adam(
                model.parameters(), lr=config.lr * config.lr_drop_factor, weight_decay=config.weight_decay, fused=True
            )
        model.train()
        opt.zero_grad(set_to_none=True)
        loss = train_loss(model)
        loss.backward()
        opt.step()
        if check_epoch(epoch, config.epochs, config.val_every):
            model.eval()
            with torch.no_grad():
                score = float(validate(model))
            if score > best_val:
                best_val, best_epoch = score, epoch
                best_state = copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        test_score = float(test(model))
    return TrainResult(val=best_val, test=test_score, best_epoch=best_epoch)


@dataclass
class Summary:
    """Mean ± (population) standard deviation of repeated runs, in the unit given (e.g. %)."""

    values: list[float] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values) if self.values else float("nan")

    @property
    def std(self) -> float:
        return statistics.pstdev(self.values) if len(self.values) > 1 else 0.0

    def __str__(self) -> str:
        return f"{self.mean:.2f} ± {self.std:.2f}"

    def __repr__(self) -> str:  # what print(evaluate_node(...)) shows for each model: the mean first, not 10 floats
        values = ", ".join(f"{v:.4g}" for v in self.values)
        return f"Summary(mean={self.mean:.4g}, std={self.std:.4g}, runs={len(self.values)}, values=[{values}])"

    def __format__(self, spec: str) -> str:
        """``f"{s:.3f}"``: ``mean ± std``, each formatted with ``spec`` from its unrounded value, so rounded once; an
        empty spec gives :meth:`__str__`."""
        if not spec:
            return str(self)
        return f"{format(self.mean, spec)} ± {format(self.std, spec)}"

    def to_dict(self) -> dict[str, float | list[float]]:
        """``{mean, std, runs}`` for JSON: each rounded to 4 places, from the unrounded values. A figure printed
        from such a record comes from its ``runs`` (:meth:`from_dict`), not from the rounded ``mean`` and ``std``:
        rounding those again (to 3 places) can move the last digit (a std of 0.01646 is stored 0.0165, which
        prints 0.017)."""
        return {
            "mean": round(self.mean, 4),
            "std": round(self.std, 4),
            "runs": [round(v, 4) for v in self.values],
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Summary:
        """The summary of a :meth:`to_dict` record, rebuilt from its ``runs``: its ``mean`` and ``std`` are recomputed
        from them, not read back rounded. A record without a list of runs raises ``ValueError``."""
        runs = record.get("runs") if isinstance(record, Mapping) else None
        if not isinstance(runs, list):
            raise ValueError(
                f"Invalid value {record!r} for argument record. Valid values are Summary.to_dict() records "
                "({'mean', 'std', 'runs'}, with the list of per-run values)"
            )
        return cls([float(v) for v in runs])


def format_summary(record: Summary | Mapping[str, Any] | None, places: int, *, std: bool = True) -> str:
    """A benchmark table's cell: ``mean ± std`` (the mean alone with ``std=False``) at ``places`` decimals, each
    rounded once: computed from the runs (a record's are stored at 4 places), then rounded to ``places``.

    ``record`` is a :class:`Summary` or a :meth:`Summary.to_dict` record, which is rebuilt from its ``runs``
    (:meth:`Summary.from_dict`): its ``mean`` and ``std`` were rounded to 4 places already, and rounding them again
    can move the last digit (a std of 0.01646 is stored 0.0165, which prints 0.017 at 3 places; 0.016 from the
    runs). A record with no runs (``runs`` absent or empty) prints its ``mean`` and ``std`` as recorded, the only
    figures it has. ``None`` or an empty record prints ``-``.

    Args:
        record: the summary, the record, or ``None``.
        places: decimals of each printed figure (an integer >= 0).
        std: print ``± std`` after the mean (default ``True``).
    """
    check_int("places", places, 0)
    if record is None or (isinstance(record, Mapping) and not record):
        return "-"
    if isinstance(record, Summary):
        mean, spread = record.mean, record.std
    elif isinstance(record, Mapping) and isinstance(record.get("runs"), list) and record["runs"]:
        s = Summary.from_dict(record)
        mean, spread = s.mean, s.std
    elif isinstance(record, Mapping) and "mean" in record and (not std or "std" in record):
        mean, spread = record["mean"], record.get("std")
    else:
        raise ValueError(
            f"Invalid value {record!r} for argument record. Valid values are a Summary, a Summary.to_dict() record "
            "({'mean', 'std', 'runs'}; without runs, its 'mean' and 'std' are printed as recorded) or None"
        )
    return f"{mean:.{places}f}" + (f" ± {spread:.{places}f}" if std else "")


def repeat(run: Callable[[int], float], *, runs: int, seed: int = 0) -> Summary:
    """Call ``run(seed + i)`` for ``i < runs`` after seeding every RNG with ``seed + i``."""
    check_int("runs", runs, 1)
    out = Summary()
    for i in range(runs):
        seed_everything(seed + i)
        out.values.append(float(run(seed + i)))
    return out


def accuracy(logits: Tensor, labels: Tensor) -> float:
    """Top-1 accuracy in percent."""
    if labels.numel() == 0:
        raise ValueError("accuracy over an empty set of labels")
    return float((logits.argmax(-1) == labels).float().mean()) * 100.0
