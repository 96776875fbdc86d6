"""Private sets on MNIST (DPDM Table 1 protocol) and membership-inference audits.

For every (method, ε): release with δ = 1e-5, fit, then train LR / MLP / CNN on the released images and test on
the real MNIST test set (:func:`condensekit.privacy.evaluate.evaluate_private`: the same number of Adam
steps for every set size, last weights). Entries go to ``benchmarks/results/privacy.json`` with ``dataset``,
``method``, ``epsilon`` (the target), ``epsilon_achieved`` (both accountants in ``privacy``), ``delta`` and
``test: {model: {mean, std, runs}}``; timings carry ``"load": "shared"`` (the 2 cores were shared with other
jobs). ``--audit`` adds membership-inference entries (``method``, ``attack``, ``auc``, ``tpr_at_1fpr``).
``--table`` prints BENCHMARKS.md's tables.

Hyper-parameters are chosen on the **validation** split, never on test: ``--select`` runs a small grid
(``--grid FIELD=V1|V2`` per axis, the cartesian product, on top of ``--set``) at each ε, scores every point by
the mean validation accuracy of LR / MLP / CNN (``--val-runs`` runs each) and records every point and the
choice under ``selection/mnist/<method>/eps<ε>``; ``--selected`` then condenses with that choice and tests
it (key ``mnist/<method>/eps<ε>/selected``; ``--selection-eps`` borrows another ε's choice). The validation
images are part of the private training file, so the selection itself is not covered by the release's DP
guarantee (the usual caveat of this literature).

Noise source: since commit a2c5a8c the mechanisms draw their noise from a secret generator
(:mod:`condensekit.privacy.noise`); every private entry records it (``noise``, and ``privacy.noise`` from the
card). An entry or artifact without it was made with the run's *seeded* noise and carries no DP guarantee:
``--table`` marks such rows, ``--selected`` never reuses such an artifact (``--force`` always condenses anew),
and a run that replaces such an entry first archives it, once, under ``<key>/noise=seeded``, moving a set the new
one would overwrite to ``<folder>-noise=seeded`` (the archived entry's ``artifact``). A ``--select`` re-run moves
a ``select-*`` set that a ``…/selected`` row tested (or its archive) to ``<folder>-replaced`` with those entries
before it saves the new point's set there.

Examples::

    python benchmarks/privacy.py --methods dp-merf --epsilons 10,1 --set samples_per_class=1000
    python benchmarks/privacy.py --methods dp-merf-condensed --epsilons 1,0.2,10 --set ipc=10
    python benchmarks/privacy.py --audit real-subset,artifacts/privacy/mnist-dp-merf-condensed-eps1 --shadows 8
    python benchmarks/privacy.py --select --methods dp-merf-condensed --epsilons 0.2,1 \
        --grid 'ipc=10|50' --grid 'bandwidth_scales=0.5,1,2|1,2,4'
    python benchmarks/privacy.py --selected --methods dp-merf-condensed --epsilons 0.2,1,10
    python benchmarks/privacy.py --table
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
from common import (
    archive_once,
    hardware,
    load,
    parse_overrides,
    records_command,
    results_lock,
    save_entry,
    with_command,
)

from condensekit.core.atomic import free_name, write_json
from condensekit.core.evaluate import Summary, format_summary
from condensekit.core.vision import CondensedImages, load_mnist
from condensekit.privacy import PRIVACY_METHODS, condense_private
from condensekit.privacy.evaluate import PRIVATE_EVAL_MODELS, evaluate_private
from condensekit.privacy.noise import NOISE_SOURCE

RESULTS = Path(__file__).parent / "results" / "privacy.json"
ARTIFACTS = Path("artifacts/privacy")

#: What an entry made before the secret noise source (commit a2c5a8c) says about its noise.
SEEDED_NOISE = "seeded: the run's recorded seed (pre-a2c5a8c; no DP guarantee)"
#: The key suffix an entry made with the seeded noise is archived under when a re-run replaces it.
SEEDED_SUFFIX = "/noise=seeded"

#: DPDM (Dockhorn et al., TMLR 2023) Table 1, MNIST test accuracy (%) LR / MLP / CNN, δ = 1e-5.
PUBLISHED: dict[tuple[str, float], tuple[float, float, float]] = {
    ("DP-MERF", 10.0): (79.4, 78.3, 82.1),
    ("DP-Sinkhorn", 10.0): (82.8, 82.7, 83.2),
    ("PEARL", 1.0): (76.0, 79.6, 78.2),
    ("PEARL", 0.2): (76.2, 77.1, 77.6),
    ("DPDM", 1.0): (86.7, 91.6, 95.3),
    ("DPDM", 0.2): (81.0, 81.7, 86.3),
}


def run_entry(
    method: str, epsilon: float, *, delta: float, runs: dict[str, int], seed: int, steps: int | None,
    overrides: dict[str, Any], train_steps: int, name: str | None = None, key: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Condense, save and evaluate one release; ``key``: the results key its entry will replace, whose seeded-noise
    entry is archived with its set (:func:`archive_seeded`) before this set is saved in its place."""
    t0, c0 = time.perf_counter(), time.process_time()
    data = load_mnist()
    entry = PRIVACY_METHODS.get(method)
    cfg = entry.config(**({"epsilon": epsilon, "delta": delta} | overrides))
    ci = condense_private(data, method, config=cfg, seed=seed, steps=steps, device="auto", progress=False)
    ci.card["cost"]["end_to_end_s"] = round(time.perf_counter() - t0, 1)
    ci.card["cost"]["end_to_end_cpu_s"] = round(time.process_time() - c0, 1)  # 1 torch thread: one core's time
    name = name or f"mnist-{method}-eps{epsilon:g}" + "".join(f"-{k}{v}" for k, v in sorted(overrides.items()))
    if key is not None:
        _say_archived(key, archive_seeded(key, folder=ARTIFACTS / name))
    ci.save(ARTIFACTS / name)
    return evaluate_entry(ci, data, ARTIFACTS / name, runs=runs, seed=seed, train_steps=train_steps)


