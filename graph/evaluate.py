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
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data

from condensekit.core.batched import device_rng_state, seeded_builds, train_select_batched
from condensekit.core.config import check_field_types
from condensekit.core.evaluate import Summary, TrainConfig, TrainResult, accuracy, repeat, train_select
from condensekit.core.labels import check_class_indices
from condensekit.core.parallel import run_seeded
from condensekit.core.registry import check_int
from condensekit.core.seed import seed_everything
from condensekit.graph.models.base import GraphModel
from condensekit.graph.models.registry import MODELS, create_model
from condensekit.graph.task import NodeTask, model_input


@dataclass(frozen=True)
class NodeEvalConfig:
    """The evaluation protocol (defaults: the issue's / GCond's GCN protocol)."""

    runs: int = 10
    hidden: int = 256
    num_layers: int = 2
    dropout: float = 0.5
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0

    def __post_init__(self) -> None:
        check_field_types(self)  # numpy scalars stored as Python values (cards stay JSON); bool / Literal by kind
        # runs=0 gave an empty result (mean NaN) over worker processes; sizes failed only in the first model
        for name in ("runs", "hidden", "num_layers"):
            check_int(name, getattr(self, name), 1)


def check_condensed(condensed: dict[str, Tensor], num_features: int, num_classes: int) -> None:
    """A condensed node graph has ``x`` (n×d, n ≥ 1), ``adj`` (n×n, finite, ≥ 0) and ``y`` (n integer labels in
    [0, C)); anything else raises ``ValueError`` naming the tensor (float labels trained as if cast, an empty set
    was a torch ``min()`` error, a ``CondensedGraph`` instead of its ``tensors()`` a ``TypeError``)."""
    if not isinstance(condensed, dict):
        hint = " (pass cg.tensors())" if hasattr(condensed, "tensors") else ""
        raise ValueError(
            f"Invalid value for argument condensed: a {type(condensed).__name__}; it must be a dict of tensors "
            f"x, adj, y{hint}"
        )
    missing = [k for k in ("x", "adj", "y") if k not in condensed]
    if missing:
        raise ValueError(f"condensed graph lacks tensors {missing}; expected x, adj and y")
    check_condensed_tensors(condensed, ("x", "adj", "y"))
    x, adj, y = condensed["x"], condensed["adj"], condensed["y"]
    n = x.shape[0]
    if n == 0:
        raise ValueError("condensed graph has no node; there is nothing to train on")
    if y.shape != (n,):
        raise ValueError(f"condensed y has shape {tuple(y.shape)}; it must hold one label per node, ({n},)")
    check_class_indices(y, num_classes, "condensed y", "the condensed graph needs")
    if x.dim() != 2 or x.shape[1] != num_features:
        raise ValueError(f"condensed x has shape {tuple(x.shape)}; the real graph has {num_features} features")
    if adj.shape != (n, n):
        raise ValueError(f"condensed adj has shape {tuple(adj.shape)}; expected ({n}, {n})")
    if not (torch.isfinite(x).all() and torch.isfinite(adj).all()):
        raise ValueError("condensed x or adj holds NaN or inf")
    if (adj < 0).any() or not torch.allclose(adj, adj.t(), atol=1e-5):
        raise ValueError("condensed adj must be symmetric with non-negative weights")


def check_condensed_tensors(condensed: dict[str, object], names: tuple[str, ...]) -> None:
    """Raise ``ValueError`` naming the tensor unless each of ``condensed[names]`` is a ``torch.Tensor`` (node and
    graph level)."""
    for name in names:
        if not isinstance(condensed[name], Tensor):
            raise ValueError(
                f"condensed {name} is a {type(condensed[name]).__name__}; it must be a torch.Tensor (torch.from_numpy)"
            )


def check_task(task: object) -> None:
    """Raise ``ValueError`` unless ``task`` is a prepared :class:`NodeTask` (a PyG ``Data`` failed as
    ``'GlobalStorage' object has no attribute 'num_classes'``)."""
    if not isinstance(task, NodeTask):
        raise ValueError(
            f"Invalid value for argument task: a {type(task).__name__}; it must be a NodeTask: "
            "prepare_task(data) (a dataset name or a PyG Data with train/val/test masks)"
        )


def protocol_model(task: NodeTask, model: str, config: NodeEvalConfig) -> GraphModel:
    """A freshly initialised ``model`` of the protocol's size, on the task's device."""
    return create_model(
        model,
        in_channels=task.num_features,
        out_channels=task.num_classes,
        hidden_channels=config.hidden,
        num_layers=config.num_layers,
        dropout=config.dropout,
    ).to(task.x.device)


