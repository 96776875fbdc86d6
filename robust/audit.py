"""Adversarial robustness audit of a condensed image set, from any domain.

Protocol: train ``runs`` fresh evaluation models of each architecture on the condensed set (the shared
image routine :func:`~condensekit.core.vision.train.fit_images`, with the artifact's learned learning
rate when it has one), then attack each on a fixed, stratified subset of the real test split (1,000
images by default; ``subset=None`` takes the full test set) with every attack at every ε, in [0, 1]
pixel space (:mod:`condensekit.robust.attacks`). Reported per model, attack and ε: mean ± std over the
runs of the robust accuracy (%), with ``clean`` rows for the unattacked accuracy on the same images.
Only the images a model classifies correctly clean are attacked, and by default each attack cascades
over the ε grid (an image broken at a smaller ε counts as broken at every larger one and is not
attacked again; ``AttackConfig.cascade_eps``), so robust accuracy falls with ε by construction.
With ``AuditConfig.workers`` > 1 (CPU) the models are trained first and the attacks then run in worker
processes, each (model, attack, ε) step's images split between them (:mod:`condensekit.robust.spread`,
which says which figures equal the 1-worker ones: FGSM and PGD do; AutoAttack's random draws may differ).

The result is a table, a JSON file and a PNG plot of accuracy against ε; :func:`audit_artifact` also
records it in the artifact's card (``audits``). Everything is computed before anything is written, and
each file is written atomically: the PNG first, then the JSON and the card, both of which record the PNG's
sha256 (``png_sha256``). An audit killed midway leaves whole files, never half of one, and a PNG newer than
its JSON (killed between the two) is told by its digest: ``sha256sum <out>.png`` against the JSON's
``png_sha256``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import os
import resource
import statistics
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from condensekit.core.artifact import update_card
from condensekit.core.atomic import check_file_target, write_bytes, write_json
from condensekit.core.config import check_field_types
from condensekit.core.engine import peak_memory_mb, reset_peak_memory
from condensekit.core.registry import check_choice, check_int
from condensekit.core.report import format_table
from condensekit.core.seed import resolve_device, seed_everything
from condensekit.core.vision import (
    IMAGE_MODELS,
    CondensedImages,
    ImageSplits,
    ImageTrainConfig,
    accuracy_metric,
    build_image_model,
    distillation_loss,
    fit_images,
    predict,
)
from condensekit.core.vision.augment import DSA
from condensekit.core.vision.imageset import check_source
from condensekit.core.vision.splits import check_image_splits
from condensekit.core.vision.train import check_image_set
from condensekit.robust.attacks import (
    ATTACKS,
    AttackConfig,
    PixelSpace,
    autoattack_description,
    check_l2_eps,
    l2_only,
    name_list,
    parse_attacks,
    parse_eps_list,
    robust_accuracy,
    stratified_subset,
)
from condensekit.robust.relabel import OnlineRelabel
from condensekit.robust.spread import spread_robust_accuracy
from condensekit.robust.sre2l import load_teacher

__all__ = [
    "AUDIT_KIND",
    "AuditConfig",
    "AuditResult",
    "audit_artifact",
    "audit_files",
    "audit_images",
    "plot_audit",
    "record_audit",
]

AUDIT_KIND = "adversarial_robustness"

RELABEL_MODES = ("stored", "online")


@dataclass(frozen=True)
class AuditConfig:
    """What an audit runs (defaults: the issue's PneumoniaMNIST grid, DD-RobustBench's attacks).

    Args:
        attacks: names from :data:`~condensekit.robust.attacks.ATTACKS`.
        eps: ε values as written (``"2/255"``, ``"0.1"``), in the attack's norm, in (0, 1]; a grid of L2
            attacks only (``pgdl2``, ``cw``) may go up to the images' L2 diameter √(C·H·W).
        models: evaluation architectures (:func:`~condensekit.core.vision.build_image_model` names).
        runs: models trained per architecture (seeds ``seed``, ``seed + 1``...).
        subset: stratified test images attacked; ``None``: the full test set.
        seed: seeds training, the subset and the attacks' random starts.
        train: how each evaluation model is trained on the condensed set.
        attack: the attacks' hyper-parameters.
        relabel: ``"stored"`` trains on the set's labels (hard, or one stored soft label per image);
            ``"online"`` (a relabelled set with its teacher: SRe2L / GUARD's evaluation) trains each model
            with the teacher's soft labels of every DSA-augmented batch
            (:class:`~condensekit.robust.relabel.OnlineRelabel`).
        workers: processes the attacks run in (CPU). 1: in this process, model after model. More: every model
            is trained here first, then each (model, attack, ε) step's images are split over ``workers``
            spawned processes of 1 torch thread (:mod:`condensekit.robust.spread`): FGSM and PGD give the
            1-worker figures; AutoAttack's and PGD-L2's random draws depend on the split, and so does CW's
            (torchattacks stops its Adam steps early per batch), so their figures are deterministic for a given
            worker count but not always equal to the 1-worker ones.
    """

    attacks: tuple[str, ...] = ("fgsm", "pgd", "autoattack")
    eps: tuple[str, ...] = ("1/255", "2/255", "4/255", "8/255")
    models: tuple[str, ...] = ("convnet",)
    runs: int = 3
    subset: int | None = 1000
    seed: int = 0
    train: ImageTrainConfig = field(default_factory=ImageTrainConfig)
    attack: AttackConfig = field(default_factory=AttackConfig)
    relabel: str = "stored"
    workers: int = field(
        default=1, metadata={"help": "processes the attacks are spread over, image by image (1: in this process)"}
    )

    def __post_init__(self) -> None:
        check_field_types(self)
        check_choice("relabel", self.relabel, RELABEL_MODES)
        check_int("workers", self.workers, 1)  # 1: no worker processes
        object.__setattr__(self, "attacks", tuple(parse_attacks(self.attacks)))
        grid = parse_eps_list(self.eps, l2=l2_only(self.attacks))  # L2 alone: checked on the images' size
        object.__setattr__(self, "eps", tuple(t for t, _ in grid))
        # a model named twice would train the same seeds twice and report them as twice the runs
        object.__setattr__(self, "models", name_list("models", self.models))
        check_int("runs", self.runs, 1)
        if self.subset is not None:  # None: the full test set
            check_int("subset", self.subset, 1)


@dataclass
class AuditResult:
    """Rows ``{model, attack, eps, eps_value, mean, std, runs}`` (``attack == "clean"`` with ``eps == "0"``
    for clean accuracy), plus the setting, sanity checks and cost."""

    rows: list[dict[str, Any]]
    dataset: str
    subset: str
    test_images: int
    config: dict[str, Any]
    sanity: dict[str, Any]
    cost: dict[str, Any]

    def table(self) -> str:
        """A Markdown table: one line per row (model, attack, ε, accuracy mean ± std in %, runs)."""
        body = [
            [r["model"], r["attack"], r["eps"], f"{r['mean']:.2f} ± {r['std']:.2f}", len(r["runs"])] for r in self.rows
        ]
        return format_table(["model", "attack", "ε", "accuracy (%)", "runs"], body)

    def to_dict(self) -> dict[str, Any]:
        """The JSON record (``kind``, dataset, subset, rows, setting, sanity, cost, ``created``) the audit writes
        and appends to the card's ``audits``."""
        return {
            "kind": AUDIT_KIND,
            "dataset": self.dataset,
            "subset": self.subset,
            "test_images": self.test_images,
            "config": self.config,
            "rows": self.rows,
            "sanity": self.sanity,
            "cost": self.cost,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }


def _fit_check(name: str, data: ImageSplits, x: Tensor, device: torch.device) -> nn.Module:
    shape = list(x.shape[1:])
    if shape != [data.channels, *data.im_size]:
        raise ValueError(
            f"the condensed images are {shape} (C, H, W) but the real {data.name!r} test images are "
            f"{[data.channels, *data.im_size]}; audit the artifact against the data it was condensed from"
        )
    IMAGE_MODELS.get(name)  # an unknown name lists the valid ones (it is not a model that does not fit)
    try:
        net = build_image_model(name, channels=data.channels, num_classes=data.num_classes, im_size=data.im_size)
        net = net.to(device)
        with torch.no_grad():
            out = net.eval()(x[:1])
    except (RuntimeError, ValueError) as err:
        raise ValueError(
            f"evaluation model {name!r} does not fit the artifact's {'×'.join(map(str, shape))} images: {err}. "
            "Choose another model (--models)"
        ) from err
    if tuple(out.shape) != (1, data.num_classes):
        raise ValueError(
            f"evaluation model {name!r} returns {tuple(out.shape)} logits, expected (1, {data.num_classes})"
        )
    return net


def _summary(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.pstdev(values) if len(values) > 1 else 0.0)


def _sanity(
    rows: list[dict[str, Any]],
    models: tuple[str, ...],
    attacks: tuple[str, ...],
    *,
    by_construction: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The audit's sanity checks, on the means over the runs.

    1. **Robust accuracy falls (weakly) as ε grows.** A real check only for an attack whose ε were attacked
       independently (``cascade_eps`` off; the graph audit's attacks). For an attack in ``by_construction``
       (name → why) the curve cannot rise whatever the models do: under the ε cascade an image broken at a
       smaller ε counts as broken at every larger one, and a minimum-norm attack (``cw``) runs once and counts
       an image within each ε by its one example's distance. Such a curve is recorded with status
       ``"by construction"``, never as a pass (it is still evaluated: a rise would be a bug, and is an issue).
    2. **AutoAttack is never above PGD** at any ε where both ran: a real check (cascaded or not, the two are
       different attacks), on the means and on every run (row ``runs``, where the rows have them): run ``i`` of
       both rows is the same trained model on the same images, so a run where AutoAttack leaves more images
       standing than PGD fails the check even when the mean over the runs hides it.

    Returns ``{"ok", "issues", "checks", "summary"}``: ``ok`` is false when any check failed; ``checks`` lists
    each ``{"check", "model", "attack", "status", "why"}`` with status ``"passed"``, ``"failed"`` or ``"by
    construction"``; ``summary`` says in one line what was really checked.
    """
    issues: list[str] = []
    checks: list[dict[str, Any]] = []
    fixed = dict(by_construction or {})
    by = {(r["model"], r["attack"], r["eps"]): r["mean"] for r in rows}
    runs = {(r["model"], r["attack"], r["eps"]): r.get("runs") for r in rows}
    for model in models:
        for attack in attacks:
            curve = [(r["eps"], r["mean"]) for r in rows if r["model"] == model and r["attack"] == attack]
            if len(curve) < 2:
                continue
            rises = [
                f"{model} {attack}: accuracy rises from {a0:.2f} at {e0} to {a1:.2f} at {e1}"
                for (e0, a0), (e1, a1) in zip(curve, curve[1:], strict=False)
                if a1 > a0 + 1e-9
            ]
            issues += rises
            status = "failed" if rises else "by construction" if attack in fixed else "passed"
            checks.append({"check": "falls with eps", "model": model, "attack": attack, "status": status,
                           "why": fixed.get(attack)})  # fmt: skip
        if "autoattack" in attacks and "pgd" in attacks:
            for r in rows:
                if r["model"] == model and r["attack"] == "autoattack":
                    pgd = by[(model, "pgd", r["eps"])]
                    found = []
                    if r["mean"] > pgd + 1e-9:
                        found.append(f"{model} at {r['eps']}: AutoAttack {r['mean']:.2f} > PGD {pgd:.2f}")
                    pgd_runs = runs.get((model, "pgd", r["eps"])) or []
                    found += [
                        f"{model} at {r['eps']}, run {i + 1}: AutoAttack {a:.2f} > PGD {b:.2f}"
                        for i, (a, b) in enumerate(zip(r.get("runs") or [], pgd_runs, strict=False))
                        if a > b + 1e-9
                    ]
                    issues += found
                    status = "failed" if found else "passed"
                    checks.append({"check": f"autoattack <= pgd at {r['eps']}", "model": model,
                                   "attack": "autoattack", "status": status, "why": None})  # fmt: skip
    return {"ok": not issues, "issues": issues, "checks": checks, "summary": _sanity_summary(checks)}


def _sanity_summary(checks: list[dict[str, Any]]) -> str:
    """One line: which checks were real (passed / failed) and which held by construction."""
    parts = []
    aa = [c for c in checks if c["check"].startswith("autoattack")]
    if aa:
        bad = sum(c["status"] == "failed" for c in aa)
        parts.append(f"AutoAttack <= PGD: {'failed' if bad else 'passed'} ({len(aa) - bad} of {len(aa)} model x eps)")
    falls = [c for c in checks if c["check"] == "falls with eps"]
    for status in ("failed", "passed", "by construction"):
        these = [c for c in falls if c["status"] == status]
        if these:
            names = ", ".join(dict.fromkeys(c["attack"] for c in these))
            why = "; ".join(dict.fromkeys(c["why"] for c in these if c["why"]))
            parts.append(f"accuracy falls with eps: {status} for {names}" + (f" ({why})" if why else ""))
    return "; ".join(parts) if parts else "nothing to check (one eps, no AutoAttack beside PGD)"


def eps_monotone(config: AuditConfig) -> dict[str, str]:
    """The attacks of an image audit whose accuracy cannot rise with ε (see :func:`_sanity`), with why."""
    out = {}
    for attack in config.attacks:
        if attack == "clean":
            continue
        if ATTACKS.get(attack).minimum_norm:
            out[attack] = "minimum-norm: one example per image, counted within each eps"
        elif config.attack.cascade_eps:
            out[attack] = "eps cascade: each eps attacks only the images the smaller eps left standing"
    return out


def audit_images(
    x: Tensor,
    y: Tensor,
    data: ImageSplits,
    *,
    config: AuditConfig = AuditConfig(),
    lr: float | None = None,
    temperature: float | None = None,
    teacher: nn.Module | None = None,
    device: str = "auto",
) -> AuditResult:
    """Audit the condensed set ``(x, y)`` (normalised like ``data``) against ``data``'s real test split.

    ``y`` holds N class indices, or N×K soft labels (a relabelled set, SRe2L): the evaluation models then
    train on them with the distillation loss at ``temperature`` (the set's; 1 when not given). With
    ``config.relabel == "online"`` they learn ``teacher``'s soft labels of each augmented batch instead.

    The set is checked first (:func:`~condensekit.core.vision.train.check_image_set`): float class labels were cast
    to int silently and NaN images were trained and attacked to a table of figures."""
    check_image_set(x, y, data)
    soft = y.dim() == 2 and not data.multilabel and y.shape[1] == data.num_classes and y.is_floating_point()
    if data.multilabel or not (y.dim() == 1 or soft):
        raise ValueError(
            f"the audit attacks single-label classifiers trained on N labels or N×{data.num_classes} soft labels; "
            f"{data.name!r} is {data.task!r} with labels {tuple(y.shape)}"
        )
    if temperature is not None and not soft:
        raise ValueError(f"Invalid value {temperature!r} for argument temperature: the set has hard labels")
    loss_fn = distillation_loss(1.0 if temperature is None else temperature) if soft else None
    if config.relabel == "online" and teacher is None:
        raise ValueError(
            "relabel='online' trains the evaluation models on a teacher's labels; pass teacher= (an SRe2L "
            "artifact's teacher), or use relabel='stored'"
        )
    dev = resolve_device(device)
    if config.workers > 1 and dev.type != "cpu":
        raise ValueError(
            f"Invalid value {config.workers!r} for argument workers on device {str(dev)!r}: worker processes "
            "spread the attacks over CPU cores; on an accelerator use workers=1"
        )
    reset_peak_memory(dev)
    t0, c0, k0 = time.perf_counter(), time.process_time(), _children_cpu()
    x, y = x.to(dev), (y.to(dev).float() if soft else y.to(dev).long())
    idx = stratified_subset(data.y_test, config.subset, seed=config.seed)
    x_test = data.denormalise(data.x_test[idx].to(dev)).clamp_(0, 1)
    y_test = data.y_test[idx].to(dev).reshape(-1).long()
    val_x, val_y = data.x_val.to(dev), data.y_val.to(dev)
    grid = parse_eps_list(config.eps, l2=l2_only(config.attacks))
    if l2_only(config.attacks):
        check_l2_eps(grid, (data.channels, *data.im_size))
    per: dict[tuple[str, str, str], list[float]] = {}
    attack_cpu: dict[str, float] = {}
    stages: dict[str, dict[str, float]] = {}
    trained: list[tuple[str, int, nn.Module, Tensor]] = []
    for name in config.models:  # every model, before any is trained: a bad last one must not cost the others' runs
        _fit_check(name, data, x, dev)
    for name in config.models:
        for run in range(config.runs):
            seed = config.seed + run
            seed_everything(seed)
            net = build_image_model(name, channels=data.channels, num_classes=data.num_classes, im_size=data.im_size)
            net = net.to(dev)
            gen = torch.Generator(device=dev).manual_seed(seed)
            extra: dict[str, Any] = {"loss_fn": loss_fn} if loss_fn else {}
            if config.relabel == "online":
                online = OnlineRelabel(
                    teacher.to(dev), temperature=1.0 if temperature is None else temperature,  # type: ignore[union-attr]
                    augment=DSA(generator=torch.Generator(device=dev).manual_seed(seed + 7919)),
                )  # fmt: skip
                extra = {"loss_fn": online.loss, "augment": online.augment}
            fit_images(
                net, x, y, config=config.train, lr=lr, **extra, generator=gen,
                validate=(lambda m: accuracy_metric(predict(m, val_x), val_y)) if len(val_y) else None,
            )  # fmt: skip
            pixel = PixelSpace.for_attack(net, data.mean, data.std, config.attack)
            logits = predict(pixel, x_test)
            correct = logits.argmax(-1) == y_test  # computed once, shared by every attack
            per.setdefault((name, "clean", "0"), []).append(accuracy_metric(logits, y_test))
            if config.workers > 1:  # attacked below, all models at once, in worker processes
                trained.append((name, seed, pixel, correct))
                continue
            for attack in config.attacks:
                a0 = time.process_time()
                acc = robust_accuracy(
                    pixel, x_test, y_test, attack, [v for _, v in grid],
                    num_classes=data.num_classes, seed=seed, config=config.attack, clean=correct,
                    stages=stages.setdefault(attack, {}) if attack == "autoattack" else None,
                )  # fmt: skip
                attack_cpu[attack] = attack_cpu.get(attack, 0.0) + time.process_time() - a0
                for text, value in grid:
                    per.setdefault((name, attack, text), []).append(acc[value])
    if trained:
        per = _spread(trained, per, x_test, y_test, grid, data.num_classes, config, attack_cpu, stages)
    rows = []
    for (model, attack, eps), values in per.items():
        mean, std = _summary(values)
        eps_value = 0.0 if attack == "clean" else dict(grid)[eps]
        norm = "-" if attack == "clean" else ATTACKS.get(attack).norm
        rows.append(
            {"model": model, "attack": attack, "norm": norm, "eps": eps, "eps_value": eps_value,
             "mean": round(mean, 4), "std": round(std, 4), "runs": [round(v, 4) for v in values]}
        )  # fmt: skip
    own, children = time.process_time() - c0, _children_cpu() - k0
    cost = {
        "wall_time_s": round(time.perf_counter() - t0, 2),
        "cpu_time_s": round(own + children, 2),
        "workers": config.workers,
        "attack_cpu_time_s": {k: round(v, 2) for k, v in attack_cpu.items()},
        "attack_stage_cpu_time_s": {a: {k: round(v, 2) for k, v in st.items()} for a, st in stages.items()},
        "peak_memory_mb": round(peak_memory_mb(dev), 1),
        "device": str(dev),
        "torch_threads": torch.get_num_threads(),
    }
    if config.workers > 1:
        cost |= {"cpu_time_main_s": round(own, 2), "cpu_time_workers_s": round(children, 2),
                 "worker_peak_memory_mb": round(_children_peak_mb(), 1), "worker_torch_threads": 1}  # fmt: skip
    cfg = asdict(config)
    if "autoattack" in config.attacks:
        cfg["autoattack_ran"] = autoattack_description(data.num_classes, config.attack)
    return AuditResult(
        rows=rows,
        dataset=data.name,
        subset="full" if len(idx) == len(data.y_test) else f"stratified {len(idx)} (seed {config.seed})",
        test_images=len(idx),
        config=cfg,
        sanity=_sanity(rows, config.models, config.attacks, by_construction=eps_monotone(config)),
        cost=cost,
    )


def _spread(
    trained: list[tuple[str, int, nn.Module, Tensor]], clean: dict[tuple[str, str, str], list[float]],
    x_test: Tensor, y_test: Tensor, grid: list[tuple[str, float]], num_classes: int, config: AuditConfig,
    attack_cpu: dict[str, float], stages: dict[str, dict[str, float]],
) -> dict[tuple[str, str, str], list[float]]:  # fmt: skip
    """Attack the trained models in worker processes; the rows come back in the 1-worker order (per model:
    clean, then each attack's ε), so the table and JSON of any worker count list the same keys."""
    acc, cpu, st = spread_robust_accuracy(
        [p for _, _, p, _ in trained], x_test, y_test, config.attacks, [v for _, v in grid],
        num_classes=num_classes, seeds=[s for _, s, _, _ in trained], cleans=[c for *_, c in trained],
        config=config.attack, workers=config.workers,
    )  # fmt: skip
    attack_cpu.update(cpu)
    stages.update({a: v for a, v in st.items()})
    per: dict[tuple[str, str, str], list[float]] = {}
    runs: dict[str, int] = {}
    for i, (name, *_rest) in enumerate(trained):
        k = runs.get(name, 0)
        runs[name] = k + 1
        per.setdefault((name, "clean", "0"), []).append(clean[(name, "clean", "0")][k])
        for attack in config.attacks:
            for text, value in grid:
                per.setdefault((name, attack, text), []).append(acc[i][attack][value])
    return per


def _children_cpu() -> float:
    """User + system CPU seconds of this process's finished (waited-for) child processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _children_peak_mb() -> float:
    """Peak resident memory of the largest finished child process (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def plot_audit(result: AuditResult, path: str | os.PathLike[str], *, title: str = "") -> Path:
    """A PNG of accuracy against ε (one panel per model, one line per attack, clean dashed), atomically."""
    target = Path(path)
    write_bytes(target, _plot_png(result, title=title))
    return target


def _plot_png(result: AuditResult, *, title: str = "") -> bytes:
    """The bytes of :func:`plot_audit`'s PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(r["model"] for r in result.rows))
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 3.8), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        rows = [r for r in result.rows if r["model"] == model]
        attacks = list(dict.fromkeys(r["attack"] for r in rows if r["attack"] != "clean"))
        labels = list(dict.fromkeys(r["eps"] for r in rows if r["attack"] != "clean"))
        for attack in attacks:
            pts = [r for r in rows if r["attack"] == attack]
            ax.errorbar(
                [labels.index(r["eps"]) for r in pts], [r["mean"] for r in pts], yerr=[r["std"] for r in pts],
                marker="o", capsize=3, label=attack,
            )  # fmt: skip
        clean = next((r for r in rows if r["attack"] == "clean"), None)
        if clean is not None:
            ax.axhline(clean["mean"], linestyle="--", color="grey", label=f"clean {clean['mean']:.1f}")
        ax.set_xticks(range(len(labels)), labels)
        ax.set_xlabel("ε")
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(0, 100)
        ax.set_title(f"{title} {model}".strip())
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def audit_artifact(
    path: str | os.PathLike[str],
    *,
    config: AuditConfig = AuditConfig(),
    root: str | os.PathLike[str] | None = None,
    device: str = "auto",
    out: str | os.PathLike[str] | None = None,
    data: ImageSplits | None = None,
) -> tuple[AuditResult, dict[str, str]]:
    """Audit the image artifact at ``path`` (any domain) and record it.

    Writes ``<out>.json`` and ``<out>.png`` (default ``out``: ``<path>-robust-audit``, beside the folder) and
    appends the audit (table, setting, sanity, cost, file names) to the card's ``audits``. ``data``
    overrides the real data named by the card (tests, or a custom root layout).
    """
    resolve_device(device)  # before the data loads and the models train
    if data is not None:
        check_image_splits(data)
    cond = CondensedImages.load(path, purpose="`robust audit`")
    audit_files(path, out)  # a stem that cannot be written is refused before the audit, not after
    folder = _teacher_folder(cond.card) if config.relabel == "online" else None  # refused before any data loads
    if data is None:  # loaded and checked against the card by core's loader
        real = cond.source_data(root=root, artifact=path)
    else:  # given data too: other images or another split than the set's
        check_source(cond.card, data, artifact=path)
        real = data
    src = cond.card.get("source") or {}
    if "mean" in src and "std" in src:  # trained and attacked beside the set's images, in the set's normalisation
        real = real.renormalised(tuple(src["mean"]), tuple(src["std"]))
    lr = None if cond.lr is None else float(cond.lr)
    temperature = None if cond.soft is None else cond.temperature
    teacher = load_teacher(folder, real)[0] if folder is not None else None
    result = audit_images(
        cond.x, cond.targets(), real, config=config, lr=lr, temperature=temperature, teacher=teacher, device=device
    )
    return result, record_audit(path, result, method=cond.card.get("method"), out=out)


def _teacher_folder(card: dict[str, Any]) -> str:
    """The teacher folder named by a relabelled artifact's card (``config.teacher.folder``, SRe2L / GUARD)."""
    record = (card.get("config") or {}).get("teacher")
    folder = record.get("folder") if isinstance(record, dict) else None
    if not folder:
        raise ValueError(
            f"relabel='online' needs a relabelled artifact whose card names its teacher (config.teacher.folder); "
            f"this card's method is {card.get('method')!r}. Use relabel='stored'"
        )
    return str(folder)


def audit_files(path: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """The JSON and PNG an audit of the artifact at ``path`` writes: ``<out>.json``, ``<out>.png``, by default
    ``<path>-robust-audit.*`` beside the folder (``.`` or ``..``: the folder it names, resolved)."""
    folder = Path(path)
    if folder.name in ("", ".."):  # `robust audit .` from inside the artifact: Path(".").name is empty
        folder = folder.resolve()
    stem = Path(out) if out is not None else folder.with_name(folder.name + "-robust-audit")
    # append the suffixes (``with_suffix`` would cut a name such as ``...-lr0.01-...`` at its dot)
    name = stem.name[: -len(stem.suffix)] if stem.suffix.lower() in (".json", ".png") else stem.name
    if not name:
        raise ValueError(f"Invalid value {str(out)!r} for argument out. Valid values are file stems, e.g. audit")
    files = {"json": str(stem.with_name(name + ".json")), "png": str(stem.with_name(name + ".png"))}
    for file in files.values():  # a folder of that name, or a file where a folder of the stem's path should be
        check_file_target(file, argument="out")
    return files


def record_audit(
    path: str | os.PathLike[str], result: AuditResult, *, method: Any, out: str | os.PathLike[str] | None = None
) -> dict[str, str]:
    """Write ``<out>.png`` and then ``<out>.json`` (default ``<path>-robust-audit``), each atomically, then
    append the audit to the card of the artifact at ``path``; returns the two file names. Nothing is written
    until the audit is complete. The JSON and the card record the PNG's sha256 (``png_sha256``), so a PNG
    left from another audit (a kill between the PNG and the JSON) does not pass for this one's."""
    files = audit_files(path, out)
    png = _plot_png(result, title=f"{result.dataset} {method or ''}")
    digest = hashlib.sha256(png).hexdigest()
    record = result.to_dict() | {"artifact": str(path), "method": method, "files": files, "png_sha256": digest}
    write_bytes(files["png"], png)
    write_json(files["json"], record)
    update_card(path, audits=record)
    return files
