"""What every node-level condensation method shares: the task, the budget, the synthetic set.

Methods are registered by name in :data:`NODE_METHODS` with their config dataclass; the CLI and
benchmarks look them up there.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from condensekit.core.engine import CondensationMethod
from condensekit.core.registry import MethodEntry, Registry, check_int, method_registrar
from condensekit.core.synthetic import class_budgets, class_offsets, labels_from_budgets
from condensekit.graph.task import NodeTask

NODE_METHODS: Registry[MethodEntry] = Registry("method")
register_node_method = method_registrar(NODE_METHODS)
"""Class decorator ``@register_node_method(name, config, description)``."""


class NodeCondensation(CondensationMethod):
    """Base of node-level methods: holds the task, per-class budgets and synthetic labels.

    Args:
        task: the prepared real graph.
        budgets: C per-class counts (see :func:`condensekit.core.synthetic.class_budgets`).
        config: the method's config dataclass instance.
    """

    def __init__(self, task: NodeTask, budgets: Tensor, config: Any) -> None:
        if budgets.numel() != task.num_classes:
            raise ValueError(f"budgets has {budgets.numel()} entries; the task has {task.num_classes} classes")
        self.task = task
        self.budgets = budgets.cpu().long()
        self.config = config
        self.offsets = class_offsets(self.budgets)
        self.classes = [c for c in range(task.num_classes) if int(self.budgets[c]) > 0]

    @property
    def n_syn(self) -> int:
        return int(self.budgets.sum())

    def labels(self, device: torch.device) -> Tensor:
        return labels_from_budgets(self.budgets).to(device)

    def class_slice(self, c: int) -> slice:
        return slice(int(self.offsets[c]), int(self.offsets[c + 1]))

    def memory_hint(self) -> str:
        """The real and synthetic sizes, and the options that lower memory (for out-of-memory errors)."""
        task = self.task
        hint = (
            f"the real graph has {task.x.shape[0]} nodes, {task.adj.values().numel()} edges, "
            f"{task.num_features} features and {task.train_idx.numel()} training nodes; the synthetic one "
            f"{self.n_syn} nodes. Lower memory with a smaller --budget/--ratio"
        )
        if getattr(self.config, "real_batch", None) == 0:
            hint += ", or sample the real training nodes: --real-batch 256 (GCond's large-graph recipe)"
        return hint

    def steps(self) -> int:
        """Engine steps of a full run with this config (the paper's epochs)."""
        epochs = getattr(self.config, "epochs", 0)
        check_int("epochs", epochs, 0)  # 2.5 ran as 2 under a card recording 2.5
        return int(epochs)

    #: How the set is selected (``condense_nodes`` sets it when it selects: the runs and the judging graph).
    selection: dict[str, Any] | None = None

    def data_setting(self) -> dict[str, Any]:
        t = self.task
        info = {"dataset": t.name, "num_nodes": int(t.x.shape[0]), "num_features": t.num_features,
                "num_train": int(t.train_idx.numel()), "budgets": self.budgets.tolist()}  # fmt: skip
        # only when selecting, so checkpoints of runs without selection resume as before
        return info if self.selection is None else info | {"selection": self.selection}


def node_budgets(task: NodeTask, *, budget: int | None = None, ratio: float | None = None) -> Tensor:
    """GCond's proportional per-class budgets over the task's training nodes."""
    return class_budgets(task.y_train, task.num_classes, budget=budget, ratio=ratio)
