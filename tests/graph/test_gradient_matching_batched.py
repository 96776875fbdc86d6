"""The class-batched matching loss (used on accelerators) equals the per-class loop (CPU)."""

from __future__ import annotations

import pytest
import torch

from condensekit.core.seed import seed_everything
from condensekit.graph.condense import make_config
from condensekit.graph.methods import NODE_METHODS, node_budgets
from condensekit.graph.task import NodeTask

SMALL = {"hidden": 16, "pge_hidden": 8}


@pytest.mark.parametrize(
    ("method", "extra"),
    [("gcond", {}), ("doscond", {}), ("gcondx", {"metric": "cos"}), ("doscond", {"real_batch": 3})],
)
def test_batched_classes_give_the_looped_loss_and_gradient(tiny_task: NodeTask, method: str, extra: dict) -> None:
    cfg = make_config(method, SMALL | extra)
    algo = NODE_METHODS.get(method).cls(tiny_task, node_budgets(tiny_task, budget=9), cfg)
    seed_everything(0)
    algo.setup(torch.device("cpu"))
    params = list(algo.model.parameters())
    out = algo.model(algo.feat, algo.model.propagation(algo.adjacency(algo.feat)))
    results = []
    for loss_fn in (algo._loss_looped, algo._loss_batched):
        seed_everything(1)  # the same sampled real batch for both
        loss = loss_fn(params, out)
        results.append((loss.detach(), torch.autograd.grad(loss, algo.feat, retain_graph=True)[0]))
    (l1, g1), (l2, g2) = results
    assert torch.allclose(l1, l2, rtol=1e-5) and float(l1) > 0
    assert torch.allclose(g1, g2, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("extra", [{}, {"backbone": "gcn"}, {"real_batch": 3}])
def test_batched_updates_copy_no_host_list_to_the_device(
    tiny_task: NodeTask, extra: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the class position of every real row was built each update from a host list of sizes (torch.tensor(sizes,
    # device=...)): on CUDA a blocking copy, a stream sync per outer update (20 a GCond step); the sizes are fixed
    cfg = make_config("gcond", SMALL | {"outer_loop": 3, "inner_loop": 1} | extra)
    algo = NODE_METHODS.get("gcond").cls(tiny_task, node_budgets(tiny_task, budget=9), cfg)
    seed_everything(0)
    algo.setup(torch.device("cpu"))
    params = list(algo.model.parameters())
    out = algo.model(algo.feat, algo.model.propagation(algo.adjacency(algo.feat)))
    algo._loss_batched(params, out)  # the first update may build what later ones reuse
    made, tensor = [], torch.tensor
    monkeypatch.setattr(torch, "tensor", lambda *a, **k: made.append(k.get("device")) or tensor(*a, **k))
    for _ in range(3):
        algo._loss_batched(params, out)
    assert [d for d in made if d is not None] == []
