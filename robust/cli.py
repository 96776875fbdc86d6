"""``condensekit robust condense | audit | attacks``."""

from __future__ import annotations

import argparse

from condensekit.core.artifact import load_artifact
from condensekit.core.config import add_dataclass_args, dataclass_from_args
from condensekit.core.evaluate import TrainConfig
from condensekit.core.report import format_table
from condensekit.core.vision import IMAGE_TASK, ImageTrainConfig
from condensekit.graph import NodeEvalConfig
from condensekit.robust.attacks import ATTACKS, AttackConfig
from condensekit.robust.audit import AuditConfig, audit_artifact
from condensekit.robust.graph_audit import GRAPH_ATTACKS, GraphAuditConfig, audit_graph_artifact

NODE_TASK = "node_classification"


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
        "--eps", default=None, help="comma-separated ε in (0, 1], e.g. 2/255 (default: images 1/255,2/255,4/255,8/255; "
        "graphs 0.01,0.05,0.1)",
    )  # fmt: skip
    a.add_argument("--models", default=None, help="evaluation architectures, comma-separated (convnet; graphs: gcn)")
    a.add_argument("--runs", type=int, default=3, help="models trained per architecture")
    subset = a.add_mutually_exclusive_group()
    subset.add_argument("--subset", type=int, default=1000, help="stratified real test images attacked")
    subset.add_argument("--full-test", action="store_true", help="attack the full test set instead")
    a.add_argument("--epochs", type=int, default=ImageTrainConfig.epochs, help="training epochs per image model")
    a.add_argument("--graph-epochs", type=int, default=TrainConfig.epochs, help="training epochs per GNN")
    a.add_argument("--out", default=None, help="stem of the JSON and PNG (default: ARTIFACT-robust-audit)")
    add_dataclass_args(a, AttackConfig)
    _common(a)
    a.set_defaults(func=_audit)

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


def _split(text: str | None) -> dict[str, tuple[str, ...]]:
    return {} if text is None else {"x": tuple(t.strip() for t in text.split(",") if t.strip())}


def _audit(ns: argparse.Namespace) -> int:
    task = load_artifact(ns.artifact).card.get("task")
    given = {k: v["x"] for k, v in (("attacks", _split(ns.attacks)), ("eps", _split(ns.eps)),
                                    ("models", _split(ns.models))) if v}  # fmt: skip
    if task == NODE_TASK:
        attack_cfg = dataclass_from_args(AttackConfig, ns)
        gcfg = GraphAuditConfig(
            **given, pgd_steps=attack_cfg.pgd_steps,
            eval=NodeEvalConfig(runs=ns.runs, seed=ns.seed, train=TrainConfig(epochs=ns.graph_epochs)),
        )  # fmt: skip
        result, files = audit_graph_artifact(ns.artifact, config=gcfg, root=ns.root, device=ns.device, out=ns.out)
    elif task == IMAGE_TASK:
        config = AuditConfig(
            **given,
            runs=ns.runs,
            subset=None if ns.full_test else ns.subset,
            seed=ns.seed,
            train=ImageTrainConfig(epochs=ns.epochs),
            attack=dataclass_from_args(AttackConfig, ns),
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
    if not result.sanity["ok"]:
        print("sanity: " + "; ".join(result.sanity["issues"]))
    print(f"json: {files['json']}   plot: {files['png']}   card: {ns.artifact}/card.json")
    return 0
