"""The node-level Python API refuses bad input by name, before any training."""

import pytest
import torch
from torch_geometric.data import Data

from condensekit.graph import NodeEvalConfig, condense_nodes, evaluate_node, fit_node_model, prepare_task
from condensekit.graph.evaluate import check_condensed


def _graph(n: int = 30, c: int = 3) -> Data:
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(n) % c
    x = torch.randn(n, 4, generator=gen) + y[:, None]
    src = torch.arange(n)
    ei = torch.cat([torch.stack([src, (src + 1) % n]), torch.stack([(src + 1) % n, src])], dim=1)
    mask = lambda lo, hi: (src >= lo) & (src < hi)  # noqa: E731
    return Data(x=x, edge_index=ei, y=y, train_mask=mask(0, 15), val_mask=mask(15, 21), test_mask=mask(21, n))


CFG = NodeEvalConfig(runs=1, hidden=8)


def _set(task):
    cg = condense_nodes(task, "random", budget=6, progress=False, eval_every=0)
    return cg, cg.tensors()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t | {"y": t["y"].float()}, "condensed y .* torch.float32; the condensed graph needs N integer"),
        (lambda t: t | {"y": t["y"].numpy()}, "condensed y is a ndarray; it must be a torch.Tensor"),
        (lambda t: {k: v[:0] if k != "adj" else v[:0, :0] for k, v in t.items()}, "has no node"),
    ],
)
def test_evaluate_node_refuses_a_bad_set(change, message) -> None:
    task = prepare_task(_graph(), device="cpu")
    _, t = _set(task)
    with pytest.raises(ValueError, match=message):
        evaluate_node(task, change(t), config=CFG)


def test_evaluate_node_names_the_task_the_set_and_the_models_it_needs() -> None:
    data = _graph()
    task = prepare_task(data, device="cpu")
    cg, t = _set(task)
    with pytest.raises(ValueError, match=r"argument task: a Data; it must be a NodeTask: prepare_task\(data\)"):
        evaluate_node(data, t, config=CFG)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"argument condensed: a CondensedGraph.*\(pass cg.tensors\(\)\)"):
        evaluate_node(task, cg, config=CFG)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid value 'gcn' for argument models.*\['gcn'\]"):
        evaluate_node(task, t, models="gcn", config=CFG)
    with pytest.raises(ValueError, match="condensed y has shape .* and dtype torch.float32"):
        fit_node_model(task, "gcn", CFG, condensed=t | {"y": t["y"].float()})
    check_condensed(t, 4, 3)  # the valid set passes


def test_a_prepared_task_on_another_device_is_not_run_silently_elsewhere(monkeypatch) -> None:
    task = prepare_task(_graph(), device="cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match=r"'cuda' for argument device: the prepared task is on 'cpu'"):
        condense_nodes(task, "random", budget=6, device="cuda", progress=False, eval_every=0)
    assert condense_nodes(task, "random", budget=6, device="cpu", progress=False, eval_every=0).x.shape == (6, 4)


@pytest.mark.parametrize("threshold", [float("nan"), "0.5", True])
def test_to_data_threshold_must_be_a_finite_number(threshold) -> None:
    cg, _ = _set(prepare_task(_graph(), device="cpu"))
    with pytest.raises(ValueError, match="argument threshold. Valid values are finite numbers"):
        cg.to_data(threshold=threshold)
    assert cg.to_data(threshold=0).num_nodes == 6
