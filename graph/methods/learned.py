"""What GCond, GCond-X, DosCond and GCDM share: a learnable synthetic graph and a backbone GNN.

The synthetic graph is learnable features :math:`X'` (n'×d, initialised from real training nodes
of each class) and, when ``structure`` is on, GCond's :class:`~condensekit.graph.pge.PGE`
generator :math:`A' = g_\\Phi(X')`; otherwise the structure is the identity (an all-zero
adjacency, which the GCN renormalisation turns into :math:`I`). Each method only defines its
``step``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from condensekit.core.config import check_field_types
from condensekit.core.optim import adam
from condensekit.core.registry import check_int, check_positive
from condensekit.core.synthetic import init_from_real
from condensekit.graph.methods.base import NodeCondensation
from condensekit.graph.models.registry import create_model
from condensekit.graph.pge import PGE
from condensekit.graph.sampling import receptive_subgraph, sample_per_class

_T = TypeVar("_T")


@dataclass(frozen=True)
class LearnedGraphConfig:
    """Settings every learned-graph method has (each method's config sets its paper defaults)."""

    epochs: int = field(default=600, metadata={"help": "engine steps (reference epochs)"})
    outer_loop: int = 20
    inner_loop: int = 15
    lr_feat: float = 1e-4
    lr_adj: float = 1e-4
    lr_model: float = 0.01
    backbone: str = field(default="sgc", metadata={"help": "gnn used while condensing"})
    hidden: int = 256
    num_layers: int = 2
    dropout: float = 0.0
    structure: bool = field(default=True, metadata={"help": "learn A' with PGE (False: identity structure)"})
    pge_hidden: int = 128
    pge_layers: int = 3
    adj_period: int = 50
    adj_steps: int = 10
    joint_update: bool = field(
        default=False,
        metadata={"help": "update X' and the generator together every step (else GCond's alternation)"},
    )
    init: Literal["real", "noise", "kcenter", "herding"] = "real"
    init_hops: int = field(
        default=0, metadata={"help": "initialise from Â^k X of the picked nodes (0: their raw features)"}
    )
    real_batch: int = field(
        default=0,
        metadata={
            "help": "real training nodes sampled per class for each real term, with their receptive subgraph "
            "(0: all of them on the full graph; GCond's recipe for large graphs, lowers time and memory)"
        },
    )
    real_fanout: int = field(
        default=0, metadata={"help": "with --real-batch: neighbours kept per node and hop (0: all, exact)"}
    )

    def __post_init__(self) -> None:
        check_field_types(self)  # numpy scalars stored as Python values (cards stay JSON); bool / Literal by kind


class LearnedNodeGraph(NodeCondensation):
    """Base of the methods that learn :math:`X'` (and optionally :math:`A'`) against a backbone."""

    config: LearnedGraphConfig

    def setup(self, device: torch.device) -> None:
        cfg, task = self.config, self.task
        # named here: torch's optimisers said only 'Invalid learning rate' (and took an infinite one), a zero
        # adj_period was a ZeroDivisionError and a zero pge_hidden an IndexError
        for name in ("outer_loop", "hidden", "num_layers", "pge_hidden", "adj_period"):
            check_int(name, getattr(cfg, name), 1)
        for name in ("inner_loop", "real_batch", "real_fanout", "init_hops", "adj_steps"):
            check_int(name, getattr(cfg, name), 0)
        check_int("pge_layers", cfg.pge_layers, 2)
        for name in ("lr_feat", "lr_adj", "lr_model"):
            check_positive(name, getattr(cfg, name))
        x_init = task.smooth(task.x, cfg.init_hops)  # Â^k X: what a k-layer GCN sees of each node
        x0, _ = init_from_real(cfg.init, x_init[task.train_idx], task.y_train, self.budgets)
        self.feat = nn.Parameter(x0.to(device))
        self.y_syn = self.labels(device)
        self.opt_feat = adam([self.feat], lr=cfg.lr_feat)
        self.pge: PGE | None = None
        if cfg.structure:
            self.pge = PGE(task.num_features, hidden_channels=cfg.pge_hidden, num_layers=cfg.pge_layers).to(device)
            self.opt_pge = adam(self.pge.parameters(), lr=cfg.lr_adj)
        self.model = create_model(
            cfg.backbone,
            in_channels=task.num_features,
            out_channels=task.num_classes,
            hidden_channels=cfg.hidden,
            num_layers=cfg.num_layers,
            dropout=cfg.dropout,
        ).to(device)
        self.op_real = task.op(self.model)
        self.real_members = {c: task.train_idx[task.y_train == c] for c in self.classes}
        self.class_ids = torch.tensor(self.classes, device=device)
        self._class_index: dict[tuple[tuple[int, ...], bool], Tensor] = {}

    def real_outputs(self, fn: Callable[[Tensor, Tensor | None], _T]) -> tuple[_T, dict[int, Tensor]]:
        """``fn(x, op)`` on the real graph, and per class the rows of the output that are its
        training nodes: every training node on the full graph (``real_batch=0``), or
        ``real_batch`` sampled ones per class on their receptive subgraph
        (:mod:`condensekit.graph.sampling`; draws from the global RNG, which the engine seeds and
        checkpoints)."""
        cfg, task = self.config, self.task
        if cfg.real_batch == 0:
            return fn(task.x_in, self.op_real), self.real_members
        picked = sample_per_class(self.real_members, cfg.real_batch)
        batch = torch.cat([picked[c] for c in self.classes])
        sub, op_sub, pos = receptive_subgraph(self.op_real, batch, self.model.hops, fanout=cfg.real_fanout)
        sizes = [picked[c].numel() for c in self.classes]
        rows = dict(zip(self.classes, torch.split(pos, sizes), strict=True))
        return fn(task.x[sub], op_sub), rows

    def class_index(self, sizes: Sequence[int], *, labels: bool = False) -> Tensor:
        """For rows stacked class by class, ``sizes[i]`` of them of class ``self.classes[i]``: each row's position
        ``i`` in ``self.classes``, or with ``labels`` its class ``self.classes[i]``.

        Built once per sizes and kept: the sizes are fixed (every training node, or ``min(real_batch, n_c)`` sampled
        ones), and building the index from the host list is a host-to-device copy (a stream sync on CUDA) at every
        update otherwise (GCDM's labels of its real rows, gradient matching's class positions)."""
        key = (tuple(sizes), labels)
        if key not in self._class_index:
            device = self.class_ids.device
            ids = self.class_ids if labels else torch.arange(len(self.classes), device=device)
            # the total is known on the host: no read-back of the sizes (a sync on CUDA)
            self._class_index[key] = torch.repeat_interleave(
                ids, torch.tensor(key[0], device=device), output_size=sum(key[0])
            )
        return self._class_index[key]

    def stateful(self) -> dict[str, Any]:
        out: dict[str, Any] = {"feat": self.feat, "opt_feat": self.opt_feat}
        if self.pge is not None:
            out |= {"pge": self.pge, "opt_pge": self.opt_pge}
        return out

    def adjacency(self, feat: Tensor) -> Tensor:
        """:math:`A' = g_\\Phi(X')`, or the all-zero (identity after renormalisation) structure."""
        if self.pge is None:
            return torch.zeros(feat.shape[0], feat.shape[0], device=feat.device)
        return self.pge(feat)

    def condensed(self) -> dict[str, Tensor]:
        feat = self.feat.detach()
        with torch.no_grad():
            adj = self.adjacency(feat)
        return {"x": feat.clone(), "adj": adj.clone(), "y": self.y_syn.clone()}

    def updates_structure(self, step: int) -> bool:
        """GCond's alternation: the generator in the first ``adj_steps`` of every ``adj_period``
        steps, the features otherwise."""
        return self.pge is not None and step % self.config.adj_period < self.config.adj_steps

    def update_targets(self, step: int) -> list[tuple[torch.optim.Optimizer, list[Tensor]]]:
        """The (optimiser, parameters) pairs one matching update moves at ``step``: both the
        features and the generator with ``joint_update``, else one of them by
        :meth:`updates_structure`."""
        feat = (self.opt_feat, [self.feat])
        if self.pge is None:
            return [feat]
        pge = (self.opt_pge, list(self.pge.parameters()))
        if self.config.joint_update:
            return [feat, pge]
        return [pge] if self.updates_structure(step) else [feat]

    @staticmethod
    def apply_update(targets: list[tuple[torch.optim.Optimizer, list[Tensor]]], loss: Tensor) -> None:
        """One optimiser step of every target on ``loss`` (gradients only for what moves)."""
        params = [p for _, ps in targets for p in ps]
        grads = torch.autograd.grad(loss, params)
        it = iter(grads)
        for opt, ps in targets:
            opt.zero_grad(set_to_none=True)
            for p in ps:
                p.grad = next(it)
            opt.step()

    def fresh_model(self) -> torch.optim.Optimizer:
        """Re-initialise the backbone and return a new optimiser for its inner training."""
        self.model.reset_parameters()
        self.model.train()
        return adam(self.model.parameters(), lr=self.config.lr_model)

    def train_inner(self, optimizer: torch.optim.Optimizer) -> None:
        """``inner_loop`` steps of the backbone on the current (detached) synthetic graph."""
        if not self.config.inner_loop:
            return
        feat = self.feat.detach()
        with torch.no_grad():
            op = self.model.propagation(self.adjacency(feat))
        for _ in range(self.config.inner_loop):
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(self.model(feat, op), self.y_syn).backward()
            optimizer.step()
