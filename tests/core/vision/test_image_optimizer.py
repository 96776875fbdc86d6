"""The image protocol's optimiser: fused into one kernel per step on CUDA, SGD as Adam already was."""

from __future__ import annotations

import pytest
import torch

from condensekit.core.vision.train import ImageTrainConfig, image_optimizer


def _steps(fused: bool | None) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    params = [
        torch.randn(40, 30, generator=gen).requires_grad_(True),
        torch.randn(30, generator=gen).requires_grad_(True),
    ]
    opt = torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=5e-4, fused=fused)
    for _ in range(20):
        for p in params:
            p.grad = torch.randn(p.shape, generator=gen)
        opt.step()
    return [p.detach() for p in params]


def test_fused_sgd_gives_the_unfused_values():
    """What fusing SGD on CUDA relies on (the fused CPU kernel is the same update): equal up to float32 rounding of
    a fused multiply-add, 20 momentum steps of order-1 gradients at lr 0.05 staying below 1e-5."""
    for a, b in zip(_steps(None), _steps(True), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


def test_sgd_and_adam_stay_unfused_on_the_cpu():
    params = [torch.zeros(3, requires_grad=True)]
    for name in ("sgd", "adam"):
        assert not image_optimizer(params, ImageTrainConfig(optimizer=name), 0.1).defaults["fused"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (run on a GPU visit)")
@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_the_optimizer_is_fused_on_cuda(name):
    params = [torch.zeros(3, device="cuda", requires_grad=True)]
    assert image_optimizer(params, ImageTrainConfig(optimizer=name), 0.1).defaults["fused"] is True
