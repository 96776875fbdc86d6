"""``condensekit robust condense | audit | attacks``."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path
from typing import Any

from condensekit.core.artifact import check_artifact_target, load_artifact
from condensekit.core.atomic import check_file_target, check_writable
from condensekit.core.cli import add_method_help
from condensekit.core.config import add_dataclass_args, config_with_overrides, dataclass_from_args, method_flags
from condensekit.core.evaluate import TrainConfig
from condensekit.core.objectives.curvature import DIRECTIONS
from condensekit.core.report import format_table
from condensekit.core.vision import IMAGE_TASK, ImageTrainConfig
from condensekit.core.vision.experts import ExpertConfig
from condensekit.core.vision.methods import IMAGE_METHODS
from condensekit.graph import NODE_TASK, NodeEvalConfig
from condensekit.robust.attacks import ATTACKS, AttackConfig
from condensekit.robust.audit import RELABEL_MODES, AuditConfig, audit_artifact
from condensekit.robust.data import load_image_data
from condensekit.robust.graph_audit import GRAPH_ATTACKS, GraphAuditConfig, audit_graph_artifact
from condensekit.robust.guard import (
    GUARD_MODES,
    GuardConfig,
    image_method,
    image_methods,
    resolve_mode,
    robust_condense,
    uses_experts,
    uses_teacher,
)
from condensekit.robust.sre2l import TeacherConfig


def register(sub: argparse._SubParsersAction) -> None:
    robust = sub.add_parser("robust", help="curvature-regularised condensation and adversarial robustness audits")
    verbs = robust.add_subparsers(dest="verb", metavar="VERB")

    a = verbs.add_parser(
        "audit",
        help="train models on an image artifact and attack them on the real test set",
        description="Clean and robust accuracy per attack and ε; writes ARTIFACT-robust-audit.{json,png} and "
        "records the audit in the artifact's card.",
    )
    a.add_argument("artifact", help="image artifact folder (any domain)")
    a.add_argument(
        "--attacks",
        default=None,
        help=f"comma-separated; images: {{{', '.join(ATTACKS)}}} (default fgsm,pgd,autoattack); "
        f"graphs: {{{', '.join(GRAPH_ATTACKS)}}} (default both)",
    )
    a.add_argument(
        "--eps", default=None, help="comma-separated ε in (0, 1], e.g. 2/255 (L2 attacks alone: up to the images' L2 "
        "diameter; default: images 1/255,2/255,4/255,8/255; graphs 0.01,0.05,0.1)",
    )  # fmt: skip
    a.add_argument("--models", default=None, help="evaluation architectures, comma-separated (convnet; graphs: gcn)")
    a.add_argument("--runs", type=int, default=3, help="models trained per architecture")
    subset = a.add_mutually_exclusive_group()
    subset.add_argument("--subset", type=int, default=1000, help="stratified real test images attacked")
    subset.add_argument("--full-test", action="store_true", help="attack the full test set instead")
    a.add_argument("--epochs", type=int, default=ImageTrainConfig.epochs, help="training epochs per image model")
    a.add_argument("--graph-epochs", type=int, default=TrainConfig.epochs, help="training epochs per GNN")
    a.add_argument("--out", default=None, help="stem of the JSON and PNG (default: ARTIFACT-robust-audit)")
    a.add_argument(
        "--relabel", default="stored", choices=RELABEL_MODES,
        help="evaluation models learn the set's stored labels, or (an SRe2L set) its teacher's labels of every "
        "augmented batch: SRe2L / GUARD's evaluation",
    )  # fmt: skip
    a.add_argument(
        "--workers", type=int, default=AuditConfig.workers,
        help="image audits: processes the attacks are spread over, image by image (CPU; 1: in this process)",
    )  # fmt: skip
    add_dataclass_args(a, AttackConfig)
    _common(a)
    a.set_defaults(func=_audit)

    c = verbs.add_parser(
        "condense",
        add_help=False,
        help="condense an image set with a base method, curvature-regularised (GUARD) or not",
        description="Method flags (e.g. --syn-steps, --lr-img) are accepted after --base (--base X --help lists "
        "them); --curvature 0 runs the plain base method (with plain experts), for the comparison.",
    )
    add_method_help(c, lambda _ns: image_methods(), method_dest="base")  # PTM is the medical domain's
    c.add_argument(
        "--base", required=True, help=f"image method, one of {{{', '.join(sorted({*IMAGE_METHODS.names(), 'ptm'}))}}}"
    )
    which = c.add_mutually_exclusive_group(required=True)
    which.add_argument("--flag", help="MedMNIST flag, e.g. pneumoniamnist")
    which.add_argument("--dataset", help="mnist (or a MedMNIST flag)")
    c.add_argument("--size", type=int, default=28, help="MedMNIST image size")
    c.add_argument("--ipc", type=int, required=True, help="synthetic images per class")
    c.add_argument("--curvature", type=float, default=GuardConfig.curvature, help="λ of the curvature term (0: off)")
    c.add_argument("--h", type=float, default=GuardConfig.h, help="finite-difference step h > 0")
    c.add_argument(
        "--direction", default=GuardConfig.direction, choices=DIRECTIONS,
        help="probe direction of the term: reference (GUARD's, with ε offsets) or unit (g/‖g‖)",
    )  # fmt: skip
    c.add_argument(
        "--mode", default="auto", choices=GUARD_MODES,
        help="teacher: curvature-regularised teacher (GUARD; SRe2L) or experts (MTT/PTM); plugin: the term in the "
        "method's per-step loss (any base); auto: teacher when the base has a teacher or experts, else plugin",
    )  # fmt: skip
    c.add_argument(
        "--experts", default=None, help="expert buffer (MTT/PTM) or teacher (SRe2L) folder (default: in the cache)"
    )
    c.add_argument("--num-experts", type=int, default=ExpertConfig.num_experts, help="expert trajectories")
    c.add_argument(
        "--teacher-epochs",
        type=int,
        default=None,
        help=f"epochs each expert (default {ExpertConfig.epochs}) or the SRe2L teacher "
        f"(default {TeacherConfig.epochs}) is trained",
    )
    c.add_argument(
        "--teacher-subset", type=int, default=0,
        help="SRe2L teacher: a stratified subset of this many training images (0: the whole training split)",
    )  # fmt: skip
    c.add_argument(
        "--teacher-warmup", type=int, default=0, help="SRe2L teacher: plain epochs before those with the term"
    )
    c.add_argument("--teacher-batch", type=int, default=TeacherConfig.batch_size, help="SRe2L teacher: batch size")
    c.add_argument("--workers", type=int, default=1, help="processes training experts")
    c.add_argument("--steps", type=int, default=None, help="engine steps (default: the method's iterations)")
    c.add_argument(
        "--checkpoint", default=None,
        help="checkpoint file (resumes when it exists, under the curvature setting kept beside it in FILE.guard.json)",
    )  # fmt: skip
    c.add_argument("--out", default=None, help="artifact folder (default: artifacts/DATASET-METHOD-ipcN[-curvL])")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    _common(c)
    c.set_defaults(func=_condense, accepts_extra=True)

    t = verbs.add_parser("attacks", help="list the registered attacks")
    t.set_defaults(
        func=lambda ns: print(
            format_table(
                ["attack", "norm", "what"], [[n, ATTACKS.get(n).norm, ATTACKS.get(n).description] for n in ATTACKS]
            )
        )
    )


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", default=None, help="data root (default: $CONDENSEKIT_DATA, else ~/.cache/condensekit)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")


def _method_config(ns: argparse.Namespace) -> Any:
    entry = image_method(ns.base)
    prog, owner = f"condensekit robust condense --base {ns.base}", f"method {ns.base!r}"
    given = method_flags(entry.config, ns, prog=prog, owner=owner)
    return config_with_overrides(entry.config, given, owner=owner)


def _mode_name(teacher: bool, plugin: bool) -> str:
    """The mode a run used, as --mode names it (``auto`` resolved: the table said "auto" for a teacher run)."""
    return "both" if teacher and plugin else "teacher" if teacher else "plugin"


def _condense(ns: argparse.Namespace) -> int:
    name = ns.flag or ns.dataset
    if ns.teacher_epochs is not None and ns.teacher_epochs < 1:  # not `or`-ed into the default below
        raise ValueError(f"Invalid value {ns.teacher_epochs!r} for argument --teacher-epochs. Valid values are >= 1")
    if ns.checkpoint:  # a folder read as a checkpoint "has no FOLDER.guard.json"; say what it is instead
        check_file_target(ns.checkpoint, argument="--checkpoint")
    teacher, plugin = resolve_mode(ns.base, ns.mode)
    guard = GuardConfig(curvature=ns.curvature, h=ns.h, teacher=teacher, plugin=plugin, direction=ns.direction)
    cfg = _method_config(ns)
    data = load_image_data(name, root=ns.root, size=ns.size, seed=0)
    tag = f"-curv{ns.curvature:g}" if guard.enabled else ""
    out = Path(ns.out or f"artifacts/{data.name}-{ns.base}-ipc{ns.ipc}{tag}")
    check_artifact_target(out, argument="--out")  # before the experts or teacher and the condensation, not after
    ecfg = tcfg = None
    if uses_experts(ns.base):
        ecfg = ExpertConfig(
            num_experts=ns.num_experts, epochs=ns.teacher_epochs or ExpertConfig.epochs, model=cfg.model
        )
    if uses_teacher(ns.base):
        tcfg = TeacherConfig(
            model=cfg.model, epochs=ns.teacher_epochs or TeacherConfig.epochs, batch_size=ns.teacher_batch,
            train_subset=ns.teacher_subset, warmup_epochs=ns.teacher_warmup,
        )  # fmt: skip
    cond = robust_condense(
        data, ns.base, ipc=ns.ipc, guard=guard if guard.enabled else None, config=cfg, expert_config=ecfg,
        teacher_config=tcfg,
        experts_dir=ns.experts, workers=ns.workers, seed=ns.seed, device=ns.device, steps=ns.steps,
        checkpoint=ns.checkpoint, progress=not ns.quiet,
    )  # fmt: skip
    cond.save(out)
    cost = cond.card["cost"]
    print(format_table(
        ["dataset", "method", "ipc", "curvature", "mode", "steps", "time (s)", "peak MB"],
        [[data.name, cond.card["method"], ns.ipc, ns.curvature if guard.enabled else 0,
          _mode_name(teacher, plugin) if guard.enabled else "-", cost["steps"], cost["wall_time_s"],
          cost["peak_memory_mb"]]],
    ))  # fmt: skip
    print(f"artifact: {out}   audit it: condensekit robust audit {out}")
    return 0


def _audit(ns: argparse.Namespace) -> int:
    task = load_artifact(ns.artifact).card.get("task")
    # the audit goes into its card (tried before it; the JSON and PNG are, by audit_files)
    check_writable(ns.artifact, argument="artifact", inside=True)
    # the configs read the comma-separated text themselves, so an error quotes what was typed ('--eps ,' showed ())
    given = {k: v for k, v in (("attacks", ns.attacks), ("eps", ns.eps), ("models", ns.models)) if v is not None}
    if task == NODE_TASK:
        image_only = {
            "--relabel": ns.relabel != "stored",
            "--full-test": ns.full_test,
            "--subset": ns.subset != AuditConfig.subset,
            "--epochs": ns.epochs != ImageTrainConfig.epochs,
        }
        image_only |= {  # the image attacks' settings (flags given only: their defaults are suppressed)
            "--" + f.name.replace("_", "-"): hasattr(ns, f.name) for f in fields(AttackConfig) if f.name != "pgd_steps"
        }
        passed = [flag for flag, on in image_only.items() if on]
        if passed:  # else it would be ignored without a word
            raise ValueError(
                f"{passed[0]} applies to image audits; a graph artifact's audit attacks its full real test split "
                "(feature PGD with --pgd-steps, random edges) and trains its GNNs for --graph-epochs"
            )
        if ns.workers != 1:
            raise ValueError(f"Invalid value {ns.workers!r} for argument --workers: graph audits run in one process")
        attack_cfg = dataclass_from_args(AttackConfig, ns)
        gcfg = GraphAuditConfig(
            **given, pgd_steps=attack_cfg.pgd_steps,
            eval=NodeEvalConfig(runs=ns.runs, seed=ns.seed, train=TrainConfig(epochs=ns.graph_epochs)),
        )  # fmt: skip
        result, files = audit_graph_artifact(ns.artifact, config=gcfg, root=ns.root, device=ns.device, out=ns.out)
    elif task == IMAGE_TASK:
        if ns.graph_epochs != TrainConfig.epochs:
            raise ValueError("--graph-epochs applies to graph audits; an image audit trains its models for --epochs")
        config = AuditConfig(
            **given,
            runs=ns.runs,
            subset=None if ns.full_test else ns.subset,
            seed=ns.seed,
            train=ImageTrainConfig(epochs=ns.epochs),
            attack=dataclass_from_args(AttackConfig, ns),
            relabel=ns.relabel,
            workers=ns.workers,
        )
        result, files = audit_artifact(ns.artifact, config=config, root=ns.root, device=ns.device, out=ns.out)
    else:
        raise ValueError(
            f"artifact at {ns.artifact!r} holds a {task!r} set, which has no attack; "
            f"`robust audit` attacks {IMAGE_TASK!r} and {NODE_TASK!r} artifacts"
        )
    print(f"{result.dataset}: {result.subset} test images, {result.cost['wall_time_s']} s, "
          f"peak {result.cost['peak_memory_mb']} MB on {result.cost['device']}")  # fmt: skip
    print(result.table())
    print("sanity: " + result.sanity["summary"])  # what was really checked, and what holds by construction
    if not result.sanity["ok"]:
        print("sanity issues: " + "; ".join(result.sanity["issues"]))
    print(f"json: {files['json']}   plot: {files['png']}   card: {ns.artifact}/card.json")
    return 0
