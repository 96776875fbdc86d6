"""MedMNIST condensation benchmark: random real images, DM, MTT, PTM (and DC) at IPC 1 / 10, plus the
full-data ConvNet, scored with medmnist's ACC and AUC on the real test split.

For every (flag, method, ipc): condense with the ``--profile``'s configs (``cpu`` or ``paper``, see
``condensekit/medical/profiles.py``), then train ``--runs`` fresh models per ``--models`` on the set
(validation-selected by ACC) and test them. Trajectory methods share one expert buffer per (flag, model,
profile) under ``runs/experts/`` (reused; generation resumes). Entries are merged into
``benchmarks/results/medical.json`` under a lock as each finishes, so an interrupted run resumes
(``--force`` recomputes). ``--table`` prints the Markdown table of BENCHMARKS.md.

Examples::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/medical.py --flags breastmnist --profile cpu --full
    python benchmarks/medical.py --flags pneumoniamnist --methods ptm --ipcs 10 --models convnet,resnet18 --runs 2
    python benchmarks/medical.py --table
    python benchmarks/medical.py --flags pneumoniamnist --splits   # class shares of train / val / test
    python benchmarks/medical.py --flags pneumoniamnist --methods random,mtt,ptm --ipcs 10 --shift
    python benchmarks/medical.py --shift-table

``--arch`` names the ConvNet of the experts, the condensation and the ``convnet`` evaluation rows: ``convnet``
(default; since sitting 12 the reference layout, whose first convolution pads 1-channel input by 3: 2,048
features on 28×28) or ``convnet_pad1`` (every convolution padded by 1, 1,152 features: the layout of every entry
made before sitting 12; key variant ``/arch=convnet_pad1``). Every new entry records its layout in ``arch``; an
entry without it was made on ``convnet_pad1``. When a default-key entry made on the old layout is re-measured,
the old entry is first copied to its ``/arch=convnet_pad1`` key (field ``archived_from``) and its saved set moved
to the matching ``…-arch=convnet_pad1`` folder, so nothing measured before is lost. Expert buffers are per
layout (``runs/experts/{flag}-{arch}-{profile}``).

Choosing a setting (never on test): ``--validate K`` condenses a candidate (``--set FIELD=VALUE``,
``--expert-epochs E``, ``--experts N``) and scores its set by the mean validation ACC of ``K`` students (key
``…/validation``, ``"kind": "validation"``, printed by ``--validation-table``); the test split is not read. The kept
candidate is then tested with the same flags and ``--reuse-set``, which evaluates its saved set instead of
condensing it again::

    python benchmarks/medical.py --flags breastmnist --methods ptm --ipcs 10 --validate 5 --expert-epochs 15 \\
        --set max_start_epoch=8
    python benchmarks/medical.py --flags breastmnist --methods ptm --ipcs 10 --reuse-set --expert-epochs 15 \\
        --set max_start_epoch=8

Recipes (sitting 16). A key names the ``--set`` overrides and options, not the profile's per-flag settings, so
when the profile changes (BreastMNIST IPC 10's ``lr_lr``: 1e-6 since sitting 16) a plain run's key can hold an
entry of the former recipe. ``--table`` and ``--seeds-table`` therefore say, per row, whether the entry is the
profile's present recipe (``profile``: what a plain run makes today; the official rows) or a ``former (…)`` one,
with the values that differ (:func:`recipe_status`); and a run whose key holds an entry of another recipe than the
one it makes skips it with a message, or, with ``--force``, stops before anything runs rather than overwrite it
(:func:`_other_recipes`). Stored entries are never re-keyed.

PTM's overlap rule (sitting 17). ``overlap_rule`` (``set``, the default since sitting 17, or the former ``pair``) is a
config field entries made before it do not record: such an entry counts as ``pair`` when it re-initialised images and
as ``set`` when it re-initialised none (the set rule's thresholds are never below the pair rule's, so that run is the
same bit for bit; :func:`config_as_run`); in ``--seeds-table`` it also joins its ``pair`` recipe. A run with
``--force`` over a key holding a ``pair`` entry that re-initialised images first copies it to key +
``/overlap_rule=pair`` and moves its set to the matching ``-overlap_rule=pair`` folder
(:func:`archive_former_overlap_rule`), as ``/arch=convnet_pad1`` was done.

``--shift`` re-trains the students of saved sets (``runs/benchmarks/...``) with the evaluation protocol and
records validation and test accuracy, balanced accuracy and per-class recall under three weight-selection rules
(:mod:`condensekit.medical.shift`); its entries (key ``.../shift``, ``"kind": "shift"``) stay out of the
main table and ``--shift-table`` prints them.

``--batched`` (for a GPU) trains the students of one model together
(:func:`~condensekit.core.vision.batched.fit_images_batched`) wherever this script trains students: the validation
selection's checks during condensation, the test (or ``--validate``) students and the full-data row. Their figures are
the one-at-a-time ones up to floating-point rounding, which long training amplifies, so such a run is another
measurement: its key and set folder end in ``students=batched`` (:func:`_variant`), never those of a one-at-a-time
entry; its entry records ``"batched": true`` in ``eval`` (and in ``selection`` when one ran), and the tables label it
``(students=batched)``. Without the flag keys, folders and entries are what they were before the option.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
from common import (  # benchmarks/ is on sys.path
    archive_once,
    hardware,
    load,
    parse_overrides,
    records_command,
    save_entry,
)

from condensekit.core.evaluate import Summary, format_summary
from condensekit.core.registry import check_int
from condensekit.core.seed import resolve_device
from condensekit.core.vision.imageset import CondensedImages
from condensekit.core.vision.methods import IMAGE_METHODS
from condensekit.core.vision.models import IMAGE_MODELS, build_image_model
from condensekit.medical.condense import (
    condense_medical,
    medical_config,
    needs_experts,
    prepare_experts,
    selection_settings,
)
from condensekit.medical.data import load_medmnist, medmnist_info
from condensekit.medical.evaluate import evaluate_medical, summaries_to_dict
from condensekit.medical.profiles import PROFILES
from condensekit.medical.shift import RULES, class_shift_diagnosis

RESULTS = Path(__file__).resolve().parent / "results" / "medical.json"
RUNS = Path(__file__).resolve().parent.parent / "runs"
OLD_ARCH = "convnet_pad1"  # the layout of every entry made before sitting 12 (entries without an "arch" field)

# MedMNIST v2 (Yang et al., Scientific Data 2023), Table 2: ResNet-18 (28), full training set, test split.
REFERENCE = {
    "pneumoniamnist": {"acc": 0.854, "auc": 0.944},
    "breastmnist": {"acc": 0.863, "auc": 0.901},
}


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def split_shares(data: Any) -> str:
    """One line per split: the count and share of each class (single-label flags; multi-label has no shares)."""
    if data.multilabel:
        return f"{data.name}: multi-label, no class shares"
    lines = []
    for split, y in (("train", data.y_train), ("val", data.y_val), ("test", data.y_test)):
        counts = torch.bincount(y.reshape(-1).long(), minlength=data.num_classes)
        total = int(counts.sum())
        shares = ", ".join(f"class {c} {int(n)} ({100 * int(n) / total:.1f} %)" for c, n in enumerate(counts))
        lines.append(f"{data.name} {split}: {shares}")
    return "\n".join(lines)


@records_command
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))  # the first paragraph
    p.add_argument("--flags", default="pneumoniamnist,breastmnist")
    p.add_argument("--methods", default="random,dm,mtt,ptm")
    p.add_argument("--ipcs", default="1,10")
    p.add_argument("--models", default="convnet")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--profile", default="cpu", help=f"one of {{{', '.join(PROFILES.names())}}}")
    p.add_argument("--full", action="store_true", help="also the full-data row (method 'full')")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--expert-workers", type=int, default=1,
                   help="processes training experts in parallel (the same buffer: each expert has its own seed)")
    p.add_argument("--progress", action="store_true",
                   help="the engine's progress bar on stderr (a capped run then shows how far it got)")
    p.add_argument("--root", default=None)
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a method config field (recorded in the entry and its key)")  # fmt: skip
    p.add_argument("--select-every", type=int, default=None,
                   help="validation checks every k iterations (default: the profile's; in the key)")  # fmt: skip
    p.add_argument("--experts", type=int, default=None,
                   help="trajectory methods: N experts, not the profile's (own buffer; in the key)")  # fmt: skip
    p.add_argument(
        "--expert-epochs",
        type=int,
        default=None,
        help="trajectory methods: E epochs per expert, not the profile's (own buffer; in the key)",
    )
    p.add_argument("--validate", type=int, default=0, metavar="K",
                   help="score the set on the validation split only (K runs, mean; no test split read; "
                        "key + /validation) to choose among candidate settings")  # fmt: skip
    p.add_argument(
        "--reuse-set",
        action="store_true",
        help="evaluate the set saved for this entry's key instead of condensing it again",
    )
    p.add_argument("--validation-table", action="store_true", help="print the --validate entries")
    p.add_argument("--seeds-table", action="store_true",
                   help="print each --seed set's and the pooled ConvNet ACC per recipe of several seeds")  # fmt: skip
    p.add_argument("--force", action="store_true")
    p.add_argument("--extend", action="store_true",
                   help="full-data rows: add the runs an entry lacks up to --runs (run i: seed SEED+i)")  # fmt: skip
    p.add_argument("--table", action="store_true")
    p.add_argument("--splits", action="store_true", help="print each flag's class shares per split and exit")
    p.add_argument("--shift", action="store_true",
                   help="class-shift diagnosis of the saved sets of --flags/--methods/--ipcs (see above)")  # fmt: skip
    p.add_argument("--shift-table", action="store_true", help="print the class-shift diagnoses")
    p.add_argument("--threads", type=int, default=1, help="torch threads (the CPU figures are for 1)")
    p.add_argument("--batched", action="store_true",
                   help="train each model's students together (vmapped, for a GPU): selection checks, test or "
                        "--validate students, full-data row; key and set folder + students=batched")  # fmt: skip
    p.add_argument("--arch", default="convnet",
                   help=f"ConvNet of experts, condensation, evaluation: convnet (reference) or {OLD_ARCH}")  # fmt: skip
    ns = p.parse_args(argv)
    if ns.arch not in ("convnet", OLD_ARCH):
        raise ValueError(f"Unknown value {ns.arch!r} for argument --arch. Valid values are {{convnet, {OLD_ARCH}}}")
    torch.set_num_threads(ns.threads)
    printers = (("table", table), ("shift_table", shift_table), ("validation_table", validation_table),
                ("seeds_table", seeds_table))  # fmt: skip
    for flag, printer in printers:  # the first table asked for, and nothing else
        if getattr(ns, flag):
            print(printer(load(RESULTS)))
            return 0
    if ns.validate < 0:
        raise ValueError(f"Invalid value {ns.validate!r} for argument --validate. Valid values are >= 0")
    check_arguments(ns)
    if ns.splits:
        for flag in [f for f in ns.flags.split(",") if f]:
            print(split_shares(load_medmnist(flag, ns.root)))
        return 0
    profile = PROFILES.get(ns.profile)
    models = [m for m in ns.models.split(",") if m]
    eval_models = [ns.arch if m == "convnet" else m for m in models]
    for m in eval_models:
        IMAGE_MODELS.get(m)
    done = load(RESULTS)["entries"]
    overrides = parse_overrides(ns.set)
    if ns.shift:
        return _shift(ns, profile, overrides, done)
    for flag in [f for f in ns.flags.split(",") if f]:
        data = load_medmnist(flag, ns.root)
        dev = str(resolve_device(ns.device))
        data = data.to(dev)
        common = {"dataset": flag, "profile": ns.profile, "hardware": hardware(), "load": "shared",
                  "reference_resnet18_28": REFERENCE.get(flag), "arch": arch_record(ns.arch, data)}  # fmt: skip
        buffer = None
        others = _other_recipes(flag, data, ns, profile, models, overrides, done)
        for method in [m for m in ns.methods.split(",") if m]:
            for ipc in [int(i) for i in ns.ipcs.split(",") if i]:
                key = entry_key(flag, method, ipc, ns.profile, models, overrides, _variant(ns))
                if ns.validate:
                    key += "/validation"
                if key in others:  # not --force (that refused above): the entry stays, and the run says why
                    print(f"{key}: kept, not re-run: it holds another recipe's entry ({others[key]})", flush=True)
                    continue
                if not ns.force and key in done:
                    continue
                expert_time = expert_cpu = None
                if needs_experts(method) and buffer is None:
                    t0, c0 = time.perf_counter(), time.process_time()
                    given = {k: v for k, v in (("num_experts", ns.experts), ("epochs", ns.expert_epochs))
                             if v is not None}  # fmt: skip
                    folder = expert_folder(flag, ns.arch, profile, given)
                    buffer = prepare_experts(data, RUNS / "experts" / folder, profile=ns.profile, overrides=given,
                                             model=ns.arch, workers=ns.expert_workers)  # fmt: skip
                    expert_time = round(time.perf_counter() - t0, 1)
                    expert_cpu = round(time.process_time() - c0, 1)
                    if ns.progress:
                        print(f"{key}: experts ready in {expert_time} s ({folder})", flush=True)
                run_overrides = dict(overrides)
                if ns.arch != "convnet" and hasattr(medical_config(method, ns.profile, ipc=ipc), "model"):
                    run_overrides.setdefault("model", ns.arch)  # the method's network (not part of the key)
                folder = artifact_folder(flag, method, ipc, ns.profile, overrides, _variant(ns))
                if ns.reuse_set:
                    _evaluate_saved(key, folder, data, eval_models, ns, profile, common, done)
                    continue
                base = key.removesuffix("/validation")
                if ns.validate and base in done and (folder / "card.json").exists():
                    raise ValueError(f"--validate would overwrite the set of entry {base!r} in {str(folder)!r}; "
                                     "score it with --validate K --reuse-set")  # fmt: skip
                ckpt = checkpoint_path(folder, ns.validate)
                resumed = ckpt.exists()
                t0, c0, load0 = time.perf_counter(), time.process_time(), os.getloadavg()[0]
                try:
                    ci = condense_medical(data, method, ipc=ipc, profile=ns.profile, experts=buffer, seed=ns.seed,
                                          device=dev, progress=ns.progress, overrides=run_overrides,
                                          select_every=ns.select_every, checkpoint=ckpt,
                                          batched=ns.batched)  # fmt: skip
                except FloatingPointError as err:  # recorded, not hidden: the table shows the row as diverged
                    ckpt.unlink(missing_ok=True)
                    archive_replaced(key, ns.arch, getattr(medical_config(method, ns.profile, run_overrides, ipc=ipc,
                                                                         flag=flag), "overlap_rule", None),
                                     folder=folder)  # fmt: skip
                    save_entry(
                        key,
                        common
                        | {
                            "method": method,
                            "ipc": ipc,
                            "test": {},
                            "diverged": str(err),
                            "overrides": overrides,
                            "seed": ns.seed,
                        }
                        | _unmade_set_fields(flag, method, ipc, ns, profile, run_overrides, buffer),
                        RESULTS,
                    )
                    print(key, "diverged:", err, flush=True)
                    continue
                condense_cpu = round(time.process_time() - c0, 1)
                condense_wall = round(time.perf_counter() - t0, 1)
                load1 = os.getloadavg()[0]
                if not ns.validate:
                    archive_replaced(key, ns.arch, ci.card["config"].get("overlap_rule"), folder=folder)
                ci.save(folder)
                t0, c0 = time.perf_counter(), time.process_time()
                lr = None if ci.lr is None else float(ci.lr)
                if ns.validate:
                    entry, res = _validation_entry(ci, data, eval_models, ns, profile, common, overrides, folder)
                    entry["condense"] = {"wall_s": condense_wall, "process_cpu_s": condense_cpu,
                                         "experts": None if expert_time is None else
                                         {"wall_s": expert_time, "process_cpu_s": expert_cpu}}  # fmt: skip
                    if resumed:
                        entry["condense"]["resumed_from_checkpoint"] = True
                    save_entry(key, entry, RESULTS)
                    ckpt.unlink(missing_ok=True)
                    print(key, summaries_to_dict(res), flush=True)
                    continue
                res = evaluate_medical(ci.x, ci.y, data, models=eval_models, runs=ns.runs, seed=ns.seed,
                                       config=profile.evaluation, lr=lr, batched=ns.batched)  # fmt: skip
                entry = common | _set_fields(ci) | {
                    "method": method, "ipc": ipc, "test": summaries_to_dict(res), "learned_lr": lr,
                    "overrides": overrides,
                    "cost": ci.card["cost"] | {"peak_rss_process_mb": round(_peak_rss_mb(), 1),
                                               "process_cpu_s": condense_cpu, "torch_threads": torch.get_num_threads()}
                    | ({"resumed_from_checkpoint": True} if resumed else {}),  # this process's CPU: the rest only
                    "experts": None if not needs_experts(method) else
                    {"config": buffer.card["config"], "generation_time_s": expert_time,
                     "generation_process_cpu_s": expert_cpu},
                    "end_to_end": _end_to_end(expert_time, expert_cpu, condense_wall, condense_cpu),
                    "load_average": {"condense_start": round(load0, 2), "condense_end": round(load1, 2)},
                    "eval": _eval_record(profile, ns.runs, t0, c0, ns.seed, ns.batched),
                }  # fmt: skip
                save_entry(key, entry, RESULTS)
                ckpt.unlink(missing_ok=True)
                print(key, summaries_to_dict(res), ci.card["cost"], flush=True)
        if ns.full:
            key = f"{flag}/full/{ns.profile}/{'+'.join(models)}" + "".join(f"/{k}={v}" for k, v in _variant(ns))
            _full_row(key, data, eval_models, ns, profile, common, done.get(key))
    return 0


def check_arguments(ns: argparse.Namespace) -> None:
    """Check every item of ``--flags``, ``--methods``, ``--ipcs`` and ``--models``, and the counts, before anything
    is loaded or condensed: a bad item late in a list would otherwise fail only after the items before it had been
    condensed and evaluated (minutes to hours). Each error names the argument, the value and the valid ones."""
    for flag in [f for f in ns.flags.split(",") if f]:
        medmnist_info(flag)
    for method in [m for m in ns.methods.split(",") if m]:
        IMAGE_METHODS.get(method)
    for item in [i for i in ns.ipcs.split(",") if i]:
        try:
            value: object = int(item)
        except ValueError:
            value = item
        check_int("--ipcs", value, 1)
    for model in [m for m in ns.models.split(",") if m]:
        IMAGE_MODELS.get(model)  # else refused when the first set was evaluated, after its condensation
    check_int("--seed", ns.seed, 0)
    check_int("--runs", ns.runs, 1)
    check_int("--expert-workers", ns.expert_workers, 1)
    for name, value, low in (("--select-every", ns.select_every, 0), ("--experts", ns.experts, 1),
                             ("--expert-epochs", ns.expert_epochs, 1)):  # fmt: skip
        if value is not None:
            check_int(name, value, low)
    if ns.batched and ns.shift:
        raise ValueError("--batched does not apply to --shift (its diagnosis trains its students one at a time, "
                         "and the sets it reads are named without students=batched): drop one of them")  # fmt: skip


def run_recipe(flag: str, method: str, ipc: int, ns: argparse.Namespace, profile: Any, n_train: int,
               overrides: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """The recipe a run of this call makes for (``flag``, ``method``, ``ipc``), in the fields an entry records: the
    method config as :func:`condense_medical` resolves it (profile, flag, IPC, then ``overrides``), the expert
    buffer's config (``--experts`` / ``--expert-epochs`` given; ``None`` for a method without experts), the
    validation selection's settings, the evaluation protocol and the ConvNet layout. With no overrides and no
    options it is the profile's present recipe, which :func:`recipe_diff` compares entries against."""
    run_overrides = dict(overrides or {})
    if ns.arch != "convnet" and hasattr(medical_config(method, ns.profile, ipc=ipc), "model"):
        run_overrides.setdefault("model", ns.arch)
    cfg = medical_config(method, ns.profile, run_overrides, ipc=ipc, flag=flag)
    given = {k: v for k, v in (("num_experts", ns.experts), ("epochs", ns.expert_epochs)) if v is not None}
    every = profile.select_every if ns.select_every is None else ns.select_every
    experts = profile.expert_config_for(flag, n_train, model=ns.arch, **given) if needs_experts(method) else None
    return json.loads(json.dumps({
        "config": dataclasses.asdict(cfg), "experts": None if experts is None else dataclasses.asdict(experts),
        "selection": selection_settings(cfg, ns.profile, every, batched=getattr(ns, "batched", False)),
        "eval": profile.evaluation.__dict__, "layout": ns.arch, "batched": getattr(ns, "batched", False),
    }))  # fmt: skip


