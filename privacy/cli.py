"""``condensekit privacy dp-merf | psg | account | audit | methods``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from condensekit.core.artifact import check_artifact_target, format_card, load_artifact, update_card
from condensekit.core.atomic import check_file_target, check_writable, write_json
from condensekit.core.cli import add_method_help
from condensekit.core.config import add_dataclass_args, dataclass_from_args, method_flags
from condensekit.core.evaluate import TrainConfig
from condensekit.core.report import format_table
from condensekit.core.vision import IMAGE_TASK
from condensekit.graph import NODE_TASK, NodeEvalConfig
from condensekit.privacy.accounting import (
    GaussianRelease,
    analytic_gaussian_epsilon,
    check_delta,
    noise_for_epsilon,
    rdp_epsilon,
)
from condensekit.privacy.audit import AuditConfig, audit_artifact
from condensekit.privacy.base import PRIVACY_METHODS, condense_private
from condensekit.privacy.data import load_private_dataset
from condensekit.privacy.evaluate import evaluate_private
from condensekit.privacy.graph_audit import NodeAuditConfig, audit_node_artifact

#: What a private verb's --help says of the method flags the verb itself sets.
_VERB_SETS = " (--epsilon, --delta, --ipc and --steps given to the verb set those fields)"


#: a node-graph audit's target and shadow GNN and its training epochs (`privacy audit --graph-model/--graph-epochs`)
_GRAPH_MODEL, _GRAPH_EPOCHS = "gcn", 300


def register(sub: argparse._SubParsersAction) -> None:
    priv = sub.add_parser("privacy", help="differentially private condensed sets and membership-inference audits")
    verbs = priv.add_subparsers(dest="verb", metavar="VERB")

    d = verbs.add_parser(
        "dp-merf",
        add_help=False,
        help="DP-MERF: one noisy RFF embedding, then a generator (default) or, with --ipc, a condensed set",
        description="Method flags (e.g. --n-features, --lr) follow the command; --help lists them.",
    )
    d.add_argument("--ipc", type=int, default=None, help="images per class: optimise a condensed set directly")
    _common(d)
    d.set_defaults(func=_dp_merf, accepts_extra=True)
    # the verb is the method (the condensed set's with --ipc): --help lists its flags
    add_method_help(d, PRIVACY_METHODS, method_dest=_dp_merf_method, note=_VERB_SETS)

    p = verbs.add_parser("psg", add_help=False, help="PSG: gradient matching with DP-SGD real gradients",
                         description="Method flags (e.g. --inner-loop, --lr-img) follow the command; --help lists "
                         "them.")  # fmt: skip
    p.add_argument("--ipc", type=int, default=10, help="images per class")
    _common(p)
    p.set_defaults(func=_psg, accepts_extra=True)
    add_method_help(p, PRIVACY_METHODS, method_dest=lambda _ns: "psg", note=_VERB_SETS)

    a = verbs.add_parser(
        "account",
        help="ε of Gaussian releases (--sigma), σ for a target (--target-epsilon), or an artifact's guarantee",
    )
    a.add_argument("artifact", nargs="?", default=None, help="print this artifact's privacy record")
    a.add_argument("--sigma", type=float, default=None, help="noise multiplier (noise std / L2 sensitivity)")
    a.add_argument("--target-epsilon", type=float, default=None, help="print the σ that reaches this ε")
    a.add_argument("--delta", type=float, default=1e-5)
    a.add_argument("--sample-rate", type=float, default=1.0, help="Poisson sampling rate q (DP-SGD)")
    a.add_argument("--steps", type=int, default=1, help="number of releases (composed)")
    a.set_defaults(func=_account)

    u = verbs.add_parser(
        "audit",
        help="membership-inference audit of any image or node-graph artifact; recorded in its card",
        description="Image artifacts train --model for --train-steps; node-graph artifacts train --graph-model "
        "with the graph protocol for --graph-epochs (members: training nodes, non-members: test nodes).",
    )
    u.add_argument("artifact")
    add_dataclass_args(u, AuditConfig)
    u.add_argument("--graph-model", default=_GRAPH_MODEL, help="target and shadow GNN of a node-graph audit")
    u.add_argument("--graph-epochs", type=int, default=_GRAPH_EPOCHS,
                   help="training epochs of a node-graph audit's GNNs")  # fmt: skip
    u.add_argument("--root", default=None, help="data root (default: $CONDENSEKIT_DATA, else ~/.cache/condensekit)")
    u.add_argument("--device", default="cpu", help="auto, cpu or cuda[:N]")
    u.add_argument("--json", default=None, help="where to write the audit's record (it goes into the card too)")
    u.set_defaults(func=_audit)

    m = verbs.add_parser("methods", help="list the registered private methods")
    m.set_defaults(
        func=lambda ns: print(
            format_table(
                ["method", "what"], [[n, PRIVACY_METHODS.get(n).description] for n in PRIVACY_METHODS.names()]
            )
        )
    )


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="mnist", help="mnist, or a registered image dataset (a MedMNIST flag)")
    p.add_argument("--epsilon", type=float, required=True, help="privacy budget ε")
    p.add_argument("--delta", type=float, default=1e-5, help="δ (well below 1/n)")
    p.add_argument("--root", default=None, help="data root (default: $CONDENSEKIT_DATA, else ~/.cache/condensekit)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    p.add_argument("--steps", type=int, default=None, help="engine steps (default: the method's schedule)")
    p.add_argument("--out", default=None, help="artifact folder (default: artifacts/DATASET-METHOD-epsE)")
    p.add_argument("--eval-runs", type=int, default=0, help="also train LR/MLP/CNN this many times each")
    p.add_argument("--json", default=None, help="where to write the JSON summary")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _method_config(method: str, ns: argparse.Namespace, **fixed: Any) -> Any:
    cls = PRIVACY_METHODS.get(method).config
    given = method_flags(cls, ns, prog=f"condensekit privacy {method}", owner=f"method {method!r}")
    return cls(**(given | fixed))


def _run(ns: argparse.Namespace, method: str, **fixed: Any) -> int:
    cfg = _method_config(method, ns, epsilon=ns.epsilon, delta=ns.delta, **fixed)
    out = Path(ns.out or f"artifacts/{ns.dataset}-{method}-eps{ns.epsilon:g}")
    check_artifact_target(out, argument="--out")  # before the release: refused after it, the budget was spent
    if not ns.json:  # and its JSON (core's main has checked a given one)
        check_file_target(str(out) + ".json", argument="--json")
    data = load_private_dataset(ns.dataset, ns.root)
    ci = condense_private(
        data, method, config=cfg, seed=ns.seed, device=ns.device, steps=ns.steps, progress=not ns.quiet
    )
    p = ci.card["privacy"]
    summary: dict[str, Any] = {"artifact": str(out), "method": method, "privacy": p, "cost": ci.card["cost"]}
    ci.save(out)  # before the evaluation: a run stopped while its models train keeps the private set
    if ns.eval_runs:
        res = evaluate_private(ci.x, ci.y, data, runs=ns.eval_runs, seed=ns.seed)
        ci.card["metrics"]["test"] = summary["test"] = {m: s.to_dict() for m, s in res.items()}
        update_card(out, metrics={"test": summary["test"]})
    print(
        f"{method} on {ns.dataset}: {ci.x.shape[0]} images, (ε={p['epsilon']:.4g}, δ={p['delta']:g})-DP by "
        f"{p['accountant']} (σ={p['sigma']:.4g}; RDP ε={p['epsilon_rdp']:.4g}), "
        f"{ci.card['cost']['wall_time_s']:.0f} s, peak {ci.card['cost']['peak_memory_mb']:.0f} MB"
    )
    if p.get("stopped_early"):
        print(f"budget spent: stopped at step {p['steps_done']} of {p['steps_requested']}")
    if ns.eval_runs:
        print(format_table(["model", "test acc (%)", "runs"], [[m, str(s), len(s.values)] for m, s in res.items()]))
    path = ns.json or str(out) + ".json"
    write_json(path, summary)
    print(f"artifact: {out}   json: {path}")
    return 0


def _dp_merf_method(ns: argparse.Namespace) -> str:
    """The method ``privacy dp-merf`` runs: the condensed set with ``--ipc``, else the generator."""
    return "dp-merf" if getattr(ns, "ipc", None) is None else "dp-merf-condensed"


def _dp_merf(ns: argparse.Namespace) -> int:
    return _run(ns, _dp_merf_method(ns), **({} if ns.ipc is None else {"ipc": ns.ipc}))


def _psg(ns: argparse.Namespace) -> int:
    return _run(ns, "psg", ipc=ns.ipc)


def _account(ns: argparse.Namespace) -> int:
    if ns.artifact is not None:
        card = load_artifact(ns.artifact).card
        if not card.get("privacy"):
            raise ValueError(
                f"artifact at {ns.artifact!r} ({card.get('method')!r}) has no privacy record: it was not made with a "
                "differentially private method, so it has no (ε, δ) guarantee"
            )
        print(next(line for line in format_card(card).splitlines() if line.startswith("privacy:")))
        return 0
    check_delta(ns.delta)
    if (ns.sigma is None) == (ns.target_epsilon is None):
        raise ValueError("pass exactly one of --sigma (prints ε) and --target-epsilon (prints σ), or an ARTIFACT")
    full = ns.sample_rate == 1.0
    if ns.target_epsilon is not None:
        acc = "analytic" if full else "rdp"
        sigma = noise_for_epsilon(
            ns.target_epsilon, ns.delta, sample_rate=ns.sample_rate, steps=ns.steps, accountant=acc
        )
        print(f"sigma = {sigma:.4f} for (ε={ns.target_epsilon:g}, δ={ns.delta:g}) by {acc}")
        return 0
    rel = [GaussianRelease(sigma=ns.sigma, sample_rate=ns.sample_rate, steps=ns.steps)]
    eps, order = rdp_epsilon(rel, ns.delta)
    print(f"epsilon (RDP, opacus, order {order:g}) = {eps:.4f}")
    if full:
        print(f"epsilon (analytic Gaussian, exact) = {analytic_gaussian_epsilon(rel, ns.delta):.4f}")
    return 0


def _audit(ns: argparse.Namespace) -> int:
    cfg = dataclass_from_args(AuditConfig, ns)
    task = load_artifact(ns.artifact).card.get("task")
    check_writable(ns.artifact, argument="artifact", inside=True)  # the audit goes into its card: tried before it
    if task == NODE_TASK:
        image_only = [flag for flag in ("--model", "--train-steps") if hasattr(ns, flag[2:].replace("-", "_"))]
        if image_only:  # else ignored without a word (their defaults are suppressed: present only when given)
            flag = image_only[0]
            value = getattr(ns, flag[2:].replace("-", "_"))
            raise ValueError(
                f"Invalid arguments for the node-graph artifact {ns.artifact!r}: {flag} ({value!r}) applies to image "
                f"audits; a node-graph audit trains --graph-model ({ns.graph_model!r}) for --graph-epochs "
                f"({ns.graph_epochs})"
            )
        if cfg.member_set != "random" or cfg.canaries:
            raise ValueError(
                f"Invalid arguments for the node-graph artifact {ns.artifact!r}: member_set ({cfg.member_set!r}) "
                f"and canaries ({cfg.canaries}) apply to image artifacts here; a node audit's members are random "
                "training nodes, and its canaries go into the real-graph baseline (audit_node_graph(None, ...))"
            )
        ncfg = NodeAuditConfig(
            attack=cfg.attack, mode=cfg.mode, shadows=cfg.shadows, lira_variance=cfg.lira_variance,
            members=cfg.members, model=ns.graph_model,
            eval=NodeEvalConfig(runs=1, train=TrainConfig(epochs=ns.graph_epochs)), seed=cfg.seed,
        )  # fmt: skip
        rec = audit_node_artifact(ns.artifact, ncfg, root=ns.root, device=ns.device)
    elif task == IMAGE_TASK:
        graph_only = [flag for flag, on in (("--graph-model", ns.graph_model != _GRAPH_MODEL),
                                            ("--graph-epochs", ns.graph_epochs != _GRAPH_EPOCHS)) if on]  # fmt: skip
        if graph_only:
            flag = graph_only[0]
            value = getattr(ns, flag[2:].replace("-", "_"))
            raise ValueError(
                f"Invalid arguments for the image artifact {ns.artifact!r}: {flag} ({value!r}) applies to node-graph "
                f"audits; an image audit trains --model ({cfg.model!r}) for --train-steps ({cfg.train_steps})"
            )
        rec = audit_artifact(ns.artifact, cfg, root=ns.root, device=ns.device)
    else:
        raise ValueError(
            f"artifact at {ns.artifact!r} holds a {task!r} set, which has no membership game; `privacy audit` "
            f"takes {IMAGE_TASK!r} and {NODE_TASK!r} artifacts"
        )
    print(
        f"{rec['attack']} audit of {ns.artifact} ({rec['method']}): AUC {rec['auc']:.3f}, "
        f"TPR {100 * rec['tpr_at_1fpr']:.1f} % at 1 % FPR, {100 * rec['tpr_at_01fpr']:.1f} % at 0.1 % FPR "
        f"({rec['members']} members vs {rec['members']} non-members)"
    )
    if ns.json:
        write_json(ns.json, rec)
    return 0

