"""Seeding and RNG-state capture, so runs repeat and resumed runs continue bit for bit."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

from .registry import check_int


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and every CUDA device)."""
    check_int("seed", seed, 0)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """Every global RNG state, as tensors and plain containers (``torch.load(weights_only=True)`` safe)."""
    py = random.getstate()
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python_version": py[0],
        "python_state": torch.tensor(py[1], dtype=torch.int64),
        "python_gauss": py[2],
        "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)),
        "numpy_pos": int(np_state[2]),
        "numpy_has_gauss": int(np_state[3]),
        "numpy_gauss": float(np_state[4]),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` captured."""
    torch.set_rng_state(state["torch"])
    random.setstate((state["python_version"], tuple(int(v) for v in state["python_state"]), state["python_gauss"]))
    np.random.set_state(
        (
            "MT19937",
            state["numpy_keys"].numpy().astype(np.uint32),
            state["numpy_pos"],
            state["numpy_has_gauss"],
            state["numpy_gauss"],
        )
    )
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """The :class:`torch.device` to run on: ``"auto"`` picks CUDA when it is usable, else the CPU; any other string
    or ``torch.device`` is checked here, before any work: an unknown kind, CUDA on a machine without it, or a CUDA
    index past the last GPU (``cuda:7`` on one GPU) raises ``ValueError`` naming the value and the valid ones (a
    ``torch.device("cuda")`` passed through unchecked failed later, deep in torch, "Found no NVIDIA driver")."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(device, torch.device):
        dev = device
    else:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as err:
            raise ValueError(
                f"Invalid value {device!r} for argument device. Valid values are auto, cpu, cuda[:N]"
            ) from err
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"Invalid value {str(device)!r} for argument device: CUDA is not available here; use cpu or auto"
            )
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise ValueError(
                f"Invalid value {str(device)!r} for argument device: this machine has {count} CUDA device(s). "
                f"Valid values are auto, cpu, cuda, cuda:0 .. cuda:{count - 1}"
            )
    return dev
