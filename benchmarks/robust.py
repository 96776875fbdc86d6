"""Robust condensation benchmark: the same base method with and without GUARD's curvature term, audited.

For each curvature weight λ in ``--curvature`` (0 = the plain base method): condense ``--dataset`` to
``--ipc`` images per class with ``--base`` (for MTT/PTM the experts are trained with the curvature term:
GUARD; for DM/DC the term is a plug-in), save the artifact under ``runs/benchmarks/robust/``, then audit it
(:mod:`condensekit.robust.audit`): ``--runs`` evaluation models trained on the set, clean and robust
accuracy per attack and ε on a fixed stratified ``--subset`` of the real test split. Every (attack, ε)
becomes one entry of ``benchmarks/results/robust.json`` (merged under a lock) with ``dataset``,
``method``, ``ipc``, ``curvature`` (true/false), ``lambda``, ``attack`` (``clean`` for clean accuracy),
``eps`` as written, ``mean``/``std`` in %, and the setting, cost and hardware (``"load": "shared"``: taken
on a loaded machine, re-time later). ``--table`` prints BENCHMARKS.md's table.

Examples::

    python benchmarks/robust.py --dataset mnist --base mtt --ipc 10 --curvature 0,100 --model mlp
    python benchmarks/robust.py --dataset pneumoniamnist --base mtt --ipc 10 --curvature 0,100
    python benchmarks/robust.py --table
"""

from __future__ import annotations

import argparse
import copy
import re
import statistics
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch
import torchattacks
from common import (  # benchmarks/ is on sys.path as a script
    hardware,
    load,
    parse_overrides,
    records_command,
    save_entry,
)

from condensekit.core.evaluate import Summary, format_summary
from condensekit.core.objectives.curvature import DIRECTIONS
from condensekit.core.registry import check_choice
from condensekit.core.vision import CondensedImages, ImageTrainConfig, accuracy_metric, build_image_model, predict
from condensekit.core.vision.experts import ExpertConfig
from condensekit.robust.attacks import (
    AttackConfig,
    PixelSpace,
    exact_fraction,
    parse_eps_list,
    robust_accuracy,
    stratified_subset,
)
from condensekit.robust.audit import RELABEL_MODES, AuditConfig, audit_artifact
from condensekit.robust.data import load_image_data
from condensekit.robust.guard import (
    GuardConfig,
    default_experts_dir,
    expert_nets,
    resolve_mode,
    robust_condense,
    teacher_term,
    uses_experts,
    uses_teacher,
)
from condensekit.robust.sre2l import TeacherConfig, load_teacher, squeeze_teacher, teacher_folder, warmed_up_teacher

RESULTS = Path(__file__).resolve().parent / "results" / "robust.json"
ARTIFACTS = Path(__file__).resolve().parent.parent / "runs" / "benchmarks" / "robust"
EPS = {"mnist": "0.1,0.2,0.3"}  # MedMNIST: 1/255,2/255,4/255,8/255
# AutoAttack's APGD / FAB iterations of the recorded protocol: torchattacks' 10, which every entry ran before the
# option existed. The library's default is now Croce & Hein's 100 (AttackConfig.autoattack_steps); this script keeps
# its own, so that a command line gives the run and the key it gave before (100 and other counts get -aaN).
AUTOATTACK_STEPS = 10
# GUARD (AAAI 2025) Table: ImageNette, IPC 10, ResNet-18, ε = 1/255 (PGD-100, AutoAttack), %.
PAPER = {
    "guard": {"clean": 57.93, "pgd": 23.87, "autoattack": 19.69},
    "sre2l": {"clean": 42.42, "pgd": 4.76, "autoattack": 4.99},
}


def teacher_nets(data: Any, folder: str, ns: argparse.Namespace) -> list[torch.nn.Module]:
    """GUARD's teacher(s): SRe2L's squeezed teacher, or the final weights of each MTT/PTM expert (batch-norm
    statistics recomputed from the training split, which the buffer does not keep: :func:`expert_nets`)."""
    if uses_teacher(ns.base):
        return [load_teacher(folder, data)[0]]
    return expert_nets(folder, data)


def audit_teachers(data: Any, folder: str, ns: argparse.Namespace, audit_cfg: AuditConfig) -> list[dict[str, Any]]:
    """Clean and PGD accuracy of GUARD's teacher (SRe2L's teacher, or the experts' final weights) on the
    audit's test subset: whether the curvature term made the teacher robust, apart from whether that
    reaches the condensed set."""
    idx = stratified_subset(data.y_test, audit_cfg.subset, seed=audit_cfg.seed)
    x = data.denormalise(data.x_test[idx]).clamp(0, 1)
    y = data.y_test[idx].reshape(-1).long()
    grid = parse_eps_list(audit_cfg.eps)
    per: dict[tuple[str, str], list[float]] = {}
    for net in teacher_nets(data, folder, ns):
        pixel = PixelSpace.for_attack(net, data.mean, data.std, audit_cfg.attack)
        per.setdefault(("clean", "0"), []).append(accuracy_metric(predict(pixel, x), y))
        acc = robust_accuracy(pixel, x, y, "pgd", [v for _, v in grid], num_classes=data.num_classes,
                              seed=audit_cfg.seed, config=audit_cfg.attack)  # fmt: skip
        for text, value in grid:
            per.setdefault(("pgd", text), []).append(acc[value])
    return [
        {"attack": a, "eps": e, "mean": round(statistics.fmean(v), 4),
         "std": round(statistics.pstdev(v) if len(v) > 1 else 0.0, 4), "runs": [round(t, 4) for t in v]}
        for (a, e), v in per.items()
    ]  # fmt: skip