def profile_recipe(e: dict[str, Any]) -> dict[str, Any] | None:
    """The recipe a plain run (no ``--set``, no option but ``--seed``, and ``--batched`` when the entry's students
    were trained together: that is how it trains them, not another recipe; the tables label it) of the entry's flag,
    method and IPC makes today under the entry's profile (:func:`run_recipe`; the flag's training-set size from
    medmnist's ``INFO``). ``None`` for a full-data row, an unknown profile or flag."""
    if e.get("method") == "full" or e.get("profile") not in PROFILES:
        return None
    try:
        n_train = int(medmnist_info(e["dataset"])["n_samples"]["train"])
    except ValueError:
        return None
    ns = argparse.Namespace(arch="convnet", experts=None, expert_epochs=None, select_every=None, profile=e["profile"],
                            batched=_batched(e))  # fmt: skip
    return run_recipe(e["dataset"], e["method"], e["ipc"], ns, PROFILES.get(e["profile"]), n_train)


def recipe_diff(e: dict[str, Any], want: dict[str, Any]) -> list[str] | None:
    """What the entry ``e`` recorded that differs from the recipe ``want`` (:func:`run_recipe`), as the entry's
    values (``lr_lr=1e-05``, ``experts 10 × 5``, ``layout convnet_pad1``, ...); ``[]`` when it is that recipe.
    Only fields both record are compared (a config field added after the entry was made is not a difference),
    except PTM's ``overlap_rule``, which :func:`config_as_run` fills in as the entry's run behaved.
    ``None`` when the entry records no config (full-data rows, and diverged entries made before sitting 15)."""
    if e.get("method") == "full" or not isinstance(e.get("config"), dict):
        return None
    out = [] if layout(e) == want["layout"] else [f"layout {layout(e)}"]
    out += [f"{k}={v}" for k, v in config_as_run(e).items() if k in want["config"] and v != want["config"][k]]
    have_ex, want_ex = (e.get("experts") or {}).get("config"), want["experts"]
    if bool(have_ex) != bool(want_ex):
        out.append("experts " + ("none" if not have_ex else f"{have_ex['num_experts']} × {have_ex['epochs']}"))
    elif have_ex:
        if (have_ex["num_experts"], have_ex["epochs"]) != (want_ex["num_experts"], want_ex["epochs"]):
            out.append(f"experts {have_ex['num_experts']} × {have_ex['epochs']}")
        out += [f"experts {k}={v}" for k, v in have_ex.items()
                if k not in ("num_experts", "epochs") and k in want_ex and v != want_ex[k]]  # fmt: skip
    sel = {k: v for k, v in (e.get("selection") or {}).items() if k not in ("best_step", "val_acc", "history")}
    want_sel = want["selection"] or {}
    if bool(sel) != bool(want_sel):
        out.append("validation selection " + (f"every {sel['every']}" if sel else "none"))
    elif sel:
        out += [f"select_every={v}" if k == "every" else f"selection {k}"
                for k, v in sel.items() if k in want_sel and v != want_sel[k]]  # fmt: skip
    ev = (e.get("eval") or {}).get("config") or {}
    out += [f"eval {k}={v}" for k, v in ev.items() if k in want["eval"] and v != want["eval"][k]]
    if _batched(e) != bool(want.get("batched")):
        out.append("students batched" if _batched(e) else "students one at a time")
    return out


