"""Robustness audit of a condensed node-classification graph (any graph artifact).

Protocol: train ``runs`` fresh GNNs per architecture on the condensed graph (the graph domain's
evaluation protocol: :class:`~condensekit.graph.NodeEvalConfig`, validation on the real graph), then
attack each on the real graph, scored on the real test nodes:

* ``feature_pgd``: evasion PGD-L∞ on the real node features (torchattacks' ``PGD`` on the N×d feature
  matrix, every node perturbed, features kept in [0, 1], ascending the loss of the test nodes), the structure
  fixed; ε in feature units. Those are not pixel units: the suite's node features are row-normalised
  (GCond's preprocessing), so a nonzero feature is about 1/(words in the row): 0.055 on average on Cora,
  0.031 on CiteSeer (whose largest is 0.125), and ε = 0.05 lets PGD move every one of the d features by about
  one such word. The result records the features' scale (``config.features``) beside ε;
* ``random_edges``: ⌊ε·|E|⌋ random undirected edges removed and as many random non-edges added (seeded),
  features fixed; ε is the fraction of edges flipped each way.

The rows, sanity checks (accuracy falls as ε grows: a real check here, since neither attack cascades over
ε), JSON, PNG and card record are those of the image audit (:class:`~condensekit.robust.audit.AuditResult`).
"""

from __future__ import annotations

import math
import os
import statistics
import time
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

import torch
import torchattacks
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.utils import to_undirected

from condensekit.core.config import check_field_types
from condensekit.core.engine import peak_memory_mb, reset_peak_memory
from condensekit.core.evaluate import accuracy
from condensekit.core.registry import check_choice, check_int, is_real, python_number, type_name
from condensekit.graph import MODELS, CondensedGraph, NodeEvalConfig, NodeTask, fit_node_model, prepare_task
from condensekit.robust.attacks import name_list, parse_eps_list
from condensekit.robust.audit import AuditResult, _sanity, audit_files, record_audit

__all__ = ["GRAPH_ATTACKS", "GraphAuditConfig", "audit_graph", "audit_graph_artifact", "flip_edges"]

GRAPH_ATTACKS = ("feature_pgd", "random_edges")


@dataclass(frozen=True)
class GraphAuditConfig:
    """What a graph audit runs.

    Args:
        attacks: from :data:`GRAPH_ATTACKS`.
        eps: ε values as written, in (0, 1] (feature units for ``feature_pgd``, edge fraction for
            ``random_edges``).
        models: GNN names (:data:`condensekit.graph.MODELS`).
        pgd_steps: PGD iterations (step 2.5·ε/steps).
        eval: the training protocol (its ``runs`` and ``seed`` are the audit's).
    """

    attacks: tuple[str, ...] = GRAPH_ATTACKS
    eps: tuple[str, ...] = ("0.01", "0.05", "0.1")
    models: tuple[str, ...] = ("gcn",)
    pgd_steps: int = 20
    eval: NodeEvalConfig = field(default_factory=lambda: NodeEvalConfig(runs=3))

    def __post_init__(self) -> None:
        check_field_types(self)  # numpy scalars stored as Python values (cards stay JSON); bool / Literal by kind
        # an empty list would audit nothing but clean accuracy; a name given twice would be attacked (a model
        # trained) twice and its runs reported as more runs, as in the image audit's config
        for arg in ("attacks", "models"):
            object.__setattr__(self, arg, name_list(arg, getattr(self, arg)))
        for name in self.attacks:
            check_choice("attacks", name, GRAPH_ATTACKS)
        grid = parse_eps_list(self.eps, why="feature_pgd's features and random_edges' edge fraction lie in [0, 1]")
        object.__setattr__(self, "eps", tuple(t for t, _ in grid))
        for name in self.models:
            MODELS.get(name)
        check_int("pgd_steps", self.pgd_steps, 1)
        check_int("runs", self.eval.runs, 1)  # NodeEvalConfig takes 0, which audited no model and said nothing


class _OnGraph(nn.Module):
    """A GNN on a fixed propagation operator: node features N×d → logits of the ``nodes`` (default: all N), what
    torchattacks attacks; the audit passes the test nodes, so PGD ascends the loss of the nodes it scores."""

    def __init__(self, net: nn.Module, op: Tensor | None, nodes: Tensor | None = None) -> None:
        super().__init__()
        self.net, self.op, self.nodes = net, op, nodes

    def forward(self, x: Tensor) -> Tensor:
        out = self.net(x, self.op)
        return out if self.nodes is None else out[self.nodes]


