"""The one condensation loop that every method runs in.

A method supplies *what one step does* (:class:`CondensationMethod`); the engine owns the loop:
seeding, device, progress bar, periodic evaluation with best-by-validation selection, atomic
checkpoints, bit-for-bit resume, and time / peak-memory accounting. Bi-level methods (GCond: an
outer step with its inner model updates inside), one-step methods (DosCond), distribution methods
(GCDM), and later trajectory and kernel-ridge methods all fit the same ``step`` contract, and a
coreset is a method with zero steps.
"""

from __future__ import annotations

import abc
import copy
import json
import math
import os
import pickle
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from condensekit.core.atomic import check_file_target, load_torch, save_torch
from condensekit.core.config import check_field_types
from condensekit.core.registry import check_int, is_integer, type_name
from condensekit.core.seed import resolve_device, rng_state, seed_everything, set_rng_state
from condensekit.core.setting import jsonable, setting_diff

CHECKPOINT_FORMAT = "condensekit-checkpoint"
CHECKPOINT_VERSION = 1


class CondensationMethod(abc.ABC):
    """What a method gives the engine.

    The engine calls :meth:`setup` once (after seeding), then :meth:`step` for
    ``step = start, …, steps-1``. :meth:`condensed` returns the current condensed set as named
    tensors (what is evaluated and saved). :meth:`stateful` lists everything that changes across
    steps (tensors, modules, optimisers) so the default :meth:`state_dict` checkpoints it.
    """

    name: str = "method"

    @abc.abstractmethod
    def setup(self, device: torch.device) -> None:
        """Allocate the synthetic set, models and optimisers on ``device``."""

    @abc.abstractmethod
    def step(self, step: int) -> dict[str, float]:
        """Run one condensation step; return scalars to log (e.g. ``{"loss": 0.3}``)."""

    @abc.abstractmethod
    def condensed(self) -> dict[str, Tensor]:
        """The current condensed set, detached (e.g. ``{"x": ..., "adj": ..., "y": ...}``)."""

    def stateful(self) -> dict[str, Any]:
        """Name → tensor / ``nn.Module`` / optimiser whose state changes across steps."""
        return {}

    def memory_hint(self) -> str:
        """What the run's size is and which options lower its memory (for out-of-memory errors)."""
        return "lower the budget"

    def data_setting(self) -> dict[str, Any]:
        """The real data and budget of this run, for :meth:`setting` (a subclass names them; e.g.
        ``{"dataset": ..., "ipc": ...}``)."""
        return {}

    def setting(self) -> dict[str, Any]:
        """What a checkpoint must have been written with to be resumed: :meth:`data_setting` plus the fields
        of the method's ``config`` dataclass, if it has one. The engine stores it (as
        :func:`~condensekit.core.setting.jsonable`) in every checkpoint and refuses to resume one whose
        setting differs: otherwise a run with another config (another learning rate) would silently return
        the saved set under a card naming the new config, or fail in a tensor copy (another budget)."""
        config = getattr(self, "config", None)
        fields = {} if config is None else jsonable(config)
        return self.data_setting() | (fields if isinstance(fields, dict) else {"config": fields})

    def state_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, obj in self.stateful().items():
            if isinstance(obj, Tensor):
                out[key] = obj.detach().clone()
            elif isinstance(obj, (nn.Module, torch.optim.Optimizer)):
                out[key] = copy.deepcopy(obj.state_dict())
            else:
                raise TypeError(f"stateful()[{key!r}] is a {type(obj).__name__}; expected Tensor, Module or Optimizer")
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        objs = self.stateful()
        missing = sorted(set(objs) - set(state))
        if missing:
            raise ValueError(f"checkpoint lacks state for {missing}; it was written by another method or config")
        for key, obj in objs.items():
            if isinstance(obj, Tensor):
                with torch.no_grad():
                    obj.copy_(state[key])
            else:
                obj.load_state_dict(state[key])