def _batched(e: dict[str, Any]) -> bool:
    """Whether an entry's students were trained together (``--batched``: ``eval.batched``)."""
    return bool((e.get("eval") or {}).get("batched"))


def recipe_status(e: dict[str, Any]) -> str:
    """``profile`` when the entry is what a plain run of the entry's profile makes today (:func:`profile_recipe`);
    ``former (…)`` with the entry's values that differ, when a profile setting has changed since it was made (e.g.
    BreastMNIST IPC 10's ``lr_lr``, 1e-5 until sitting 16) or it was made with another setting; ``-`` when the entry
    does not record enough to tell (full-data rows, diverged entries made before sitting 15)."""
    want = profile_recipe(e)
    diff = None if want is None else recipe_diff(e, want)
    if diff is None:
        return "-"
    return "profile" if not diff else f"former ({', '.join(diff)})"


def _seedless(key: str) -> str:
    """An entry key without its ``/seed=N`` part: the key of the same run's seed-0 entry."""
    return "/".join(seg for seg in key.split("/") if not seg.startswith("seed="))


def _seed_of(key: str, e: dict[str, Any]) -> int:
    """The condensation seed of an entry: its ``seed`` field, else its key's ``/seed=N`` (0 when neither)."""
    return int(e.get("seed") or dict(key_variant(key)).get("seed", 0))


