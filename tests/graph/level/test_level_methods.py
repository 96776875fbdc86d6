from __future__ import annotations

from pathlib import Path

import pytest
import torch

from condensekit.core.engine import EngineConfig, run
from condensekit.graph.level.condense import condense_graphs, make_graph_config
from condensekit.graph.level.evaluate import GraphEvalConfig, check_condensed_graphs, evaluate_graphs
from condensekit.graph.level.methods import GRAPH_METHODS

FAST = {
    "kidd": {"batch_real": 8, "batch_syn": 4, "init": "random"},
    "kidd-lr": {"batch_real": 8, "batch_syn": 4, "init": "random", "rank": 2},
    "doscond": {"batch_real": 4, "init": "random"},
    "random": {},
    "herding": {"embed_epochs": 2},
    "kcenter": {"embed_epochs": 2},
}


@pytest.mark.parametrize("method", sorted(FAST))
def test_every_method_gives_valid_graphs(tiny_set, method: str) -> None:
    steps = 0 if method in ("random", "herding", "kcenter") else 3
    cs = condense_graphs(tiny_set, method, gpc=2, config=FAST[method], steps=steps, progress=False, device="cpu")
    check_condensed_graphs(cs.tensors(), 4, 2)
    assert cs.y.tolist() == [0, 0, 1, 1]
    assert set(torch.unique(cs.adj).tolist()) <= {0.0, 1.0}
    graphs = cs.to_data_list()
    assert len(graphs) == 4 and all(int(g.y) == c for g, c in zip(graphs, [0, 0, 1, 1], strict=True))
    assert cs.card["task"] == "graph_classification" and cs.card["budget"]["gpc"] == 2


@pytest.mark.parametrize("method", ["kidd", "doscond"])
def test_learning_changes_the_features_and_stays_finite(tiny_set, method: str) -> None:
    base = condense_graphs(tiny_set, method, gpc=2, config=FAST[method], steps=0, progress=False, device="cpu")
    cs = condense_graphs(tiny_set, method, gpc=2, config=FAST[method], steps=5, progress=False, device="cpu")
    assert torch.isfinite(cs.x).all()
    assert not torch.equal(base.x, cs.x)


@pytest.mark.parametrize("method", ["kidd", "kidd-lr", "doscond"])
def test_a_killed_run_resumes_bit_for_bit(tiny_set, tmp_path: Path, method: str) -> None:
    entry = GRAPH_METHODS.get(method)
    cfg = make_graph_config(method, FAST[method])
    full = run(entry.cls(tiny_set, 2, cfg), EngineConfig(steps=6, seed=1, device="cpu", progress=False))
    ckpt = str(tmp_path / "ck.pt")
    first = run(
        entry.cls(tiny_set, 2, cfg),
        EngineConfig(steps=6, seed=1, device="cpu", progress=False, checkpoint=ckpt, checkpoint_every=1, stop_after=3),
    )
    assert not first.finished
    resumed = run(
        entry.cls(tiny_set, 2, cfg), EngineConfig(steps=6, seed=1, device="cpu", progress=False, checkpoint=ckpt)
    )
    assert resumed.finished
    for k in full.condensed:
        assert torch.equal(full.condensed[k], resumed.condensed[k]), k


@pytest.mark.parametrize(
    ("gpc", "overrides", "seed", "message"),
    [
        (2, {"lr_feat": 0.5}, 0, "lr_feat=1e-06, this run has lr_feat=0.5"),
        (1, {}, 0, "gpc=2, this run has gpc=1"),
        (2, {}, 1, "split_seed=0, this run has split_seed=1"),
    ],
)
def test_resuming_with_other_settings_is_refused(tiny_graphs, tmp_path: Path, gpc, overrides, seed, message) -> None:
    from condensekit.graph.level.data import graphset_from_list

    ckpt = str(tmp_path / "ck.pt")
    first = condense_graphs(
        graphset_from_list(tiny_graphs, seed=0), "kidd", gpc=2, config=FAST["kidd"], steps=3, checkpoint=ckpt,
        checkpoint_every=1, progress=False, device="cpu",
    )  # fmt: skip
    assert first.result.finished
    other = graphset_from_list(tiny_graphs, seed=seed)
    with pytest.raises(ValueError, match=f"checkpoint .* was written by a run with {message}"):
        # used to resume silently (a changed lr_feat: the saved set under a card that names the new lr_feat; another
        # split: graphs condensed from another split's training set) or crash in a tensor copy (another gpc)
        condense_graphs(
            other, "kidd", gpc=gpc, config=FAST["kidd"] | overrides, steps=3, checkpoint=ckpt, progress=False,
            device="cpu",
        )  # fmt: skip


def test_budget_above_a_class_size_says_how_many_exist(tiny_set) -> None:
    with pytest.raises(
        ValueError, match=r"class 0 has 10, class 1 has 10 training graphs .*at most 10 graphs per class"
    ):
        condense_graphs(tiny_set, "random", gpc=50, progress=False, device="cpu")


