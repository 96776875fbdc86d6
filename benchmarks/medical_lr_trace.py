"""The first updates of MTT/PTM's learned learning rate, per condensation seed (a diagnostic, not a benchmark row).

MTT learns the student's learning rate :math:`\\alpha` by SGD (``lr_lr``, momentum 0.5) on the normalised
parameter distance :math:`L = \\lVert\\hat\\theta - \\theta^*_{t+M}\\rVert^2 / \\lVert\\theta^*_t -
\\theta^*_{t+M}\\rVert^2`. A run that drives :math:`\\alpha` below zero stops ("diverged"; ``benchmarks/medical.py``
records it). This script replays the first ``--updates`` updates of such a run exactly as
``benchmarks/medical.py`` makes them (the same profile config, expert buffer folder, seeding and method; the
validation selection restores the RNG state, so leaving it out changes no draw) and records, per update: the
matching loss :math:`L` (above 1: the student ends further from the expert's end than the segment's start),
:math:`\\partial L/\\partial\\alpha`, :math:`\\alpha` after the update, and the norm of the image gradient. It never
reads the validation or test split. Results are merged into ``benchmarks/results/medical_lr_trace.json``.

Example (the BreastMNIST IPC 10 recipe whose seed 1 diverged in sitting 15)::

    python benchmarks/medical_lr_trace.py --flag breastmnist --method mtt --ipc 10 --expert-epochs 15 --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import torch
from common import (  # benchmarks/ is on sys.path when run as a script
    hardware,
    load,
    parse_overrides,
    records_command,
    save_entry,
)

from condensekit.core.seed import resolve_device, seed_everything
from condensekit.core.vision.experts import ExpertBuffer
from condensekit.core.vision.methods import IMAGE_METHODS
from condensekit.medical.condense import medical_config
from condensekit.medical.data import load_medmnist
from condensekit.medical.profiles import PROFILES
from medical import RUNS, expert_folder

RESULTS = Path(__file__).resolve().parent / "results" / "medical_lr_trace.json"


def trace(method: Any, updates: int) -> tuple[list[dict[str, float]], str | None]:
    """Run ``updates`` steps of a set-up trajectory method; per step its loss, ∂L/∂α, α after the update and
    ‖∂L/∂x‖. Returns the rows and the divergence message (``None`` when every update ran)."""
    rows: list[dict[str, float]] = []
    for step in range(updates):
        try:
            logs = method.step(step)
        except FloatingPointError as err:  # α < 0 after this update: the row is still recorded, then stop
            rows.append(_row(step, method, loss=None))
            return rows, str(err)
        rows.append(_row(step, method, loss=logs["loss"]))
    return rows, None


def _row(step: int, method: Any, loss: float | None) -> dict[str, float]:
    lr_grad = method.syn_lr.grad
    return {
        "update": step,
        "loss": loss,
        "lr_grad": None if lr_grad is None else float(lr_grad),
        "lr_after": float(method.syn_lr.detach()),
        "img_grad_norm": None if method.x_syn.grad is None else float(method.x_syn.grad.norm()),
    }


def entry_key(ns: argparse.Namespace, folder: str, overrides: dict[str, Any], seed: int) -> str:
    """A trace's key: flag, method, IPC, profile, expert buffer folder, the ``--set`` overrides, seed, updates."""
    variant = "".join(f"/{k}={v}" for k, v in sorted(overrides.items()))
    return f"{ns.flag}/{ns.method}/ipc{ns.ipc}/{ns.profile}/{folder}{variant}/seed={seed}/updates={ns.updates}"


def check_recipe(done: dict[str, Any], keys: Any, config: dict[str, Any]) -> None:
    """Refuse, before anything is traced, to overwrite a trace recorded with another method config under one of
    ``keys``: a key names the ``--set`` overrides, not the profile's settings, so once the profile changes
    (BreastMNIST IPC 10's ``lr_lr``: 1e-6 since sitting 16) a plain run's key holds the former recipe's trace.
    The error names the key, the differing fields and the fix."""
    config = json.loads(json.dumps(config))
    for key in keys:
        old = (done.get(key) or {}).get("config")
        if not old:
            continue
        diff = {k: (v, config[k]) for k, v in old.items() if k in config and v != config[k]}
        if diff:
            said = ", ".join(f"{k}: {a} recorded, {b} now" for k, (a, b) in sorted(diff.items()))
            raise ValueError(f"trace {key!r} was recorded with another config ({said}); it is kept: name this run's "
                             "recipe with --set FIELD=VALUE so it gets its own key")  # fmt: skip


@records_command
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--flag", required=True)
    p.add_argument("--method", default="mtt", choices=["mtt", "ptm"])
    p.add_argument("--ipc", type=int, required=True)
    p.add_argument("--seeds", default="0")
    p.add_argument("--updates", type=int, default=8)
    p.add_argument("--expert-epochs", type=int, default=None)
    p.add_argument("--experts", type=int, default=None)
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    p.add_argument("--profile", default="cpu", choices=PROFILES.names())
    p.add_argument("--device", default="cpu")
    ns = p.parse_args(argv)
    if ns.updates < 1:
        raise ValueError(f"Invalid value {ns.updates!r} for argument --updates. Valid values are >= 1")
    seeds = [int(s) for s in ns.seeds.split(",") if s]
    profile = PROFILES.get(ns.profile)
    overrides = parse_overrides(ns.set)
    given = {k: v for k, v in (("num_experts", ns.experts), ("epochs", ns.expert_epochs)) if v is not None}
    folder = RUNS / "experts" / expert_folder(ns.flag, "convnet", profile, given)
    if not (folder / "card.json").exists():
        raise ValueError(f"no expert buffer at {str(folder)!r}: make it with benchmarks/medical.py first")
    dev = resolve_device(ns.device)
    data = load_medmnist(ns.flag).to(str(dev))
    config = medical_config(ns.method, ns.profile, overrides, ipc=ns.ipc, flag=ns.flag)
    keys = {seed: entry_key(ns, folder.name, overrides, seed) for seed in seeds}
    check_recipe(load(RESULTS)["entries"], keys.values(), dataclasses.asdict(config))
    for seed in seeds:
        buffer = ExpertBuffer.open(folder, data=data, model=config.model)
        method = IMAGE_METHODS.get(ns.method).cls(data, ns.ipc, config, experts=buffer)
        seed_everything(seed)  # as core.engine.run does before set-up
        c0 = time.process_time()
        method.setup(dev)
        rows, diverged = trace(method, ns.updates)
        save_entry(keys[seed], {"dataset": ns.flag, "method": ns.method, "ipc": ns.ipc, "seed": seed,
                         "profile": ns.profile, "experts": str(folder), "config": dataclasses.asdict(config),
                         "rows": rows, "diverged": diverged, "hardware": hardware(),
                         "cpu_s": round(time.process_time() - c0, 1)}, RESULTS)  # fmt: skip
        lrs = " ".join(f"{r['lr_after']:.5f}" for r in rows)
        print(f"seed {seed}: alpha after each update {lrs}" + (f" | {diverged}" if diverged else ""), flush=True)
    return 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    raise SystemExit(main())
