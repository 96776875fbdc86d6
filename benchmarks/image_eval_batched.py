"""The medical evaluation's students one at a time against all together (``evaluate_medical(batched=...)``).

Trains ``--runs`` fresh ``--model`` students on one fixed MedMNIST set, the first ``--per-class`` real training
images of every class (no condensation: the point is the training routine's cost), with the evaluation protocol
of ``benchmarks/medical.py`` (SGD, DSA on every batch, the rate ÷10 half way, validation-selected weights every
``--val-every`` epochs) for ``--epochs`` epochs, twice with the same seeds: one at a time
(:func:`~condensekit.core.vision.train.fit_images` per run) and batched
(:func:`~condensekit.core.vision.batched.fit_images_batched`: one vmapped forward and backward per minibatch for
all runs). Records per mode the wall and process (CPU) seconds and every run's test ACC and AUC, the largest
per-run gap between the modes, and the machine's load average (on a shared CPU another process's load slows both
modes). On a GPU the count of kernel launches decides, which the CPU timing does not show.

Over hundreds of epochs the two modes' runs drift apart by rounding (the batched convolution sums in another
order), and validation may select another epoch for a run (each mode records every run's selected epoch), which
moves its test ACC. ``--drift-epochs E1,E2`` measures whether that is more than
the one-at-a-time routine's own sensitivity: for ``--drift-runs`` runs trained ``E`` epochs without validation
selection (the last weights), the largest weight gap and the test images whose predicted label changes, batched
against one at a time, beside one at a time against itself with one initial weight moved by one float32 ulp.

Results are merged into ``benchmarks/results/image_eval_batched.json``; ``--table`` prints them. Example::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/image_eval_batched.py --flag breastmnist --epochs 300
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path
from typing import Any

import torch
from common import hardware, load, records_command, save_entry  # benchmarks/ is on sys.path as a script

from condensekit.core.registry import check_choice, check_int
from condensekit.core.report import format_table
from condensekit.core.seed import resolve_device, seed_everything
from condensekit.core.vision.augment import DSA
from condensekit.core.vision.batched import fit_images_batched, seeded_runs
from condensekit.core.vision.models import build_image_model
from condensekit.core.vision.train import fit_images, predict
from condensekit.medical.data import load_medmnist
from condensekit.medical.evaluate import DEFAULT_EVAL, evaluate_medical

RESULTS = Path(__file__).resolve().parent / "results" / "image_eval_batched.json"
MODES = {"alone": False, "batched": True}


def first_per_class(y: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the first ``k`` images of every class, class by class (a fixed set: no RNG)."""
    labels = y.reshape(-1)
    idx = [torch.nonzero(labels == c).flatten()[:k] for c in labels.unique().tolist()]
    short = [i for i, t in enumerate(idx) if t.numel() < k]
    if short:
        raise ValueError(f"Invalid value {k!r} for argument --per-class: classes {short} have fewer images")
    return torch.cat(idx)


def run_mode(batched: bool, x: torch.Tensor, y: torch.Tensor, data: Any, ns: argparse.Namespace, device) -> dict:
    config = dataclasses.replace(DEFAULT_EVAL, epochs=ns.epochs, val_every=ns.val_every)
    load0 = os.getloadavg()[0]
    w0, c0 = time.perf_counter(), time.process_time()
    fits = []
    res = evaluate_medical(x, y, data, models=[ns.model], runs=ns.runs, seed=ns.seed, config=config,
                           batched=batched, on_fit=lambda _, fit: fits.append(fit))[ns.model]  # fmt: skip
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "load_avg_1min": [load0, os.getloadavg()[0]],
            "acc": res["acc"].to_dict(), "auc": res["auc"].to_dict(),
            "best_epochs": [f.best_epoch for f in fits]}  # fmt: skip


def drift(x: torch.Tensor, y: torch.Tensor, data: Any, ns: argparse.Namespace, epochs: int) -> dict[str, Any]:
    """Batched against one at a time, and one at a time against a 1-ulp nudge of its first initial weight, after
    ``epochs`` epochs without selection: the largest weight gap and the test images whose label flips, per run."""
    config = dataclasses.replace(DEFAULT_EVAL, epochs=epochs, val_every=0)
    device = x.device
    y = y.reshape(-1) if not data.multilabel else y

    def build(nudge: bool = False) -> torch.nn.Module:
        net = build_image_model(ns.model, channels=data.channels, num_classes=data.num_classes, im_size=data.im_size)
        if nudge:
            with torch.no_grad():
                w = next(net.parameters()).view(-1)
                w[0] = torch.nextafter(w[0], w[0] + 1)
        return net.to(device)

    def alone(nudge: bool) -> list[torch.nn.Module]:
        nets = []
        for i in range(ns.drift_runs):  # as repeat() runs them: each seeded, built and trained in turn
            seed_everything(ns.seed + i)
            net = build(nudge)
            gen = torch.Generator(device=device).manual_seed(ns.seed + i)
            fit_images(net, x, y, config=config, augment=DSA(generator=None), generator=gen)
            nets.append(net)
        return nets

    nets, gens, states = seeded_runs(build, runs=ns.drift_runs, seed=ns.seed, device=device)
    c0 = time.process_time()
    fit_images_batched(nets, x, y, generators=gens, rng_states=states, config=config, augment=DSA(generator=None))
    reference = alone(False)

    @torch.no_grad()
    def gap(other: list[torch.nn.Module]) -> dict[str, Any]:
        dw = max(float((p - q).abs().max()) for a, b in zip(reference, other, strict=True)
                 for p, q in zip(a.parameters(), b.parameters(), strict=True))  # fmt: skip
        flips = [int((predict(a, data.x_test).argmax(-1) != predict(b, data.x_test).argmax(-1)).sum())
                 for a, b in zip(reference, other, strict=True)]  # fmt: skip
        return {"max_weight_gap": dw, "test_label_flips": flips}

    out = {"epochs": epochs, "runs": ns.drift_runs, "batched": gap(nets), "nudged_1ulp": gap(alone(True))}
    out["cpu_s"] = round(time.process_time() - c0, 1)
    return out


