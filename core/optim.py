"""When an optimiser runs fused: one kernel per step for all its parameters, on CUDA.

On CUDA torch's default SGD and Adam are the ``foreach`` implementations: one launch per elementwise operation of
the update (Adam: seven a step for a few dozen tensors; longer lists are split into more), where ``fused=True`` runs
the whole update as one kernel, the same rule up to the rounding of a fused multiply-add. A condensation step
launches little else between its optimiser steps for small synthetic sets, so the optimisers on its hot path (the
synthetic set's, the learned learning rate's, the networks trained inside a step) are made by :func:`adam` and
:func:`sgd`, which ask :func:`fused_on_cuda` whether to fuse, as the image protocol's
:func:`~condensekit.core.vision.train.image_optimizer` does. On the CPU the answer
is ``None``, torch's default there (the per-tensor loop): every figure recorded on the CPU stays bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

__all__ = ["FUSED_DEVICES", "adam", "fused_on_cuda", "sgd"]

#: Device types whose optimisers run fused (tests add ``"cpu"`` to check, on the CPU, that an optimiser asks).
FUSED_DEVICES: tuple[str, ...] = ("cuda",)


def fused_on_cuda(params: Iterable[Tensor]) -> bool | None:
    """``True`` when ``params`` is not empty and every tensor lies on a :data:`FUSED_DEVICES` device (CUDA), else
    ``None`` (torch's default); pass it as the optimiser's ``fused``. ``params`` is read once: give a list when the
    optimiser needs the parameters too."""
    params = list(params)
    return (bool(params) and all(p.device.type in FUSED_DEVICES for p in params)) or None


def adam(params: Iterable[Tensor], **kwargs: Any) -> torch.optim.Adam:
    """``torch.optim.Adam(params, **kwargs)``, fused when :func:`fused_on_cuda` says so (what every step optimiser
    of the methods asks)."""
    params = list(params)
    return torch.optim.Adam(params, fused=fused_on_cuda(params), **kwargs)


def sgd(params: Iterable[Tensor], **kwargs: Any) -> torch.optim.SGD:
    """``torch.optim.SGD(params, **kwargs)``, fused when :func:`fused_on_cuda` says so."""
    params = list(params)
    return torch.optim.SGD(params, fused=fused_on_cuda(params), **kwargs)