def test_unknown_method_and_config_field_list_the_valid_ones(tiny_set) -> None:
    with pytest.raises(ValueError, match=r"doscond, herding, kcenter, kidd, kidd-lr, random"):
        condense_graphs(tiny_set, "gcond", gpc=1, progress=False, device="cpu")
    with pytest.raises(ValueError, match=r"Unknown graph kernel 'wl'. Valid values are \{litegntk\}"):
        condense_graphs(tiny_set, "kidd", gpc=1, config={"kernel": "wl"}, steps=1, progress=False, device="cpu")
    with pytest.raises(ValueError, match="Valid fields"):
        condense_graphs(tiny_set, "kidd", gpc=1, config={"lr": 1.0}, progress=False, device="cpu")


def test_evaluation_runs_are_seeded_and_whole_data_row_works(tiny_set) -> None:
    cs = condense_graphs(tiny_set, "random", gpc=2, progress=False, device="cpu")
    cfg = GraphEvalConfig(runs=2, epochs=3)
    a = evaluate_graphs(tiny_set, cs.tensors(), config=cfg)
    b = evaluate_graphs(tiny_set, cs.tensors(), config=cfg)
    assert set(a) == {"gcn", "gin"} and len(a["gin"].values) == 2
    assert a["gcn"].values == b["gcn"].values and a["gin"].values == b["gin"].values
    whole = evaluate_graphs(tiny_set, None, models=["gin"], config=GraphEvalConfig(runs=1, epochs=2))
    assert 0.0 <= whole["gin"].mean <= 100.0


def test_kidd_masks_the_padding_of_its_initial_graphs_unless_asked_not_to(tiny_set) -> None:
    """Synthetic graphs larger than their initial real graphs keep the padding as isolated nodes;
    ``mask_padding`` leaves them out of the condensed graphs, ``mask_padding=False`` keeps all."""
    cfg = {**FAST["kidd"], "node_multiplier": 3.0, "fused": False}
    masked = condense_graphs(tiny_set, "kidd", gpc=2, config=cfg, steps=2, progress=False, device="cpu")
    kept = condense_graphs(
        tiny_set, "kidd", gpc=2, config={**cfg, "mask_padding": False}, steps=2, progress=False, device="cpu"
    )
    assert torch.equal(kept.mask, torch.ones_like(kept.mask))
    sizes = masked.mask.sum(1)
    assert bool((sizes < masked.mask.shape[1]).all()) and bool((sizes >= 1).all())
    assert torch.equal(masked.x, kept.x) and torch.equal(masked.adj, kept.adj)  # same run, only the mask differs
    nodes = [g.num_nodes for g in masked.to_data_list()]
    assert nodes == sizes.long().tolist()


@pytest.mark.parametrize(("method", "field"), [("kidd", "lr_feat"), ("kidd-lr", "lr_adj"), ("doscond", "lr_adj")])
def test_a_negative_learning_rate_names_its_argument(tiny_set, method: str, field: str) -> None:
    want = f"Invalid value -0.1 for argument {field}. Valid values are finite numbers >= 0"
    with pytest.raises(ValueError, match=want):
        condense_graphs(tiny_set, method, gpc=1, config=FAST[method] | {field: -0.1}, steps=1, progress=False)


def test_kidd_on_edgeless_graphs_says_why_the_kernel_vanishes(tiny_graphs) -> None:
    from torch_geometric.data import Data

    from condensekit.graph.level.data import graphset_from_list

    edgeless = graphset_from_list([Data(x=g.x, edge_index=g.edge_index[:, :0], y=g.y) for g in tiny_graphs])
    # an isolated node's readout weight is 1e-4^(hops-1): at hops 5 the kernel is ~1e-39, below float32's range
    with pytest.raises(ValueError, match="every one of them is edgeless.*--hops"):
        condense_graphs(edgeless, "kidd", gpc=2, config=FAST["kidd"], steps=1, progress=False, device="cpu")
    cs = condense_graphs(edgeless, "kidd", gpc=2, config=FAST["kidd"] | {"hops": 3}, steps=2, progress=False)
    assert torch.isfinite(cs.x).all()


@pytest.mark.parametrize(
    ("method", "field", "value", "valid"),
    [
        ("kidd", "ridge", float("nan"), "finite numbers >= 0"),  # was "the kernel matrix holds NaN"
        ("doscond", "beta", float("nan"), "finite numbers >= 0"),  # was a NaN synthetic set
        ("kidd", "orth_reg", -1.0, "finite numbers >= 0"),
        ("kidd", "node_multiplier", float("inf"), "finite numbers > 0"),  # was an OverflowError
        ("doscond", "node_multiplier", float("nan"), "finite numbers > 0"),
        ("kidd", "batch_syn", 0, "integers >= 1"),
        ("doscond", "anneal_steps", 0, "integers >= 1"),
        ("doscond", "tau_min", 2.0, r"in \(0, tau0 = 1.0\]"),
        ("doscond", "hidden", 0, "integers >= 1"),  # was "hidden_channels must be a positive integer"
        ("herding", "embed_epochs", 0, "integers >= 1"),  # was "argument epochs"
    ],
)
def test_a_bad_config_value_names_its_argument_and_the_valid_values(
    tiny_set, method: str, field: str, value: float, valid: str
) -> None:
    with pytest.raises(ValueError, match=rf"Invalid value {value!r} for argument {field}\. Valid values are {valid}"):
        condense_graphs(tiny_set, method, gpc=1, config=FAST[method] | {field: value}, steps=1, progress=False)


