from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import Data
from torch_geometric.utils import to_networkx

from condensekit.core.engine import EngineConfig, run
from condensekit.core.evaluate import Summary, TrainConfig
from condensekit.core.seed import seed_everything
from condensekit.graph.adjacency import normalize
from condensekit.graph.condense import CondensedGraph, condense_nodes, make_config
from condensekit.graph.evaluate import NodeEvalConfig, evaluate_node
from condensekit.graph.methods import NODE_METHODS, node_budgets
from condensekit.graph.pge import PGE
from condensekit.graph.task import NodeTask

GRADIENT_MATCHING = ("gcond", "gcondx", "doscond")
LEARNED = (*GRADIENT_MATCHING, "gcdm", "gcsntk")
CORESETS = ("random", "herding", "kcenter")
PGE_METHODS = ("gcond", "doscond")  # structure=True by default
BUDGET = 9

# Tiny overrides of the paper defaults; adj_period=2 / adj_steps=1 makes step 0 update the structure
# and step 1 the features, so two steps touch everything a PGE method learns.
CONFIGS: dict[str, dict[str, Any]] = {
    **{
        m: {"outer_loop": 2, "inner_loop": 1, "hidden": 16, "pge_hidden": 8, "adj_period": 2, "adj_steps": 1}
        for m in GRADIENT_MATCHING
    },
    "gcdm": {"outer_loop": 2, "hidden": 16},
    "gcsntk": {},
    **{m: {"embed_epochs": 20, "hidden": 16} for m in CORESETS},
}


def _condense(task: NodeTask, method: str, **kwargs: Any) -> CondensedGraph:
    kwargs.setdefault("steps", 2 if method in LEARNED else 0)
    kwargs.setdefault("config", CONFIGS[method])
    return condense_nodes(task, method, budget=BUDGET, eval_every=0, progress=False, device="cpu", **kwargs)


def test_registry_holds_every_method() -> None:
    assert set(NODE_METHODS.names()) == set(LEARNED) | set(CORESETS)


@pytest.mark.parametrize("method", NODE_METHODS.names())
def test_every_method_returns_a_valid_condensed_graph(tiny_task: NodeTask, method: str) -> None:
    cg = _condense(tiny_task, method)
    x, adj, y = cg.x, cg.adj, cg.y
    assert x.shape == (BUDGET, tiny_task.num_features)
    assert adj.shape == (BUDGET, BUDGET)
    assert torch.isfinite(x).all() and torch.isfinite(adj).all()
    assert torch.allclose(adj, adj.t())
    assert (adj >= 0).all()
    assert torch.bincount(y, minlength=3).tolist() == [3, 3, 3]
    assert torch.equal(y, y.sort().values)  # grouped by class
    if method in PGE_METHODS:
        assert torch.count_nonzero(torch.diagonal(adj)) == 0
        off = adj[~torch.eye(BUDGET, dtype=torch.bool)]
        assert ((off > 0) & (off < 1)).all()
    assert cg.card["method"] == method
    assert cg.card["budget"]["per_class"] == [3, 3, 3]


@pytest.mark.parametrize("method", LEARNED)
def test_learned_methods_change_the_features(tiny_task: NodeTask, method: str) -> None:
    init = _condense(tiny_task, method, steps=0)
    trained = _condense(tiny_task, method, steps=2)
    assert not torch.equal(init.x, trained.x)
    assert torch.equal(init.y, trained.y)
    # a steps= (--steps) run: the card keeps the config's epochs and says how many steps ran
    configured = trained.card["config"]["epochs"]
    assert configured != 2 and trained.card["steps"] == {"run": 2, "config": configured}
    assert trained.card["cost"]["steps"] == 2


def test_gcdm_loss_decreases(tiny_task: NodeTask) -> None:
    cfg = make_config("gcdm", {"outer_loop": 2, "hidden": 16, "lr_feat": 0.05})
    algo = NODE_METHODS.get("gcdm").cls(tiny_task, node_budgets(tiny_task, budget=BUDGET), cfg)
    seed_everything(0)
    algo.setup(torch.device("cpu"))
    losses = [algo.step(s)["loss"] for s in range(20)]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < 0.7 * losses[0]