def train_on_condensed(
    task: NodeTask,
    model: str,
    condensed: dict[str, Tensor],
    config: NodeEvalConfig,
    *,
    test: bool = True,
    net: GraphModel | None = None,
) -> TrainResult:
    """One run of the protocol: a fresh ``model`` trained on ``condensed``, selected by real
    validation accuracy, tested on the real test nodes (skipped when ``test=False``).

    ``net`` (a :func:`protocol_model` the caller keeps, e.g. to attack it afterwards) is trained in
    place instead of a fresh model built here."""
    cls = MODELS.get(model)
    device = task.x.device
    x_syn = model_input(condensed["x"].float().to(device))  # a coreset keeps the real sparse rows
    y_syn = condensed["y"].long().to(device)
    op_syn = cls.propagation(condensed["adj"].float().to(device))
    op_real = task.op(cls)
    y_val, y_test = task.y[task.val_idx], task.y[task.test_idx]
    return train_select(
        net if net is not None else protocol_model(task, model, config),
        train_loss=lambda m: F.cross_entropy(m(x_syn, op_syn), y_syn),
        validate=lambda m: accuracy(m(task.x_in, op_real)[task.val_idx], y_val),
        test=(lambda m: accuracy(m(task.x_in, op_real)[task.test_idx], y_test)) if test else (lambda m: float("nan")),
        config=config.train,
    )


def train_on_labelled(
    task: NodeTask,
    model: str,
    labelled: Tensor,
    config: NodeEvalConfig,
    *,
    net: GraphModel | None = None,
) -> TrainResult:
    """One run of the protocol on the *real* graph: ``model`` trained transductively with the labels
    of the nodes ``labelled`` only (cross-entropy on those rows, the whole graph propagated), selected
    by real validation accuracy, tested on the real test nodes. The whole-data reference when
    ``labelled`` is ``task.train_idx``; a shadow model of a membership audit when it is a subset."""
    labelled = torch.as_tensor(labelled, dtype=torch.long, device=task.x.device).reshape(-1)
    if labelled.numel() == 0 or int(labelled.min()) < 0 or int(labelled.max()) >= task.y.numel():
        raise ValueError(
            f"Invalid argument labelled: {labelled.numel()} node ids; valid ids are non-empty, in [0, {task.y.numel()})"
        )
    op_real = task.op(MODELS.get(model))
    y_lab, y_val, y_test = task.y[labelled], task.y[task.val_idx], task.y[task.test_idx]
    return train_select(
        net if net is not None else protocol_model(task, model, config),
        train_loss=lambda m: F.cross_entropy(m(task.x_in, op_real)[labelled], y_lab),
        validate=lambda m: accuracy(m(task.x_in, op_real)[task.val_idx], y_val),
        test=lambda m: accuracy(m(task.x_in, op_real)[task.test_idx], y_test),
        config=config.train,
    )


def fit_node_model(
    task: NodeTask,
    model: str,
    config: NodeEvalConfig,
    *,
    condensed: dict[str, Tensor] | None = None,
    labelled: Tensor | None = None,
    seed: int | None = None,
) -> GraphModel:
    """A trained, validation-selected ``model`` in eval mode, for callers that use the model itself
    (the privacy and robustness audits): trained on the ``condensed`` graph
    (:func:`train_on_condensed`) or, without one, on the real graph with the labels of ``labelled``
    (:func:`train_on_labelled`, default: the training nodes). ``seed`` (default ``config.seed``)
    seeds every RNG first. Call ``net(task.x_in, task.op(net))`` for its N×K logits on the real graph."""
    if condensed is not None and labelled is not None:
        raise ValueError("give condensed (a condensed graph) or labelled (real labels), not both")
    check_task(task)
    MODELS.get(model)
    if condensed is not None:
        check_condensed(condensed, task.num_features, task.num_classes)
    seed_everything(config.seed if seed is None else seed)
    net = protocol_model(task, model, config)
    if condensed is not None:
        train_on_condensed(task, model, condensed, config, test=False, net=net)
    else:
        train_on_labelled(task, model, task.train_idx if labelled is None else labelled, config, net=net)
    return net.eval()