def entry_status(key: str, entries: dict[str, Any]) -> str:
    """:func:`recipe_status` of ``entries[key]``; a diverged entry made before it recorded its recipe (sitting 15)
    takes the status of the entry its key names but for the seed, as :func:`seeds_table` joins it."""
    e = entries[key]
    status = recipe_status(e)
    if status == "-" and e.get("diverged") and _seedless(key) != key and _seedless(key) in entries:
        return recipe_status(entries[_seedless(key)])
    return status


def _other_recipes(flag: str, data: Any, ns: argparse.Namespace, profile: Any, models: list[str],
                   overrides: dict[str, Any], done: dict[str, Any]) -> dict[str, str]:  # fmt: skip
    """Before anything of ``flag`` runs: the keys this call would write that already hold an entry of another
    recipe than the one it makes (:func:`run_recipe`, :func:`recipe_diff`): a key does not name the profile's
    per-flag settings, so once the profile changes (BreastMNIST IPC 10's ``lr_lr`` in sitting 16), a plain run's key
    can hold an entry of the former recipe. With ``--force`` such a run would overwrite it silently: refused, naming
    the key, the differences and the fix. Without ``--force`` the keys are returned (key → the entry's differing
    values) and skipped with a message. ``--reuse-set`` (which evaluates the set already saved for the key) and
    entries of the old layout (which ``--force`` archives first, :func:`archive_old_layout`) are not checked."""
    if ns.reuse_set:
        return {}
    out: dict[str, str] = {}
    for method in [m for m in ns.methods.split(",") if m]:
        for ipc in [int(i) for i in ns.ipcs.split(",") if i]:
            key = entry_key(flag, method, ipc, ns.profile, models, overrides, _variant(ns))
            key += "/validation" if ns.validate else ""
            old = done.get(key)
            if old is None or "arch" not in old:
                continue
            want = run_recipe(flag, method, ipc, ns, profile, int(data.x_train.shape[0]), overrides)
            diff = recipe_diff(old, want)
            if not diff or (ns.force and diff == [f"overlap_rule={FORMER_RULE}"]):  # archived first (sitting 17)
                continue
            out[key] = ", ".join(diff)
            if ns.force:
                raise ValueError(
                    f"--force would overwrite entry {key!r}, which holds another recipe ({out[key]}) than this run "
                    "makes: name this run's recipe with --set FIELD=VALUE / --expert-epochs / --experts so it gets "
                    "its own key, or archive that entry under another key first"
                )
    return out


def _variant(ns: argparse.Namespace) -> list[tuple[str, Any]]:
    """The run's settings beyond the method config that name its entry: ``--select-every``, ``--experts``,
    ``--expert-epochs``, ``--arch`` (when not the default ``convnet``), ``--seed`` (when not 0), so sets of
    another seed get their own key and folder and never overwrite the seed-0 set, and last ``students=batched``
    with ``--batched`` (students trained together: another measurement, never under a one-at-a-time key)."""
    pairs = [("select_every", ns.select_every), ("experts", ns.experts), ("expert_epochs", ns.expert_epochs),
             ("arch", None if ns.arch == "convnet" else ns.arch), ("seed", ns.seed or None),
             ("students", "batched" if getattr(ns, "batched", False) else None)]  # fmt: skip
    return [(k, v) for k, v in pairs if v is not None]


def expert_folder(flag: str, arch: str, profile: Any, given: dict[str, int]) -> str:
    """The expert buffer's folder name under ``runs/experts``: ``{flag}-{arch}-{profile}``, then ``-expertsN`` /
    ``-epochsE`` for an expert count / epoch count that is not the profile-wide one, whether given on the command
    line (``given``) or set for this flag in the profile (:attr:`Profile.flags`), so buffers of different budgets
    never share a folder."""
    per_flag = profile.flags.get(flag, {}).get("experts", {})
    settings = {k: v for k, v in (per_flag | given).items() if k in ("num_experts", "epochs")}
    suffix = {"num_experts": "experts", "epochs": "epochs"}
    return f"{flag}-{arch}-{profile.name}" + "".join(
        f"-{suffix[k]}{v}" for k, v in sorted(settings.items(), reverse=True)
    )


def _unmade_set_fields(flag: str, method: str, ipc: int, ns: argparse.Namespace, profile: Any,
                       run_overrides: dict[str, Any], buffer: Any) -> dict[str, Any]:  # fmt: skip
    """What a diverged entry records of the set it did not make, the fields :func:`recipe` reads: the method
    config as :func:`condense_medical` resolved it (profile, flag, IPC and overrides), the expert buffer (folder
    and config), the validation selection it would have run and the evaluation protocol (``runs`` 0: no student
    was trained). So ``--seeds-table`` joins the diverged seed to the recipe it belongs to, not to whatever entry
    has its key but for the seed (a key does not name a profile's per-flag settings)."""
    cfg = medical_config(method, ns.profile, run_overrides, ipc=ipc, flag=flag)
    every = profile.select_every if ns.select_every is None else ns.select_every
    return {
        "config": dataclasses.asdict(cfg),
        "experts": None if buffer is None or not needs_experts(method) else
        {"folder": str(buffer.folder), "config": buffer.card["config"]},
        "selection": selection_settings(cfg, ns.profile, every, batched=ns.batched),
        "eval": {"config": profile.evaluation.__dict__, "runs": 0, "seed": ns.seed}
        | ({"batched": True} if ns.batched else {}),
    }  # fmt: skip


def _set_fields(ci: Any) -> dict[str, Any]:
    """What every entry records of a condensed set: its config, its diagnostics and its validation selection."""
    metrics = ci.card["metrics"]
    return {
        "seed": ci.card.get("seed"),  # the condensation's seed (engine: init draw, segments, batches, augmentation)
        "config": ci.card["config"],
        "diagnostics": {k: v for k, v in metrics.items() if k not in ("best_step", "val_selected", "history")},
        "selection": None if "selection" not in ci.card else ci.card["selection"] | {
            "best_step": metrics["best_step"], "val_acc": metrics["val_selected"], "history": metrics["history"]},
    }  # fmt: skip


