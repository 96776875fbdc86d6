"""``condensekit medical experts | condense | evaluate | show | methods``."""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any

from condensekit.core.artifact import check_artifact_target, check_evaluation_targets, evaluation_json, update_card
from condensekit.core.atomic import check_file_target, check_writable, write_bytes, write_json
from condensekit.core.cli import add_method_help
from condensekit.core.config import add_dataclass_args, method_flags
from condensekit.core.registry import check_int
from condensekit.core.report import format_table
from condensekit.core.seed import resolve_device
from condensekit.core.vision.experts import ExpertBuffer, ExpertConfig, generate_experts
from condensekit.core.vision.imageset import CondensedImages, check_source
from condensekit.core.vision.methods import IMAGE_METHODS
from condensekit.core.vision.models import IMAGE_MODELS
from condensekit.core.vision.train import distillation_loss
from condensekit.medical.condense import DOMAIN, condense_medical, medical_config, needs_experts
from condensekit.medical.data import FLAGS_2D, SIZES, load_medmnist
from condensekit.medical.evaluate import evaluate_medical, load_medmnist_set, summaries_to_dict
from condensekit.medical.profiles import PROFILES

# the figures of trained-together students against one at a time: one text for `condense` and `evaluate`
_BATCHED = ("the one-at-a-time runs up to float rounding, which long training amplifies (one run of five moved 0.051 "
            "test ACC after 300 epochs: condensekit.core.vision.batched)")  # fmt: skip


def register(sub: argparse._SubParsersAction) -> None:
    med = sub.add_parser("medical", help="MedMNIST condensation (PTM, MTT, DM, DC, random real)")
    verbs = med.add_subparsers(dest="verb", metavar="VERB")

    x = verbs.add_parser(
        "experts",
        help="train (or finish) an expert-trajectory buffer",
        description="ExpertConfig's defaults below are the paper's; --profile replaces some of them (cpu: 10 experts "
        "x 5 epochs, fewer when experts x epochs x training images would pass the profile's budget (BreastMNIST: "
        "7 x 15, PneumoniaMNIST: 2 x 5); every profile shrinks the batch of a "
        "small set so that an epoch has enough SGD steps), and a flag given here wins. The buffer's card and the "
        "JSON record the values used.",
    )
    _data_args(x)
    _common(x, seed=False)
    x.add_argument("--out", default=None, help="buffer folder (default: runs/experts/FLAG-MODEL-PROFILE)")
    x.add_argument("--workers", type=int, default=1, help="processes training experts in parallel")
    add_dataclass_args(x, ExpertConfig)
    x.set_defaults(func=_experts)

    c = verbs.add_parser(
        "condense",
        help="condense a MedMNIST split and write an artifact",
        description="Method-specific flags (e.g. --syn-steps) appear with --method X --help.",
        add_help=False,
    )
    add_method_help(
        c, IMAGE_METHODS, note=" (--profile replaces some of these defaults; the card records the values used)"
    )
    _data_args(c)
    c.add_argument("--method", required=True, help=f"one of {{{', '.join(IMAGE_METHODS.names())}}}")
    c.add_argument("--ipc", type=int, required=True, help="synthetic images per class")
    c.add_argument("--experts", default=None, help="expert buffer folder (trajectory methods: mtt, ptm)")
    c.add_argument("--checkpoint", default=None, help="checkpoint file (resumes when it exists)")
    c.add_argument("--checkpoint-every", type=int, default=10, help="write the checkpoint every k iterations")
    c.add_argument("--out", default=None, help="artifact folder (default: artifacts/FLAG-METHOD-ipcN)")
    c.add_argument("--eval-runs", type=int, default=0, help="also evaluate with ConvNet for this many runs")
    c.add_argument("--select-every", type=int, default=None,
                   help="keep the set with the best validation ACC, checked every k iterations "
                        "(default: the profile's; 0: keep the last set)")  # fmt: skip
    c.add_argument("--batched", action="store_true",
                   help="train the students of each validation check (and of --eval-runs) together (vmapped, for a "
                        f"GPU): {_BATCHED}; the card records it (a resumed --checkpoint keeps the checks it "
                        "already scored, whichever way they were trained)")  # fmt: skip
    _common(c)
    c.set_defaults(func=_condense, accepts_extra=True)

    e = verbs.add_parser("evaluate", help="train models on a condensed set, test ACC/AUC on the real test split")
    e.add_argument("artifact")
    e.add_argument("--models", default="convnet,resnet18")
    e.add_argument("--runs", type=int, default=5)
    e.add_argument("--epochs", type=int, default=None, help="training epochs (default: the profile's)")
    e.add_argument("--root", default=None, help="data root (default: $CONDENSEKIT_DATA, else ~/.cache/condensekit)")
    e.add_argument("--download", action="store_true", help="fetch the artifact's data with medmnist's downloader")
    e.add_argument(
        "--batched", action="store_true", help=f"train each model's runs together (vmapped, for a GPU): {_BATCHED}"
    )
    _common(e)
    e.set_defaults(func=_evaluate)

    s = verbs.add_parser("show", help="print a condensed set's card; --png writes a grid per class")
    s.add_argument("artifact")
    s.add_argument("--png", default=None, help="write the images, one row per class, to this PNG")
    s.set_defaults(func=_show)

    m = verbs.add_parser("methods", help="list the image methods")
    m.set_defaults(
        func=lambda ns: print(
            format_table(["method", "what"], [[n, IMAGE_METHODS.get(n).description] for n in IMAGE_METHODS.names()])
        )
    )


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--flag", required=True, help=f"MedMNIST 2D flag, one of {{{', '.join(FLAGS_2D)}}}")
    p.add_argument("--size", type=int, default=28, choices=SIZES)
    p.add_argument("--root", default=None, help="data root (default: $CONDENSEKIT_DATA, else ~/.cache/condensekit)")
    p.add_argument("--download", action="store_true", help="fetch a missing file with medmnist's downloader")


