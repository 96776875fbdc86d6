r"""Membership-inference audit of a condensed node-classification graph: does a GNN trained on it reveal
which real nodes' labels it was made from?

Game (transductive, as the graph domain condenses and evaluates): ``m`` *members* are real training nodes
(the labelled nodes a condensed graph is made from) and ``m`` *non-members* are real test nodes (their labels
are never used, neither by condensation nor by the target's validation selection). Every node's features and
edges are public to the target and the shadows alike: only the label use distinguishes a member. A target
GNN is trained on the audited graph with the graph domain's protocol
(:func:`condensekit.graph.fit_node_model`: trained on the condensed graph, selected on the real validation
nodes) and scores every candidate from its logits on the real graph. The baseline target is the same GNN
trained on the real graph with the labels of exactly the ``m`` members: what a working attack finds when the
real labelled data is shared instead.

Attacks (:data:`~condensekit.privacy.audit.ATTACKS`), metrics and LiRA's test are those of the image audit
(:mod:`condensekit.privacy.mia`):

* ``loss`` (Yeom et al. 2018): score :math:`-\ell(f(\mathbf{x})_v, y_v)`.
* ``lira`` (Carlini et al., S&P 2022). **Online**: every shadow is the same GNN trained on the real graph with
  the labels of a random half (``m``) of the ``2m`` candidates, so each candidate has IN and OUT shadows.
  **Offline**: shadows are trained on disjoint chunks of ``m`` labelled nodes outside the candidates and the
  validation nodes (all OUT). As for images, shadows trained on real labels are a proxy for the condensed
  target (re-running condensation per shadow is out of CPU reach); the baseline target is imitated exactly.

With ``m`` non-members the lowest measurable FPR is :math:`1/m`: on Cora's public split (140 training nodes)
TPR at 0.1 % FPR reads as TPR at FPR 0, and the record says ``min_fpr``. The result goes into the artifact's
card (``audits``, ``kind: membership``). Optional canaries (``canaries`` members given a wrong label in the
real-graph baseline, and in its shadows when IN) show the worst case, as in the image audit.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from condensekit.core.artifact import update_card
from condensekit.core.config import check_field_types
from condensekit.core.engine import peak_memory_mb, reset_peak_memory
from condensekit.core.evaluate import TrainConfig, accuracy
from condensekit.graph import MODELS, CondensedGraph, NodeEvalConfig, NodeTask, fit_node_model, prepare_task
from condensekit.privacy.mia import (
    MembershipGame,
    lira_scores,
    lira_variance_for,
    logit_confidence,
    membership_metrics,
    mislabel,
    one_sided,
)

__all__ = ["NodeAuditConfig", "audit_node_artifact", "audit_node_graph", "audit_node_graphs"]


@dataclass(frozen=True)
class NodeAuditConfig(MembershipGame):
    """How a node-graph membership audit runs (target and shadows share ``model`` and ``eval``; the game's shared
    fields: :class:`~condensekit.privacy.mia.MembershipGame`)."""

    members: int = field(default=0, metadata={"help": "member candidates m (0: min(training, test nodes, 1000))"})
    model: str = field(default="gcn", metadata={"help": "target and shadow GNN"})
    eval: NodeEvalConfig = field(default_factory=lambda: NodeEvalConfig(runs=1, train=TrainConfig(epochs=300)))

    def __post_init__(self) -> None:
        super().__post_init__()
        check_field_types(self)  # numpy scalars stored as Python values (cards stay JSON); bool / Literal by kind
        MODELS.get(self.model)


def _logits(net: torch.nn.Module, task: NodeTask) -> Tensor:
    """``net``'s N×K logits on the real graph."""
    with torch.no_grad():
        return net(task.x_in, task.op(net))


def audit_node_graph(
    cond: CondensedGraph | None, task: NodeTask, config: NodeAuditConfig = NodeAuditConfig()
) -> dict[str, Any]:
    """Audit the condensed graph ``cond`` against the real graph ``task``; with ``cond`` = ``None``, audit the
    baseline (a GNN trained on the real graph with the members' labels). Returns the audit record."""
    return audit_node_graphs({"target": cond}, task, config)["target"]


