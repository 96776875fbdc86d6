"""Private sets on MNIST (DPDM Table 1 protocol) and membership-inference audits.

For every (method, ε): release with δ = 1e-5, fit, then train LR / MLP / CNN on the released images and test on
the real MNIST test set (:func:`condensekit.privacy.evaluate.evaluate_private`: the same number of Adam
steps for every set size, last weights). Entries go to ``benchmarks/results/privacy.json`` with ``dataset``,
``method``, ``epsilon`` (the target), ``epsilon_achieved`` (both accountants in ``privacy``), ``delta`` and
``test: {model: {mean, std, runs}}``; timings carry ``"load": "shared"`` (the 2 cores were shared with other
jobs). ``--audit`` adds membership-inference entries (``method``, ``attack``, ``auc``, ``tpr_at_1fpr``).
``--table`` prints BENCHMARKS.md's tables.

Examples::

    python benchmarks/privacy.py --methods dp-merf --epsilons 10,1 --set samples_per_class=1000
    python benchmarks/privacy.py --methods dp-merf-condensed --epsilons 1,0.2,10 --set ipc=10
    python benchmarks/privacy.py --audit real-subset,artifacts/privacy/mnist-dp-merf-condensed-eps1 --shadows 8
    python benchmarks/privacy.py --table
"""

from __future__ import annotations

import argparse
import fcntl
import sys
import time
from pathlib import Path
from typing import Any

import torch
from graph_node import hardware, load, parse_overrides, save_entry

from condensekit.core.atomic import write_json
from condensekit.core.vision import CondensedImages, load_mnist
from condensekit.privacy import PRIVACY_METHODS, condense_private
from condensekit.privacy.evaluate import PRIVATE_EVAL_MODELS, evaluate_private
from condensekit.privacy.init_record import no_real_init, real_init_record