def run(ns: argparse.Namespace) -> None:
    torch.set_num_threads(ns.threads)
    data = load_image_data(ns.dataset, root=ns.root)
    overrides = parse_overrides(ns.set or [])
    overrides.setdefault("model", ns.model)
    eps = ns.eps or EPS.get(ns.dataset, "1/255,2/255,4/255,8/255")
    students = ns.eval_model or ns.model
    audit_cfg = AuditConfig(
        attacks=tuple(ns.attacks.split(",")), eps=tuple(eps.split(",")), models=(students,), runs=ns.runs,
        subset=None if ns.subset == 0 else ns.subset, seed=ns.seed, train=ImageTrainConfig(epochs=ns.epochs),
        attack=_attack_config(ns), relabel=ns.relabel, workers=ns.workers,
    )  # fmt: skip
    audit_data = data.validation_as_test() if ns.audit_split == "val" else data
    if ns.audit_class is not None:
        audit_data = class_split(audit_data, ns.audit_class)
    for lam in [float(v) for v in ns.curvature.split(",")]:
        teacher, plugin = resolve_mode(ns.base, ns.mode)
        guard = GuardConfig(
            curvature=lam, h=ns.h, teacher=teacher, plugin=plugin, plugin_curvature=ns.plugin_curvature,
            plugin_reduction=ns.plugin_reduction, direction=ns.direction,
        ) if lam > 0 else None  # fmt: skip
        ecfg = ExpertConfig(num_experts=ns.num_experts, epochs=ns.teacher_epochs, model=ns.model, dsa=ns.expert_dsa)
        tcfg = _teacher_config(ns) if uses_teacher(ns.base) else None
        if ns.teachers_only:
            reg = teacher_term(guard)
            folder = teacher_folder(data, tcfg, reg) if tcfg is not None else default_experts_dir(data, ecfg, guard)
            teacher_entries(data, str(folder), ns, audit_cfg, lam, teacher, plugin)
            continue
        tag = _mode_tag(ns.base, ns.mode, lam)
        method = ns.base + (f"-{ns.variant}" if ns.variant else "") + ("-online" if ns.relabel == "online" else "")
        method += "-val" if ns.audit_split == "val" else ""
        method += f"-{ns.audit_tag}" if ns.audit_tag else ""
        method += _autoattack_tag(ns)
        tag = _h_tag(ns, lam) + _direction_tag(ns, lam) + tag + _plugin_tag(ns, lam, plugin)
        models = _models_tag(ns)
        path = ARTIFACTS / f"{ns.dataset}-{method}-{models}-ipc{ns.ipc}-lam{lam:g}{tag}-seed{ns.seed}"
        out = None
        if ns.audit_class is not None:  # the saved set, re-audited on one class: its key, not its folder, says so
            if not (path / "card.json").exists():
                raise ValueError(f"--audit-class re-audits a saved set, and {str(path)!r} has none; run the same "
                                 "command without --audit-class first")  # fmt: skip
            out = f"{path}-robust-audit-class{ns.audit_class}"
            method += f"-class{ns.audit_class}"
        t0 = time.perf_counter()
        reused = (ns.reuse_set or ns.audit_class is not None) and (path / "card.json").exists()
        if reused:  # the set this command saved before; its card keeps the condensation's cost
            cond = CondensedImages.load(path, purpose="--reuse-set")
        else:
            cond = robust_condense(
                data, ns.base, ipc=ns.ipc, guard=guard, config=overrides,
                expert_config=ecfg if uses_experts(ns.base) else None, teacher_config=tcfg, seed=ns.seed,
                device=ns.device, steps=ns.steps, progress=ns.progress,
            )  # fmt: skip
            cond.save(path)
        condense_total = time.perf_counter() - t0
        print(f"λ={lam:g}: condensation {condense_total:.0f} s{' (reused)' if reused else ''}; auditing", flush=True)
        result, files = audit_artifact(path, config=audit_cfg, data=audit_data, device=ns.device, out=out)
        print(f"λ={lam:g}: condensation {condense_total:.0f} s, audit {result.cost['wall_time_s']:.0f} s")
        print(result.table())
        common: dict[str, Any] = {
            "dataset": ns.dataset, "method": method, "split": ns.audit_split, "audit_class": ns.audit_class,
            "relabel": ns.relabel,
            "ipc": ns.ipc, "curvature": lam > 0, "lambda": lam,
            "h": ns.h if lam > 0 else None, "direction": ns.direction if lam > 0 else None,
            "mode": _mode_name(teacher, plugin, lam),
            "model": ns.model, "arch": arch_record(ns.model, data), "eval_model": students,
            "eval_arch": arch_record(students, data), "subset": result.subset, "seed": ns.seed,
            "method_config": cond.card["config"],
            "experts": cond.card["config"].get("experts") or cond.card["config"].get("teacher"),
            "labels": cond.card.get("labels"),
            "audit_config": result.config, "sanity": result.sanity,
            "cost": {"condense_total_s": round(condense_total, 1), "condense": cond.card["cost"],
                     "audit": result.cost, "reused_set": reused},
            "hardware": hardware() | {"load": "shared"}, "load": "shared",
            "artifact": str(path), "audit_json": files["json"],
        }  # fmt: skip
        for row in result.rows:
            key = (
                f"{ns.dataset}/{method}/{models}/ipc{ns.ipc}/lam{lam:g}{tag}/seed{ns.seed}/{row['attack']}/{row['eps']}"
            )
            entry = common | {
                "attack": row["attack"], "eps": row["eps"], "mean": row["mean"], "std": row["std"], "runs": row["runs"],
            }  # fmt: skip
            save_entry(key, entry, ns.results)
        experts = cond.card["config"].get("experts") or cond.card["config"].get("teacher")
        # other modes reuse the same experts; the teacher rows attack the test split (a tagged re-audit keeps them)
        fresh = ns.audit_split == "test" and not ns.audit_tag and not _autoattack_tag(ns) and ns.audit_class is None
        if experts is not None and not _mode_tag(ns.base, ns.mode, lam) and fresh:
            teacher_entries(data, experts["folder"], ns, audit_cfg, lam, teacher, plugin)


def class_split(data: Any, label: int) -> Any:
    """``data`` with its test split cut to the images of class ``label`` (``--audit-class``): the audit's students
    are trained on the set as before (nothing they see changes) and attacked on that class alone, so a gain in
    accuracy that comes from moving the decision towards one class shows up as a loss on the other. Weighted by
    the class counts, the per-class clean accuracies give the whole split's."""
    y = data.y_test.reshape(-1).long()
    if not 0 <= label < data.num_classes:
        raise ValueError(
            f"Invalid value {label!r} for argument --audit-class. Valid values are 0..{data.num_classes - 1}"
        )
    keep = y == label
    if not bool(keep.any()):
        raise ValueError(f"--audit-class {label}: the audited split has no image of that class")
    return replace(data, x_test=data.x_test[keep], y_test=data.y_test[keep])