@dataclass(frozen=True)
class EngineConfig:
    """How the engine runs a method.

    Args:
        steps: number of condensation steps (a coreset uses 0).
        seed: seeds Python, NumPy and torch before ``setup``.
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"`` or ``"cuda[:N]"``.
        eval_every: evaluate every k steps (and after the last step); 0 evaluates only at the end.
        eval_steps: further steps after which to evaluate (e.g. a dense early schedule, for
            methods whose validation accuracy peaks within the first steps), in ``0..steps``.
        checkpoint: path of the checkpoint file; ``None`` disables checkpointing.
        checkpoint_every: write the checkpoint every k steps (0: only at the end).
        resume: continue from ``checkpoint`` when it exists.
        progress: show a tqdm progress bar.
        stop_after: stop (as if killed) after this many steps of this call; for tests and time-boxing.
    """

    steps: int
    seed: int = 0
    device: str = "auto"
    eval_every: int = 0
    eval_steps: tuple[int, ...] = ()
    checkpoint: str | None = None
    checkpoint_every: int = 0
    resume: bool = True
    progress: bool = True
    stop_after: int | None = None

    def __post_init__(self) -> None:
        check_field_types(self)  # numpy scalars stored as Python values (cards stay JSON); bool / Literal by kind
        for name in ("steps", "eval_every", "checkpoint_every"):
            check_int(name, getattr(self, name), 0)
        if self.stop_after is not None:
            check_int("stop_after", self.stop_after, 0)
        # a step that is not an integer in 0..steps was never evaluated, without a word (and a bare int failed
        # at the first step's ``in``)
        valid = f"Valid values are a tuple of integers in 0..{self.steps}"
        if not isinstance(self.eval_steps, (tuple, list)):
            raise ValueError(f"Invalid value {self.eval_steps!r} for argument eval_steps. {valid}")
        for s in self.eval_steps:
            if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= self.steps:
                raise ValueError(f"Invalid value {self.eval_steps!r} for argument eval_steps. {valid}")


@dataclass
class CondensationResult:
    """What a run returns: the selected condensed set and how it was obtained."""

    condensed: dict[str, Tensor]
    best_step: int
    best_score: float | None
    steps_done: int
    finished: bool
    history: list[dict[str, float]] = field(default_factory=list)
    wall_time_s: float = 0.0
    peak_memory_mb: float = 0.0
    device: str = "cpu"
    start_to_first_step_s: float | None = None
    start_to_first_step_cpu_s: float | None = None
    sec_per_step: float | None = None
    cpu_sec_per_step: float | None = None
    first_step_s: float | None = None
    later_sec_per_step: float | None = None

    def steps_record(self, configured: int) -> dict[str, int]:
        """What a card says of the steps: ``run``, the engine steps done (``cost()["steps"]``), beside
        ``config``, the method config's own count. They differ when the caller ran another count (``steps=``,
        ``--steps``), which the card's ``config`` (the method's setting, as built) does not show."""
        return {"run": self.steps_done, "config": int(configured)}

    def cost(self) -> dict[str, Any]:
        """Wall time, peak memory, device and steps; ``start_to_first_step_s``: from the start of
        the process (the command) to the loop's start (imports, data, set-up; the step-0 selection
        evaluation, when scheduled, comes after); ``start_to_first_step_cpu_s``: the process's CPU
        time over the same span (all threads; what the start costs on an idle machine when the
        start-up is single-threaded, as imports are); ``sec_per_step``: the
        mean time of this call's steps (selection evaluations excluded); ``cpu_sec_per_step``: the
        process's CPU time per step (all threads; on a loaded machine the steadier figure, on a
        GPU it leaves out the device's work); ``first_step_s``: the wall time of this call's first
        step alone and ``later_sec_per_step`` the mean of the others (a first step that compiles,
        as ``torch.compile`` does, or warms a GPU up weighs on ``sec_per_step`` in short runs)."""
        out: dict[str, Any] = {
            "wall_time_s": round(self.wall_time_s, 3),
            "peak_memory_mb": round(self.peak_memory_mb, 1),
            "device": self.device,
            "steps": self.steps_done,
        }
        if self.start_to_first_step_s is not None:
            out["start_to_first_step_s"] = round(self.start_to_first_step_s, 3)
        if self.start_to_first_step_cpu_s is not None:
            out["start_to_first_step_cpu_s"] = round(self.start_to_first_step_cpu_s, 3)
        if self.sec_per_step is not None:
            out["sec_per_step"] = round(self.sec_per_step, 5)
        if self.cpu_sec_per_step is not None:
            out["cpu_sec_per_step"] = round(self.cpu_sec_per_step, 5)
        if self.first_step_s is not None:
            out["first_step_s"] = round(self.first_step_s, 3)
        if self.later_sec_per_step is not None:
            out["later_sec_per_step"] = round(self.later_sec_per_step, 5)
        return out