def _common(p: argparse.ArgumentParser, *, seed: bool = True) -> None:
    p.add_argument("--profile", default="paper", help=f"one of {{{', '.join(PROFILES.names())}}}")
    if seed:  # `experts` takes --seed from ExpertConfig
        p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    p.add_argument("--json", default=None, help="where to write the JSON result")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _given(ns: argparse.Namespace, cls: type) -> dict[str, Any]:
    return {f.name: getattr(ns, f.name) for f in dataclasses.fields(cls) if hasattr(ns, f.name)}


def _check_buffer_target(out: Path) -> None:
    """Refuse an expert-buffer folder that is a file or lies under one (it failed later as '[Errno 20] Not a
    directory: OUT/curvature.json'), or that cannot be written (the experts go into it: an existing folder is tried
    itself, a new one its nearest existing folder)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"Invalid value {str(out)!r} for argument --out: it is a file; an expert buffer is a folder")
    check_writable(out, argument="--out", inside=True)


def _experts(ns: argparse.Namespace) -> int:
    if ns.out:  # before the data is read (core's main has checked a given --json)
        _check_buffer_target(Path(ns.out))
    data = load_medmnist(ns.flag, ns.root, size=ns.size, download=ns.download).to(resolve_device(ns.device))
    profile = PROFILES.get(ns.profile)
    cfg = profile.expert_config(data, **_given(ns, ExpertConfig))
    out = Path(ns.out or f"runs/experts/{ns.flag}-{cfg.model}-{ns.profile}")
    if not ns.out:  # a given --out was checked before the data was read
        _check_buffer_target(out)
    if not ns.json:
        check_file_target(str(out) + ".json", argument="--json")
    t0 = time.perf_counter()
    buf = generate_experts(data, out, cfg, workers=ns.workers)
    elapsed = time.perf_counter() - t0
    print(
        f"{len(buf.completed())} experts × {cfg.epochs} epochs of {cfg.model} on {ns.flag} in {out} ({elapsed:.0f} s)"
    )
    write_json(ns.json or str(out) + ".json", {"buffer": str(out), "config": dataclasses.asdict(cfg),
                                                "time_s": round(elapsed, 1)})  # fmt: skip
    return 0


def _method_overrides(ns: argparse.Namespace) -> dict[str, Any]:
    prog = f"condensekit medical condense --method {ns.method}"
    config = IMAGE_METHODS.get(ns.method).config
    # a typo of the verb's own option (--ipcs) reaches the method's flags too: its error lists the verb's options
    return method_flags(config, ns, prog=prog, owner=f"method {ns.method!r}")


def _condense(ns: argparse.Namespace) -> int:
    check_int("eval_runs", ns.eval_runs, 0)  # before the condensation, not after it
    check_int("checkpoint_every", ns.checkpoint_every, 0)  # and these before the data is read (224×224: gigabytes)
    if ns.select_every is not None:
        check_int("select_every", ns.select_every, 0)
    out = Path(ns.out or f"artifacts/{ns.flag}-{ns.method}-ipc{ns.ipc}")
    # before condensing (save_artifact refuses it too, after the work): a file, a folder that is not an artifact, a
    # folder that cannot be written; the same for the JSON and the checkpoint
    check_artifact_target(out, argument="--out")
    if not ns.json:  # core's main has checked a given one
        check_file_target(str(out) + ".json", argument="--json")
    if ns.checkpoint:
        check_file_target(ns.checkpoint, argument="--checkpoint")
    overrides = _method_overrides(ns)
    medical_config(ns.method, ns.profile, overrides, ipc=ns.ipc, flag=ns.flag)  # bad flags fail before the data is read
    data = load_medmnist(ns.flag, ns.root, size=ns.size, download=ns.download).to(resolve_device(ns.device))
    buffer = None
    if needs_experts(ns.method):
        if ns.experts is None:
            raise ValueError(
                f"method {ns.method!r} needs --experts FOLDER (make one with `condensekit medical experts`)"
            )
        buffer = ExpertBuffer.open(ns.experts, data=data)
    ci = condense_medical(data, ns.method, ipc=ns.ipc, profile=ns.profile, overrides=overrides, experts=buffer,
                          seed=ns.seed, device=ns.device, checkpoint=ns.checkpoint,
                          checkpoint_every=ns.checkpoint_every, progress=not ns.quiet,
                          select_every=ns.select_every, batched=ns.batched)  # fmt: skip
    summary: dict[str, Any] = {"artifact": str(out), "method": ns.method, "dataset": ns.flag, "ipc": ns.ipc,
                               "profile": ns.profile, "cost": ci.card["cost"]}  # fmt: skip
    ci.save(out)  # before the evaluation: a run stopped while its students train keeps the condensed set
    if ns.eval_runs:
        res = _run_eval(ci, data, ["convnet"], ns.eval_runs, ns.profile, None, ns.seed, ns.batched)
        protocol = {"runs": ns.eval_runs, "profile": ns.profile, "epochs": None, "batched": ns.batched}
        ci.card["metrics"] |= {"test": summaries_to_dict(res), "eval_protocol": protocol}  # as `evaluate` records
        summary |= {"test": ci.card["metrics"]["test"], "eval_protocol": protocol}
        update_card(out, metrics={"test": ci.card["metrics"]["test"], "eval_protocol": protocol})
    cost = ci.card["cost"]
    # s/iter: the condensation steps alone (the engine's sec_per_step); time (s) includes the validation checks,
    # whose students train for the profile's epochs and dominate a short run
    per_step = cost.get("sec_per_step", cost["time_per_step_s"])
    print(format_table(["method", "dataset", "IPC", "images", "time (s)", "s/iter", "peak MB"],
                       [[ns.method, ns.flag, ns.ipc, ci.x.shape[0], cost["wall_time_s"], per_step,
                         cost["peak_memory_mb"]]]))  # fmt: skip
    if ns.eval_runs:
        _print_eval(res)
    write_json(ns.json or str(out) + ".json", summary)
    print(f"artifact: {out}   json: {ns.json or str(out) + '.json'}")
    return 0


def _run_eval(ci: CondensedImages, data: Any, models: list[str], runs: int, profile: str, epochs: int | None,
              seed: int, batched: bool = False) -> dict:  # fmt: skip
    cfg = PROFILES.get(profile).evaluation
    if epochs is not None:
        cfg = dataclasses.replace(cfg, epochs=epochs)
    # a relabelled set (SRe2L, e.g. a robust one) trains on its stored soft labels at its temperature, as it was made
    loss_fn = None if ci.soft is None else distillation_loss(ci.temperature)
    x, y = ci.x.to(data.x_train.device), ci.targets().to(data.x_train.device)
    return evaluate_medical(x, y, data, models=models, runs=runs, seed=seed, config=cfg,
                            lr=None if ci.lr is None else float(ci.lr), batched=batched, loss_fn=loss_fn)  # fmt: skip


def _print_eval(res: dict) -> None:
    rows = [[m, str(r["acc"]), str(r["auc"]), len(r["acc"].values)] for m, r in res.items()]
    print(format_table(["model", "test ACC", "test AUC", "runs"], rows))


def _evaluate(ns: argparse.Namespace) -> int:
    # the flags first: a typo must not wait for the data (ChestMNIST at 224: gigabytes)
    check_int("runs", ns.runs, 1)
    if ns.epochs is not None:
        check_int("epochs", ns.epochs, 1)
    models = IMAGE_MODELS.parse_names(ns.models, "models")  # none: evaluating nothing replaced the card's results
    ci = load_medmnist_set(ns.artifact, purpose="`medical evaluate`")
    check_evaluation_targets(ns.artifact, ns.json)  # the scores go into its card.json
    src = ci.card["source"]
    data = load_medmnist(src["dataset"], ns.root, size=int(src["im_size"][0]), download=ns.download)
    check_source(ci.card, data, artifact=ns.artifact)  # channels, size, classes and split
    if ci.card["domain"] == DOMAIN and (list(data.mean) != list(src["mean"]) or list(data.std) != list(src["std"])):
        # a medical set is normalised with its data's own constants: others mean the file changed
        raise ValueError(f"the data's normalisation {data.mean}/{data.std} differs from the artifact's "
                         f"{src['mean']}/{src['std']}; was the npz replaced?")  # fmt: skip
    # the real data in the set's normalisation (a private set's is fixed public constants: privacy/data.py)
    data = data.renormalised(tuple(src["mean"]), tuple(src["std"])).to(resolve_device(ns.device))
    t0 = time.perf_counter()
    res = _run_eval(ci, data, models, ns.runs, ns.profile, ns.epochs, ns.seed, ns.batched)
    elapsed = time.perf_counter() - t0
    print(f"{ci.card['method']} on {src['dataset']}, {_budget(ci)} ({ns.runs} runs, {elapsed:.0f} s)")
    _print_eval(res)
    protocol = {"runs": ns.runs, "profile": ns.profile, "epochs": ns.epochs, "batched": ns.batched}
    metrics = {"test": summaries_to_dict(res), "eval_protocol": protocol}
    update_card(ns.artifact, metrics=metrics)
    path = evaluation_json(ns.artifact, ns.json)
    write_json(
        path, {"artifact": ns.artifact, "method": ci.card["method"], **metrics, "eval_time_s": round(elapsed, 1)}
    )
    print(f"json: {path}")
    return 0


def _budget(ci: CondensedImages) -> str:
    """``IPC k``, or the image count of a set without one (a DP-MERF generator's samples)."""
    budget = ci.card.get("budget")
    ipc = budget.get("ipc") if isinstance(budget, dict) else None
    return f"IPC {ipc}" if ipc is not None else f"{ci.x.shape[0]} images"


def _show(ns: argparse.Namespace) -> int:
    from condensekit.core.artifact import format_card

    if ns.png:  # before the card is printed: the error came after it
        check_file_target(ns.png, argument="--png")  # a folder, under a file, or in a folder that cannot be written
    ci = CondensedImages.load(ns.artifact, purpose="`medical show`")  # any image set: it only draws it
    print(format_card(ci.card))
    if ns.png:
        save_grid(ci, ns.png)
        print(f"png: {ns.png}")
    return 0


def save_grid(ci: CondensedImages, path: str) -> None:
    """One row per class (multi-label: per first positive label, and a "no finding" row for images with none,
    as the condensation groups them), images denormalised to [0, 1]. Written as PNG to exactly ``path``
    (atomically; a folder is refused)."""
    check_file_target(path, argument="png")
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    src = ci.card["source"]
    mean = torch.tensor(src["mean"]).view(1, -1, 1, 1)
    std = torch.tensor(src["std"]).view(1, -1, 1, 1)
    imgs = (ci.x.detach().cpu().float() * std + mean).clamp(0, 1)
    y = ci.y.cpu()
    none = -1  # the group of multi-label images without a positive label
    groups = torch.where(y.bool().any(1), y.float().argmax(1), none) if y.dim() == 2 else y.long()
    classes = sorted(set(groups.tolist()), key=lambda c: (c == none, c))  # "no finding" last
    per = max(int((groups == c).sum()) for c in classes)
    fig, axes = plt.subplots(len(classes), per, figsize=(1.2 * per, 1.2 * len(classes)), squeeze=False)
    for r, c in enumerate(classes):
        rows = (groups == c).nonzero(as_tuple=True)[0]
        for k in range(per):
            ax = axes[r][k]
            ax.axis("off")
            if k < rows.numel():
                im = imgs[rows[k]]
                grey = im.shape[0] == 1
                ax.imshow((im[0] if grey else im.permute(1, 2, 0)).numpy(), cmap="gray" if grey else None)
        axes[r][0].set_title("no finding" if c == none else f"class {c}", fontsize=7, loc="left")
    fig.suptitle(f"{src['dataset']} · {ci.card['method']} · {_budget(ci)}", fontsize=8)
    buf = io.BytesIO()  # savefig on a path without a suffix would write path + ".png"
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, buf.getvalue())