def noise_source(privacy: dict[str, Any] | None) -> str | None:
    """The noise source of a card's (or entry's) privacy record: its ``noise`` field, :data:`SEEDED_NOISE` for a
    private record made before the field existed (the seeded noise), ``None`` for a non-private set."""
    if not privacy:
        return None
    return privacy.get("noise", SEEDED_NOISE)


def is_secret(privacy: dict[str, Any] | None) -> bool:
    """Whether a privacy record's noise came from the secret generator (:mod:`condensekit.privacy.noise`)."""
    return (noise_source(privacy) or "").startswith(NOISE_SOURCE)


def archive_seeded(key: str, path: Path | None = None, *, folder: Path | None = None) -> str | None:
    """Before a new entry replaces ``key``: if the entry there is private and was made with the seeded noise (its
    privacy record has no ``noise``), copy it to ``key + SEEDED_SUFFIX`` (unless that key exists: archived once)
    with ``noise``, ``archived_from`` and ``archive_reason`` set (:func:`common.archive_once`). ``folder``: where
    the new run is about to save its set; when that is the old entry's ``artifact``, the old set is moved to
    ``folder-noise=seeded`` first and the archived entry points there (as medical's archives keep their sets), so the
    new set does not overwrite it; when that set is not on disk (made on another machine), the archived entry says
    so (``artifact_note``). Returns the archive key, ``None`` when nothing was archived. ``path`` defaults to
    the module's ``RESULTS`` as it is when called."""
    if key.endswith(SEEDED_SUFFIX):
        return None
    path = RESULTS if path is None else path
    old = load(path)["entries"].get(key) or {}
    own = folder is not None and old.get("artifact") == str(folder)  # another artifact's set is not overwritten
    extra = {"noise": SEEDED_NOISE}
    if own and not folder.exists():  # made on another machine: the path it names is about to hold the new set
        extra["artifact_note"] = "the set was not on disk when archived: its path holds the set that replaced it"
    reason = "made with the seeded noise (before commit a2c5a8c), replaced by a release from the secret generator"
    return archive_once(
        key, SEEDED_SUFFIX.removeprefix("/"), reason, extra, path, folder=folder if own else None,
        when=lambda e: bool(e.get("privacy")) and not is_secret(e["privacy"]),
    )  # fmt: skip


def save_replacing(key: str, entry: dict[str, Any]) -> None:
    """Save ``entry`` under ``key``, first archiving a seeded-noise entry it replaces (:func:`archive_seeded`)."""
    _say_archived(key, archive_seeded(key))
    save_entry(key, entry, RESULTS)