def _gcdm_features(task: NodeTask, config: dict[str, Any], *, reuse: bool, steps: int = 3) -> tuple[torch.Tensor, int]:
    """GCDM's features after ``steps`` steps, and how many real forward passes they took."""
    algo = NODE_METHODS.get("gcdm").cls(task, node_budgets(task, budget=BUDGET), make_config("gcdm", config))
    seed_everything(0)
    algo.setup(torch.device("cpu"))
    calls, real_outputs = [], algo.real_outputs
    algo.real_outputs = lambda fn: (calls.append(1), real_outputs(fn))[1]
    if not reuse:
        algo.real_is_fixed_within_step = lambda: False
    for s in range(steps):
        algo.step(s)
    return algo.feat.detach().clone(), len(calls)


@pytest.mark.parametrize("kernel", ["linear", "gaussian"])
def test_gcdm_one_real_pass_per_step_gives_the_same_features(tiny_task: NodeTask, kernel: str) -> None:
    config = {"outer_loop": 3, "hidden": 16, "lr_feat": 0.05, "kernel": kernel}
    x_once, passes_once = _gcdm_features(tiny_task, config, reuse=True)
    x_every, passes_every = _gcdm_features(tiny_task, config, reuse=False)
    assert (passes_once, passes_every) == (3, 9)
    assert torch.equal(x_once, x_every)


@pytest.mark.parametrize("extra", [{"inner_loop": 1}, {"real_batch": 2}, {"dropout": 0.5}])
def test_gcdm_recomputes_the_real_pass_when_it_can_change(tiny_task: NodeTask, extra: dict[str, Any]) -> None:
    _, passes = _gcdm_features(tiny_task, {"outer_loop": 3, "hidden": 16, **extra}, reuse=True, steps=2)
    assert passes == 6


@pytest.mark.parametrize(
    "extra",
    [{"layers": "all"}, {"init_hops": 2}, {"kernel": "gaussian"}, {"kernel": "multi"}, {"structure": True}],
)
def test_gcdm_variants(tiny_task: NodeTask, extra: dict[str, Any]) -> None:
    cg = _condense(tiny_task, "gcdm", config={**CONFIGS["gcdm"], "pge_hidden": 8, **extra})
    assert cg.x.shape == (BUDGET, tiny_task.num_features) and torch.isfinite(cg.x).all()
    if extra.get("structure"):
        assert cg.adj.sum() > 0


def test_gcdm_init_hops_starts_from_propagated_features(tiny_task: NodeTask) -> None:
    raw = _condense(tiny_task, "gcdm", steps=0, config={**CONFIGS["gcdm"], "init_hops": 0})
    hop = _condense(tiny_task, "gcdm", steps=0, config={**CONFIGS["gcdm"], "init_hops": 1})
    assert not torch.allclose(raw.x, hop.x)


def test_gcsntk_fits_the_real_labels_better_and_maps_features_back(tiny_task: NodeTask) -> None:
    cfg = make_config("gcsntk", {"lr_feat": 0.05})
    algo = NODE_METHODS.get("gcsntk").cls(tiny_task, node_budgets(tiny_task, budget=BUDGET), cfg)
    seed_everything(0)
    algo.setup(torch.device("cpu"))
    losses = [algo.step(s)["loss"] for s in range(30)]
    assert losses[-1] < 0.8 * losses[0]
    out = algo.condensed()
    assert torch.allclose((out["x"] - algo.mean) / algo.std, algo.feat.detach(), atol=1e-5)
    assert torch.count_nonzero(out["adj"]) == 0
    # The real side's structure: the subgraph of A + I that the training nodes induce, row-normalised.
    dense = tiny_task.adj.to_dense()[tiny_task.train_idx][:, tiny_task.train_idx]
    want = normalize((dense != 0).float(), kind="row", self_loops=True)
    assert torch.allclose(algo.batch[2].to_dense(), want)