def test_an_unknown_init_names_the_argument(tiny_set) -> None:
    with pytest.raises(ValueError, match=r"Unknown value 'foo' for argument init\. Valid values are \{herding, kc"):
        condense_graphs(tiny_set, "kidd", gpc=1, config=FAST["kidd"] | {"init": "foo"}, steps=1, progress=False)


def test_an_unknown_pooling_is_refused_before_the_set_up(tiny_set, monkeypatch) -> None:
    from condensekit.graph.level import evaluate

    monkeypatch.setattr(evaluate, "real_embeddings", lambda *a, **k: pytest.fail("set-up ran"))  # herding's GCN
    with pytest.raises(ValueError, match=r"Unknown value 'attention' for argument pooling\. Valid values are"):
        cfg = FAST["doscond"] | {"pooling": "attention", "init": "herding"}
        condense_graphs(tiny_set, "doscond", gpc=1, config=cfg, steps=1, progress=False)


def test_evaluation_model_names_are_case_insensitive_as_the_model_registry(tiny_set) -> None:
    cs = condense_graphs(tiny_set, "random", gpc=2, progress=False, device="cpu")
    res = evaluate_graphs(tiny_set, cs.tensors(), models=["GIN"], config=GraphEvalConfig(runs=1, epochs=2))  # KeyError
    assert list(res) == ["GIN"] and len(res["GIN"].values) == 1
    only_gcn = GraphEvalConfig(protocols={"gcn": GraphEvalConfig().protocols["gcn"]})
    with pytest.raises(ValueError, match=r"Unknown value 'gin' for argument model \(protocols\)\. Valid .* \{gcn\}"):
        only_gcn.protocol("gin")


def test_the_selection_model_is_checked_up_front_and_a_resume_under_another_is_refused(tiny_set, tmp_path) -> None:
    with pytest.raises(ValueError, match=r"Unknown graph model 'gat'\. Valid values are \{gcn, gin\}"):  # a KeyError
        condense_graphs(tiny_set, "random", gpc=2, eval_every=1, eval_model="gat", progress=False, device="cpu")
    ckpt = str(tmp_path / "ck.pt")
    kw = {"gpc": 2, "config": FAST["doscond"], "steps": 2, "eval_every": 1, "checkpoint": ckpt, "progress": False}
    first = condense_graphs(tiny_set, "doscond", eval_model="GIN", device="cpu", **kw)  # any case, as the registry
    assert first.card["selection"]["history"]
    # resumed under GCN, the set would be selected over GIN's scores and GCN's together, under a card naming GCN
    with pytest.raises(ValueError, match="selection_model='gin', this run has selection_model='gcn'"):
        condense_graphs(tiny_set, "doscond", eval_model="gcn", device="cpu", **kw)
    again = condense_graphs(tiny_set, "doscond", eval_model="gin", device="cpu", **kw)
    assert torch.equal(again.x, first.x)


@pytest.mark.parametrize(("method", "model"), [("doscond", "gcn"), ("kidd", "gin"), ("random", "gin")])
def test_a_set_is_selected_by_its_methods_own_evaluation_model_by_default(tiny_set, method: str, model: str) -> None:
    """DosCond is judged on GCN (its paper's model): `graph condense --eval-every` selected its sets by GIN."""
    steps = 0 if method == "random" else 1
    cs = condense_graphs(tiny_set, method, gpc=2, config=FAST[method], steps=steps, eval_every=1, progress=False)
    assert cs.card["selection"]["model"] == model


@pytest.mark.parametrize("how", ["kcenter", "herding"])
def test_coreset_picks_distinct_graphs_when_embeddings_repeat(tiny_set, how: str) -> None:
    """Duplicate graphs (isomorphic, same features) have equal embeddings: k-center repeated a graph once every
    distance to the chosen set was 0 (argmax's first index was an already chosen one)."""
    from condensekit.graph.level.methods.base import real_picks

    emb = torch.zeros(tiny_set.train_idx.numel(), 3)  # every training graph a duplicate of the others
    picks = real_picks(tiny_set, 5, how, 100, emb)
    assert picks.numel() == 10 and torch.unique(picks).numel() == 10
    assert tiny_set.y_train[picks].tolist() == [0] * 5 + [1] * 5