def _say_archived(key: str, archive: str | None) -> None:
    if archive is not None:
        print(f"archived the seeded-noise entry {key} under {archive}", flush=True)


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """``--grid FIELD=V1|V2|...`` items → ``{field: [values]}`` (each value parsed like ``--set``)."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not sep or not k or not v:
            raise ValueError(f"Invalid value {item!r} for argument --grid. Valid values are FIELD=V1|V2|...")
        grid[k] = [parse_overrides([f"{k}={x}"])[k] for x in v.split("|")]
    return grid


def select_key(method: str, epsilon: float) -> str:
    return f"selection/mnist/{method}/eps{epsilon:g}"


def run_selection(
    method: str, epsilon: float, *, delta: float, grid: dict[str, list[Any]], fixed: dict[str, Any],
    val_runs: dict[str, int], seed: int, train_steps: int,
) -> dict[str, Any]:  # fmt: skip
    """Condense at every grid point and score it on the validation split; the entry is saved after every point
    (an interrupted grid resumes: points already scored with the same protocol are kept)."""
    key = select_key(method, epsilon)
    protocol = {"fixed": fixed, "val_runs": val_runs, "train_steps": train_steps, "seed": seed, "delta": delta}
    old = load(RESULTS)["entries"].get(key)
    points = list(old["points"]) if old and old.get("protocol") == protocol else []
    data = load_mnist()
    entry_cls = PRIVACY_METHODS.get(method)
    str_fields = {f.name for f in dataclasses.fields(entry_cls.config) if isinstance(f.default, str)}
    grid = {k: [str(v) for v in vs] if k in str_fields else vs for k, vs in grid.items()}
    for values in itertools.product(*grid.values()):
        point = dict(zip(grid, values, strict=True))
        if any(_same_setting(method, p["overrides"], point) for p in points):  # a grid extended later keeps these
            continue
        t0, c0 = time.perf_counter(), time.process_time()
        cfg = entry_cls.config(**({"epsilon": epsilon, "delta": delta} | fixed | point))
        ci = condense_private(data, method, config=cfg, seed=seed, device="auto", progress=False)
        fit_cpu = time.process_time() - c0
        art = ARTIFACTS / ("select-" + _artifact_name(method, epsilon, point))
        _move_aside(art)
        ci.save(art)  # the chosen point's set is the one --selected tests (no second fit of the same set)
        val = {
            m: evaluate_private(ci.x, ci.y, data, models=[m], runs=r, seed=seed, train_steps=train_steps,
                                split="validation")[m].to_dict()  # fmt: skip
            for m, r in val_runs.items()
        }
        score = sum(v["mean"] for v in val.values()) / len(val)
        points.append({
            "overrides": point, "val": val, "score": round(score, 3), "artifact": str(art),
            "cost": {"fit_cpu_s": round(fit_cpu, 1), "cpu_s": round(time.process_time() - c0, 1),
                     "wall_s": round(time.perf_counter() - t0, 1), "peak_memory_mb": ci.card["cost"]["peak_memory_mb"]},
        })  # fmt: skip
        print(f"{key} {point}: val " + ", ".join(f"{m} {format_summary(v, 2, std=False)}" for m, v in val.items())
              + f" -> {_score(points[-1]):.2f} ({time.process_time() - c0:.0f} CPU s)", flush=True)  # fmt: skip
        save_entry(key, _selection_entry(method, epsilon, grid, protocol, points), RESULTS)
    entry = _selection_entry(method, epsilon, grid, protocol, points)
    save_entry(key, entry, RESULTS)
    return entry


def _move_aside(art: Path) -> None:
    """Before a selection point saves its set to ``art``: the entries whose set is there (their ``artifact`` is
    ``art`` and their ``privacy`` record is the saved card's; a ``…/selected`` row that tested the selection's own set,
    or its archive) would name the new set once it is saved. The set moves to the first free ``art-replaced``
    (``-2``, ``-3``...) and those entries point there, with an ``artifact_note``, as a re-made release's seeded set
    moves with its archived entry (:func:`archive_seeded`). A set no entry has is overwritten, as before."""
    card = art / "card.json"
    if not card.exists():
        return
    privacy = json.loads(card.read_text()).get("privacy")
    with results_lock(RESULTS):
        results = load(RESULTS)
        names = [k for k, e in results["entries"].items() if e.get("artifact") == str(art)
                 and e.get("kind") != "selection" and e.get("privacy") == privacy]  # fmt: skip
        if not names:
            return
        moved = free_name(art.with_name(f"{art.name}-replaced"))
        for key in names:
            results["entries"][key] |= {
                "artifact": str(moved),
                "artifact_note": f"moved from {art.name} when a --select re-run saved another set there",
            }
        art.rename(moved)
        write_json(RESULTS, results)
    print(f"moved {art} to {moved} with the entries whose set it is: {', '.join(names)}", flush=True)


def _artifact_name(method: str, epsilon: float, overrides: dict[str, Any]) -> str:
    return f"mnist-{method}-eps{epsilon:g}" + "".join(f"-{k}{v}" for k, v in sorted(overrides.items()))


def _config_defaults(method: str) -> dict[str, Any]:
    return {f.name: f.default for f in dataclasses.fields(PRIVACY_METHODS.get(method).config)}


def _same_setting(method: str, a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two grid points are one setting (a field a point does not name takes the config default)."""
    dflt = _config_defaults(method)
    return all(a.get(k, dflt.get(k)) == b.get(k, dflt.get(k)) for k in a.keys() | b.keys())