def method_steps(steps: object, *, method: str, planned: int, no_steps: str) -> int:
    """The engine steps a domain's ``condense_*`` runs: the method's own count ``planned`` when ``steps`` is None,
    else ``steps`` checked: an integer >= 0 (a numpy integer too, returned as ``int`` for the card), and only 0 for
    a method with no steps (``planned`` 0, a selection: ``no_steps`` says so in the message)."""
    if steps is None:
        check_int("steps", planned, 0)  # the method's own count, from its config
        return int(planned)
    valid = f"0 ({no_steps})" if planned == 0 else "integers >= 0"
    if not is_integer(steps):  # np.int64 is a count
        raise ValueError(
            f"Invalid value {steps!r} for argument steps of method {method!r}. Valid values are {valid} "
            f"(got {type_name(steps)})"
        )
    if steps < 0 or (steps > 0 and planned == 0):
        raise ValueError(f"Invalid value {steps!r} for argument steps of method {method!r}. Valid values are {valid}")
    return int(steps)


def available_memory_bytes(device: torch.device) -> int | None:
    """Free memory on ``device`` (CUDA: free device memory; CPU: Linux ``MemAvailable``), or
    ``None`` where unknown. Methods check a known large allocation against it before making it:
    on Linux an oversized CPU allocation may not fail but get the process killed later."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def process_age_s() -> float | None:
    """Seconds since this process started (Linux ``/proc``), or ``None`` where that is unknown."""
    try:
        with open("/proc/self/stat") as fh:
            start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


Evaluator = Callable[[dict[str, Tensor]], float]


def reset_peak_memory(device: torch.device) -> None:
    """Start a new peak-memory window for :func:`peak_memory_mb` (CUDA stats, or Linux VmHWM)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    try:  # Linux: writing 5 to clear_refs resets the process's peak RSS (VmHWM) to its current RSS.
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def peak_memory_mb(device: torch.device) -> float:
    """Peak GPU memory allocated (CUDA), else the process's peak resident set since the run began
    (Linux ``VmHWM``, reset at the start of the run; elsewhere the lifetime ``ru_maxrss``)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10
    except OSError:
        pass
    # ru_maxrss: kilobytes on Linux, bytes on macOS (peak resident set of the whole process).
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (2**20 if sys.platform == "darwin" else 2**10)


def _clone(tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in tensors.items()}


def run(method: CondensationMethod, config: EngineConfig, evaluate: Evaluator | None = None) -> CondensationResult:
    """Run ``method`` for ``config.steps`` steps and return the best condensed set.

    With an ``evaluate`` callback (condensed set → validation score, higher is better), the set
    with the best score among the evaluated steps is kept (ties keep the earlier one); without it,
    the last set is returned. With ``config.checkpoint`` set, the complete run state (method state,
    every RNG state, best set, history, elapsed time) is written atomically every
    ``checkpoint_every`` steps; a run started again with ``resume=True`` continues from it and
    ends with exactly the tensors an uninterrupted run produces.

    A checkpoint records the device it was written on (``cpu``, ``cuda:N``), and a resume on another device is
    **refused** (``ValueError`` naming both devices and the way out: the same ``--device``, or delete the checkpoint):
    the CPU and a GPU draw different random streams (and compute with other kernels), so the run could not continue
    bit for bit, and its card would name one device for a set made on two. A checkpoint written before the device was
    recorded is judged by the device its run asked for (its config's ``device``); one that asked for ``"auto"`` is
    taken as it is (where it ran is unknown).

    The returned ``peak_memory_mb`` is the run's: the largest peak of every call that wrote the checkpoint and of this
    one (as ``wall_time_s`` adds up every call's time). A checkpoint written before the peak was recorded carries none,
    so a run resumed from one reports the peak of the calls since.
    """
    device = resolve_device(config.device)
    check_field_types(getattr(method, "config", None))  # a method's config built in Python: structure="yes" ran
    if config.checkpoint:  # a folder, or a path under a file: refused now, not at the first write after the set-up
        check_file_target(config.checkpoint, argument="checkpoint")
    seed_everything(config.seed)
    reset_peak_memory(device)
    t0 = time.perf_counter()  # set-up counts: a coreset's whole selection happens there
    try:
        method.setup(device)
    except (RuntimeError, MemoryError) as err:
        if not _is_out_of_memory(err):
            raise
        ckpt_path = Path(config.checkpoint) if config.checkpoint else None
        raise _out_of_memory(method, device, "set-up", ckpt_path, None, err) from err

    start = 0
    best: dict[str, Tensor] | None = None
    best_step, best_score = -1, -math.inf
    history: list[dict[str, float]] = []
    elapsed_before = peak_before = 0.0
    ckpt = Path(config.checkpoint) if config.checkpoint else None
    if ckpt is not None and config.resume and ckpt.exists():
        state = _read_checkpoint(ckpt)
        _check_checkpoint(state, method, config, ckpt, evaluate is not None, device)
        method.load_state_dict(state["method"])
        set_rng_state(state["rng"])
        start = int(state["step"])
        best = state["best"]
        if best is not None:  # loaded on the CPU: back to the run's device, as an uninterrupted run returns it
            best = {k: v.to(device) for k, v in best.items()}
        best_step, best_score = int(state["best_step"]), float(state["best_score"])
        history = list(state["history"])
        elapsed_before = float(state["elapsed"])
        peak_before = float(state.get("peak_memory_mb", 0.0))  # absent from checkpoints written before it was kept

    last_saved = start if ckpt is not None and start else None
    setting_json = json.dumps(jsonable(method.setting()), sort_keys=True)
    selection = selection_schedule(config, evaluate is not None)

    def save(step_done: int) -> None:
        nonlocal last_saved
        if ckpt is None:
            return
        last_saved = step_done
        save_torch(
            ckpt,
            {
                "format": CHECKPOINT_FORMAT,
                "version": CHECKPOINT_VERSION,
                "method_name": method.name,
                "setting": setting_json,
                "selection": selection,
                "config": asdict(config) | {"checkpoint": None, "stop_after": None, "progress": None},
                "step": step_done,
                "method": method.state_dict(),
                "rng": rng_state(),
                "best": best,
                "best_step": best_step,
                "best_score": best_score,
                "history": history,
                "elapsed": elapsed_before + time.perf_counter() - t0,
                "device": device_name(device),
                "peak_memory_mb": max(peak_before, peak_memory_mb(device)),
            },
        )

    def maybe_evaluate(step_done: int) -> None:
        nonlocal best, best_step, best_score
        if evaluate is None:
            return
        # Evaluation must not perturb the condensation RNG stream: a run with and without a
        # resume point evaluates the same sets and keeps drawing the same random numbers.
        saved = rng_state()
        score = float(evaluate(method.condensed()))
        set_rng_state(saved)
        history.append({"step": float(step_done), "val": score})
        if score > best_score:
            best, best_step, best_score = _clone(method.condensed()), step_done, score

    # The command's start-up: process start → set-up done (before any step-0 selection evaluation).
    first_step_age, first_step_cpu = process_age_s(), time.process_time()
    wants_eval = bool(config.eval_every or config.eval_steps)
    if start == 0 and evaluate is not None and wants_eval and not history:
        maybe_evaluate(0)

    bar = None
    if config.progress and config.steps > start:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.steps, initial=start, desc=method.name, leave=False, dynamic_ncols=True)

    steps_this_call = 0
    finished = True
    step_time = step_cpu = 0.0
    first_step_s: float | None = None
    for step in range(start, config.steps):
        if config.stop_after is not None and steps_this_call >= config.stop_after:
            finished = False
            break
        ts, cs = time.perf_counter(), time.process_time()
        try:
            logs = method.step(step)
        except (RuntimeError, MemoryError) as err:
            if not _is_out_of_memory(err):
                raise
            raise _out_of_memory(method, device, f"step {step}", ckpt, last_saved, err) from err
        took = time.perf_counter() - ts
        step_time += took
        if first_step_s is None:
            first_step_s = took
        step_cpu += time.process_time() - cs
        steps_this_call += 1
        done = step + 1
        if bar is not None:
            bar.update(1)
            if logs:
                bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items()}, refresh=False)
        scheduled = (config.eval_every and done % config.eval_every == 0) or done in config.eval_steps
        if scheduled and done != config.steps:
            maybe_evaluate(done)
        if config.checkpoint_every and done % config.checkpoint_every == 0 and done != config.steps:
            save(done)
    if bar is not None:
        bar.close()

    steps_done = start + steps_this_call
    if finished:
        if evaluate is not None and (not history or history[-1]["step"] != steps_done):
            maybe_evaluate(steps_done)
        save(steps_done)
    else:
        save(steps_done)

    if best is None:
        best, best_step = _clone(method.condensed()), steps_done
    return CondensationResult(
        condensed=best,
        best_step=best_step,
        best_score=None if evaluate is None else best_score,
        steps_done=steps_done,
        finished=finished,
        history=history,
        wall_time_s=elapsed_before + time.perf_counter() - t0,
        peak_memory_mb=max(peak_before, peak_memory_mb(device)),
        device=str(device),
        start_to_first_step_s=first_step_age,
        start_to_first_step_cpu_s=first_step_cpu,
        sec_per_step=step_time / steps_this_call if steps_this_call else None,
        cpu_sec_per_step=step_cpu / steps_this_call if steps_this_call else None,
        first_step_s=first_step_s,
        later_sec_per_step=(step_time - first_step_s) / (steps_this_call - 1) if steps_this_call > 1 else None,
    )


def _is_out_of_memory(err: BaseException) -> bool:
    """CUDA's ``OutOfMemoryError``, Python's ``MemoryError``, or the CPU allocator's RuntimeError."""
    if isinstance(err, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(err)
    return "can't allocate memory" in text or "out of memory" in text.lower()


def _out_of_memory(
    method: CondensationMethod,
    device: torch.device,
    where_: str,
    ckpt: Path | None,
    saved: int | None,
    err: BaseException,
) -> MemoryError:
    """The error a run that ran out of memory raises: its size, what lowers memory, the checkpoint."""
    where = (
        "no checkpoint was asked for (pass one to make the run resumable)"
        if ckpt is None
        else f"the checkpoint {str(ckpt)!r} is intact"
        + (f" at step {saved}" if saved is not None else " (none written yet)")
        + "; rerun the same command to resume from it"
    )
    cause = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return MemoryError(
        f"out of memory on {device} in {where_} of {method.name!r} ({cause}): {method.memory_hint()}. {where}"
    )


def selection_schedule(config: EngineConfig, evaluates: bool) -> dict[str, Any]:
    """The validation-selection schedule of a run, as its checkpoint records it: ``select_every``
    (evaluate every k steps; 0: never) and ``select_steps`` (the further steps evaluated); both empty
    for a run without an evaluator (it keeps the last set)."""
    return {
        "select_every": config.eval_every if evaluates else 0,
        "select_steps": sorted(config.eval_steps) if evaluates else [],
    }


def _read_checkpoint(path: Path) -> Any:
    """``load_torch``, with a file torch cannot read (truncated, not a checkpoint) as a ValueError naming it."""
    try:
        return load_torch(path)
    except (OSError, EOFError, RuntimeError, pickle.UnpicklingError) as err:
        raise ValueError(
            f"{str(path)!r} is not a readable checkpoint ({type(err).__name__}: {err}); pass another path (or delete "
            "it if it is a checkpoint of yours that was cut short)"
        ) from err


def device_name(device: torch.device) -> str:
    """``device`` as a checkpoint records it: ``cpu``, or ``cuda:N`` with the index made explicit (``cuda`` is the
    current device), so ``cuda`` and ``cuda:0`` name one device."""
    if device.type == "cuda" and device.index is None:
        return f"cuda:{torch.cuda.current_device()}"
    return str(device)


def _other_device(state: dict[str, Any], device: torch.device) -> str | None:
    """The device ``state`` was written on when it is not ``device``, else ``None``. Checkpoints written before the
    device was recorded are judged by the device their run asked for: another type (or another explicit index) is
    another device; ``"auto"`` (or a string torch cannot read) is unknown and passes."""
    if "device" in state:
        saved = str(state["device"])
        return None if saved == device_name(device) else saved
    asked = str((state.get("config") or {}).get("device", "auto"))
    try:
        was = torch.device(asked)
    except RuntimeError:
        return None  # "auto"
    if was.type != device.type:
        return asked
    if was.index is not None and device.type == "cuda" and was.index != torch.device(device_name(device)).index:
        return asked
    return None


def _check_checkpoint(
    state: Any, method: CondensationMethod, config: EngineConfig, path: Path, evaluates: bool, device: torch.device
) -> None:
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{str(path)!r} is not a condensekit checkpoint")
    if state.get("version") != CHECKPOINT_VERSION:
        raise ValueError(
            f"checkpoint {str(path)!r} has version {state.get('version')!r}; expected {CHECKPOINT_VERSION}"
        )
    if state.get("method_name") != method.name:
        raise ValueError(
            f"checkpoint {str(path)!r} was written by method {state.get('method_name')!r}, "
            f"not {method.name!r}; "
            "delete it or pass another checkpoint path"
        )
    other = _other_device(state, device)
    if other is not None:
        raise ValueError(
            f"checkpoint {str(path)!r} was written on {other}, this run is on {device_name(device)}: a run cannot "
            f"continue bit for bit on another device (its random streams differ); resume with the same --device "
            f"({other}), or delete {str(path)!r} to start the run over"
        )
    saved = state.get("config", {})
    for key in ("seed", "steps"):
        if saved.get(key) != getattr(config, key):
            raise ValueError(
                f"checkpoint {str(path)!r} was written with {key}={saved.get(key)!r}, this run has "
                f"{key}={getattr(config, key)!r}; resume with the same settings or delete the checkpoint"
            )
    if "setting" in state:  # checkpoints written before settings were recorded are taken as they are
        saved_setting, mine = json.loads(state["setting"]), jsonable(method.setting())
        diff = setting_diff(saved_setting, mine)
        if diff:
            was = ", ".join(f"{k}={saved_setting.get(k)!r}" for k in diff)
            now = ", ".join(f"{k}={mine.get(k)!r}" for k in diff)
            raise ValueError(
                f"checkpoint {str(path)!r} of {method.name!r} was written by a run with {was}, this run has {now}; "
                "resume with the same settings, or delete the checkpoint or pass another path"
            )
    # The validation selection: a checkpoint holds the set chosen on its schedule, which another schedule would
    # return under a card recording its own (or resume mixing two). Checkpoints written before it was recorded
    # are taken as they are.
    if isinstance(state.get("selection"), dict):
        saved_sel, mine_sel = state["selection"], selection_schedule(config, evaluates)
        diff = [k for k in mine_sel if saved_sel.get(k) != mine_sel[k]]
        if diff:
            was = ", ".join(f"{k}={saved_sel.get(k)!r}" for k in diff)
            now = ", ".join(f"{k}={mine_sel[k]!r}" for k in diff)
            raise ValueError(
                f"checkpoint {str(path)!r} of {method.name!r} was written by a run with validation selection {was}, "
                f"this run has {now}; resume with the same selection schedule (the same --select-every or "
                "--eval-every), or delete the checkpoint or pass another path"
            )