@pytest.mark.parametrize("bad", [{"hops": -1}, {"kernel_hops": 0}, {"kernel_layers": 0}, {"ridge": -1.0}])
def test_gcsntk_rejects_bad_config(tiny_task: NodeTask, bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        _condense(tiny_task, "gcsntk", config=bad)


def test_gcondx_has_no_structure(tiny_task: NodeTask) -> None:
    cg = _condense(tiny_task, "gcondx")
    assert torch.count_nonzero(cg.adj) == 0


@pytest.mark.parametrize("method", CORESETS)
def test_coresets_pick_real_training_nodes(tiny_task: NodeTask, method: str) -> None:
    cg = _condense(tiny_task, method)
    real = tiny_task.x[tiny_task.train_idx]
    matches = (cg.x.unsqueeze(1) == real.unsqueeze(0)).all(-1)  # 9 × 15
    assert (matches.sum(1) == 1).all()
    picked = tiny_task.train_idx[matches.float().argmax(1)]
    assert picked.unique().numel() == BUDGET
    assert torch.equal(cg.y, tiny_task.y[picked])
    # The induced subgraph of the picked nodes.
    dense = tiny_task.adj.to_dense()
    assert torch.equal(cg.adj, dense[picked][:, picked])


@pytest.mark.parametrize("method", ["gcond", "gcdm", "random"])
def test_same_seed_same_tensors_other_seed_differs(tiny_task: NodeTask, method: str) -> None:
    a = _condense(tiny_task, method, seed=3)
    b = _condense(tiny_task, method, seed=3)
    c = _condense(tiny_task, method, seed=4)
    for key in ("x", "adj", "y"):
        assert torch.equal(a.tensors()[key], b.tensors()[key])
    assert not torch.equal(a.x, c.x)


def test_resume_is_bit_for_bit(tiny_task: NodeTask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    method, steps, overrides = "gcond", 4, CONFIGS["gcond"]
    full = _condense(tiny_task, method, steps=steps)

    ckpt = tmp_path / "c.ckpt"
    algo = NODE_METHODS.get(method).cls(
        tiny_task, node_budgets(tiny_task, budget=BUDGET), make_config(method, overrides)
    )
    engine = EngineConfig(
        steps=steps,
        seed=0,
        device="cpu",
        checkpoint=str(ckpt),
        checkpoint_every=1,
        progress=False,
        stop_after=2,
    )
    partial = run(algo, engine)
    assert not partial.finished and partial.steps_done == 2 and ckpt.exists()

    cls = NODE_METHODS.get(method).cls
    original, called = cls.step, []

    def counting_step(self: Any, step: int) -> dict[str, float]:
        called.append(step)
        return original(self, step)

    monkeypatch.setattr(cls, "step", counting_step)
    resumed = _condense(tiny_task, method, steps=steps, checkpoint=ckpt, checkpoint_every=1)
    assert called == [2, 3]  # it continued from the checkpoint
    assert resumed.result is not None and resumed.result.steps_done == steps
    for key in ("x", "adj", "y"):
        assert torch.equal(resumed.tensors()[key], full.tensors()[key])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"config": {"outer_loop": 2, "hidden": 16, "lr_feat": 0.5}}, "lr_feat=1e-05, this run has lr_feat=0.5"),
     ({"budget": 12}, "budgets=\\[[0-9, ]*\\], this run has budgets=")],
)  # fmt: skip
def test_resuming_with_other_settings_is_refused(
    tiny_task: NodeTask, tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    ckpt = tmp_path / "c.ckpt"
    first = _condense(tiny_task, "gcdm", checkpoint=ckpt, checkpoint_every=1)
    assert first.result is not None and first.result.finished
    args = {"config": CONFIGS["gcdm"], "budget": BUDGET} | kwargs
    # used to resume silently (the saved set under a card naming the new lr_feat) or crash in a tensor copy
    with pytest.raises(ValueError, match=f"checkpoint .* was written by a run with {message}"):
        condense_nodes(tiny_task, "gcdm", steps=2, eval_every=0, progress=False, device="cpu", checkpoint=ckpt, **args)


def test_to_data_save_and_load(tiny_task: NodeTask, tmp_path: Path) -> None:
    cg = _condense(tiny_task, "gcond")
    data = cg.to_data()
    assert isinstance(data, Data)
    assert data.validate(raise_on_error=True)
    assert data.edge_weight is not None and data.edge_weight.numel() == data.edge_index.shape[1]
    assert data.edge_index.shape[1] == BUDGET * (BUDGET - 1)  # PGE: every off-diagonal pair > 0
    g = to_networkx(data)
    assert isinstance(g, nx.DiGraph) and g.number_of_nodes() == BUDGET

    path = cg.save(tmp_path / "art")
    back = CondensedGraph.load(path)
    for key in ("x", "adj", "y"):
        assert torch.equal(back.tensors()[key], cg.tensors()[key])
    assert back.card["method"] == "gcond"
    assert back.card["budget"]["nodes"] == BUDGET

    card_path = path / "card.json"
    card = json.loads(card_path.read_text())
    card["domain"] = "medical"
    card_path.write_text(json.dumps(card))
    with pytest.raises(ValueError, match="graph"):
        CondensedGraph.load(path)


def test_unknown_method_lists_valid_names(tiny_task: NodeTask) -> None:
    with pytest.raises(ValueError, match=r"Unknown method 'nope'.*gcdm.*gcond.*random"):
        condense_nodes(tiny_task, "nope", budget=BUDGET, progress=False)


@pytest.mark.parametrize(
    ("size", "word"),
    [
        ({"budget": 2}, "number of classes"),
        ({"budget": 16}, "exceeds"),
        ({"ratio": 0}, "ratio"),
        ({"ratio": 1.5}, "ratio"),
    ],
)
def test_bad_budget(tiny_task: NodeTask, size: dict[str, Any], word: str) -> None:
    with pytest.raises(ValueError, match=word):
        condense_nodes(tiny_task, "random", steps=0, progress=False, **size)


def test_unknown_config_field(tiny_task: NodeTask) -> None:
    with pytest.raises(ValueError, match=r"Unknown config field.*bogus"):
        condense_nodes(tiny_task, "gcond", budget=BUDGET, config={"bogus": 1}, progress=False)


def _without_train_mask(d: Data) -> None:
    del d.train_mask


def _nan_feature(d: Data) -> None:
    d.x[4, 2] = float("nan")


def _class_without_training_node(d: Data) -> None:
    d.train_mask[d.y == 2] = False


@pytest.mark.parametrize(
    ("corrupt", "word"),
    [
        (_without_train_mask, "train_mask"),
        (_nan_feature, "non-finite"),
        (_class_without_training_node, "no training node"),
    ],
)
def test_bad_graph(tiny_graph: Data, corrupt: Any, word: str) -> None:
    corrupt(tiny_graph)
    with pytest.raises(ValueError, match=word):
        condense_nodes(tiny_graph, "random", budget=BUDGET, device="cpu", progress=False)


EVAL = NodeEvalConfig(runs=2, hidden=16, train=TrainConfig(epochs=30))
ALL_MODELS = ["gcn", "sgc", "appnp", "cheb", "sage", "mlp"]


def test_evaluate_every_architecture(tiny_task: NodeTask) -> None:
    cg = _condense(tiny_task, "random")
    res = evaluate_node(tiny_task, cg.tensors(), models=ALL_MODELS, config=EVAL)
    assert list(res) == ALL_MODELS
    for summary in res.values():
        assert isinstance(summary, Summary)
        assert len(summary.values) == 2
        assert all(0.0 <= v <= 100.0 for v in summary.values)


def test_evaluate_in_worker_processes_matches_in_process(tiny_task: NodeTask) -> None:
    cg = _condense(tiny_task, "random")
    models = ["gcn", "sage"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the workers' thread count, so both sum in the same order
    try:
        here = evaluate_node(tiny_task, cg.tensors(), models=models, config=EVAL)
    finally:
        torch.set_num_threads(threads)
    there = evaluate_node(tiny_task, cg.tensors(), models=models, config=EVAL, workers=2)
    assert {m: s.values for m, s in there.items()} == {m: s.values for m, s in here.items()}


def test_evaluate_bad_input(tiny_task: NodeTask) -> None:
    cg = _condense(tiny_task, "random")
    with pytest.raises(ValueError, match=r"Unknown model 'gat'"):
        evaluate_node(tiny_task, cg.tensors(), models=["gcn", "gat"], config=EVAL)
    wrong = cg.tensors() | {"x": torch.randn(BUDGET, 7)}
    with pytest.raises(ValueError, match="features"):
        evaluate_node(tiny_task, wrong, models=["gcn"], config=EVAL)
    with pytest.raises(ValueError, match="workers"):
        evaluate_node(tiny_task, cg.tensors(), models=["gcn"], config=EVAL, workers=0)


def _pge_reference(pge: PGE, x: torch.Tensor) -> torch.Tensor:
    """Eq. (5) the slow way: the n²×2d pair features through the same layers."""
    n = x.shape[0]
    pairs = torch.cat([x.repeat_interleave(n, 0), x.repeat(n, 1)], dim=1)  # row i*n+j = [x_i; x_j]
    h = pairs @ pge.first.weight.t() + pge.first.bias
    layers = [None, *pge.hidden]
    for layer, norm in zip(layers, pge.norms, strict=True):
        if layer is not None:
            h = layer(h)
        h = F.relu(F.batch_norm(h, None, None, norm.weight, norm.bias, training=True, eps=norm.eps))
    logits = pge.last(h).reshape(n, n)
    adj = torch.sigmoid((logits + logits.t()) / 2)
    return adj * (1 - torch.eye(n))


@pytest.mark.parametrize("num_layers", [2, 3])
def test_pge_matches_naive_pair_features(num_layers: int) -> None:
    torch.manual_seed(0)
    pge = PGE(6, hidden_channels=8, num_layers=num_layers)
    with torch.no_grad():  # non-trivial affine BatchNorm parameters
        for norm in pge.norms:
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.2, 0.2)
    x = torch.randn(5, 6)
    adj = pge(x)
    assert adj.shape == (5, 5)
    assert torch.equal(adj, adj.t())
    assert torch.count_nonzero(torch.diagonal(adj)) == 0
    off = adj[~torch.eye(5, dtype=torch.bool)]
    assert ((off > 0) & (off < 1)).all()
    assert torch.allclose(adj, _pge_reference(pge, x), atol=1e-6)
    assert torch.equal(pge.inference(x), adj)


def test_pge_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="num_layers"):
        PGE(4, num_layers=1)
    with pytest.raises(ValueError, match="features"):
        PGE(4)(torch.randn(3, 5))


