"""The image protocol's optimiser: fused into one kernel per step on CUDA, SGD as Adam already was."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from condensekit.core.vision.train import ImageTrainConfig, image_optimizer

CONFIG = ImageTrainConfig(optimizer="sgd")
LR = 0.05


def _steps(make: Callable[[list[torch.Tensor]], torch.optim.Optimizer]) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    params = [
        torch.randn(40, 30, generator=gen).requires_grad_(True),
        torch.randn(30, generator=gen).requires_grad_(True),
    ]
    opt = make(params)
    for _ in range(20):
        for p in params:
            p.grad = torch.randn(p.shape, generator=gen)
        opt.step()
    return [p.detach() for p in params]


def test_image_optimizer_gives_the_fused_sgd_values():
    """image_optimizer on the CPU (unfused, config's momentum and weight decay) against torch's fused SGD kernel
    with the protocol's settings, the update CUDA runs (the CUDA-only test below checks that it is chosen there):
    equal up to float32 rounding of a fused multiply-add, 20 momentum steps of order-1 gradients at lr 0.05
    staying below 1e-5."""
    assert CONFIG.momentum > 0 and CONFIG.weight_decay > 0  # the steps exercise both
    ours = _steps(lambda params: image_optimizer(params, CONFIG, LR))
    fused = _steps(lambda params: torch.optim.SGD(params, lr=LR, momentum=CONFIG.momentum,
                                                  weight_decay=CONFIG.weight_decay, fused=True))  # fmt: skip
    for a, b in zip(ours, fused, strict=True):
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