def _attack_config(ns: argparse.Namespace) -> AttackConfig:
    return AttackConfig(
        pgd_steps=ns.pgd_steps, fold_bn=ns.fold_bn, forward_chunk=ns.forward_chunk, cascade_eps=ns.cascade_eps,
        autoattack_steps=ns.autoattack_steps, inference_jit=ns.inference_jit,
    )  # fmt: skip


def _autoattack_tag(ns: argparse.Namespace) -> str:
    """Method suffix (``-aa100``) of a run whose AutoAttack APGD/FAB stages take other than the recorded protocol's
    :data:`AUTOATTACK_STEPS` (torchattacks' 10), the setting of every entry written before the option existed: such
    a re-attack of a saved set's students is kept beside them (key and folder), never written over them, with or
    without ``--audit-tag``. Compared with this script's constant, not the library's default (100), so that the
    library's default can move without moving a key."""
    steps = ns.autoattack_steps
    return "" if steps == AUTOATTACK_STEPS else f"-aa{steps}"


def _models_tag(ns: argparse.Namespace) -> str:
    """The model part of a set's key and folder: ``--model``, or ``MODEL-students-EVAL`` when ``--eval-model``
    names other evaluation students (keys written before the option existed stay valid)."""
    students = ns.eval_model or ns.model
    return ns.model if students == ns.model else f"{ns.model}-students-{students}"


def _teacher_config(ns: argparse.Namespace) -> TeacherConfig:
    return TeacherConfig(
        model=ns.model, epochs=ns.teacher_epochs, batch_size=ns.teacher_batch, train_subset=ns.teacher_subset,
        warmup_epochs=ns.teacher_warmup,
    )  # fmt: skip