RESULTS = Path(__file__).parent / "results" / "privacy.json"
ARTIFACTS = Path("artifacts/privacy")

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
    overrides: dict[str, Any], train_steps: int,
) -> dict[str, Any]:  # fmt: skip
    t0, c0 = time.perf_counter(), time.process_time()
    data = load_mnist()
    entry = PRIVACY_METHODS.get(method)
    cfg = entry.config(**({"epsilon": epsilon, "delta": delta} | overrides))
    ci = condense_private(data, method, config=cfg, seed=seed, steps=steps, device="auto", progress=False)
    ci.card["cost"]["end_to_end_s"] = round(time.perf_counter() - t0, 1)
    ci.card["cost"]["end_to_end_cpu_s"] = round(time.process_time() - c0, 1)  # 1 torch thread: one core's time
    ci.card.setdefault("init", no_real_init(f"{method} fits images from noise to the private release"))
    name = f"mnist-{method}-eps{epsilon:g}" + "".join(f"-{k}{v}" for k, v in sorted(overrides.items()))
    ci.save(ARTIFACTS / name)
    return evaluate_entry(ci, data, ARTIFACTS / name, runs=runs, seed=seed, train_steps=train_steps)


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
    # the real rows the set started from (the core card lacks them): what `--member-set init` audits
    ci.card["init"] = real_init_record(data, method, ipc=ipc, config=overrides, seed=seed)
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
    evaluations of one artifact split over processes add up)."""
    with open(RESULTS.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = load(RESULTS)["entries"].get(key)
        if old is not None and old.get("artifact") == entry["artifact"]:
            entry["test"] = old["test"] | entry["test"]
            entry["eval"]["runs"] = old["eval"]["runs"] | entry["eval"]["runs"]
        results = load(RESULTS)
        results["entries"][key] = entry
        write_json(RESULTS, results)


def table(results: dict[str, Any]) -> str:
    rows = ["| method | ε | LR | MLP | CNN | runs | images | ε achieved (analytic / RDP) | CPU s | wall s | peak MB |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for (name, eps), accs in PUBLISHED.items():
        rows.append(f"| {name} (DPDM Table 1) | {eps:g} | " + " | ".join(f"{a:.1f}" for a in accs) + " | | | | | | |")
    for key, e in sorted(
        ((k, e) for k, e in results["entries"].items() if "test" in e),
        key=lambda ke: (ke[1]["epsilon"] is None, ke[1]["method"], -(ke[1]["epsilon"] or 0), ke[0]),
    ):
        setting = ", ".join(key.split("/")[3:])  # the config overrides the key records
        if e["method"] == "psg":
            setting = f"{setting}, {e['privacy']['steps_done']} iterations"
        cells = [f"{e['test'][m]['mean']:.1f} ± {e['test'][m]['std']:.1f}" if m in e["test"] else "-"
                 for m in PRIVATE_EVAL_MODELS]  # fmt: skip
        runs = "/".join(str(len(e["test"][m]["runs"])) for m in PRIVATE_EVAL_MODELS if m in e["test"])
        p = e["privacy"] or {}
        ach = f"{p['epsilon_rdp']:.3g} (RDP)" if p else "not private"
        if p.get("epsilon_analytic"):
            ach = f"{p['epsilon_analytic']:.3g} / {p['epsilon_rdp']:.3g}"
        if p.get("stopped_early"):
            ach += f" (stopped at step {p['steps_done']} of {p['steps_requested']})"
        cpu = f"{e['cost']['end_to_end_cpu_s']:.0f}" if "end_to_end_cpu_s" in e["cost"] else "-"
        wall = e["cost"].get("end_to_end_s", e["cost"]["wall_time_s"])
        rows.append(
            f"| {e['method']} (ours{'; ' + setting if setting else ''}) | "
            + ("∞" if e["epsilon"] is None else f"{e['epsilon']:g}") + " | " + " | ".join(cells)
            + f" | {runs} | {e['images']} | {ach} | {cpu} | {wall:.0f} | {e['cost']['peak_memory_mb']:.0f} |"
        )  # fmt: skip
    audits = [e for e in results["entries"].values() if "attack" in e]
    if audits:
        rows += ["", "| target | attack | shadows | AUC | TPR @ 1% FPR | TPR @ 0.1% FPR | members |",
                 "|---|---|---|---|---|---|---|"]  # fmt: skip
        for a in audits:
            rows.append(
                f"| {a['method']} | {a['attack']} | {a.get('shadows', '-')} | {a['auc']:.3f} | "
                f"{100 * a['tpr_at_1fpr']:.1f} % | {100 * a['tpr_at_01fpr']:.1f} % | {a['members']} |"
            )
    return "\n".join(rows)


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
    p.add_argument("--audit", default=None, help="comma-separated targets: 'real-subset' or artifact folders")
    p.add_argument("--attack", default="lira", help="audit attack: loss or lira")
    p.add_argument("--shadows", type=int, default=8)
    p.add_argument("--member-set", default="random", help="audit members: random records or init (the set's seeds)")
    p.add_argument("--nondp", default=None, help="comma-separated non-private image methods (dm, dc) to make")
    p.add_argument("--ipc", type=int, default=10, help="images per class of --nondp sets")
    p.add_argument("--from-artifact", default=None, help="evaluate this saved artifact instead of condensing")
    p.add_argument("--force", action="store_true")
    p.add_argument("--table", action="store_true", help="print the Markdown tables and exit")
    ns = p.parse_args(argv)
    torch.set_num_threads(1)
    results = load(RESULTS)
    if ns.table:
        print(table(results))
        return 0
    if ns.audit:
        from condensekit.privacy.audit import benchmark_audits

        for key, entry in benchmark_audits(
            ns.audit.split(","), attack=ns.attack, shadows=ns.shadows, seed=ns.seed, member_set=ns.member_set
        ):
            entry |= {"load": "shared", "hardware": hardware()}
            save_entry(f"audit/{key}", entry, RESULTS)
            print(f"audit/{key}: auc {entry['auc']:.3f}, tpr@1%fpr {entry['tpr_at_1fpr']:.3f}", flush=True)
        return 0
    overrides = parse_overrides(ns.set)
    runs = {k: int(v) for k, v in (item.split("=") for item in ns.runs.split(","))}
    if ns.nondp:
        for m in ns.nondp.split(","):
            key, e = run_nondp(m, ipc=ns.ipc, steps=ns.steps, seed=ns.seed, overrides=overrides, runs=runs,
                               train_steps=ns.train_steps)  # fmt: skip
            save_entry(key, e, RESULTS)
            accs = ", ".join(f"{k} {v['mean']:.2f} ± {v['std']:.2f}" for k, v in e["test"].items())
            print(f"{key}: {accs} | end to end {e['cost']['end_to_end_s']:.0f} s", flush=True)
        return 0
    if ns.from_artifact:
        ci = CondensedImages.load(ns.from_artifact, domain="privacy")
        path = Path(ns.from_artifact)
        e = evaluate_entry(ci, load_mnist(), path, runs=runs, seed=ns.seed, train_steps=ns.train_steps)
        key = f"mnist/{e['method']}/eps{e['epsilon']:g}" + "".join(
            f"/{k}={v}" for k, v in sorted(parse_overrides(ns.set).items())
        )
        merge_entry(key, e)
        print(f"{key}: " + ", ".join(f"{k} {v['mean']:.2f} ± {v['std']:.2f}" for k, v in e["test"].items()))
        return 0
    for m in ns.methods.split(","):
        for eps in (float(e) for e in ns.epsilons.split(",")):
            key = f"mnist/{m}/eps{eps:g}" + "".join(f"/{k}={v}" for k, v in sorted(overrides.items()))
            if key in results["entries"] and not ns.force:
                print(f"skip {key} (in results; --force recomputes)")
                continue
            e = run_entry(m, eps, delta=ns.delta, runs=runs, seed=ns.seed, steps=ns.steps, overrides=overrides,
                          train_steps=ns.train_steps)  # fmt: skip
            save_entry(key, e, RESULTS)
            accs = ", ".join(f"{k} {v['mean']:.2f} ± {v['std']:.2f}" for k, v in e["test"].items())
            print(f"{key}: {accs} | end to end {e['cost']['end_to_end_s']:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
