"""A model in eval (or train) mode for one block, every submodule given back its own mode afterwards.

``was = model.training; model.eval(); ...; model.train(was)`` is not a restore: ``train(was)`` sets *every*
submodule to the top module's mode, so a training model with a frozen (eval-mode) batch norm or dropout comes
back with it training, and its next step moves the running statistics it was meant to keep. :func:`eval_mode`
and :func:`train_mode` record each submodule's flag and put each one back, after an error too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from torch import nn

__all__ = ["eval_mode", "module_mode", "train_mode"]


@contextmanager
def module_mode(model: nn.Module, training: bool) -> Iterator[nn.Module]:
    """``model.train(training)`` inside the block; after it (an error included) every submodule of ``model`` is
    back in the mode it came in, each its own."""
    modes = [(m, m.training) for m in model.modules()]
    model.train(training)
    try:
        yield model
    finally:
        for m, was in modes:
            m.training = was


def eval_mode(model: nn.Module) -> AbstractContextManager[nn.Module]:
    """``model`` in eval mode inside the block, each submodule's own mode given back after it (:func:`module_mode`)."""
    return module_mode(model, False)


def train_mode(model: nn.Module) -> AbstractContextManager[nn.Module]:
    """``model`` in train mode inside the block, each submodule's own mode given back after it
    (:func:`module_mode`): batch-norm recomputation wants every layer training for a while, not for good."""
    return module_mode(model, True)