def _eval_record(profile: Any, runs: int, t0: float, c0: float, seed: int, batched: bool = False) -> dict[str, Any]:
    """The evaluation's protocol, run count, first student seed (student ``i`` is seeded ``seed + i``) and cost
    since ``t0`` / ``c0`` (wall / process CPU), then ``"batched": True`` when the students were trained together
    (absent when one at a time, as in every entry made before ``--batched``)."""
    out = {"config": profile.evaluation.__dict__, "runs": runs, "seed": seed,
           "time_s": round(time.perf_counter() - t0, 1),
           "process_cpu_s": round(time.process_time() - c0, 1)}  # fmt: skip
    return out | {"batched": True} if batched else out


def _validation_entry(
    ci: Any, data: Any, models: list[str], ns: argparse.Namespace, profile: Any, common: dict[str, Any],
    overrides: dict[str, Any], folder: Path,
) -> tuple[dict[str, Any], Any]:  # fmt: skip
    """Score the set on the **validation** split and make its ``--validate`` entry (``"kind": "validation"``):
    each of ``--validate`` students keeps its weights with the best validation ACC, so the score is optimistic
    alike for every candidate (seeds ``--seed`` onwards, not the selection's); with its config, selection history
    and cost. The test split is not read. Returns the entry and the summaries."""
    t0, c0 = time.perf_counter(), time.process_time()
    lr = None if ci.lr is None else float(ci.lr)
    res = evaluate_medical(ci.x, ci.y, data.validation_as_test(), models=models, runs=ns.validate, seed=ns.seed,
                           config=profile.evaluation, lr=lr, batched=ns.batched)  # fmt: skip
    ipc = int(ci.card["budget"]["ipc"]) if "ipc" in ci.card["budget"] else None
    entry = common | _set_fields(ci) | {
        "kind": "validation", "method": ci.card["method"], "ipc": ipc, "overrides": overrides,
        "variant": dict(_variant(ns)), "validation": summaries_to_dict(res), "learned_lr": lr,
        "artifact": str(folder.relative_to(RUNS.parent)), "cost": ci.card.get("cost"),
        "experts": ci.card.get("experts"),
        "eval": {"split": "val"} | _eval_record(profile, ns.validate, t0, c0, ns.seed, ns.batched),
    }  # fmt: skip
    return entry, res


def _evaluate_saved(key: str, folder: Path, data: Any, models: list[str], ns: argparse.Namespace, profile: Any,
                    common: dict[str, Any], done: dict[str, Any]) -> None:  # fmt: skip
    """``--reuse-set``: score the set saved in ``folder`` (made by an earlier call for the same key, e.g. a
    ``--validate`` candidate that validation kept) on validation (``--validate``) or on test, without condensing
    it again. The condensation cost comes from the set's card and from the ``--validate`` entry that made it."""
    if not (folder / "card.json").exists():
        raise FileNotFoundError(f"--reuse-set: no saved set at {str(folder)!r} for entry {key!r}; run it without "
                                "--reuse-set first")  # fmt: skip
    ci = CondensedImages.load(folder)
    overrides = parse_overrides(ns.set)
    if ns.validate:
        entry, res = _validation_entry(ci, data, models, ns, profile, common, overrides, folder)
        entry["reused_set"] = True
    else:
        t0, c0 = time.perf_counter(), time.process_time()
        lr = None if ci.lr is None else float(ci.lr)
        res = evaluate_medical(ci.x, ci.y, data, models=models, runs=ns.runs, seed=ns.seed,
                               config=profile.evaluation, lr=lr, batched=ns.batched)  # fmt: skip
        made = done.get(key + "/validation") or {}
        ipc = int(ci.card["budget"]["ipc"]) if "ipc" in ci.card["budget"] else None
        entry = common | _set_fields(ci) | {
            "method": ci.card["method"], "ipc": ipc, "test": summaries_to_dict(res), "learned_lr": lr,
            "overrides": overrides, "reused_set": str(folder.relative_to(RUNS.parent)),
            "cost": ci.card["cost"] | {"process_cpu_s": (made.get("condense") or {}).get("process_cpu_s")},
            "condense": made.get("condense"), "validation": made.get("validation"),
            "experts": ci.card.get("experts"), "eval": _eval_record(profile, ns.runs, t0, c0, ns.seed, ns.batched),
        }  # fmt: skip
        archive_old_layout(key, ns.arch)  # an old-layout entry under this key is kept; the reused set stays put
    save_entry(key, entry, RESULTS)
    print(key, summaries_to_dict(res), flush=True)


def arch_record(arch: str, data: Any) -> dict[str, Any]:
    """The ConvNet layout an entry was made on: its registry name, stem padding, feature and parameter counts."""
    with torch.device("meta"):  # shapes only; the global RNG is not drawn from
        net = build_image_model(arch, channels=data.channels, num_classes=data.num_classes, im_size=data.im_size)
    return {"convnet": arch, "stem_padding": net.stem_padding, "feature_dim": net.feature_dim,
            "num_params": int(sum(p.numel() for p in net.parameters()))}  # fmt: skip


def archive_old_layout(key: str, arch: str, *, folder: Path | None = None, path: Path | None = None) -> str | None:
    """Before a default-layout entry replaces ``key``: if the entry there was made on the old layout (no ``arch``
    field), copy it to ``key + "/arch=convnet_pad1"`` (unless that key exists) with ``arch`` and ``archived_from``
    set, and move its saved set ``folder`` to the matching ``-arch=convnet_pad1`` folder. Returns the archive key
    (``None`` when nothing was archived). Nothing is deleted: the old entry lives on under its archive key.
    ``path`` defaults to the module's ``RESULTS`` as it is when called (not when defined), as ``save_entry``'s
    callers pass it."""
    if arch != "convnet":
        return None
    layout = {"convnet": OLD_ARCH, "stem_padding": 1, "note": "made before sitting 12"}
    return archive_once(
        key, f"arch={OLD_ARCH}", extra={"arch": layout}, path=RESULTS if path is None else path,
        when=lambda old: "arch" not in old, folder=folder, root=RUNS.parent,
    )  # fmt: skip


FORMER_RULE = "pair"  # PTM's overlap rule before sitting 17 (entries made before the field existed)


def config_as_run(e: dict[str, Any]) -> dict[str, Any] | None:
    """The entry's ``config`` with PTM's ``overlap_rule`` (added in sitting 17) filled in for an entry made before
    the field existed: ``pair`` (the rule then) when it re-initialised images or records no diagnostics, ``set`` when
    its diagnostics record no re-initialisation (``overlap_reinit`` 0): the set rule's thresholds are never below the
    pair rule's (:mod:`condensekit.medical.ptm`) and the main random stream is drawn alike, so that run is bit for
    bit the one the set rule makes. Other configs are returned as they are."""
    cfg = e.get("config")
    if not _predates_rule(e):
        return cfg
    return cfg | {"overlap_rule": "set" if _rule_free(e) else FORMER_RULE}


def _predates_rule(e: dict[str, Any]) -> bool:
    """A PTM entry made before ``overlap_rule`` existed (its config has PTM's fields but not that one)."""
    cfg = e.get("config")
    return isinstance(cfg, dict) and "overlap_every" in cfg and "overlap_rule" not in cfg


def _rule_free(e: dict[str, Any]) -> bool:
    """A PTM entry made before ``overlap_rule`` existed whose run re-initialised nothing: the same run under
    either rule (:func:`config_as_run`)."""
    return _predates_rule(e) and (e.get("diagnostics") or {}).get("overlap_reinit") == 0