def test_gcond_alternates_structure_and_features(tiny_task: NodeTask) -> None:
    cfg = make_config("gcond", CONFIGS["gcond"] | {"adj_period": 4, "adj_steps": 1, "lr_feat": 1e-2})
    algo = NODE_METHODS.get("gcond").cls(tiny_task, node_budgets(tiny_task, budget=BUDGET), cfg)
    seed_everything(0)
    algo.setup(torch.device("cpu"))

    def snapshot() -> tuple[torch.Tensor, list[torch.Tensor]]:
        return algo.feat.detach().clone(), [p.detach().clone() for p in algo.pge.parameters()]

    def changed(before: list[torch.Tensor]) -> bool:
        return any(not torch.equal(b, p) for b, p in zip(before, algo.pge.parameters(), strict=True))

    feat0, pge0 = snapshot()
    algo.step(0)  # 0 % 4 < 1: structure step
    assert torch.equal(algo.feat, feat0)
    assert changed(pge0)

    feat1, pge1 = snapshot()
    algo.step(1)  # 1 % 4 >= 1: feature step
    assert not torch.equal(algo.feat, feat1)
    assert not changed(pge1)


@pytest.mark.parametrize("method", ["doscond", "gcdm"])
def test_joint_update_moves_features_and_structure_every_step(tiny_task: NodeTask, method: str) -> None:
    overrides = CONFIGS[method] | {"joint_update": True, "structure": True, "lr_feat": 1e-2}
    cfg = make_config(method, overrides)
    assert make_config("doscond").joint_update and not make_config("gcond").joint_update
    algo = NODE_METHODS.get(method).cls(tiny_task, node_budgets(tiny_task, budget=BUDGET), cfg)
    seed_everything(0)
    algo.setup(torch.device("cpu"))
    for step in (0, 1):  # a structure step and a feature step under the alternation
        feat, pge = algo.feat.detach().clone(), [p.detach().clone() for p in algo.pge.parameters()]
        algo.step(step)
        assert not torch.equal(algo.feat, feat)
        assert any(not torch.equal(b, p) for b, p in zip(pge, algo.pge.parameters(), strict=True))


