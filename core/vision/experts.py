"""Expert trajectories for trajectory matching: N networks trained on the real data, every epoch's
parameters kept (MTT's "buffer", Cazenavette et al., CVPR 2022).

A buffer is a folder::

    card.json                   dataset, model, normalisation, image shape, the ExpertConfig, parameter count
                                (the architecture's identity: a model whose layout changed is refused), and
                                ``regularizer``: the record of the term the experts were trained with, or null
    expert_0000.safetensors     "trajectory": (epochs+1)×P float32, epoch 0 = the initialisation
    expert_0001.partial.safetensors   an expert still being trained (resumed from its last epoch)

Each expert trains with :func:`~condensekit.core.vision.train.fit_images` one epoch per call (plain SGD,
MTT's ``lr_teacher`` 0.01, no momentum, no weight decay, batch 256, DSA on the real images), seeded from
``(seed, expert, epoch)`` (its generator and, for DSA's host-side transform pick on an accelerator, torch's
global one), so an interrupted expert resumes from its last written epoch and ends with the same parameters
(with ``momentum > 0`` the momentum restarts at each epoch; MTT's experts use none). Every file is written
atomically. Opening a buffer made for another dataset, model, normalisation or config is
refused with the differences listed, and so is one whose model had another parameter count under the same name
(on 2026-12-03 ``convnet`` got the reference's stem padding for 1-channel input: 2,048 features instead of 1,152,
so a buffer made before holds ``convnet_pad1`` experts); a truncated or malformed expert file is reported with
its path, and :func:`generate_experts` moves it aside (``NAME.corrupt``) and trains it again.

The training regulariser is part of a buffer's identity: the card's ``regularizer`` holds its ``record()``
(:meth:`~condensekit.core.objectives.curvature.CurvatureRegularizer.record`; GUARD's curvature-trained experts) or
null, and a buffer trained with another one is refused (:meth:`ExpertBuffer.create`, and :meth:`ExpertBuffer.open`
or :meth:`ExpertBuffer.check_regularizer` given the record a run expects): a plain trajectory-matching run would
otherwise match robust experts silently. Buffers made before the card had the field are read through the marker
GUARD kept beside them then (``curvature.json``, :data:`LEGACY_MARKER`: ``{"curvature": record or null}``), and as
unregularised without one (``generate_experts`` recorded no regulariser, so a buffer it trained with one through the
Python API cannot be told apart). New buffers write no marker.
Experts can be generated in several processes (:func:`~condensekit.core.parallel.run_seeded`).

Only parameters are stored (not batch-norm running statistics), as MTT does; trajectory matching works
with instance-norm ConvNets, whose GroupNorm has none.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from torch import Tensor

from condensekit.core.atomic import free_name, write_json, write_tensors
from condensekit.core.config import check_field_types
from condensekit.core.objectives.trajectory import flat_params
from condensekit.core.parallel import run_seeded
from condensekit.core.registry import check_int, check_nonnegative, check_positive
from condensekit.core.vision.augment import DSA, DSAConfig
from condensekit.core.vision.models import build_image_model
from condensekit.core.vision.splits import ImageSplits
from condensekit.core.vision.train import (
    ImageTrainConfig,
    Regularizer,
    classification_loss,
    fit_images,
    multilabel_loss,
)

BUFFER_FORMAT = "condensekit-experts"
BUFFER_VERSION = 1
CARD = "card.json"
#: The side file GUARD wrote before buffer cards recorded the regulariser: ``{"curvature": record or null}``. Read
#: for buffers whose card has no ``regularizer``; no longer written.
LEGACY_MARKER = "curvature.json"


@dataclass(frozen=True)
class ExpertConfig:
    """How experts are trained (defaults: MTT's ``buffer.py``; HoP-TM uses the same for MedMNIST)."""

    num_experts: int = field(default=100, metadata={"help": "number of expert trajectories"})
    epochs: int = field(default=50, metadata={"help": "epochs per expert (snapshots epochs+1)"})
    model: str = field(default="convnet", metadata={"help": "image model name"})
    lr: float = field(default=0.01, metadata={"help": "expert SGD learning rate (MTT's lr_teacher)"})
    momentum: float = 0.0
    weight_decay: float = 0.0
    batch_size: int = 256
    dsa: bool = field(default=True, metadata={"help": "DSA on the real images while training experts"})
    seed: int = 0

    def __post_init__(self) -> None:
        check_field_types(self)  # numpy scalars stored as Python values (cards stay JSON); bool / Literal by kind
        for name in ("num_experts", "epochs", "batch_size"):
            check_int(name, getattr(self, name), 1)
        check_int("seed", self.seed, 0)  # as every condense verb's seed
        check_positive("lr", self.lr)
        for name in ("momentum", "weight_decay"):  # checked here, before a buffer's card records them
            check_nonnegative(name, getattr(self, name))


def regularizer_record(regularizer: Regularizer | None) -> dict[str, Any] | None:
    """What a buffer's card records of the term ``regularizer`` its experts train with: its ``record()`` (as JSON
    reads it back), ``None`` without one. A regulariser without ``record()`` (a bare function) raises ``ValueError``:
    the card could not say how the experts were trained, and a buffer that does not is taken for plain experts."""
    if regularizer is None:
        return None
    record = getattr(regularizer, "record", None)
    if not callable(record):
        raise ValueError(
            f"Invalid value {regularizer!r} for argument regularizer: an expert buffer's card records how its experts "
            "were trained, so the regulariser needs a record() method returning a JSON-able dict (as "
            "CurvatureRegularizer has)"
        )
    rec = record()
    if not isinstance(rec, dict):
        raise ValueError(
            f"Invalid value {regularizer!r} for argument regularizer: its record() gave {rec!r}, not a dict"
        )
    return json.loads(json.dumps(rec))  # as the card reads back (tuples become lists)


def _describe(data: ImageSplits, config: ExpertConfig, regularizer: dict[str, Any] | None = None) -> dict[str, Any]:
    model = build_image_model(config.model, channels=data.channels, num_classes=data.num_classes, im_size=data.im_size)
    return {
        "format": BUFFER_FORMAT,
        "version": BUFFER_VERSION,
        "dataset": data.name,
        "task": data.task,
        "model": config.model,
        "channels": data.channels,
        "im_size": list(data.im_size),
        "num_classes": data.num_classes,
        "mean": list(data.mean),
        "std": list(data.std),
        "num_params": int(sum(p.numel() for p in model.parameters())),
        "config": asdict(config),
        "regularizer": regularizer,
    }


# Keys whose mismatch makes a buffer unusable; num_experts may grow (more experts are appended). The parameter
# count is the architecture's identity too: the same model name with another layout (e.g. ConvNet's stem padding)
# differs there, and its message says so.
_IDENTITY = ("format", "version", "dataset", "task", "model", "channels", "im_size", "num_classes", "mean", "std")
_LAYOUT_HINT = (
    " (the model's layout changed since the buffer was made: since 2026-12-03 `convnet` pads a 1-channel input's "
    "first convolution by 3, as the reference ConvNet; a buffer made before holds `convnet_pad1` experts)"
)


def _param_mismatch(have: Any, want: int, *, same_model: bool = True) -> str:
    return f"num_params: buffer {have!r}, model {want!r}{_LAYOUT_HINT if same_model else ''}"


def _mismatch(have: dict[str, Any], want: dict[str, Any]) -> list[str]:
    out = [f"{k}: buffer {have.get(k)!r}, wanted {want[k]!r}" for k in _IDENTITY if have.get(k) != want[k]]
    if have.get("num_params") != want["num_params"]:
        # the layout hint only when nothing else explains the count: same model name, channels, classes and size
        same = all(have.get(k) == want[k] for k in ("model", "channels", "num_classes", "im_size"))
        out.append(_param_mismatch(have.get("num_params"), want["num_params"], same_model=same))
    hc, wc = have.get("config", {}), want["config"]
    out += [
        f"config.{k}: buffer {hc.get(k)!r}, wanted {wc[k]!r}" for k in wc if k != "num_experts" and hc.get(k) != wc[k]
    ]
    return out


_UNCHECKED: Any = object()  # open()'s default: the regulariser is not checked


class ExpertBuffer:
    """A folder of expert trajectories (see the module docstring).

    ``expects``: the regulariser record the buffer was opened or created for (``None``: plain experts); a method that
    matches the trajectories checks the buffer against it (:meth:`check_regularizer`)."""

    def __init__(
        self, folder: str | os.PathLike[str], card: dict[str, Any], *, expects: dict[str, Any] | None = None
    ) -> None:
        self.folder = Path(folder)
        self.card = card
        self.expects = expects

    @property
    def regularizer(self) -> dict[str, Any] | None:
        """The record of the term the experts were trained with (``None``: plain): the card's ``regularizer``, or for
        a buffer made before the card had it, the marker GUARD kept beside it (:data:`LEGACY_MARKER`), else
        ``None``."""
        return _card_regularizer(self.folder, self.card)

    def check_regularizer(self, expected: dict[str, Any] | None) -> None:
        """Refuse (``ValueError`` naming the folder and both records) a buffer whose experts were trained with another
        regulariser than ``expected`` (a record; ``None``: plain experts)."""
        have, want = self.regularizer, json.loads(json.dumps(expected))
        if have != want:
            raise ValueError(
                f"expert buffer {str(self.folder)!r} was trained with regulariser {have}, this run expects {want}: "
                "matching its trajectories would distil other experts than the run records. Pass a folder trained "
                "with the expected setting (plain experts: `condensekit medical experts`; curvature-trained: GUARD, "
                "`condensekit robust condense`), or another folder"
            )

    @property
    def epochs(self) -> int:
        return int(self.card["config"]["epochs"])

    @property
    def num_params(self) -> int:
        return int(self.card["num_params"])

    def path(self, index: int, *, partial_file: bool = False) -> Path:
        return self.folder / f"expert_{index:04d}{'.partial' if partial_file else ''}.safetensors"

    @classmethod
    def create(
        cls,
        folder: str | os.PathLike[str],
        data: ImageSplits,
        config: ExpertConfig,
        *,
        regularizer: dict[str, Any] | None = None,
    ) -> ExpertBuffer:
        """Open ``folder`` for ``data``, ``config`` and experts trained with the term ``regularizer`` records
        (:func:`regularizer_record`; ``None``: plain), writing its card if new; a buffer made for another dataset,
        model, normalisation, config or regulariser raises ``ValueError``. A marker left without a buffer (a GUARD
        run refused before its buffer began) is removed when the card is written: no expert was trained under it."""
        want = _describe(data, config, regularizer)
        card_path = Path(folder) / CARD
        if card_path.exists():
            have = _read_card(card_path)
            diff = _mismatch(have, want)
            if diff:
                raise ValueError(
                    f"expert buffer {str(folder)!r} was made for other settings ({'; '.join(diff)}); "
                    "pass another folder or delete it"
                )
            cls(folder, have).check_regularizer(regularizer)
            if have["config"]["num_experts"] >= config.num_experts:
                return cls(folder, have, expects=regularizer)
        else:
            (Path(folder) / LEGACY_MARKER).unlink(missing_ok=True)
        write_json(card_path, want)
        return cls(folder, want, expects=regularizer)

    @classmethod
    def open(
        cls,
        folder: str | os.PathLike[str],
        *,
        data: ImageSplits | None = None,
        model: str | None = None,
        regularizer: dict[str, Any] | None = _UNCHECKED,
    ) -> ExpertBuffer:
        """Open an existing buffer to read; with ``data``/``model`` refuse one made for other data or model
        (with both, also one whose parameter count differs from ``model``'s on ``data``: another layout); with
        ``regularizer`` (a record, or ``None`` for plain experts) refuse one trained with another regulariser
        (:meth:`check_regularizer`). The buffer's ``expects`` is ``regularizer``; opened without one it is ``None``:
        readable whatever trained it (an attack on the experts), taken for plain experts by a method that checks."""
        card_path = Path(folder) / CARD
        if not card_path.exists():
            raise FileNotFoundError(
                f"no expert buffer at {str(folder)!r} (no {CARD}); generate one with `condensekit medical experts`"
            )
        card = _read_card(card_path)
        if data is not None:
            probe = {"dataset": data.name, "task": data.task, "channels": data.channels, "im_size": list(data.im_size),
                     "num_classes": data.num_classes, "mean": list(data.mean), "std": list(data.std)}  # fmt: skip
            diff = [f"{k}: buffer {card.get(k)!r}, data {v!r}" for k, v in probe.items() if card.get(k) != v]
            if diff:
                raise ValueError(f"expert buffer {str(folder)!r} was made for other data ({'; '.join(diff)})")
        if model is not None and card.get("model") != model:
            raise ValueError(
                f"expert buffer {str(folder)!r} holds {card.get('model')!r} experts; this run needs {model!r}"
            )
        if data is not None and model is not None:
            with torch.device("meta"):  # shapes only: no memory, and the global RNG is not drawn from
                net = build_image_model(model, channels=data.channels, num_classes=data.num_classes,
                                        im_size=data.im_size)  # fmt: skip
            want = int(sum(p.numel() for p in net.parameters()))
            if card.get("num_params") != want:
                raise ValueError(
                    f"expert buffer {str(folder)!r} was made for another architecture "
                    f"({_param_mismatch(card.get('num_params'), want)}); generate a new buffer"
                )
        buffer = cls(folder, card)
        if regularizer is not _UNCHECKED:
            buffer.check_regularizer(regularizer)
            buffer.expects = json.loads(json.dumps(regularizer))
        return buffer

    def completed(self) -> list[int]:
        """Indices of experts whose full trajectory is on disk."""
        n = int(self.card["config"]["num_experts"])
        return [i for i in range(n) if self.path(i).exists()]

    def load(self, index: int) -> Tensor:
        """Expert ``index``'s trajectory, (epochs+1)×P; a truncated or malformed file raises ``ValueError``."""
        return _read_trajectory(self.path(index), self.epochs + 1, self.num_params)

    def trajectories(self, *, device: torch.device | str = "cpu", rows: int | None = None) -> list[Tensor]:
        """Every expert's trajectory (with ``rows``: its epochs ``0..rows-1`` only, copied, so that one expert at a
        time is held whole while they load). A buffer with any expert missing is refused, naming the missing files:
        condensing from the experts left would record the card's ``num_experts`` for fewer trajectories."""
        if rows is not None:
            check_int("rows", rows, 1)
        done = self.completed()
        if not done:
            raise ValueError(f"expert buffer {str(self.folder)!r} has no finished expert; run `experts` to finish it")
        n = int(self.card["config"]["num_experts"])
        if len(done) < n:
            missing = [self.path(i).name for i in range(n) if i not in set(done)]
            raise ValueError(
                f"expert buffer {str(self.folder)!r} has {len(done)} of its {n} experts: {', '.join(missing)} "
                "missing; run `experts` on the same folder to finish it (it resumes)"
            )
        if rows is None:
            return [self.load(i).to(device) for i in done]
        # a copy: a slice is a view that keeps the whole trajectory's storage alive on the CPU
        return [self.load(i)[:rows].to(device, copy=True) for i in done]


def _read_card(path: Path) -> dict[str, Any]:
    try:
        card = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{str(path)!r} is not a readable expert-buffer card ({err})") from err
    if not isinstance(card, dict) or card.get("format") != BUFFER_FORMAT:
        raise ValueError(f"{str(path)!r} is not an expert-buffer card (format {BUFFER_FORMAT!r})")
    return card


def _card_regularizer(folder: Path, card: dict[str, Any]) -> dict[str, Any] | None:
    if "regularizer" in card:
        return card["regularizer"]
    marker = folder / LEGACY_MARKER  # a buffer made before the card had the field: GUARD's marker, if any
    if not marker.exists():
        return None
    try:
        record = json.loads(marker.read_text())
        return record["curvature"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(
            f"{str(marker)!r} (how the experts of this buffer, made before its card recorded it, were trained) is not "
            f"readable ({type(err).__name__}: {err}); delete the buffer and generate it again"
        ) from err


def _read_trajectory(path: Path, rows: int | None, num_params: int) -> Tensor:
    if not path.exists():
        raise FileNotFoundError(f"expert file {str(path)!r} not found")
    # generate_experts moves a bad finished file aside itself; a bad partial one has to go by hand
    fix = (
        "delete it and run `experts` again (it resumes)"
        if path.name.endswith(".partial.safetensors")
        else "run `experts` on the folder again: it moves the file aside and trains that expert again"
    )
    problem = _trajectory_problem(path, rows, num_params)
    if problem is not None:
        raise ValueError(f"expert file {str(path)!r} is truncated or corrupt ({problem}); {fix}")
    traj = safetensors.torch.load_file(str(path))["trajectory"]
    if not torch.isfinite(traj).all():
        raise ValueError(f"expert file {str(path)!r} contains NaN or inf parameters (the expert diverged)")
    return traj


def _trajectory_problem(path: Path, rows: int | None, num_params: int) -> str | None:
    """Why the expert file ``path`` is not a (rows, num_params) float32 trajectory (a header that does not open: a
    cut-off or foreign file; another tensor, shape or dtype; ``rows`` None: any count), or ``None`` when it is.
    Reads the header only."""
    try:
        with safetensors.safe_open(str(path), framework="pt") as f:
            if "trajectory" not in f.keys():
                return f"no 'trajectory' tensor, only {sorted(f.keys())}"
            part = f.get_slice("trajectory")
            shape, dtype = tuple(part.get_shape()), part.get_dtype()
    except Exception as err:  # safetensors raises its own error type on a cut-off file
        return f"{type(err).__name__}: {err}"
    ok_rows = rows is None or (len(shape) == 2 and shape[0] == rows)
    if len(shape) != 2 or shape[1] != num_params or not ok_rows or dtype != "F32":
        want = f"({rows if rows is not None else 'k'}, {num_params})"
        return f"it holds a {shape} {dtype} trajectory, expected {want} F32"
    return None


def _set_aside(path: Path) -> Path:
    """Rename ``path`` to the first free ``NAME.corrupt`` (``.corrupt-2``, ...) beside it and return the new path."""
    aside = free_name(path.with_name(path.name + ".corrupt"))
    path.rename(aside)
    return aside


def _write_trajectory(path: Path, traj: Tensor) -> None:
    write_tensors(path, {"trajectory": traj})


def _seed(config: ExpertConfig, index: int, epoch: int) -> int:
    return (config.seed * 1_000_003 + index) * 10_007 + epoch + 1


def train_expert(
    data: ImageSplits,
    buffer: ExpertBuffer,
    index: int,
    config: ExpertConfig,
    *,
    regularizer: Regularizer | None = None,
) -> Tensor:
    """Train (or finish) expert ``index`` and write its trajectory; returns it ((epochs+1)×P).

    Resumes from ``expert_i.partial.safetensors`` when present; an already finished expert is loaded.
    ``regularizer`` is passed to :func:`fit_images` (e.g. a curvature term for robust experts)."""
    final = buffer.path(index)
    if final.exists():
        return buffer.load(index)
    device = data.x_train.device
    torch.manual_seed(_seed(config, index, -1))
    model = build_image_model(config.model, channels=data.channels, num_classes=data.num_classes, im_size=data.im_size)
    model = model.to(device)
    part = buffer.path(index, partial_file=True)
    snaps: list[Tensor]
    if part.exists():
        done = _read_trajectory(part, None, buffer.num_params)
        snaps = list(done.unbind(0))
        with torch.no_grad():
            # a copy: vector_to_parameters makes the parameters views of the vector it is given
            torch.nn.utils.vector_to_parameters(snaps[-1].to(device).clone(), model.parameters())
    else:
        snaps = [flat_params(model).cpu()]
    train_cfg = ImageTrainConfig(
        epochs=1, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay,
        batch_size=config.batch_size, lr_drop_at=1.0,
    )  # fmt: skip
    loss = multilabel_loss if data.multilabel else classification_loss
    while len(snaps) <= config.epochs:
        epoch_seed = _seed(config, index, len(snaps))
        # The global stream too: on an accelerator DSA picks each batch's transform on the host from torch's default
        # generator (draw_params), so without this a resumed expert drew other picks than the uninterrupted run. On
        # the CPU nothing in an epoch draws from it (the picks come from ``gen``): CPU buffers are unchanged.
        torch.manual_seed(epoch_seed)
        gen = torch.Generator(device=device).manual_seed(epoch_seed)
        augment = DSA(DSAConfig(), generator=gen) if config.dsa else None
        fit_images(model, data.x_train, data.y_train, config=train_cfg, loss_fn=loss, augment=augment,
                   regularizer=regularizer, generator=gen)  # fmt: skip
        snaps.append(flat_params(model).cpu())
        if len(snaps) <= config.epochs:
            _write_trajectory(part, torch.stack(snaps))
    traj = torch.stack(snaps)
    _write_trajectory(final, traj)
    part.unlink(missing_ok=True)
    return traj


def _context(
    data: ImageSplits, folder: str, config: ExpertConfig, regularizer: Regularizer | None, device: str | None = None
) -> Any:
    """A worker's context; ``device``: where the data goes back to in the worker (it crosses the process
    boundary on the CPU), so experts train on the caller's device in every worker."""
    if device is not None:
        data = data.to(device)
    return (
        data,
        ExpertBuffer.create(folder, data, config, regularizer=regularizer_record(regularizer)),
        config,
        regularizer,
    )


def _run_expert(context: Any, index: int) -> float:
    data, buffer, config, regularizer = context
    train_expert(data, buffer, index, config, regularizer=regularizer)
    return float(index)


def generate_experts(
    data: ImageSplits,
    folder: str | os.PathLike[str],
    config: ExpertConfig = ExpertConfig(),
    *,
    workers: int = 1,
    regularizer: Regularizer | None = None,
) -> ExpertBuffer:
    """Train the experts of ``folder`` that are not finished yet (in ``workers`` processes) and return the
    buffer. Run it again after an interruption: finished experts are kept, partial ones resume. A finished file
    whose header does not open or that is not an (epochs+1)×P float32 trajectory is moved aside (``NAME.corrupt``,
    with a ``RuntimeWarning`` naming both files) and trained again, so a rerun repairs a cut-off copy.

    With ``workers > 1`` the data, config and ``regularizer`` must be picklable (a top-level function or a
    ``functools.partial`` of one)."""
    check_int("workers", workers, 1)
    buffer = ExpertBuffer.create(folder, data, config, regularizer=regularizer_record(regularizer))
    for i in range(config.num_experts):  # a finished file that is cut off or malformed is trained again
        path = buffer.path(i)
        problem = _trajectory_problem(path, buffer.epochs + 1, buffer.num_params) if path.exists() else None
        if problem is not None:
            aside = _set_aside(path)
            warnings.warn(
                f"expert file {str(path)!r} is truncated or corrupt ({problem}): moved aside to {aside.name!r} and "
                "trained again",
                RuntimeWarning,
                stacklevel=2,
            )
    todo = [i for i in range(config.num_experts) if not buffer.path(i).exists()]
    if todo:
        jobs = [(_run_expert, i) for i in todo]
        if workers > 1:  # the data crosses to the workers on the CPU and goes back to its device there
            context = partial(_context, data.to("cpu"), str(folder), config, regularizer, str(data.x_train.device))
        else:
            context = partial(_context, data, str(folder), config, regularizer)
        run_seeded(jobs, context, workers=max(1, min(workers, len(todo))))
    return buffer