def _selection_entry(method: str, epsilon: float, grid: dict[str, list[Any]], protocol: dict[str, Any],
                     points: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    todo = [dict(zip(grid, v, strict=True)) for v in itertools.product(*grid.values())]
    done = all(any(_same_setting(method, p["overrides"], t) for p in points) for t in todo)
    best = max(points, key=lambda p: p["score"])
    axes = dict.fromkeys(k for p in points for k in p["overrides"])  # every axis any point varied, in order
    dflt = _config_defaults(method) | protocol["fixed"]  # a field no point names takes the fixed value
    grid = {a: sorted({str(p["overrides"].get(a, dflt[a])) for p in points}) for a in axes}
    return {
        "dataset": "mnist", "method": method, "epsilon": epsilon, "kind": "selection", "split": "validation",
        "criterion": "mean validation accuracy (%) of the models in val_runs (last weights); ties: first point",
        "caveat": "the validation images are private training data: the selection is not covered by the DP "
                  "guarantee of the release",
        "grid": grid, "protocol": protocol, "points": points, "complete": done,
        "chosen": best["overrides"], "chosen_score": best["score"], "load": "shared", "hardware": hardware(),
    }  # fmt: skip


def _reusable(path: str | None, method: str, epsilon: float, delta: float, chosen: dict[str, Any], seed: int) -> Any:
    """The selection's saved set when it is exactly the chosen setting at this ε and seed and its noise came from
    the secret generator, else ``None`` (a seeded-noise set is no private release: it is made anew)."""
    if path is None or not Path(path).exists():
        return None
    ci = CondensedImages.load(path, domain="privacy")
    if not is_secret(ci.card.get("privacy")):
        return None
    want = PRIVACY_METHODS.get(method).config(**({"epsilon": epsilon, "delta": delta} | chosen))
    try:  # a card written before a config field existed holds that field's default
        saved = dataclasses.asdict(type(want)(**ci.card["config"]))
    except TypeError:  # a field the config no longer has: not this setting
        return None
    same = saved == dataclasses.asdict(want) and ci.card["seed"] == seed and ci.card["method"] == method
    return ci if same else None


def run_nondp(method: str, *, ipc: int, steps: int, seed: int, overrides: dict[str, Any], runs: dict[str, int],
              train_steps: int) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """A non-private set (``dm``, ``dc`` from core/vision) to audit beside the private ones; evaluated like them."""
    from condensekit.core.vision.methods import condense_images

    t0, c0 = time.perf_counter(), time.process_time()
    data = load_mnist()
    ci = condense_images(data, method, ipc=ipc, domain="privacy", config=overrides, seed=seed, steps=steps,
                         device="auto", progress=False)  # fmt: skip
    ci.card["cost"] |= {"end_to_end_s": round(time.perf_counter() - t0, 1),
                        "end_to_end_cpu_s": round(time.process_time() - c0, 1)}  # fmt: skip
    # the card's `init` (written by condense_images) names the real rows the set started from: what
    # `--member-set init` audits
    name = f"mnist-{method}-ipc{ipc}" + "".join(f"-{k}{v}" for k, v in sorted(overrides.items()))
    ci.save(ARTIFACTS / name)
    t1 = time.perf_counter()
    test = {
        m: evaluate_private(ci.x, ci.y, data, models=[m], runs=r, seed=seed, train_steps=train_steps)[m].to_dict()
        for m, r in runs.items()
    }
    entry = {
        "dataset": "mnist", "method": method, "epsilon": None, "delta": None, "privacy": None,
        "images": int(ci.x.shape[0]), "budget": ci.card["budget"], "config": ci.card["config"], "steps": steps,
        "test": test,
        "eval": {"train_steps": train_steps, "optimizer": "adam 1e-3, batch 256, last weights", "runs": runs},
        "cost": ci.card["cost"] | {"eval_s": round(time.perf_counter() - t1, 1)}, "artifact": str(ARTIFACTS / name),
        "load": "shared", "hardware": hardware(),
    }  # fmt: skip
    key = f"mnist/{method}/ipc{ipc}" + "".join(f"/{k}={v}" for k, v in sorted(overrides.items()))
    return key, entry


def psg_gradient_norms(models: list[str], *, n: int = 512, seed: int = 0) -> dict[str, Any]:
    """Per-sample gradient norms of freshly initialised PSG matching networks on the first ``n`` MNIST training
    images: does PSG's clip norm C clip every one of them? (If so, C does not change the path of the images:
    the clipped sum and the noise both scale with C and the matching distance is scale-invariant.)"""
    from condensekit.core.vision import build_image_model
    from condensekit.privacy.psg import per_sample_gradients  # also registers PSG's small ConvNet

    data = load_mnist()
    x, y = data.x_train[:n], data.class_labels()[:n]
    norms = {}
    for name in models:
        torch.manual_seed(seed)
        net = build_image_model(name, channels=data.channels, num_classes=data.num_classes, im_size=data.im_size)
        _, g = per_sample_gradients(net, x, y)
        norms[name] = {"min": round(float(g.min()), 3), "q01": round(float(g.quantile(0.01)), 3),
                       "median": round(float(g.median()), 3), "max": round(float(g.max()), 3)}  # fmt: skip
    return {"dataset": "mnist", "kind": "diagnostic", "what": "per-sample gradient norms at initialisation",
            "images": n, "seed": seed, "norms": norms, "hardware": hardware()}  # fmt: skip


def evaluate_entry(
    ci: CondensedImages, data: Any, path: Path, *, runs: dict[str, int], seed: int, train_steps: int
) -> dict[str, Any]:
    """Evaluate a released set (just made, or loaded with ``--from-artifact``) and build its entry."""
    cfg = ci.card["config"]
    t1 = time.perf_counter()
    test = {
        m: evaluate_private(ci.x, ci.y, data, models=[m], runs=r, seed=seed, train_steps=train_steps)[m].to_dict()
        for m, r in runs.items()
    }
    p = ci.card["privacy"]
    return {
        "dataset": "mnist",
        "method": ci.card["method"],
        "epsilon": p["target_epsilon"],
        "delta": p["delta"],
        "epsilon_achieved": p["epsilon"],
        "privacy": p,
        "noise": noise_source(p),
        "images": int(ci.x.shape[0]),
        "budget": ci.card["budget"],
        "config": cfg,
        "test": test,
        "eval": {"train_steps": train_steps, "optimizer": "adam 1e-3, batch 256, last weights", "runs": runs},
        "cost": ci.card["cost"] | {"eval_s": round(time.perf_counter() - t1, 1)},
        "artifact": str(path),
        "load": "shared",
        "hardware": hardware(),
    }


def merge_entry(key: str, entry: dict[str, Any]) -> None:
    """Save ``entry``, keeping the models an earlier evaluation of the same key measured (under the lock, so
    evaluations of one artifact split over processes add up). A seeded-noise entry of another artifact is
    archived first (:func:`archive_seeded`), before this function takes the lock: ``archive_once`` takes it itself
    and the lock is not re-entrant."""
    old = load(RESULTS)["entries"].get(key)
    if old is not None and old.get("artifact") != entry["artifact"]:
        archive_seeded(key)
    with results_lock(RESULTS):
        old = load(RESULTS)["entries"].get(key)
        if old is not None and old.get("artifact") == entry["artifact"]:
            entry["test"] = old["test"] | entry["test"]
            entry["eval"]["runs"] = old["eval"]["runs"] | entry["eval"]["runs"]
        results = load(RESULTS)
        results["entries"][key] = with_command(entry)
        write_json(RESULTS, results)


def table(results: dict[str, Any]) -> str:
    rows = ["| method | ε | LR | MLP | CNN | runs | images | ε achieved (analytic / RDP) | CPU s | wall s | peak MB |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for (name, eps), accs in PUBLISHED.items():
        rows.append(f"| {name} (DPDM Table 1) | {eps:g} | " + " | ".join(f"{a:.1f}" for a in accs) + " | | | | | | |")
    entries = results["entries"]
    # a setting chosen on validation replaces the row of the same method and ε chosen before (on test)
    superseded = {k for k in entries if f"{k}/selected" in entries}
    for key, e in sorted(
        ((k, e) for k, e in entries.items() if "test" in e and k not in superseded),
        key=lambda ke: (ke[1]["epsilon"] is None, ke[1]["method"], -(ke[1]["epsilon"] or 0), ke[0]),
    ):
        setting = ", ".join(s for s in key.split("/")[3:] if f"/{s}" != SEEDED_SUFFIX)  # the key's overrides
        if "selection" in e:
            setting = "chosen on validation: " + ", ".join(f"{k}={v}" for k, v in e["selection"]["chosen"].items())
        if e["method"] == "psg":
            setting = f"{setting}, {e['privacy']['steps_done']} iterations"
        setting = ", ".join(part for part in (setting, _seeded_note(e.get("privacy"))) if part)
        cells = [format_summary(e["test"].get(m), 1) for m in PRIVATE_EVAL_MODELS]  # rounded once, from the runs
        runs = "/".join(str(len(e["test"][m]["runs"])) for m in PRIVATE_EVAL_MODELS if m in e["test"])
        p = e["privacy"] or {}
        ach = f"{p['epsilon_rdp']:.3g} (RDP)" if p else "not private"
        if p.get("epsilon_analytic"):
            ach = f"{p['epsilon_analytic']:.3g} / {p['epsilon_rdp']:.3g}"
        if p.get("stopped_early"):
            ach += f" (stopped at step {p['steps_done']} of {p['steps_requested']})"
        cpu = e["cost"].get("end_to_end_cpu_s", e["cost"].get("fit_cpu_s"))  # fit_cpu_s: release + fit, no load
        cpu = "-" if cpu is None else f"{cpu:.0f}"
        wall = e["cost"].get("end_to_end_s", e["cost"]["wall_time_s"])
        rows.append(
            f"| {e['method']} (ours{'; ' + setting if setting else ''}) | "
            + ("∞" if e["epsilon"] is None else f"{e['epsilon']:g}") + " | " + " | ".join(cells)
            + f" | {runs} | {e['images']} | {ach} | {cpu} | {wall:.0f} | {e['cost']['peak_memory_mb']:.0f} |"
        )  # fmt: skip
    for key, sel in sorted((k, e) for k, e in entries.items() if e.get("kind") == "selection"):
        axes = list(sel["grid"])
        runs = ", ".join(f"{m} {r}" for m, r in sel["protocol"]["val_runs"].items())
        rows += ["", f"Selection `{key}` (validation accuracy %, runs: {runs}; "
                 f"{'complete' if sel['complete'] else 'incomplete'}):", "",
                 "| " + " | ".join(axes) + " | LR | MLP | CNN | mean | CPU s |",
                 "|" + "---|" * (len(axes) + 5)]  # fmt: skip
        dflt = _config_defaults(sel["method"]) | sel["protocol"]["fixed"]  # what a point does not name
        for pt in sel["points"]:
            mark = "**" if pt["overrides"] == sel["chosen"] else ""
            pt = pt | {"overrides": {a: pt["overrides"].get(a, dflt.get(a)) for a in axes}}
            vals = [format_summary(pt["val"].get(m), 1, std=False) for m in PRIVATE_EVAL_MODELS]
            rows.append("| " + " | ".join(str(pt["overrides"][a]) for a in axes) + " | " + " | ".join(vals)
                        + f" | {mark}{_score(pt):.2f}{mark} | {pt['cost']['cpu_s']:.0f} |")  # fmt: skip
    audits = [e for e in entries.values() if "attack" in e and "members_from" not in e]
    graph = [e for e in entries.values() if "attack" in e and "members_from" in e]
    if graph:
        rows += ["", "| graph target | attack | shadows | AUC | TPR @ 1% FPR | TPR @ 0.1% FPR | members "
                 "| target test acc | CPU s |", "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for a in sorted(graph, key=lambda a: (a["dataset"], a["attack"], a["method"])):
            rows.append(
                f"| {a['dataset']}: {a['method']} | {a['attack']} | {a.get('shadows', '-')} | {a['auc']:.3f} | "
                f"{100 * a['tpr_at_1fpr']:.1f} % | {100 * a['tpr_at_01fpr']:.1f} % | {a['members']} | "
                f"{a['target_accuracy']['test']:.1f} | {a['cost']['cpu_time_s']:.0f} |"
            )
    if audits:
        rows += ["", "| target | attack | shadows (LiRA spread) | AUC | TPR @ 1% FPR | TPR @ 0.1% FPR | members "
                 "| member set |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for a in audits:
            shadows = f"{a['shadows']} ({a.get('variance', 'per_example')})" if "shadows" in a else "-"
            target = " ".join(part for part in (a["method"], _seeded_note(a.get("privacy"))) if part)
            rows.append(
                f"| {target} | {a['attack']} | {shadows} | {a['auc']:.3f} | "
                f"{100 * a['tpr_at_1fpr']:.1f} % | {100 * a['tpr_at_01fpr']:.1f} % | {a['members']} | "
                f"{a.get('member_set', 'random')} |"
            )
    return "\n".join(rows)


def _score(point: dict[str, Any]) -> float:
    """A selection point's score, the mean over models of their validation means, from the runs: its recorded
    ``score`` is rounded to 3 places from means :meth:`Summary.to_dict` rounded to 4, so printing it at 2 rounds it
    a third time. A point whose validation records have no runs gives its recorded ``score``."""
    val = point["val"].values()
    if not val or not all(v.get("runs") for v in val):
        return point["score"]
    return sum(Summary.from_dict(v).mean for v in val) / len(val)


def _seeded_note(privacy: dict[str, Any] | None) -> str:
    """The table's mark of a row made with the seeded noise (:data:`SEEDED_NOISE`), else ``""``."""
    return "(seeded noise, pre-a2c5a8c)" if privacy and not is_secret(privacy) else ""


def graph_audits(ns: argparse.Namespace) -> None:
    """Membership audits of condensed node graphs: one game (candidates, shadows) for every target; each target
    is condensed (or reloaded from ``artifacts/privacy/graph``) with its paper defaults at ``--budget`` nodes."""
    from condensekit.core.evaluate import TrainConfig
    from condensekit.graph import CondensedGraph, NodeEvalConfig, condense_nodes, prepare_task
    from condensekit.privacy.graph_audit import NodeAuditConfig, audit_node_graphs

    task = prepare_task(ns.graph_audit, device="cpu")
    targets: dict[str, Any] = {}
    made: dict[str, dict[str, Any]] = {}
    for method in ns.graph_methods.split(","):
        if method == "real":
            targets["real"] = None
            continue
        if method == "null":  # labels of validation nodes only: no candidate's label, so AUC should be 0.5
            n, gen = min(task.train_idx.numel(), task.val_idx.numel()), torch.Generator().manual_seed(ns.seed)
            targets["null"] = task.val_idx[torch.randperm(task.val_idx.numel(), generator=gen)[:n]]
            continue
        path = ARTIFACTS / "graph" / f"{ns.graph_audit}-{method}-{ns.budget}"
        c0, t0 = time.process_time(), time.perf_counter()
        if path.exists() and not ns.force:
            targets[method] = CondensedGraph.load(path)
            made[method] = {"reused_artifact": str(path), "card_cost": targets[method].card.get("cost")}
        else:
            targets[method] = condense_nodes(task, method, budget=ns.budget, seed=ns.seed, progress=False)
            targets[method].save(path)
            made[method] = {"condense_cpu_s": round(time.process_time() - c0, 1),
                            "condense_wall_s": round(time.perf_counter() - t0, 1),
                            "card_cost": targets[method].card.get("cost")}  # fmt: skip
        print(f"{method}: {made[method]}", flush=True)
    games = [(attack, targets, 0) for attack in ("loss", "lira")]
    if ns.canaries:  # mislabelled members: the real-graph baseline alone (a condensed graph cannot take them)
        games += [(attack, {"real": None}, ns.canaries) for attack in ("loss", "lira")]
    for attack, game, canaries in games:
        cfg = NodeAuditConfig(attack=attack, shadows=ns.shadows, seed=ns.seed, members=ns.members, canaries=canaries,
                              eval=NodeEvalConfig(runs=1, train=TrainConfig(epochs=ns.graph_epochs)))  # fmt: skip
        for name, rec in audit_node_graphs(game, task, cfg).items():
            name = f"{name}-canaries{canaries}" if canaries else name
            label = {"real": "real graph (GCN on the members' labels)",
                     f"real-canaries{canaries}": f"real graph, {canaries} mislabelled members",
                     "null": "null check (GCN on validation nodes' labels)"}.get(name, f"{name} ({ns.budget} nodes)")
            entry = rec | {"method": label, "dataset": ns.graph_audit, "load": "shared", "hardware": hardware(),
                           "condense": made.get(name)}  # fmt: skip
            save_entry(f"audit/graph/{ns.graph_audit}/{name}-{ns.budget}/{attack}", entry, RESULTS)
            canary = f", canaries auc {rec['canaries']['auc']:.3f}" if canaries else ""
            print(f"{ns.graph_audit} {name} {attack}: auc {rec['auc']:.3f}, tpr@1%fpr {rec['tpr_at_1fpr']:.3f}, "
                  f"test acc {rec['target_accuracy']['test']:.1f}{canary}", flush=True)  # fmt: skip


@records_command
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--methods", default="dp-merf,dp-merf-condensed")
    p.add_argument("--epsilons", default="10,1")
    p.add_argument("--delta", type=float, default=1e-5)
    p.add_argument("--runs", default="lr=3,mlp=3,cnn=2", help="evaluation runs per model")
    p.add_argument("--train-steps", type=int, default=500, help="Adam steps of every evaluation classifier")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=None, help="override the method's steps (reported in the JSON)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="config override")
    p.add_argument("--audit", action="append", default=None,
                   help="targets: 'real-subset' or artifact folders (comma-separated or repeated; a folder whose "
                        "name has a comma is taken whole when it exists)")  # fmt: skip
    p.add_argument("--attack", default="lira", help="audit attack: loss or lira")
    p.add_argument("--shadows", type=int, default=8)
    p.add_argument("--member-set", default="random", help="audit members: random records or init (the set's seeds)")
    p.add_argument("--members", type=int, default=0, help="audit member candidates (0: the set's size, at most 1000)")
    p.add_argument("--subset-size", type=int, default=100, help="size of the real-subset audit baseline")
    p.add_argument("--nondp", default=None, help="comma-separated non-private image methods (dm, dc) to make")
    p.add_argument("--ipc", type=int, default=10, help="images per class of --nondp sets")
    p.add_argument("--from-artifact", default=None, help="evaluate this saved artifact instead of condensing")
    p.add_argument("--select", action="store_true", help="score the --grid on the validation split at each ε")
    p.add_argument("--grid", action="append", default=[], metavar="FIELD=V1|V2", help="a selection axis")
    p.add_argument("--val-runs", default="lr=1,mlp=1,cnn=1", help="validation runs per model of --select")
    p.add_argument("--selected", action="store_true", help="condense with --select's choice and test it")
    p.add_argument("--selection-eps", type=float, default=None, help="with --selected: use this ε's choice")
    p.add_argument("--schedule", default=None, help="psg only: a named schedule (paper, cpu) under --set")
    p.add_argument("--grad-norms", default=None, help="comma-separated PSG matching networks: gradient norms")
    p.add_argument("--graph-audit", default=None, help="node dataset (e.g. cora): membership audit of condensed graphs")
    p.add_argument("--graph-methods", default="real,null,random,gcdm,gcsntk,doscond,gcond",
                   help="graph audit targets: real (the members' labels), null (validation labels) or node methods")
    p.add_argument("--budget", type=int, default=70, help="synthetic nodes of the graph audit's condensed graphs")
    p.add_argument("--graph-epochs", type=int, default=300, help="epochs of the graph audit's target and shadows")
    p.add_argument("--canaries", type=int, default=0, help="graph audit: also audit the real graph with N canaries")
    p.add_argument("--force", action="store_true",
                   help="recompute an entry already in the results; with --selected, condense anew (never reuse "
                        "the selection's set)")  # fmt: skip
    p.add_argument("--table", action="store_true", help="print the Markdown tables and exit")
    ns = p.parse_args(argv)
    torch.set_num_threads(1)
    results = load(RESULTS)
    if ns.table:
        print(table(results))
        return 0
    if ns.grad_norms:
        e = psg_gradient_norms(ns.grad_norms.split(","), seed=ns.seed)
        save_entry("diagnostic/psg/grad_norms", e, RESULTS)
        print(e["norms"])
        return 0
    if ns.graph_audit:
        graph_audits(ns)
        return 0
    if ns.audit:
        from condensekit.privacy.audit import benchmark_audits

        targets = [t for a in ns.audit for t in ([a] if Path(a).is_dir() else a.split(","))]
        audits = benchmark_audits(
            targets, attack=ns.attack, shadows=ns.shadows, seed=ns.seed, member_set=ns.member_set,
            members=ns.members, size=ns.subset_size,
        )  # fmt: skip
        while True:  # the generator runs each audit (data load included) on next(): time that
            c0, t0 = time.process_time(), time.perf_counter()
            item = next(audits, None)
            if item is None:
                break
            key, entry = item
            cost = {"cpu_s": round(time.process_time() - c0, 1), "wall_s": round(time.perf_counter() - t0, 1)}
            entry |= {"load": "shared", "hardware": hardware(), "cost": cost}
            save_replacing(f"audit/{key}", entry)
            print(f"audit/{key}: auc {entry['auc']:.3f}, tpr@1%fpr {entry['tpr_at_1fpr']:.3f}", flush=True)
        return 0
    overrides = parse_overrides(ns.set)
    if ns.schedule is not None:  # the schedule's overrides, then --set's
        from condensekit.privacy.psg import PSG_SCHEDULES

        if ns.methods != "psg":
            raise ValueError(f"Invalid value {ns.methods!r} for argument --methods: --schedule is for psg only")
        overrides = PSG_SCHEDULES.get(ns.schedule) | overrides
    runs = {k: int(v) for k, v in (item.split("=") for item in ns.runs.split(","))}
    if ns.nondp:
        for m in ns.nondp.split(","):
            key, e = run_nondp(m, ipc=ns.ipc, steps=ns.steps, seed=ns.seed, overrides=overrides, runs=runs,
                               train_steps=ns.train_steps)  # fmt: skip
            save_entry(key, e, RESULTS)
            accs = ", ".join(f"{k} {format_summary(v, 2)}" for k, v in e["test"].items())
            print(f"{key}: {accs} | end to end {e['cost']['end_to_end_s']:.0f} s", flush=True)
        return 0
    if ns.select:
        grid = parse_grid(ns.grid)
        if not grid:
            raise ValueError("--select needs at least one --grid FIELD=V1|V2 axis")
        val_runs = {k: int(v) for k, v in (item.split("=") for item in ns.val_runs.split(","))}
        for m in ns.methods.split(","):
            for eps in (float(e) for e in ns.epsilons.split(",")):
                e = run_selection(m, eps, delta=ns.delta, grid=grid, fixed=overrides, val_runs=val_runs,
                                  seed=ns.seed, train_steps=ns.train_steps)  # fmt: skip
                print(f"{select_key(m, eps)}: chosen {e['chosen']} (validation {e['chosen_score']:.2f})", flush=True)
        return 0
    if ns.selected:
        for m in ns.methods.split(","):
            for eps in (float(e) for e in ns.epsilons.split(",")):
                skey = select_key(m, eps if ns.selection_eps is None else ns.selection_eps)
                sel = results["entries"].get(skey)
                if sel is None or not sel["complete"]:
                    raise ValueError(f"no complete selection {skey!r} in {RESULTS}: run --select first")
                chosen = sel["protocol"]["fixed"] | sel["chosen"] | overrides
                key = f"mnist/{m}/eps{eps:g}/selected"
                point = next(p for p in sel["points"] if p["overrides"] == sel["chosen"])
                fresh = ns.steps is not None or ns.force  # --force: a fresh release, never the selection's set
                reuse = None if fresh else _reusable(point.get("artifact"), m, eps, ns.delta, chosen, ns.seed)
                if reuse is not None:  # the very set scored on validation: test it, do not fit it again
                    e = evaluate_entry(reuse, load_mnist(), Path(point["artifact"]), runs=runs, seed=ns.seed,
                                       train_steps=ns.train_steps)  # fmt: skip
                    e["cost"] |= {"fit_cpu_s": point["cost"]["fit_cpu_s"], "from": "the selection's artifact"}
                else:
                    e = run_entry(m, eps, delta=ns.delta, runs=runs, seed=ns.seed, steps=ns.steps, overrides=chosen,
                                  train_steps=ns.train_steps, name=f"mnist-{m}-eps{eps:g}-selected",
                                  key=key)  # fmt: skip
                e["selection"] = {"key": skey, "chosen": chosen, "validation_score": sel["chosen_score"],
                                  "split": "validation"}  # fmt: skip
                save_replacing(key, e)
                accs = ", ".join(f"{k} {format_summary(v, 2)}" for k, v in e["test"].items())
                print(f"{key} {chosen}: {accs} | {e['cost'].get('from', 'condensed anew')}", flush=True)
        return 0
    if ns.from_artifact:
        ci = CondensedImages.load(ns.from_artifact, domain="privacy")
        path = Path(ns.from_artifact)
        e = evaluate_entry(ci, load_mnist(), path, runs=runs, seed=ns.seed, train_steps=ns.train_steps)
        key = f"mnist/{e['method']}/eps{e['epsilon']:g}" + "".join(
            f"/{k}={v}" for k, v in sorted(parse_overrides(ns.set).items())
        )
        merge_entry(key, e)
        print(f"{key}: " + ", ".join(f"{k} {format_summary(v, 2)}" for k, v in e["test"].items()))
        return 0
    for m in ns.methods.split(","):
        for eps in (float(e) for e in ns.epsilons.split(",")):
            key = f"mnist/{m}/eps{eps:g}" + "".join(f"/{k}={v}" for k, v in sorted(overrides.items()))
            if key in results["entries"] and not ns.force:
                print(f"skip {key} (in results; --force recomputes)")
                continue
            e = run_entry(m, eps, delta=ns.delta, runs=runs, seed=ns.seed, steps=ns.steps, overrides=overrides,
                          train_steps=ns.train_steps, key=key)  # fmt: skip
            save_replacing(key, e)
            accs = ", ".join(f"{k} {format_summary(v, 2)}" for k, v in e["test"].items())
            print(f"{key}: {accs} | end to end {e['cost']['end_to_end_s']:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
