from __future__ import annotations

import pytest
import torch

from condensekit.core.evaluate import TrainConfig
from condensekit.graph.condense import condense_nodes
from condensekit.graph.evaluate import NodeEvalConfig, evaluate_node
from condensekit.graph.task import NodeTask

EVAL = NodeEvalConfig(runs=3, hidden=16, train=TrainConfig(epochs=40))


@pytest.mark.parametrize("model", ["gcn", "sgc", "appnp", "cheb", "sage", "mlp"])
def test_batched_evaluation_matches_one_run_at_a_time(tiny_task: NodeTask, model: str) -> None:
    cg = condense_nodes(tiny_task, "random", budget=9, device="cpu", progress=False)
    alone = evaluate_node(tiny_task, cg.tensors(), models=[model], config=EVAL, batched=False)
    together = evaluate_node(tiny_task, cg.tensors(), models=[model], config=EVAL, batched=True)
    assert together[model].values == alone[model].values


def test_batched_and_workers_exclude_each_other(tiny_task: NodeTask) -> None:
    cg = condense_nodes(tiny_task, "random", budget=9, device="cpu", progress=False)
    with pytest.raises(ValueError, match="batched"):
        evaluate_node(tiny_task, cg.tensors(), config=EVAL, workers=2, batched=True)
    assert torch.equal(cg.y, cg.y.sort().values)


@pytest.mark.parametrize("field", ["runs", "hidden", "num_layers"])
def test_eval_config_refuses_non_positive_counts(field: str) -> None:
    # runs=0 gave an empty Summary (mean NaN) with workers > 1 and 'need N >= 1 models' batched
    with pytest.raises(ValueError, match=f"argument {field}"):
        NodeEvalConfig(**{field: 0})
    with pytest.raises(ValueError, match=f"argument {field}"):
        NodeEvalConfig(**{field: 2.5})
