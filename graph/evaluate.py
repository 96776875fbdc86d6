"""Evaluate a condensed node-classification graph: train on it, select and test on the real graph.

Protocol (GCond, Jin et al. ICLR 2022, ``fit_with_val``): a model is trained from scratch on the
condensed graph for 600 epochs (Adam, lr 0.01 dropping 10× at half way, weight decay 5e-4,
dropout 0.5, hidden 256, 2 layers); after every epoch it is validated on the real validation nodes
of the full graph; the weights with the best validation accuracy are tested on the real test
nodes. ``runs`` repetitions with seeds ``seed, seed+1, …`` give mean ± std, for each architecture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from condensekit.core.evaluate import Summary, TrainConfig, accuracy, repeat, train_select
from condensekit.graph.models.registry import MODELS, create_model
from condensekit.graph.task import NodeTask


@dataclass(frozen=True)
class NodeEvalConfig:
    """The evaluation protocol (defaults: the issue's / GCond's GCN protocol)."""

    runs: int = 10
    hidden: int = 256
    num_layers: int = 2
    dropout: float = 0.5
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0


def check_condensed(condensed: dict[str, Tensor], num_features: int, num_classes: int) -> None:
    """A condensed node graph has ``x`` (n×d), ``adj`` (n×n, finite, ≥ 0) and ``y`` (n)."""
    missing = [k for k in ("x", "adj", "y") if k not in condensed]
    if missing:
        raise ValueError(f"condensed graph lacks tensors {missing}; expected x, adj and y")
    x, adj, y = condensed["x"], condensed["adj"], condensed["y"]
    n = x.shape[0]
    if x.dim() != 2 or x.shape[1] != num_features:
        raise ValueError(f"condensed x has shape {tuple(x.shape)}; the real graph has {num_features} features")
    if adj.shape != (n, n):
        raise ValueError(f"condensed adj has shape {tuple(adj.shape)}; expected ({n}, {n})")
    if y.shape != (n,) or int(y.min()) < 0 or int(y.max()) >= num_classes:
        raise ValueError(f"condensed y must hold {n} labels in [0, {num_classes}), got shape {tuple(y.shape)}")
    if not (torch.isfinite(x).all() and torch.isfinite(adj).all()):
        raise ValueError("condensed x or adj holds NaN or inf")
    if (adj < 0).any() or not torch.allclose(adj, adj.t(), atol=1e-5):
        raise ValueError("condensed adj must be symmetric with non-negative weights")


def evaluate_node(
    task: NodeTask,
    condensed: dict[str, Tensor],
    *,
    models: Sequence[str] = ("gcn",),
    config: NodeEvalConfig = NodeEvalConfig(),
) -> dict[str, Summary]:
    """Test accuracy (%) of each architecture trained on ``condensed``, over ``config.runs`` runs."""
    check_condensed(condensed, task.num_features, task.num_classes)
    for name in models:
        MODELS.get(name)  # unknown names fail before any training
    device = task.x.device
    x_syn = condensed["x"].float().to(device)
    adj_syn = condensed["adj"].float().to(device)
    y_syn = condensed["y"].long().to(device)
    y_val, y_test = task.y[task.val_idx], task.y[task.test_idx]
    out: dict[str, Summary] = {}
    for name in models:
        cls = MODELS.get(name)
        op_syn = cls.propagation(adj_syn)
        op_real = task.op(cls)

        def one_run(
            seed: int, name: str = name, op_syn: Tensor | None = op_syn, op_real: Tensor | None = op_real
        ) -> float:
            model = create_model(
                name,
                in_channels=task.num_features,
                out_channels=task.num_classes,
                hidden_channels=config.hidden,
                num_layers=config.num_layers,
                dropout=config.dropout,
            ).to(device)
            res = train_select(
                model,
                train_loss=lambda m: F.cross_entropy(m(x_syn, op_syn), y_syn),
                validate=lambda m: accuracy(m(task.x_in, op_real)[task.val_idx], y_val),
                test=lambda m: accuracy(m(task.x_in, op_real)[task.test_idx], y_test),
                config=config.train,
            )
            return res.test

        out[name] = repeat(one_run, runs=config.runs, seed=config.seed)
    return out


def validation_score(
    task: NodeTask,
    condensed: dict[str, Tensor],
    *,
    model: str = "gcn",
    runs: int = 1,
    config: NodeEvalConfig = NodeEvalConfig(),
) -> float:
    """Mean best validation accuracy (%) of ``model`` trained on ``condensed`` — the engine's
    selection signal during condensation (test nodes are never looked at)."""
    device = task.x.device
    cls = MODELS.get(model)
    x_syn, adj_syn, y_syn = condensed["x"].to(device), condensed["adj"].to(device), condensed["y"].to(device)
    op_syn, op_real = cls.propagation(adj_syn), task.op(cls)
    y_val = task.y[task.val_idx]
    vals = []
    for i in range(runs):
        torch.manual_seed(config.seed + i)
        m = create_model(
            model,
            in_channels=task.num_features,
            out_channels=task.num_classes,
            hidden_channels=config.hidden,
            num_layers=config.num_layers,
            dropout=config.dropout,
        ).to(device)
        res = train_select(
            m,
            train_loss=lambda mm: F.cross_entropy(mm(x_syn, op_syn), y_syn),
            validate=lambda mm: accuracy(mm(task.x_in, op_real)[task.val_idx], y_val),
            test=lambda mm: 0.0,
            config=config.train,
        )
        vals.append(res.val)
    return sum(vals) / len(vals)