def audit_node_graphs(
    targets: dict[str, CondensedGraph | Tensor | None], task: NodeTask, config: NodeAuditConfig = NodeAuditConfig()
) -> dict[str, dict[str, Any]]:
    """Audit several targets in one game: the same candidates and, for LiRA, the same shadows (they depend on
    the candidates and the config only), trained once. A target is a condensed graph, ``None`` (the baseline:
    the real graph with the members' labels) or a tensor of node ids (the real graph with those nodes' labels;
    e.g. validation nodes: a *null* target that saw no candidate's label, whose AUC should be 0.5 — the check
    that members and non-members differ only by label use). Each record's ``cost`` counts its target plus,
    for the first LiRA record, the shadows."""
    cfg = config
    dev = task.x.device
    n_train, n_test = int(task.train_idx.numel()), int(task.test_idx.numel())
    m = cfg.members or min(n_train, n_test, 1000)
    if m > min(n_train, n_test):
        raise ValueError(
            f"Invalid value {m} for argument members: the graph has {n_train} training and {n_test} test nodes; "
            f"members must be <= {min(n_train, n_test)}"
        )
    gen = torch.Generator().manual_seed(cfg.seed)
    members = task.train_idx[torch.randperm(n_train, generator=gen, device="cpu")[:m].to(dev)]  # host draws
    non_members = task.test_idx[torch.randperm(n_test, generator=gen, device="cpu")[:m].to(dev)]
    cand = torch.cat([members, non_members])
    if cfg.canaries:  # the first few members get a wrong label in the game's graph (target and shadows alike)
        if cfg.canaries > m or any(t is not None for t in targets.values()):
            raise ValueError(
                f"Invalid value {cfg.canaries!r} for argument canaries: canaries are mislabelled members of the "
                f"real-graph baseline target (at most members = {m}); a condensed graph cannot be given canaries "
                "after the fact"
            )
        y = task.y.clone()
        y[members[: cfg.canaries]] = mislabel(y[members[: cfg.canaries]], task.num_classes, gen)
        task = replace(task, y=y, _ops=task._ops)
    y_cand = task.y[cand]
    is_member = torch.arange(2 * m, device=dev) < m
    shadows: tuple[Tensor, Tensor, dict[str, Any]] | None = None
    out: dict[str, dict[str, Any]] = {}
    for name, cond in targets.items():
        reset_peak_memory(dev)
        t0, c0 = time.perf_counter(), time.process_time()
        if isinstance(cond, CondensedGraph):
            target = fit_node_model(task, cfg.model, cfg.eval, condensed=cond.tensors(), seed=cfg.seed)
        else:
            labelled = members if cond is None else cond.to(dev)
            target = fit_node_model(task, cfg.model, cfg.eval, labelled=labelled, seed=cfg.seed)
        full = _logits(target, task)
        t_logits = full[cand]
        record: dict[str, Any] = {
            "attack": cfg.attack,
            "members": m,
            "members_from": "train nodes",
            "non_members_from": "test",
            "min_fpr": 1.0 / m,
            "target": {type(None): "real graph (members' labels)", Tensor: "real graph (other nodes' labels)"}.get(
                type(cond), "audited graph"
            ),
            "game": "transductive node classification: features and edges public, membership = label use",
            "config": asdict(cfg),
            "target_accuracy": {  # what the target is worth: its real validation and test accuracy (%)
                "val": accuracy(full[task.val_idx], task.y[task.val_idx]),
                "test": accuracy(full[task.test_idx], task.y[task.test_idx]),
            },
        }
        if cfg.attack == "loss":
            scores = -F.cross_entropy(t_logits, y_cand, reduction="none")
        else:
            if shadows is None:
                shadows = _shadows(cand, y_cand, task, cfg)
            conf, inside, shadow_info = shadows
            variance = lira_variance_for(cfg.lira_variance, cfg.shadows)
            phi = logit_confidence(t_logits, y_cand)
            scores = lira_scores(phi, conf, inside, online=cfg.mode == "online", variance=variance)
            record |= shadow_info | {"variance": variance}
        record |= membership_metrics(scores, is_member, cfg.canaries)
        record["cost"] = {
            "wall_time_s": round(time.perf_counter() - t0, 2), "cpu_time_s": round(time.process_time() - c0, 2),
            "peak_memory_mb": round(peak_memory_mb(dev), 1), "device": str(dev),
            "torch_threads": torch.get_num_threads(),
        }  # fmt: skip
        out[name] = record
    return out


def _shadows(cand: Tensor, y_cand: Tensor, task: NodeTask, cfg: NodeAuditConfig) -> tuple[Tensor, Tensor, dict]:
    """LiRA's shadows: their confidences on the candidates (shadows × 2m) and who was IN each."""
    dev = cand.device
    two_m, m = cand.numel(), cand.numel() // 2
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    if cfg.mode == "offline":
        outside = torch.ones(task.y.numel(), dtype=torch.bool, device=dev)
        outside[cand] = False
        outside[task.val_idx] = False
        reserve = outside.nonzero(as_tuple=True)[0]
        reserve = reserve[torch.randperm(reserve.numel(), generator=gen).to(dev)]
        if cfg.shadows * m > reserve.numel():
            raise ValueError(
                f"Invalid value {cfg.shadows} for argument shadows: offline shadows train on disjoint chunks of {m} "
                f"labelled nodes, and the {reserve.numel()} nodes outside the candidates and the validation split "
                f"make at most {reserve.numel() // m} chunks; use fewer shadows or members, or mode='online'"
            )
    confs, ins = [], []
    for s in range(cfg.shadows):
        inside = torch.zeros(two_m, dtype=torch.bool, device=dev)
        if cfg.mode == "offline":
            labelled = reserve[s * m : (s + 1) * m]
        else:
            pick = torch.randperm(two_m, generator=gen, device="cpu")[:m].to(dev)
            labelled, inside[pick] = cand[pick], True
        net = fit_node_model(task, cfg.model, cfg.eval, labelled=labelled, seed=cfg.seed + 1000 + s)
        confs.append(logit_confidence(_logits(net, task)[cand], y_cand))
        ins.append(inside)
    inside = torch.stack(ins)
    info: dict[str, Any] = {"shadows": cfg.shadows, "mode": cfg.mode}
    if cfg.mode == "online":
        info |= {"shadow_set": "real graph, labels of half the candidates", "one_sided": one_sided(inside)}
    else:
        info["shadow_set"] = "real graph, other nodes"
    return torch.stack(confs), inside, info


def audit_node_artifact(
    path: str | os.PathLike[str],
    config: NodeAuditConfig = NodeAuditConfig(),
    *,
    root: str | None = None,
    device: str = "auto",
    real: Any = None,
    record: bool = True,
) -> dict[str, Any]:
    """Audit the node-level graph artifact at ``path`` against the real graph its card names (or ``real``, a
    PyG ``Data``) and append the result to its card's ``audits``."""
    cond = CondensedGraph.load(path, purpose="`privacy audit`")
    if real is None:
        from condensekit.graph import load_node_dataset

        real = load_node_dataset(cond.card["source"]["dataset"], root=root)
    task = prepare_task(real, device=device)
    result = audit_node_graph(cond, task, config) | {"method": cond.card.get("method"), "dataset": task.name}
    if record:
        update_card(path, audits=result | {"kind": "membership"})
    return result