def test_resuming_under_another_selection_protocol_is_refused(
    tiny_graph: Data, tiny_task: NodeTask, tmp_path: Path
) -> None:
    # the saved best set and score came from eval_runs=1 on tiny_task's validation nodes; a resume with 3 runs
    # (or another judging graph) selected over both protocols' scores under a card naming the new one
    kw: dict[str, Any] = {"budget": BUDGET, "config": CONFIGS["gcdm"], "steps": 2, "eval_every": 1,
                          "checkpoint": tmp_path / "c.ckpt", "progress": False, "device": "cpu"}  # fmt: skip
    first = condense_nodes(tiny_task, "gcdm", **kw)
    assert first.card["selection"]["history"]
    with pytest.raises(ValueError, match="selection=.*'runs': 1.*this run has selection=.*'runs': 3"):
        condense_nodes(tiny_task, "gcdm", eval_runs=3, **kw)
    fewer_val = tiny_graph.clone()
    fewer_val.val_mask[fewer_val.val_mask.nonzero()[0]] = False
    other = NodeTask.from_data(fewer_val)
    with pytest.raises(ValueError, match="selection=.*this run has selection=.*'num_val'"):
        condense_nodes(tiny_task, "gcdm", eval_task=other, **kw)
    again = condense_nodes(tiny_task, "gcdm", eval_runs=1, **kw)
    assert torch.equal(again.x, first.x)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("kernel", "gausian", r"Unknown value 'gausian' for argument kernel\. Valid .* \{gaussian, linear, multi\}"),
     ("layers", "every", r"Unknown value 'every' for argument layers\. Valid values are \{all, hidden\}"),
     ("bandwidth", 0.0, r"Invalid value 0\.0 for argument bandwidth")],
)  # fmt: skip
def test_gcdm_refuses_unknown_kernel_layers_and_bandwidth(
    tiny_task: NodeTask, field: str, value: Any, message: str
) -> None:
    # a misspelt kernel ran the multi-bandwidth MMD and a misspelt layers matched hidden layers only, each under
    # a card naming the misspelt value; a bad bandwidth was refused as 'sigma' (an argument no user passes)
    config = CONFIGS["gcdm"] | {field: value} | ({"kernel": "gaussian"} if field == "bandwidth" else {})
    with pytest.raises(ValueError, match=message):
        _condense(tiny_task, "gcdm", config=config)