_CANDIDATES = 256  # non-edge candidates drawn at a time: a constant, so the added edges of a seed form one stream


def flip_edges(data: Data, fraction: float, *, seed: int) -> Data:
    """A copy of ``data`` with ⌊fraction·|E|⌋ random undirected edges removed and as many random
    non-edges (no self loops) added; ``ValueError`` when the graph has fewer non-edges than that, or when
    ``fraction`` is not in [0, 1].

    |E| counts the undirected edges of the symmetrised graph (what the models see: :class:`NodeTask`
    symmetrises), whichever way an edge of a directed input (Actor) is stored; self loops are kept. The
    product is taken on ``fraction`` as written (``0.29`` of 100 edges is 29, where the float product is
    28.999…). For one seed the flips are nested: a larger fraction removes and adds the edges a smaller one
    does, and more, so the audit's rows over ε perturb one draw more and more rather than redraw it. A numpy
    number is taken too, a numpy float as numpy prints it (``np.float32(0.29)`` is 0.29, not 0.28999999)."""
    valid = "Valid values are in [0, 1] (the share of the edges removed, and of non-edges added"
    if not is_real(fraction):
        raise ValueError(
            f"Invalid value {fraction!r} for argument fraction of random_edges. {valid}; got {type_name(fraction)})"
        )
    if not 0 <= fraction <= 1:
        raise ValueError(f"Invalid value {fraction!r} for argument fraction of random_edges. {valid})")
    fraction = python_number(fraction)  # np.float32(0.29) is 0.29, as written (core.registry.python_number)
    n = data.num_nodes
    ei = to_undirected(data.edge_index, num_nodes=n)  # (j, i) alone is edge {i, j}, not a missing one
    loops = ei[:, ei[0] == ei[1]]
    und = ei[:, ei[0] < ei[1]]
    k = math.floor(Fraction(fraction).limit_denominator(10**9) * und.shape[1])
    free = n * (n - 1) // 2 - und.shape[1]
    if k > free:  # else the loop below would draw for ever
        raise ValueError(
            f"Invalid value {fraction!r} for argument eps of random_edges: it flips {k} of the {und.shape[1]} edges "
            f"each way, but the graph on {n} nodes has only {free} non-edges to add; use a smaller ε"
        )
    gen = torch.Generator().manual_seed(seed)
    keep = und[:, torch.randperm(und.shape[1], generator=gen, device="cpu")[k:]]  # CPU draws on any device
    existing = set((und[0] * n + und[1]).tolist())
    added: list[tuple[int, int]] = []
    while len(added) < k:
        cand = torch.randint(0, n, (2, _CANDIDATES), generator=gen, device="cpu")
        for a, b in cand.t().tolist():
            lo, hi = min(a, b), max(a, b)
            if lo != hi and lo * n + hi not in existing:
                existing.add(lo * n + hi)
                added.append((lo, hi))
                if len(added) == k:
                    break
    new = torch.tensor(added, dtype=torch.long, device=ei.device).t().reshape(2, -1)  # beside `keep`, on any device
    out = data.clone()
    out.edge_index = to_undirected(torch.cat([keep, new, loops], dim=1), num_nodes=n)
    if "edge_weight" in out:
        del out.edge_weight
    return out


def _feature_scale(x: Tensor) -> dict[str, Any]:
    """What ε is measured against: the real features' range, mean nonzero value and nonzeros per node."""
    nonzero = x != 0
    values = x[nonzero]
    mean_nz = float(values.abs().mean()) if values.numel() else 0.0
    per_node = float(nonzero.sum()) / max(x.shape[0], 1)
    return {"min": float(x.min()), "max": float(x.max()), "mean_nonzero": round(mean_nz, 6),
            "nonzero_per_node": round(per_node, 2), "dims": int(x.shape[1])}  # fmt: skip