def archive_former_overlap_rule(key: str, rule: str | None, *, folder: Path | None = None,
                                path: Path | None = None) -> str | None:  # fmt: skip
    """Before an entry of PTM's overlap ``rule`` (``set``) replaces ``key``: if the entry there was made with the
    former ``pair`` rule and re-initialised images (so the set rule makes another run, :func:`config_as_run`), copy
    it to ``key + "/overlap_rule=pair"`` (unless that key exists) with ``archived_from`` and ``archive_reason``, and
    move its saved set ``folder`` to the matching ``-overlap_rule=pair`` folder. Returns the archive key (``None``
    when nothing was archived). Nothing is deleted: the former entry lives on under its archive key."""
    path = RESULTS if path is None else path
    old = load(path)["entries"].get(key)
    if rule is None or old is None:
        return None
    was = _run_rule(old)
    if was is None or was == rule:
        return None
    return archive_once(
        key, f"overlap_rule={was}", f"overlap_rule={was}, re-run with the {rule} rule in sitting 17", path=path,
        when=lambda e: _run_rule(e) == was, folder=folder, root=RUNS.parent,
    )  # fmt: skip


def _run_rule(e: dict[str, Any]) -> str | None:
    """The overlap rule a run entry's set was made with (:func:`config_as_run`); ``None`` for other entries."""
    return None if "kind" in e else (config_as_run(e) or {}).get("overlap_rule")


def archive_replaced(key: str, arch: str, rule: str | None, *, folder: Path | None = None,
                     path: Path | None = None) -> str | None:  # fmt: skip
    """Archive the entry that a new run replaces at ``key``, **once**: under ``/arch=convnet_pad1`` when it was made on
    the old layout (:func:`archive_old_layout`), else under ``/overlap_rule=pair`` when PTM's former rule changed its
    run (:func:`archive_former_overlap_rule`). An old-layout PTM entry predates the overlap rule too; archiving it
    under both keys (as BreastMNIST IPC 50's PTM was, sitting 19) listed one run twice. Returns the archive key."""
    return archive_old_layout(key, arch, folder=folder, path=path) or archive_former_overlap_rule(
        key, rule, folder=folder, path=path
    )


def entry_key(flag: str, method: str, ipc: int, profile: str, models: list[str], overrides: dict[str, Any],
              variant: list[tuple[str, int]]) -> str:  # fmt: skip
    """The results key of one (flag, method, ipc) entry: overrides and the variant (:func:`_variant`:
    ``--select-every``, ``--experts``, ``--expert-epochs``, ``--arch``, ``--seed``) are part of it."""
    key = f"{flag}/{method}/ipc{ipc}/{profile}/{'+'.join(models)}"
    if overrides:
        key += "/" + ",".join(f"{k}={v}" for k, v in sorted(overrides.items()))
    return key + "".join(f"/{k}={v}" for k, v in variant)


def checkpoint_path(folder: Path, validate: int | None) -> Path:
    """The engine checkpoint of the condensation that saves its set to ``folder`` (under ``runs/checkpoints/``, not
    inside the artifact folder, which ``save_artifact`` replaces whole): a run killed midway resumes from it when the
    same command is run again (the engine refuses one of another setting), and it is deleted once the entry is saved."""
    return RUNS / "checkpoints" / f"{folder.name}{'-validation' if validate else ''}.pt"


def artifact_folder(flag: str, method: str, ipc: int, profile: str, overrides: dict[str, Any],
                    variant: list[tuple[str, int]]) -> Path:  # fmt: skip
    """Where a benchmark entry's set is saved: one folder per entry (overrides and ``--select-every`` are in the
    name, as in the entry's key, so a variant no longer overwrites the profile's own set)."""
    name = f"{flag}-{method}-ipc{ipc}-{profile}"
    if overrides:
        name += "-" + "-".join(f"{k}={v}" for k, v in sorted(overrides.items()))
    name += "".join(f"-{k}={v}" for k, v in variant)
    return RUNS / "benchmarks" / name


def _shift(ns: argparse.Namespace, profile: Any, overrides: dict[str, Any], done: dict[str, Any]) -> int:
    """``--shift``: one diagnosis entry per saved set (:func:`class_shift_diagnosis`, ConvNet, ``--runs``)."""
    for flag in [f for f in ns.flags.split(",") if f]:
        data = load_medmnist(flag, ns.root).to(str(resolve_device(ns.device)))
        for method in [m for m in ns.methods.split(",") if m]:
            for ipc in [int(i) for i in ns.ipcs.split(",") if i]:
                folder = artifact_folder(flag, method, ipc, ns.profile, overrides, _variant(ns))
                key = entry_key(flag, method, ipc, ns.profile, ["convnet"], overrides, _variant(ns)) + "/shift"
                if not ns.force and key in done:
                    continue
                ci = CondensedImages.load(folder)
                t0, c0 = time.perf_counter(), time.process_time()
                lr = None if ci.lr is None else float(ci.lr)
                diag = class_shift_diagnosis(ci.x.to(data.x_train.device), ci.y.to(data.x_train.device), data,
                                             runs=ns.runs, seed=ns.seed, config=profile.evaluation, lr=lr)  # fmt: skip
                entry = {"kind": "shift", "dataset": flag, "method": method, "ipc": ipc, "profile": ns.profile,
                         "overrides": overrides, "artifact": str(folder.relative_to(RUNS.parent)),
                         "artifact_created": ci.card.get("created"), "learned_lr": lr,
                         "hardware": hardware(), "load": "shared", "diagnosis": diag,
                         "eval": {"config": profile.evaluation.__dict__, "runs": ns.runs, "seed": ns.seed,
                                  "time_s": round(time.perf_counter() - t0, 1),
                                  "process_cpu_s": round(time.process_time() - c0, 1)}}  # fmt: skip
                save_entry(key, entry, RESULTS)
                print(key, {r: diag["rules"][r]["test"]["acc"]["mean"] for r in RULES}, flush=True)
    return 0


def shift_table(results: dict[str, Any]) -> str:
    """The class-shift diagnoses: per set and weight-selection rule, mean validation / test ACC, balanced ACC,
    per-class recall, and the test ACC predicted from validation recalls under pure label shift."""
    head = ("| dataset | method | IPC | rule | val ACC | val bal. ACC | val recall per class | test ACC | "
            "predicted test ACC | test bal. ACC | test recall per class | epoch kept |")  # fmt: skip
    rows = [head, "|" + "---|" * 12]
    order = {"random": 1, "dc": 2, "dm": 3, "mtt": 4, "ptm": 5}
    shifts = sorted((e for e in results["entries"].values() if e.get("kind") == "shift"),
                    key=lambda e: (e["dataset"], e["ipc"], order.get(e["method"], 9)))  # fmt: skip
    for e in shifts:
        for rule, r in e["diagnosis"]["rules"].items():
            rec = {s: " / ".join(format_summary(x, 3, std=False) for x in r[s]["recall"]) for s in ("val", "test")}
            rows.append(
                f"| {e['dataset']} | {e['method']} | {e['ipc']} | {rule} | {_fmt(r['val']['acc'])} | "
                f"{_fmt(r['val']['balanced_acc'])} | {rec['val']} | {_fmt(r['test']['acc'])} | "
                f"{_fmt(r['predicted_test_acc'])} | {_fmt(r['test']['balanced_acc'])} | {rec['test']} | "
                f"{'/'.join(str(x) for x in r['epoch'])} |"
            )
    return "\n".join(rows)


def validation_table(results: dict[str, Any]) -> str:
    """The ``--validate`` candidates: per entry, its settings, the mean validation ACC / AUC of its students, the
    iteration kept and its selection score, the learned rate, and the condensation's CPU seconds."""
    rows = ["| dataset | method | IPC | settings | val ACC | val AUC | runs | kept (selection val ACC) | learned lr | "
            "condense CPU s |", "|" + "---|" * 10]  # fmt: skip
    vals = sorted(((k, e) for k, e in results["entries"].items() if e.get("kind") == "validation"),
                  key=lambda ke: (ke[1]["dataset"], ke[1]["ipc"], ke[1]["method"], ke[0]))  # fmt: skip
    for _key, e in vals:
        given = (e.get("overrides") or {}) | (e.get("variant") or {})
        settings = ", ".join(f"{k}={v}" for k, v in sorted(given.items())) or "profile"
        sel = e.get("selection") or {}
        kept = "-" if not sel else f"{sel['best_step']:g} ({sel['val_acc']:.3f})"
        lr = "-" if e.get("learned_lr") is None else f"{e['learned_lr']:.4f}"
        cpu = (e.get("condense") or {}).get("process_cpu_s", "-")
        for v in e["validation"].values():
            rows.append(f"| {e['dataset']} | {e['method']} | {e['ipc']} | {settings} | {_fmt(v.get('acc'))} | "
                        f"{_fmt(v.get('auc'))} | {len(v['acc']['runs'])} | {kept} | {lr} | {cpu} |")  # fmt: skip
    return "\n".join(rows)