def select_teacher(ns: argparse.Namespace) -> dict[str, Any]:
    """Choose GUARD's λ and h on the **validation** split, never the test split.

    For every λ in ``--curvature`` (0 included: the reference point) and every h in ``--h-grid``, squeeze
    the SRe2L teacher (cached) and attack it with PGD-L∞ at the ε grid on a stratified ``--val-subset`` of
    the validation split. Rule: among the λ > 0 teachers whose validation clean accuracy is at most
    ``--clean-drop`` points below the plain teacher's, take the one with the highest validation PGD
    accuracy at the middle ε (ties: the smaller λ, then the smaller h). Each teacher's figures are saved
    as entries with ``method`` ``sre2l-teacher-val`` and ``split`` ``val``; the choice is printed and
    returned. ``--audit-tag TAG`` ends every key's setting in ``-TAG``: a re-attack of a teacher scored before
    (the plain one, which every run scores) is kept beside the earlier entry instead of replacing it.
    """
    torch.set_num_threads(ns.threads)
    data = load_image_data(ns.dataset, root=ns.root)
    if not len(data.y_val):
        raise ValueError(f"dataset {ns.dataset!r} has no validation split to select λ and h on")
    eps_text = ns.eps or EPS.get(ns.dataset, "1/255,2/255,4/255,8/255")
    grid = parse_eps_list(eps_text.split(","))
    middle = grid[(len(grid) - 1) // 2][0]  # 0.2 of 0.1,0.2,0.3; 2/255 of 1,2,4,8/255
    idx = stratified_subset(data.y_val, ns.val_subset, seed=ns.seed)
    x = data.denormalise(data.x_val[idx]).clamp(0, 1)
    y = data.y_val[idx].reshape(-1).long()
    attack = _attack_config(ns)
    tcfg = _teacher_config(ns)
    scores: dict[tuple[float, float], dict[str, float]] = {}
    lams = sorted({float(v) for v in ns.curvature.split(",")} | {0.0})
    hs = [float(v) for v in (ns.h_grid or str(ns.h)).split(",")]
    for lam in lams:
        for h in hs if lam > 0 else [ns.h]:
            reg = GuardConfig(curvature=lam, h=h, direction=ns.direction).regularizer() if lam > 0 else None
            cpu0, t0 = time.process_time(), time.perf_counter()
            net, card = squeeze_teacher(data, tcfg, reg, device="cpu")
            pixel = PixelSpace.for_attack(net, data.mean, data.std, attack)
            clean = accuracy_metric(predict(pixel, x), y)
            acc = robust_accuracy(pixel, x, y, "pgd", [v for _, v in grid], num_classes=data.num_classes,
                                  seed=ns.seed, config=attack)  # fmt: skip
            scores[(lam, h)] = {"clean": clean} | {text: acc[v] for text, v in grid}
            print(f"λ={lam:g} h={h:g}: val clean {clean:.1f}, PGD " +
                  ", ".join(f"{t} {acc[v]:.1f}" for t, v in grid), flush=True)  # fmt: skip
            common = {
                "dataset": ns.dataset, "method": f"{ns.base}-teacher-val", "split": "val", "ipc": None,
                "curvature": lam > 0, "lambda": lam, "h": h if lam > 0 else None, "mode": "teacher" if lam else None,
                "direction": ns.direction if lam > 0 else None, "audit_tag": ns.audit_tag or None,
                "model": ns.model, "arch": arch_record(ns.model, data),
                "subset": f"stratified {ns.val_subset} of the validation split (seed {ns.seed})",
                "teacher": {k: card.get(k) for k in ("folder", "config", "val_acc", "train_cpu_s", "train_images")},
                "audit_config": {"eps": [t for t, _ in grid], "attack": asdict(attack)},
                "cost": {"squeeze_and_attack_wall_s": round(time.perf_counter() - t0, 1),
                         "squeeze_and_attack_cpu_s": round(time.process_time() - cpu0, 1)},
                "hardware": hardware() | {"load": "shared"}, "load": "shared",
            }  # fmt: skip
            rows = [("clean", "0", clean)] + [("pgd", t, acc[v]) for t, v in grid]
            for a, e, value in rows:
                # the ε cascade is in the key, so a cascaded re-attack keeps the entries attacked without it
                setting = f"lam{lam:g}-h{h:g}" + _direction_tag(ns, lam) + ("-cascade" if attack.cascade_eps else "")
                setting += f"-{ns.audit_tag}" if ns.audit_tag else ""
                key = f"{ns.dataset}/{ns.base}-teacher-val/{ns.model}/{_teacher_tag(tcfg)}/{setting}/{a}/{e}"
                save_entry(key, common | {"attack": a, "eps": e, "mean": round(value, 4), "std": 0.0,
                                          "runs": [round(value, 4)]}, ns.results)  # fmt: skip
    plain = scores[(0.0, ns.h)]["clean"]
    ok = [(k, v) for k, v in scores.items() if k[0] > 0 and v["clean"] >= plain - ns.clean_drop]
    if not any(k[0] > 0 for k in scores):
        print("only the plain teacher was scored: nothing to choose")
        return {}
    if not ok:
        print(f"no λ > 0 keeps the validation clean accuracy within {ns.clean_drop} points of {plain:.1f}")
        return {}
    (lam, h), best = max(ok, key=lambda kv: (kv[1][middle], -kv[0][0], -kv[0][1]))
    print(f"chosen on validation: λ={lam:g} h={h:g} (PGD@{middle} {best[middle]:.1f} vs plain "
          f"{scores[(0.0, ns.h)][middle]:.1f}; clean {best['clean']:.1f} vs {plain:.1f})")  # fmt: skip
    return {"lambda": lam, "h": h, "middle_eps": middle}


def direction_stats(ns: argparse.Namespace) -> dict[str, Any]:
    """How far GUARD's reference probe direction :math:`(g_i + \\epsilon)/(\\lVert g_i \\rVert + \\epsilon)` is
    from :math:`g_i/\\lVert g_i \\rVert` on a real teacher, for the gradients the teacher's term takes: each
    image's input gradient of the **batch-mean** cross-entropy over ``--teacher-batch`` training images, in
    eval mode, over the whole training split (one seeded pass). Measured on the plain SRe2L teacher of
    ``--model`` / ``--teacher-*`` (squeezed and cached as by ``--select``) and on that teacher after its plain
    warm-up epochs only (the network the curvature phase starts from). Saved as one entry with ``kind``
    ``direction``; the table skips it."""
    from condensekit.core.objectives.curvature import unit_direction

    torch.set_num_threads(ns.threads)
    cpu0, t0 = time.process_time(), time.perf_counter()
    data = load_image_data(ns.dataset, root=ns.root)
    tcfg = _teacher_config(ns)
    final, card = squeeze_teacher(data, tcfg, None, device="cpu")
    nets = {"final": final}
    if tcfg.warmup_epochs:  # squeeze_teacher's first phase, with its seed
        nets = {"after_warmup": warmed_up_teacher(data, tcfg, device="cpu")[0]} | nets
    x, y = data.x_train, data.y_train.reshape(-1).long()
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(ns.seed))
    out: dict[str, Any] = {}
    for name, net in nets.items():
        net.eval()
        norms, lengths, cosines = [], [], []
        for i in range(0, len(y), tcfg.batch_size):
            idx = order[i : i + tcfg.batch_size]
            xb = x[idx].clone().requires_grad_(True)
            (g,) = torch.autograd.grad(torch.nn.functional.cross_entropy(net(xb), y[idx]), xb)
            flat, z = g.reshape(len(idx), -1), unit_direction(g).reshape(len(idx), -1)
            norms.append(flat.norm(dim=1))
            lengths.append(z.norm(dim=1))
            cosines.append(torch.nn.functional.cosine_similarity(z, flat, dim=1))
        n, zn, cos = torch.cat(norms), torch.cat(lengths), torch.cat(cosines)
        pct = lambda m: round(100 * float(m.float().mean()), 2)  # noqa: E731
        out[name] = {
            "images": len(n),
            "grad_norm_quantiles": {q: float(torch.quantile(n, float(q))) for q in ("0.1", "0.5", "0.9")},
            "eps_sqrt_d": 1e-7 * float(x[0].numel()) ** 0.5, "pct_zero_gradient": pct(n == 0),
            "pct_length_over_1.1": pct(zn > 1.1), "pct_length_over_2": pct(zn > 2), "max_length": float(zn.max()),
            "pct_cosine_below_0.99": pct(cos < 0.99), "pct_cosine_below_0.9": pct(cos < 0.9),
            "median_cosine": float(cos.median()),
        }  # fmt: skip
        print(f"{name}: {out[name]}", flush=True)
    key = f"{ns.dataset}/direction-stats/{ns.model}/{_teacher_tag(tcfg)}/plain/seed{ns.seed}"
    entry = {
        "kind": "direction", "dataset": ns.dataset, "model": ns.model, "teacher": card.get("folder"),
        "teacher_config": asdict(tcfg), "gradients": f"input gradient of the batch-mean CE, batch {tcfg.batch_size}, "
        "eval mode, every training image once", "stats": out,
        "cost": {"wall_s": round(time.perf_counter() - t0, 1), "cpu_s": round(time.process_time() - cpu0, 1)},
        "hardware": hardware() | {"load": "shared"}, "load": "shared",
    }  # fmt: skip
    save_entry(key, entry, ns.results)
    return entry


def arch_record(model: str, data: Any) -> dict[str, Any]:
    """The layout of ``model`` on ``data``: registry name, stem padding and feature count for a ConvNet (since
    2026-12-03 ``convnet``/``convnet_bn`` pad a 1-channel stem by 3; ``convnet_bn_small`` is pinned to 1),
    and the parameter count, so an entry says which layout its teacher and students had."""
    with torch.device("meta"):  # shapes only; the global RNG is not drawn from
        net = build_image_model(model, channels=data.channels, num_classes=data.num_classes, im_size=data.im_size)
    return {"model": model, "stem_padding": getattr(net, "stem_padding", None),
            "feature_dim": getattr(net, "feature_dim", None),
            "num_params": int(sum(p.numel() for p in net.parameters()))}  # fmt: skip


