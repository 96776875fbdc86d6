import pytest
import torch
import torch.nn.functional as F
from torch import nn

from condensekit.core.objectives.trajectory import (
    flat_params,
    param_distance,
    student_batches,
    unflatten,
    unroll_student,
)


def test_param_distance_golden():
    start, target = torch.zeros(3), torch.tensor([3.0, 4.0, 0.0])  # ‖start − target‖² = 25
    assert param_distance(torch.tensor([3.0, 0.0, 0.0]), start, target).item() == pytest.approx(16 / 25)
    assert param_distance(target, start, target).item() == 0.0
    with pytest.raises(ValueError, match="flat vectors"):
        param_distance(torch.zeros(2), start, target)


def test_unroll_matches_manual_sgd_and_is_differentiable():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    x = torch.randn(6, 1, 2, 2, requires_grad=True)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    lr = torch.tensor(0.1, requires_grad=True)
    start = flat_params(model)
    batches = [torch.arange(3), torch.arange(3, 6)]
    end = unroll_student(model, start, x, y, lr=lr, batches=batches, loss_fn=F.cross_entropy)
    # the same two steps by hand with a plain module
    ref = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    ref.load_state_dict(model.state_dict())
    opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    for b in batches:
        opt.zero_grad()
        F.cross_entropy(ref(x.detach()[b]), y[b]).backward()
        opt.step()
    assert torch.allclose(end.detach(), flat_params(ref), atol=1e-6)
    loss = param_distance(end, start, start + 1.0)
    loss.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0 and lr.grad is not None


def test_unflatten_round_trip_and_size_check():
    model = nn.Linear(3, 2)
    flat = flat_params(model)
    views = unflatten(model, flat)
    assert torch.equal(views["weight"], model.weight.detach())
    with pytest.raises(ValueError, match="parameters"):
        unflatten(model, torch.zeros(5))


def test_student_batches_cover_each_epoch():
    b = student_batches(10, 5, 4, device=torch.device("cpu"), generator=torch.Generator().manual_seed(0))
    assert len(b) == 5 and all(t.numel() == 4 for t in b)
    assert len(set(torch.cat(b[:2]).tolist())) == 8  # no repeats within one permutation


@pytest.mark.parametrize(
    ("kwargs", "argument", "valid"),
    [
        ({"steps": 2.5}, "steps", "integers >= 1"),  # made 3 batches: one more student step than asked
        ({"steps": 0}, "steps", "integers >= 1"),
        ({"batch_size": 2.0}, "batch_size", "integers >= 1"),  # failed later, slicing with a float
        ({"n": 0}, "n", "integers >= 1"),  # empty batches: the student would train on nothing
    ],
)
def test_student_batches_refuse_bad_counts_by_name(kwargs, argument, valid):
    args = {"n": 10, "steps": 3, "batch_size": 4} | kwargs
    with pytest.raises(ValueError, match=rf"argument {argument}\. Valid values are {valid}"):
        student_batches(args["n"], args["steps"], args["batch_size"], device=torch.device("cpu"))