def recipe(e: dict[str, Any], overlap_rule: str | None = None) -> str:
    """What makes two test entries the same recipe up to the condensation seed: flag, method, IPC, profile,
    ConvNet layout, the method's config, the expert buffer's config (without its folder), the validation
    selection and the evaluation protocol. Entries of one recipe differ only in ``seed``.

    The ``--set`` overrides that named the run are not part of it (since sitting 16): the config records what they
    set, so a set made with ``--set lr_lr=1e-6`` before the profile carried that value and one a plain run makes
    after are the same recipe (and the same seed in both is refused by :func:`seeds_table`).

    PTM's ``overlap_rule`` is the one the entry's run had (:func:`config_as_run`), or ``overlap_rule`` when given."""
    experts = (e.get("experts") or {}).get("config")
    config = config_as_run(e)
    if overlap_rule is not None and isinstance(config, dict) and "overlap_rule" in config:
        config = config | {"overlap_rule": overlap_rule}
    sel = {k: v for k, v in (e.get("selection") or {}).items() if k not in ("best_step", "val_acc", "history")}
    parts = [e["dataset"], e["method"], e["ipc"], e.get("profile"), layout(e), config, experts, sel,
             (e.get("eval") or {}).get("config")]  # fmt: skip
    if _batched(e):  # another measurement than the one-at-a-time students' (entries without it: as before)
        parts.append("students=batched")
    return json.dumps(parts, sort_keys=True)


def seeds_table(results: dict[str, Any]) -> str:
    """Sets condensed from several seeds (``--seed``): per recipe (:func:`recipe`) with at least 2 seeds, each
    set's ConvNet test ACC (mean ± std of its students), the mean ± std of the set means (set-to-set spread),
    and the mean ± std of all students pooled. A seed whose condensation diverged (its entry has no set) is listed
    as such and counted apart; it joins its own recipe (the fields :func:`_unmade_set_fields` records), or, for an
    entry made before those were recorded, the recipe whose entries have its key but for the seed. One set is one
    draw of the condensation; an order between methods is judged on the mean over sets, not on one set.

    The last column, ``recipe`` (:func:`recipe_status`), says whether the recipe is the profile's present one
    (``profile``: the official row) or a former one, with its values that differ; within a (flag, IPC, method) the
    profile's recipe comes first."""
    rows = ["| dataset | method | IPC | layout | experts | ACC per set (seed: mean ± std) | sets | "
            "set means: mean ± std | all students: mean ± std (n) | recipe |", "|" + "---|" * 10]  # fmt: skip
    groups: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    diverged: dict[str, list[tuple[int, str]]] = {}  # recipe (or seedless key, for entries without one) -> (seed, key)
    free: list[tuple[str, dict[str, Any]]] = []  # PTM entries that are the same run under either overlap rule

    seedless = _seedless
    for key, e in results["entries"].items():
        if "kind" in e or e["method"] == "full" or key.endswith("/validation"):  # a diverged --validate run: no kind
            continue
        if e.get("diverged"):
            # since sitting 15 a diverged entry records its recipe's fields; older ones only their key
            joins = recipe(e) if "config" in e else seedless(key)
            diverged.setdefault(joins, []).append((int(dict(key_variant(key)).get("seed", 0)), key))
        elif "convnet" in e.get("test", {}):
            if _rule_free(e):
                free.append((key, e))
            else:
                groups.setdefault(recipe(e), []).append((key, e))
    for key, e in free:  # PTM sets the same under either overlap rule (sitting 17): joined after the others
        own, former = recipe(e), recipe(e, FORMER_RULE)
        if former in groups:  # a seed of the pair-rule recipe, and of the set rule's once that has a run of its own
            groups[former].append((key, e))
        if own in groups or former not in groups:
            groups.setdefault(own, []).append((key, e))
    order = {"random": 1, "dc": 2, "dm": 3, "mtt": 4, "ptm": 5}
    status = {id(g): recipe_status(g[0][1]) for g in groups.values()}
    for g in sorted(
        groups.values(),
        key=lambda g: (g[0][1]["dataset"], g[0][1]["ipc"], order.get(g[0][1]["method"], 9), status[id(g)] != "profile"),
    ):
        joins = {seedless(k) for k, _ in g} | {recipe(g[0][1])}
        lost = sorted({sk for j in joins for sk in diverged.get(j, [])})
        failed = [s for s, _ in lost]
        seeds = [(e.get("seed", 0), k) for k, e in g] + lost
        twice = sorted({s for s, _ in seeds if [x for x, _ in seeds].count(s) > 1})
        if twice:  # one seed is one draw of the condensation: counted twice it would pass for two sets
            keys = sorted(k for s, k in seeds if s in twice)
            raise ValueError(f"--seeds-table: seed {twice[0]} of one recipe is in more than one entry {keys}; a "
                             "seed is one set and counts once: archive or delete all but one of them")  # fmt: skip
        cells = {e.get("seed", 0): _fmt(e["test"]["convnet"]["acc"]) for _, e in g} | {s: "diverged" for s in failed}
        if len(cells) < 2:
            continue
        accs = [e["test"]["convnet"]["acc"] for _, e in g]
        e0 = g[0][1]
        ex = (e0.get("experts") or {}).get("config")
        ex = "-" if not ex else f"{ex['num_experts']} × {ex['epochs']}"
        # the spread of the set means, from each set's runs (its recorded mean is rounded): rounded once, when printed
        means = Summary([Summary.from_dict(a).mean for a in accs])
        pooled = Summary([r for a in accs for r in a["runs"]])
        per = "; ".join(f"{seed}: {cell}" for seed, cell in sorted(cells.items()))
        sets = f"{len(g)}" + (f" (+{len(failed)} diverged)" if failed else "")
        rows.append(f"| {e0['dataset']} | {e0['method']} | {e0['ipc']} | {layout(e0)} | {ex} | {per} | {sets} | "
                    f"{_fmt(means)} | {_fmt(pooled)} ({len(pooled.values)}) | {status[id(g)]} |")  # fmt: skip
    return "\n".join(rows)


def _end_to_end(expert_wall: float | None, expert_cpu: float | None, wall: float, cpu: float) -> dict[str, Any]:
    """The issue's cost target in one record: expert generation (``None`` when an earlier method of this call
    made the buffer; about 0 s when a finished buffer from an earlier call was reused) plus the condensation
    with its validation checks, in wall seconds on the shared machine and in this process's CPU seconds
    (1 torch thread: what the run takes on one idle core). Evaluation is not included."""
    out: dict[str, Any] = {"condense_wall_s": wall, "condense_process_cpu_s": cpu,
                           "experts_wall_s": expert_wall, "experts_process_cpu_s": expert_cpu}  # fmt: skip
    if expert_wall is not None and expert_cpu is not None:
        out |= {"total_wall_s": round(expert_wall + wall, 1), "total_process_cpu_s": round(expert_cpu + cpu, 1)}
    return out