def _teacher_tag(config: TeacherConfig) -> str:
    return f"e{config.epochs}-w{config.warmup_epochs}-b{config.batch_size}-n{config.train_subset or 'all'}"


def teacher_entries(
    data: Any, folder: str, ns: argparse.Namespace, audit_cfg: AuditConfig, lam: float, teacher: bool, plugin: bool
) -> None:
    """Save the experts' own clean / PGD accuracy as entries with ``method`` ``<base>-teacher``."""
    for row in audit_teachers(data, folder, ns, audit_cfg):
        key = (
            f"{ns.dataset}/{ns.base}-teacher/{ns.model}/lam{lam:g}{_h_tag(ns, lam)}{_direction_tag(ns, lam)}"
            f"{_mode_tag(ns.base, ns.mode, lam)}/"
            f"seed{ns.seed}/{row['attack']}/{row['eps']}"
        )
        save_entry(key, {
            "dataset": ns.dataset, "method": f"{ns.base}-teacher", "ipc": None, "curvature": lam > 0, "lambda": lam,
            "h": ns.h if lam > 0 else None, "direction": ns.direction if lam > 0 else None,
            "mode": _mode_name(teacher, plugin, lam), "model": ns.model,
            "subset": f"stratified {audit_cfg.subset} (seed {audit_cfg.seed})", "seed": ns.seed,
            "experts": folder, "audit_config": asdict(audit_cfg), "load": "shared",
            "hardware": hardware() | {"load": "shared"},
            "note": "final-epoch weights of each expert (the teacher GUARD regularises), attacked directly; "
                    "batch-norm statistics (not in the buffer) recomputed from the training split",
        } | row, ns.results)  # fmt: skip


def _h_tag(ns: argparse.Namespace, lam: float) -> str:
    """Key and folder suffix for an h other than GUARD's default 3 (keys written before h varied stay valid)."""
    return f"-h{ns.h:g}" if lam > 0 and ns.h != GuardConfig.h else ""


def _direction_tag(ns: argparse.Namespace, lam: float) -> str:
    """Key and folder suffix for a probe direction other than GUARD's reference one (``-unit``); keys written
    before the option existed stay valid."""
    return f"-{ns.direction}" if lam > 0 and ns.direction != GuardConfig.direction else ""


def _plugin_tag(ns: argparse.Namespace, lam: float, plugin: bool) -> str:
    """Key and folder suffix for a plug-in term whose λ or reduction differ from the teacher's (``-p1000sum``)."""
    if lam == 0 or not plugin or (ns.plugin_curvature is None and ns.plugin_reduction == "mean"):
        return ""
    lam_p = lam if ns.plugin_curvature is None else ns.plugin_curvature
    return f"-p{lam_p:g}" + ("sum" if ns.plugin_reduction == "sum" else "")


def _mode_tag(base: str, mode: str, lam: float) -> str:
    """Key suffix for a curvature mode other than the base's default (GUARD's teacher for MTT/PTM)."""
    teacher, plugin = resolve_mode(base, mode)
    default = resolve_mode(base, "auto")
    return "" if lam == 0 or (teacher, plugin) == default else "-" + ("both" if teacher and plugin else mode)


def _mode_name(teacher: bool, plugin: bool, lam: float) -> str | None:
    return None if lam == 0 else "both" if teacher and plugin else "teacher" if teacher else "plugin"


def _mode(e: dict[str, Any]) -> str:
    if not e["curvature"]:
        return "-"
    mode = str(e.get("mode") or "-")
    guard = (e.get("method_config") or {}).get("guard") or {}
    lam_p, red = guard.get("plugin_curvature"), guard.get("plugin_reduction", "mean")
    if mode in ("plugin", "both") and (lam_p is not None or red != "mean"):
        mode += f" (plug-in λ {guard['curvature'] if lam_p is None else lam_p:g}, {red})"
    return mode


def _schedule(e: dict[str, Any]) -> str:
    """The SRe2L teacher's schedule of a teacher-selection entry (``e3-w2-b128-n10000``, `` cascade`` added when
    its attacks cascaded over ε, then its ``--audit-tag``), else ``-``."""
    cfg = (e.get("teacher") or {}).get("config") if isinstance(e.get("teacher"), dict) else None
    if not cfg:
        return "-"
    tag = _teacher_tag(TeacherConfig(**{k: v for k, v in cfg.items() if k in TeacherConfig.__dataclass_fields__}))
    tag += " cascade" if (e.get("audit_config") or {}).get("attack", {}).get("cascade_eps") else ""
    return tag + (f" {e['audit_tag']}" if e.get("audit_tag") else "")  # a tagged re-attack: a row of its own


def _key_seed(key: str) -> int:
    """The seed an entry's key names (``.../seed1/...``; teacher entries carry no ``seed`` field)."""
    found = re.search(r"/seed(\d+)/", key)
    return int(found.group(1)) if found else 0


SQUARE_LAYOUTS = {
    # name: PixelSpace options; "channels_last" is sitting 10's audit, "folded_chunked" sitting 11's, "..._jit" the
    # default since sitting 23 (Square's grad-free queries through a frozen TorchScript copy)
    "nchw": {},
    "channels_last": {"channels_last": True},
    "folded_chunked": {"channels_last": True, "fold_bn": True, "chunk": AttackConfig.forward_chunk},
    "folded_chunked_jit": {
        "channels_last": True, "fold_bn": True, "chunk": AttackConfig.forward_chunk, "inference_jit": True,
    },
}  # fmt: skip