def audit_graph(
    cond: CondensedGraph, task: NodeTask, *, config: GraphAuditConfig = GraphAuditConfig(), real: Data | None = None
) -> AuditResult:
    """Audit ``cond`` against the real graph ``task`` (``real``: its ``Data``, needed for ``random_edges``)."""
    lo, hi = float(task.x.min()), float(task.x.max())
    if "feature_pgd" in config.attacks and (lo < 0 or hi > 1):
        raise ValueError(f"feature_pgd keeps features in [0, 1], but the real features lie in [{lo:.3g}, {hi:.3g}]")
    if "random_edges" in config.attacks and real is None:
        raise ValueError("random_edges needs the real graph's Data (argument real)")
    dev = task.x.device
    reset_peak_memory(dev)
    t0, c0 = time.perf_counter(), time.process_time()
    grid = parse_eps_list(config.eps)
    test, y_test = task.test_idx, task.y[task.test_idx]
    per: dict[tuple[str, str, str], list[float]] = {}
    for name in config.models:
        cls = MODELS.get(name)
        for run in range(config.eval.runs):
            seed = config.eval.seed + run
            net = fit_node_model(task, name, config.eval, condensed=cond.tensors(), seed=seed)
            with torch.no_grad():
                clean = accuracy(net(task.x_in, task.op(cls))[test], y_test)
            per.setdefault((name, "clean", "0"), []).append(clean)
            for text, eps in grid:
                if "feature_pgd" in config.attacks:
                    # the loss of the test nodes, which are scored (not of every node: train and val labels too)
                    wrapped = _OnGraph(net, task.op(cls), test).eval()
                    atk = torchattacks.PGD(
                        wrapped, eps=eps, alpha=2.5 * eps / config.pgd_steps, steps=config.pgd_steps, random_start=True
                    )
                    torch.manual_seed(seed)
                    adv = atk(task.x, y_test)
                    with torch.no_grad():
                        acc = accuracy(wrapped(adv), y_test)
                    per.setdefault((name, "feature_pgd", text), []).append(acc)
                if "random_edges" in config.attacks:
                    noisy = NodeTask.from_data(flip_edges(real, eps, seed=seed), device=dev)
                    with torch.no_grad():
                        acc = accuracy(net(noisy.x_in, noisy.op(cls))[test], y_test)
                    per.setdefault((name, "random_edges", text), []).append(acc)
    rows = []
    norms = {"feature_pgd": "Linf", "random_edges": "edges"}
    for (model, attack, eps), values in per.items():
        std = statistics.pstdev(values) if len(values) > 1 else 0.0
        rows.append(
            {"model": model, "attack": attack, "norm": norms.get(attack, "-"),
             "eps": eps, "eps_value": 0.0 if attack == "clean" else dict(grid)[eps],
             "mean": round(statistics.fmean(values), 4), "std": round(std, 4), "runs": [round(v, 4) for v in values]}
        )  # fmt: skip
    order = {t: i for i, (t, _) in enumerate(grid)}
    rows.sort(key=lambda r: (r["model"], r["attack"] != "clean", r["attack"], order.get(r["eps"], -1)))
    cfg: dict[str, Any] = asdict(config) | {"features": _feature_scale(task.x)}
    return AuditResult(
        rows=rows, dataset=task.name, subset=f"full real test split ({len(test)} nodes)", test_images=len(test),
        config=cfg, sanity=_sanity(rows, config.models, config.attacks),
        cost={"wall_time_s": round(time.perf_counter() - t0, 2),
        "cpu_time_s": round(time.process_time() - c0, 2), "peak_memory_mb": round(peak_memory_mb(dev), 1),
              "device": str(dev), "torch_threads": torch.get_num_threads()},
    )  # fmt: skip


def audit_graph_artifact(
    path: str | os.PathLike[str],
    *,
    config: GraphAuditConfig = GraphAuditConfig(),
    root: str | None = None,
    device: str = "auto",
    out: str | os.PathLike[str] | None = None,
    real: Data | None = None,
) -> tuple[AuditResult, dict[str, str]]:
    """Audit the node-level graph artifact at ``path``; files and card as in
    :func:`~condensekit.robust.audit.audit_artifact`."""
    cond = CondensedGraph.load(path, purpose="`robust audit`")
    audit_files(path, out)  # a stem that cannot be written is refused before the audit, not after
    if real is None:
        from condensekit.graph import load_node_dataset

        real = load_node_dataset(cond.card["source"]["dataset"], root=root)
    task = prepare_task(real, device=device)
    result = audit_graph(cond, task, config=config, real=real)
    return result, record_audit(path, result, method=cond.card.get("method"), out=out)