def _full_row(key: str, data: Any, models: list[str], ns: argparse.Namespace, profile: Any,
              common: dict[str, Any], old: dict[str, Any] | None) -> None:  # fmt: skip
    """The full-data row: ``ns.runs`` runs, or with ``--extend`` the runs an existing entry lacks.

    Run ``i`` always uses seed ``ns.seed + i`` (:func:`~condensekit.core.evaluate.repeat`), so extending an
    entry of ``k`` runs by runs ``k..runs-1`` gives the same seeds as one ``runs``-run call; the entry keeps
    each call's cost in ``eval["sessions"]``."""
    have = 0
    if old is not None and ns.extend and not ns.force:
        if old["eval"]["config"] != profile.full_config(data).__dict__ or old["eval"].get("seed", 0) != ns.seed:
            raise ValueError(f"--extend: entry {key!r} was made with another config or seed; use --force")
        if layout(old) != ns.arch:
            raise ValueError(f"--extend: entry {key!r} was made on {layout(old)!r}, not {ns.arch!r}; use --force")
        have = len(next(iter(old["test"].values()))["acc"]["runs"])
    elif old is not None and not ns.force:
        return
    if have >= ns.runs:
        return
    t0, c0 = time.perf_counter(), time.process_time()
    full_cfg = profile.full_config(data)
    new = ns.runs - have
    res = evaluate_medical(data.x_train, data.y_train, data, models=models, runs=new, seed=ns.seed + have,
                           config=full_cfg, dsa=False, batched=ns.batched)  # fmt: skip
    session = {"runs": new, "first_seed": ns.seed + have, "time_s": round(time.perf_counter() - t0, 1),
               "process_cpu_s": round(time.process_time() - c0, 1), "torch_threads": torch.get_num_threads(),
               "date": time.strftime("%Y-%m-%d")}  # fmt: skip
    test = summaries_to_dict(res)
    sessions = [session]
    if have:
        prev = old["eval"]
        sessions = prev.get("sessions") or [{"runs": have, "first_seed": ns.seed, "time_s": prev["time_s"],
                                             "process_cpu_s": prev.get("process_cpu_s")}]  # fmt: skip
        sessions = sessions + [session]
        for model, per in test.items():
            for metric, summ in per.items():
                runs = old["test"][model][metric]["runs"] + summ["runs"]
                per[metric] = Summary(runs).to_dict()
    ev = {"config": full_cfg.__dict__, "runs": ns.runs, "seed": ns.seed, "sessions": sessions,
          "time_s": round(sum(x["time_s"] for x in sessions), 1),
          "process_cpu_s": round(sum(x["process_cpu_s"] or 0 for x in sessions), 1)}  # fmt: skip
    if ns.batched:
        ev["batched"] = True
    archive_old_layout(key, ns.arch)
    save_entry(key, common | {"method": "full", "ipc": None, "test": test, "eval": ev}, RESULTS)
    print(key, test, session, flush=True)


def _fmt(s: dict[str, Any] | Summary | None) -> str:
    """``mean ± std`` at 3 places, each rounded once (:func:`~condensekit.core.evaluate.format_summary`)."""
    return format_summary(s, 3)


def _current(e: dict[str, Any]) -> bool:
    """Whether an entry was evaluated with its profile's present schedule (full-data rows always count: their
    training is the profile's ``full_config``, unchanged since they were made)."""
    if e["method"] == "full" or e.get("diverged"):
        return True
    epochs = (e.get("eval") or {}).get("config", {}).get("epochs")
    return e.get("profile") not in PROFILES or epochs == PROFILES.get(e["profile"]).evaluation.epochs


def layout(e: dict[str, Any]) -> str:
    """The ConvNet layout an entry was made on (entries without ``arch`` predate sitting 12: ``convnet_pad1``)."""
    return (e.get("arch") or {}).get("convnet", OLD_ARCH)


def key_variant(key: str) -> list[tuple[str, str]]:
    """The ``--select-every`` / ``--experts`` / ``--expert-epochs`` / ``--arch`` / ``--seed`` / ``--batched`` parts
    of an entry key (see :func:`entry_key`)."""
    parts = ("select_every=", "experts=", "expert_epochs=", "arch=", "seed=", "students=")
    return [tuple(seg.split("=", 1)) for seg in key.split("/")[4:] if seg.startswith(parts)]


def _rows(entries: list[tuple[str, dict[str, Any]]], status: dict[str, str] | None = None) -> list[str]:
    """One row per (entry, evaluated model); with ``status`` (key → :func:`entry_status`) a last column
    ``recipe``."""
    head = ("| dataset | method | IPC | model | layout | ACC | AUC | runs | iters (kept) | eval ep. | wall s/iter | "
            "CPU s/iter | peak MB |") + (" recipe |" if status else "")  # fmt: skip
    rows = [head, "|" + "---|" * (13 + bool(status))]
    tail = {key: f" {status[key]} |" if status else "" for key, _ in entries}
    for key, e in entries:
        label = e["method"] + "".join(f" ({k}={v})" for k, v in sorted((e.get("overrides") or {}).items()))
        label += "".join(f" ({k}={v})" for k, v in key_variant(key)
                         if k in ("experts", "expert_epochs", "seed", "students"))  # fmt: skip
        if e["method"] == "full":
            label += f" ({e['eval']['config']['epochs']} ep.)"
        if e.get("archived_from"):
            label += f" ({e.get('archive_reason', 're-measured on the reference layout')})"
        if e.get("diverged"):
            cells = [e["dataset"], label, str(e["ipc"]), "-", layout(e), "diverged", "diverged", *["-"] * 6]
            rows.append("| " + " | ".join(cells) + " |" + tail[key])
        iters = (e.get("config") or {}).get("iterations", "-")
        if e.get("selection"):
            iters = f"{iters} ({e['selection']['best_step']:g})"
        eval_ep = (e.get("eval") or {}).get("config", {}).get("epochs", "-")
        for model, t in e["test"].items():
            cost = e.get("cost", {})
            rows.append(
                f"| {e['dataset']} | {label} | {e['ipc'] or 'all'} | {model} | {layout(e)} | {_fmt(t.get('acc'))} | "
                f"{_fmt(t.get('auc'))} | {len(t['acc']['runs'])} | {iters} | {eval_ep} | "
                f"{cost.get('time_per_step_s', '-')} | {cost.get('cpu_sec_per_step', '-')} | "
                f"{cost.get('peak_memory_mb', '-')} |{tail[key]}"
            )
    return rows


def table(results: dict[str, Any]) -> str:
    """BENCHMARKS.md's tables: entries on their profile's present evaluation schedule made on the reference
    ConvNet layout, with a ``recipe`` column (:func:`recipe_status`: ``profile`` for the rows a plain run of the
    profile makes today, the official ones, listed first within a (flag, IPC, method); ``former (…)`` for the
    others, with their values that differ); then those on the old layout (``convnet_pad1``: not comparable with
    the first table, kept until re-measured or as the record of what was); then, apart, the superseded ones
    (evaluated with an older, shorter schedule)."""
    order = {"full": 0, "random": 1, "dc": 2, "dm": 3, "mtt": 4, "ptm": 5}
    status = {k: entry_status(k, results["entries"]) for k, e in results["entries"].items() if "kind" not in e}
    entries = sorted(((k, e) for k, e in results["entries"].items() if "kind" not in e),
                     key=lambda ke: (ke[1]["dataset"], ke[1]["ipc"] or 0, order.get(ke[1]["method"], 9),
                                     status[ke[0]] != "profile", status[ke[0]], _seed_of(*ke)))  # fmt: skip
    old = [(k, e) for k, e in entries if not _current(e)]
    ref = [(k, e) for k, e in entries if _current(e) and layout(e) == "convnet"]
    pad1 = [(k, e) for k, e in entries if _current(e) and layout(e) != "convnet"]
    out = _rows(ref, status=status)
    if pad1:
        note = (f"On the old ConvNet layout ({OLD_ARCH}: first convolution padded by 1, 1,152 features; made "
                "before sitting 12; not comparable with the table above):")  # fmt: skip
        out += ["", note, "", *_rows(pad1)]
    if old:
        note = ("Superseded (evaluated for 50 epochs, sittings 7–8: under-trained students, not comparable with "
                "the table above; kept until re-run):")  # fmt: skip
        out += ["", note, "", *_rows(old)]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