@pytest.mark.parametrize(
    ("method", "field", "value"),
    [("gcond", "lr_feat", float("nan")), ("gcond", "lr_adj", -1.0), ("gcond", "lr_model", float("inf")),
     ("gcond", "adj_period", 0), ("gcond", "adj_steps", -1), ("gcond", "pge_hidden", 0), ("gcond", "hidden", 0),
     ("gcond", "epochs", 2.5), ("gcdm", "lr_feat", 0.0), ("gcsntk", "lr_feat", -1.0), ("gcsntk", "epochs", -1)],
)  # fmt: skip
def test_learned_methods_refuse_bad_rates_and_counts_naming_the_field(
    tiny_task: NodeTask, method: str, field: str, value: Any
) -> None:
    # torch said only 'Invalid learning rate: nan'; an infinite lr_model, adj_steps=-1 and epochs=2.5 (run as 2)
    # were taken under a card recording them; adj_period=0 was a ZeroDivisionError, pge_hidden=0 an IndexError
    with pytest.raises(ValueError, match=f"Invalid value .* for argument {field}\\."):
        _condense(tiny_task, method, config=CONFIGS[method] | {field: value})


@pytest.mark.parametrize("method", CORESETS)
@pytest.mark.parametrize("field", ["embed_epochs", "hidden"])
def test_coresets_refuse_bad_counts_naming_the_field(tiny_task: NodeTask, method: str, field: str) -> None:
    # herding/k-center said 'argument epochs' / 'hidden_channels' after building the task; random took them
    with pytest.raises(ValueError, match=f"Invalid value 0 for argument {field}\\."):
        _condense(tiny_task, method, config=CONFIGS[method] | {field: 0})


def test_selection_arguments_are_checked_before_the_set_up(tiny_graph: Data, tiny_task: NodeTask) -> None:
    # both failed at the step-0 evaluation, after the set-up (a herding coreset trains its GCN there first):
    # eval_runs=0 as 'argument runs', an eval_task of other features in a matrix product
    kw: dict[str, Any] = {"budget": BUDGET, "steps": 2, "eval_every": 1, "progress": False, "device": "cpu"}
    with pytest.raises(ValueError, match=r"Invalid value 0 for argument eval_runs\."):
        condense_nodes(tiny_task, "gcdm", eval_runs=0, config=CONFIGS["gcdm"], **kw)
    other = tiny_graph.clone()
    other.x = other.x[:, :4]
    with pytest.raises(ValueError, match=r"eval_task has 4 features and \d+ classes; the condensed task has"):
        condense_nodes(tiny_task, "gcdm", eval_task=NodeTask.from_data(other), config=CONFIGS["gcdm"], **kw)