def train_on_condensed_batched(
    task: NodeTask, model: str, condensed: dict[str, Tensor], config: NodeEvalConfig
) -> list[TrainResult]:
    """``config.runs`` runs of :func:`train_on_condensed` trained together
    (:func:`~condensekit.core.batched.train_select_batched`): run ``i`` is built after seeding
    every RNG with ``config.seed + i`` and draws its dropout masks from that stream, so it gives
    the one-at-a-time figures up to floating-point summation order."""
    cls = MODELS.get(model)
    device = task.x.device
    # Dense synthetic features: a batched product with shared sparse rows has no vmap rule.
    x_syn = condensed["x"].float().to(device)
    y_syn = condensed["y"].long().to(device)
    op_syn = cls.propagation(condensed["adj"].float().to(device))
    op_real = task.op(cls)
    y_val, y_test = task.y[task.val_idx], task.y[task.test_idx]
    nets, states = seeded_builds(
        lambda: protocol_model(task, model, config), runs=config.runs, seed=config.seed,
        state=lambda: device_rng_state(device),
    )  # fmt: skip
    return train_select_batched(
        nets,
        rng_states=states,
        train_loss=lambda m: F.cross_entropy(m(x_syn, op_syn), y_syn),
        # Correct validation nodes, on the device: the same ranking as accuracy, no host sync.
        validate=lambda m: (m(task.x_in, op_real)[task.val_idx].argmax(-1) == y_val).sum(),
        test=lambda m: accuracy(m(task.x_in, op_real)[task.test_idx], y_test),
        config=config.train,
    )


def evaluate_node(
    task: NodeTask,
    condensed: dict[str, Tensor],
    *,
    models: Sequence[str] = ("gcn",),
    config: NodeEvalConfig = NodeEvalConfig(),
    workers: int = 1,
    batched: bool | None = None,
) -> dict[str, Summary]:
    """Test accuracy (%) of each architecture trained on ``condensed``, over ``config.runs`` runs.

    ``workers > 1`` spreads the runs over that many CPU processes with one torch thread each
    (:mod:`condensekit.core.parallel`; :func:`~condensekit.core.parallel.auto_workers` picks one
    per core). Every run is seeded as in-process; its figures match the in-process ones up to
    floating-point summation order (thread count). Workers are spawned, so a script calling this
    with ``workers > 1`` needs an ``if __name__ == "__main__":`` guard.

    ``batched`` trains each architecture's runs together in this process
    (:func:`train_on_condensed_batched`; same figures up to summation order); ``None`` (default)
    batches on an accelerator and not on the CPU, where the runs go one at a time or to workers.
    """
    check_task(task)
    check_field_types(config)
    check_int("workers", workers, 1)
    models = MODELS.check_names(models, "models")  # a string or an unknown name fails before any training
    check_condensed(condensed, task.num_features, task.num_classes)
    if batched is None:
        batched = task.x.device.type != "cpu" and workers == 1
    if batched:
        if workers > 1:
            raise ValueError(f"workers={workers} and batched=True exclude each other; pass one of them")
        return {
            name: Summary(values=[r.test for r in train_on_condensed_batched(task, name, condensed, config)])
            for name in models
        }
    if workers > 1:
        if task.x.device.type != "cpu":
            raise ValueError(f"workers={workers} needs a CPU task, got device {task.x.device}; use workers=1")
        cond = {k: v.detach().cpu() for k, v in condensed.items()}
        jobs = [
            (partial(_test_run, model=name, condensed=cond, config=config), config.seed + i)
            for name in models
            for i in range(config.runs)
        ]
        values = run_seeded(jobs, task_from_payload, (task_payload(task), task.num_classes), workers=workers)
        return {name: Summary(values=values[k * config.runs : (k + 1) * config.runs]) for k, name in enumerate(models)}
    return {
        name: repeat(
            partial(_test_run, task, model=name, condensed=condensed, config=config), runs=config.runs, seed=config.seed
        )
        for name in models
    }


def _test_run(task: NodeTask, _seed: int, *, model: str, condensed: dict[str, Tensor], config: NodeEvalConfig) -> float:
    return train_on_condensed(task, model, condensed, config).test


def task_from_payload(data: Data, num_classes: int) -> NodeTask:
    """The task :func:`task_payload` packed, rebuilt in a worker process: not validated again (it was prepared, and
    a held-out task has no training nodes) and with the task's own class count."""
    return NodeTask.from_data(data, validate=False, num_classes=num_classes)


def task_payload(task: NodeTask) -> Data:
    """``task`` as the picklable PyG ``Data`` (with split masks) that
    :func:`task_from_payload` rebuilds it from in a worker process."""
    adj = task.adj.to_sparse_coo().coalesce()
    n = task.x.shape[0]

    def mask(idx: Tensor) -> Tensor:
        m = torch.zeros(n, dtype=torch.bool)
        m[idx.cpu()] = True
        return m

    return Data(
        x=task.x.cpu(),
        edge_index=adj.indices().cpu(),
        edge_weight=adj.values().cpu(),
        y=task.y.cpu(),
        train_mask=mask(task.train_idx),
        val_mask=mask(task.val_idx),
        test_mask=mask(task.test_idx),
        name=task.name,
    )


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
    runs_ = repeat(
        lambda _seed: train_on_condensed(task, model, condensed, config, test=False).val, runs=runs, seed=config.seed
    )
    return runs_.mean