def entry_key(ns: argparse.Namespace, device: torch.device) -> str:
    return (f"{ns.flag}/first{ns.per_class}pc/{ns.model}/runs{ns.runs}/epochs{ns.epochs}/val{ns.val_every}/"
            f"seed{ns.seed}/{device.type}")  # fmt: skip


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def table(entries: dict[str, Any]) -> str:
    rows = []
    for key, e in sorted(entries.items()):
        a, b = e["modes"].get("alone"), e["modes"].get("batched")
        rows.append([key, a and a["wall_s"], b and b["wall_s"], e.get("speedup"), a and a["acc"]["mean"],
                     b and b["acc"]["mean"], _round(e.get("max_run_acc_gap")), e["hardware"]["device"]])  # fmt: skip
    cols = ["setting", "alone (s)", "batched (s)", "speed-up", "ACC alone", "ACC batched", "max run gap", "device"]
    return format_table(cols, rows)


@records_command
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--flag", default="breastmnist")
    p.add_argument("--per-class", type=int, default=10, help="the first k real training images of every class")
    p.add_argument("--model", default="convnet")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--val-every", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--modes", default="alone,batched", help=f"comma-separated, of {{{', '.join(MODES)}}}")
    p.add_argument("--device", default="auto")
    p.add_argument("--drift-epochs", default="", help="comma-separated epochs for the drift check (default: none)")
    p.add_argument("--drift-runs", type=int, default=2)
    p.add_argument("--table", action="store_true", help="print the results table and stop")
    ns = p.parse_args(argv)
    if ns.table:
        print(table(load(RESULTS)["entries"]))
        return 0
    modes = [m for m in ns.modes.split(",") if m]
    for m in modes:
        check_choice("--modes", m, tuple(MODES))
    for name, low in (("per_class", 1), ("runs", 1), ("epochs", 1), ("drift_runs", 1), ("val_every", 0)):
        check_int("--" + name.replace("_", "-"), getattr(ns, name), low)
    for e in [e for e in ns.drift_epochs.split(",") if e]:  # before the timed runs, not after them
        check_int("--drift-epochs", int(e) if e.strip().lstrip("-").isdigit() else e, 1)
    device = resolve_device(ns.device)
    data = load_medmnist(ns.flag).to(str(device))
    idx = first_per_class(data.y_train.cpu(), ns.per_class).to(device)
    x, y = data.x_train[idx], data.y_train[idx]
    out = {m: run_mode(MODES[m], x, y, data, ns, device) for m in modes}
    drifts = [drift(x, y, data, ns, int(e)) for e in ns.drift_epochs.split(",") if e]
    for d in drifts:
        print(f"drift after {d['epochs']} epochs: batched {d['batched']}, one-at-a-time nudged by 1 ulp "
              f"{d['nudged_1ulp']}")  # fmt: skip
    for m, r in out.items():
        print(f"{m}: {r['wall_s']} s wall, {r['cpu_s']} s CPU, ACC {r['acc']['runs']}, load {r['load_avg_1min']}")
    entry: dict[str, Any] = {"dataset": ns.flag, "images": int(x.shape[0]), "model": ns.model, "runs": ns.runs,
                             "epochs": ns.epochs, "val_every": ns.val_every, "seed": ns.seed, "modes": out,
                             "hardware": hardware()}  # fmt: skip
    if drifts:
        entry["drift"] = drifts
    if {"alone", "batched"} <= set(out):
        a, b = out["alone"], out["batched"]
        entry["speedup"] = round(a["wall_s"] / b["wall_s"], 2)
        entry["max_run_acc_gap"] = max(abs(u - v) for u, v in zip(a["acc"]["runs"], b["acc"]["runs"], strict=True))
        print(f"speed-up {entry['speedup']}x, largest per-run ACC gap {entry['max_run_acc_gap']}")
    save_entry(entry_key(ns, device), entry, RESULTS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