def time_square(ns: argparse.Namespace) -> None:
    """CPU cost of one Square iteration (AutoAttack's last and dearest stage) with the attacked model wrapped each way
    of :data:`SQUARE_LAYOUTS` (NCHW; channels-last; channels-last with batch norm folded into the convolutions and
    ``--forward-chunk`` images per forward pass; the same with its queries through the frozen TorchScript copy,
    ``AttackConfig.inference_jit``; ``--timing-layouts`` picks some), interleaved ``--timing-reps`` times, on
    ``--timing-images`` random images of the dataset's shape. The model is ``--model`` freshly initialised
    (batch-norm running statistics randomised, so the folding is not trivial), with a constant +100 logit on class 0
    and labels 0, so no image is ever fooled and every image is queried at every iteration (the regime of the
    small-ε audits, where ~95 % of the attacked images survive APGD and FAB). The adversarial images of every layout
    are compared with the first's (``max_abs_diff``). With ``--timing-teacher FOLDER`` the model is that trained
    SRe2L teacher instead, attacked at ε = 2/255 on the first ``--timing-images`` real test images it classifies
    correctly (the audit's own regime: real images, a trained model, the few images Square breaks drop out). Saved
    as one entry with ``kind`` ``timing`` (its key ends in ``-TAG`` with ``--timing-tag``, so a new measurement
    keeps the earlier ones); the table skips it."""
    names = [n.strip() for n in ns.timing_layouts.split(",") if n.strip()] or list(SQUARE_LAYOUTS)
    for name in names:  # before the data is loaded
        check_choice("--timing-layouts", name, tuple(SQUARE_LAYOUTS))
    torch.set_num_threads(ns.threads)
    data = load_image_data(ns.dataset, root=ns.root)
    torch.manual_seed(ns.seed)
    offset = torch.zeros(data.num_classes)
    if ns.timing_teacher:
        net = load_teacher(ns.timing_teacher, data)[0]
        x_all = data.denormalise(data.x_test).clamp(0, 1)
        y_all = data.y_test.reshape(-1).long()
        with torch.no_grad():
            ok = PixelSpace(net, data.mean, data.std).eval()(x_all).argmax(-1) == y_all
        x, y = x_all[ok][: ns.timing_images], y_all[ok][: ns.timing_images]
        eps = 2 / 255
    else:
        net = build_image_model(ns.model, channels=data.channels, num_classes=data.num_classes, im_size=data.im_size)
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.5)
                m.running_var.uniform_(0.5, 2.0)
        offset[0] = 100.0
        gen = torch.Generator().manual_seed(ns.seed)
        x = torch.rand(ns.timing_images, data.channels, *data.im_size, generator=gen)
        y = torch.zeros(ns.timing_images, dtype=torch.long)
        eps = 1 / 255
    net.eval()

    class Unfooled(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(x) + offset.to(x.device)

    layouts = {
        n: SQUARE_LAYOUTS[n] | ({"chunk": ns.forward_chunk} if "chunk" in SQUARE_LAYOUTS[n] else {}) for n in names
    }
    models = {
        name: Unfooled(PixelSpace(copy.deepcopy(net), data.mean, data.std, **opts)) for name, opts in layouts.items()
    }  # fmt: skip
    ms: dict[str, list[float]] = {k: [] for k in models}
    advs: dict[str, torch.Tensor] = {}
    for _ in range(ns.timing_reps):
        for layout, model in models.items():
            atk = torchattacks.Square(model.eval(), norm="Linf", eps=eps, n_queries=ns.timing_queries,
                                      n_restarts=1, seed=ns.seed)  # fmt: skip
            c0 = time.process_time()
            advs[layout] = atk(x, y)
            ms[layout].append(round((time.process_time() - c0) / ns.timing_queries * 1000, 2))
    first = next(iter(advs.values()))
    diff = {k: float((v - first).abs().max()) for k, v in advs.items()}
    summary = {k: round(statistics.median(v), 2) for k, v in ms.items()}
    print(f"Square, {len(x)} images, CPU ms per iteration (median of {ns.timing_reps}): {summary}; "
          f"adversarial images vs {next(iter(advs))}: max |diff| {diff}")  # fmt: skip
    which = "teacher" if ns.timing_teacher else "random"
    key = f"{ns.dataset}/square-timing/{ns.model}/n{ns.timing_images}" + ("-teacher" if ns.timing_teacher else "")
    key += f"-{ns.timing_tag}" if ns.timing_tag else ""
    save_entry(key, {
        "kind": "timing", "dataset": ns.dataset, "model": ns.model, "images": len(x), "weights": which,
        "teacher": ns.timing_teacher or None, "eps": eps, "chunk": ns.forward_chunk,
        "queries": ns.timing_queries, "layouts": layouts, "cpu_ms_per_square_iteration": ms, "median": summary,
        "max_abs_diff": diff, "torch_threads": torch.get_num_threads(),
        "hardware": hardware() | {"load": "shared"}, "load": "shared",
    }, ns.results)  # fmt: skip


def table(path: Path = RESULTS) -> str:
    entries = {k: e for k, e in load(path)["entries"].items() if e.get("kind") not in ("timing", "direction")}
    groups: dict[tuple, dict[tuple[str, str], dict[str, Any]]] = {}
    for name, e in entries.items():
        h = f"{e['h']:g}" if e.get("curvature") and e.get("h") is not None else "-"
        if e.get("curvature") and e.get("direction", GuardConfig.direction) != GuardConfig.direction:
            h += f" ({e['direction']} z)"  # a row of its own, not merged with the reference direction's
        model = e["model"] if e.get("eval_model", e["model"]) == e["model"] else f"{e['model']} → {e['eval_model']}"
        key = (e["dataset"], e["method"], model, str(e["ipc"] or "-"), e["lambda"], h, _mode(e), _schedule(e),
               str(e.get("seed", _key_seed(name))))  # fmt: skip
        groups.setdefault(key, {})[(e["attack"], e["eps"])] = e
    lines: list[list[str]] = []
    last: list[str] = []
    flagged: list[str] = []  # an audit whose sanity check failed is marked in its row and its issues listed below
    for (dataset, method, model, ipc, lam, h, mode, schedule, seed), rows in sorted(groups.items()):
        cols = sorted(
            (k for k in rows if k[0] != "clean"), key=lambda k: (k[0], rows[k]["audit_config"]["eps"].index(k[1]))
        )
        head = ["dataset", "method", "model", "ipc", "λ", "h", "curvature in", "teacher", "seed", "clean"]
        head += [f"{a} {e}" for a, e in cols] + ["audit wall / CPU s"]
        clean = rows.get(("clean", "0"))
        issues = list(dict.fromkeys(i for e in rows.values() for i in (e.get("sanity") or {}).get("issues") or []))
        if issues:
            flagged.append(f"⚠{len(flagged) + 1} {dataset} {method} {model} ipc {ipc} λ {lam:g}: " + "; ".join(issues))
            seed = f"{seed} ⚠{len(flagged)}"
        body = [dataset, method, model, ipc, f"{lam:g}", h, mode, schedule, seed, format_summary(clean, 1)]
        body += [format_summary(rows[k], 1) for k in cols]  # each rounded once, from the entry's runs
        body.append(_audit_cost([rows[k] for k in ([("clean", "0")] if clean else []) + cols]))
        if head != last:
            lines += ([[]] if lines else []) + [head, ["---"] * len(head)]
            last = head
        lines.append([str(c) for c in body])
    text = _markdown(lines)
    pooled = _pooled(groups)
    if pooled:
        text += "\n\n" + pooled
    if flagged:
        text += "\n\nSanity check failed (robust accuracy rising with ε, or AutoAttack above PGD):\n\n"
        text += "\n".join(f"- {f}" for f in flagged)
    return text


def _audit_cost(entries: list[dict[str, Any]]) -> str:
    """The audit's wall / process CPU seconds as the entries record them (``cost.audit``), each distinct pair
    once in column order: a row whose ε or attacks came from two audits shows both; ``-`` when none recorded."""
    cells: list[str] = []
    for e in entries:
        audit = (e.get("cost") or {}).get("audit") or {}
        if audit.get("wall_time_s") is None:
            continue
        cpu = audit.get("cpu_time_s")
        cell = f"{audit['wall_time_s']:g} / {'-' if cpu is None else f'{cpu:g}'}"
        if cell not in cells:
            cells.append(cell)
    return "; ".join(cells) or "-"


def _pooled(groups: dict[tuple, dict[tuple[str, str], dict[str, Any]]]) -> str:
    """Rows that differ only in their seed, pooled: every evaluation model of every seed together, mean ± std
    (population std over all models, as each entry's ``std`` is over its own), for the (attack, ε) columns
    that every seed has. Arms with one seed are left out. Empty when no arm has two seeds."""
    arms: dict[tuple, dict[str, dict[tuple[str, str], dict[str, Any]]]] = {}
    for key, rows in groups.items():
        arms.setdefault(key[:-1], {})[key[-1]] = rows
    lines: list[list[str]] = []
    last: list[str] = []
    for (dataset, method, model, ipc, lam, h, mode, schedule), seeds in sorted(arms.items()):
        if len(seeds) < 2:
            continue
        common = set.intersection(*(set(rows) for rows in seeds.values()))
        cols = sorted((k for k in common if k[0] != "clean"), key=lambda k: (k[0], exact_fraction(k[1])))
        cols = ([("clean", "0")] if ("clean", "0") in common else []) + cols
        order = sorted(seeds, key=int)
        pooled = {k: [r for s in order for r in seeds[s][k].get("runs") or []] for k in cols}
        head = ["dataset", "method", "model", "ipc", "λ", "h", "curvature in", "teacher", "seeds", "models"]
        head += ["clean" if a == "clean" else f"{a} {e}" for a, e in cols]
        models = len(pooled[cols[0]]) if cols else 0
        body = [dataset, method, model, ipc, f"{lam:g}", h, mode, schedule, ", ".join(order), str(models)]
        body += [format_summary(Summary(v), 1) if v else "-" for v in pooled.values()]
        if head != last:
            lines += ([[]] if lines else []) + [head, ["---"] * len(head)]
            last = head
        lines.append(body)
    if not lines:
        return ""
    title = "Pooled over seeds (every evaluation model of every seed: mean ± population std, %):\n\n"
    return title + _markdown(lines)


def _markdown(lines: list[list[str]]) -> str:
    """Markdown table rows (an empty row: a blank line between two tables)."""
    return "\n".join("| " + " | ".join(map(str, r)) + " |" if r else "" for r in lines)


def _flag(text: str) -> bool:
    if text.lower() not in ("1", "true", "yes", "0", "false", "no"):
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: valid values are true, false")
    return text.lower() in ("1", "true", "yes")


def _at_least_one(text: str) -> int:
    """An integer option that must be at least 1 (argparse names the option in its error)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1 or str(value) != text.strip():
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: valid values are integers >= 1")
    return value


@records_command
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--base", default="mtt")
    p.add_argument("--ipc", type=int, default=10)
    p.add_argument("--curvature", default="0,100", help="comma-separated λ (0: the plain base method)")
    p.add_argument("--h", type=float, default=GuardConfig.h)
    p.add_argument("--direction", default=GuardConfig.direction, choices=DIRECTIONS,
                   help="probe direction of the curvature term: reference (GUARD's (g + ε)/(‖g‖ + ε)) or unit "
                        "(g/‖g‖); keys, teacher and expert folders get -unit")  # fmt: skip
    p.add_argument(
        "--teacher-subset",
        type=int,
        default=0,
        help="SRe2L teacher: stratified training images it sees (0: the whole training split)",
    )
    p.add_argument("--teacher-warmup", type=int, default=0, help="SRe2L teacher: plain epochs before the term")
    p.add_argument("--teacher-batch", type=int, default=TeacherConfig.batch_size, help="SRe2L teacher: batch size")
    p.add_argument(
        "--select",
        action="store_true",
        help="SRe2L: choose λ (from --curvature) and h (from --h-grid) on the validation split; no test",
    )
    p.add_argument("--h-grid", default=None, help="--select: comma-separated h values (default: --h)")
    p.add_argument("--val-subset", type=int, default=500, help="--select: stratified validation images attacked")
    p.add_argument(
        "--clean-drop",
        type=float,
        default=2.0,
        help="--select: largest validation clean-accuracy drop allowed against the plain teacher",
    )
    p.add_argument("--mode", default="auto")
    p.add_argument("--plugin-curvature", type=float, default=None,
                   help="λ of the plug-in term (mode plugin/both; default: the --curvature λ)")  # fmt: skip
    p.add_argument("--plugin-reduction", default="mean", choices=("mean", "sum"),
                   help="plug-in term: gradient of the batch-mean loss (as the teacher's) or of the sum")  # fmt: skip
    p.add_argument("--model", default="convnet", help="condensation, expert or teacher, and evaluation model")
    p.add_argument("--eval-model", default=None,
                   help="evaluation students of the audit instead of --model (e.g. a full-width SRe2L teacher with "
                        "the small students of earlier rows); keys and folders get -students-NAME")  # fmt: skip
    p.add_argument("--num-experts", type=int, default=ExpertConfig.num_experts)
    p.add_argument("--teacher-epochs", type=int, default=ExpertConfig.epochs)
    p.add_argument("--expert-dsa", type=_flag, default=True,
                   help="DSA while training experts (MTT: true)")  # fmt: skip
    p.add_argument("--steps", type=int, default=None, help="engine steps (default: the method's iterations)")
    p.add_argument("--set", action="append", help="method config FIELD=VALUE (repeatable)")
    p.add_argument("--variant", default="", help="name of a non-default --set setting: entries' method is BASE-VARIANT")
    p.add_argument("--attacks", default="fgsm,pgd,autoattack")
    p.add_argument("--eps", default=None, help="default: mnist 0.1,0.2,0.3; MedMNIST 1/255,2/255,4/255,8/255")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--relabel", default="stored", choices=RELABEL_MODES,
                   help="evaluation students: the set's stored labels, or the teacher's labels of each augmented "
                        "batch (SRe2L / GUARD's evaluation; SRe2L sets only)")  # fmt: skip
    p.add_argument("--audit-split", default="test", choices=("test", "val"),
                   help="audit against the test split, or the validation split (to choose a setting; entries' "
                        "method gets -val)")  # fmt: skip
    p.add_argument("--audit-tag", default="",
                   help="name of a re-audit with other audit options (entries' method gets -TAG), so that the "
                        "earlier entries of the same set are kept beside it")  # fmt: skip
    p.add_argument("--audit-class", type=int, default=None,
                   help="re-audit the saved set (implies --reuse-set) on the audited split's images of this class "
                        "only; entries' method gets -classC, the set's folder is unchanged")  # fmt: skip
    p.add_argument("--subset", type=int, default=1000, help="stratified test images (0: the full test set)")
    p.add_argument("--epochs", type=int, default=ImageTrainConfig.epochs, help="evaluation training epochs")
    p.add_argument("--pgd-steps", type=int, default=AttackConfig.pgd_steps)
    p.add_argument("--autoattack-steps", type=_at_least_one, default=AUTOATTACK_STEPS,
                   help=f"iterations of AutoAttack's APGD-CE, APGD-T and FAB stages (default {AUTOATTACK_STEPS}: "
                        "torchattacks' count, the recorded protocol; Croce & Hein's standard and the library's "
                        f"default is 100); other than {AUTOATTACK_STEPS}, entries' method gets -aaN")  # fmt: skip
    p.add_argument("--fold-bn", type=_flag, default=AttackConfig.fold_bn,
                   help="attack a copy of each model with batch norm folded into its convolutions")  # fmt: skip
    p.add_argument("--forward-chunk", type=int, default=AttackConfig.forward_chunk,
                   help="images per forward pass of the attacked model (0: all at once)")  # fmt: skip
    p.add_argument("--inference-jit", type=_flag, default=AttackConfig.inference_jit,
                   help="grad-free forwards of the attacked model (Square's queries) through a frozen TorchScript "
                        "copy; false: eager, as before sitting 23")  # fmt: skip
    p.add_argument("--cascade-eps", type=_flag, default=AttackConfig.cascade_eps,
                   help="attack at each ε only the images that survived the smaller ones")  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--progress", action="store_true",
                   help="the engine's progress bar on stderr (a capped run then shows how far it got)")
    p.add_argument("--root", default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--workers", type=int, default=AuditConfig.workers,
                   help="processes the audit's attacks are spread over, by image (1 torch thread each)")  # fmt: skip
    p.add_argument("--reuse-set", action="store_true",
                   help="audit the set this command saved before (same key and folder) instead of condensing it "
                        "again: a timed run is then the audit alone")  # fmt: skip
    p.add_argument(
        "--results", type=Path, default=RESULTS, help="results JSON (default: benchmarks/results/robust.json)"
    )
    p.add_argument("--teachers-only", action="store_true", help="only attack the (existing) experts' final weights")
    p.add_argument("--table", action="store_true", help="print the Markdown table of the results and exit")
    p.add_argument("--direction-stats", action="store_true",
                   help="measure how far the reference probe direction is from g/|g| on the plain SRe2L teacher "
                        "(--model, --teacher-*) and exit")  # fmt: skip
    p.add_argument("--time-square", action="store_true",
                   help="time one Square iteration with the attacked model NCHW, channels-last, and channels-last "
                        "with folded batch norm and --forward-chunk, and exit")  # fmt: skip
    p.add_argument("--timing-images", type=int, default=500, help="--time-square: images per batch")
    p.add_argument("--timing-queries", type=int, default=100, help="--time-square: Square iterations per timing")
    p.add_argument("--timing-reps", type=int, default=3, help="--time-square: interleaved repetitions")
    p.add_argument("--timing-teacher", default=None,
                   help="--time-square: a trained SRe2L teacher folder, attacked on real test images")  # fmt: skip
    p.add_argument("--timing-layouts", default="",
                   help=f"--time-square: comma-separated layouts (default: {','.join(SQUARE_LAYOUTS)})")  # fmt: skip
    p.add_argument("--timing-tag", default="",
                   help="--time-square: the entry's key ends in -TAG (an earlier timing is kept)")  # fmt: skip
    ns = p.parse_args(argv)
    if ns.table:
        print(table(ns.results))
        return 0
    if ns.time_square:
        time_square(ns)
        return 0
    if ns.direction_stats:
        direction_stats(ns)
        return 0
    if ns.select:
        if not uses_teacher(ns.base):
            raise ValueError(f"--select chooses a teacher's λ and h; base {ns.base!r} has no SRe2L teacher")
        select_teacher(ns)
        return 0
    run(ns)
    return 0


if __name__ == "__main__":
    sys.exit(main())
