"""resolve_device refuses a device this machine does not have, as a string or a torch.device, before any work."""

import pytest
import torch

from condensekit.core.seed import resolve_device


def test_a_torch_device_for_cuda_without_cuda_is_refused_by_name(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="argument device: CUDA is not available"):
        resolve_device(torch.device("cuda"))
    with pytest.raises(ValueError, match="'cuda:7' for argument device"):
        resolve_device("cuda:7")


def test_a_cuda_index_past_the_last_gpu_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match=r"'cuda:7' for argument device: this machine has 1 CUDA device\(s\).*cuda:0"):
        resolve_device("cuda:7")
    with pytest.raises(ValueError, match="has 1 CUDA device"):
        resolve_device(torch.device("cuda", 3))
    assert resolve_device("cuda:0") == torch.device("cuda", 0)
    assert resolve_device("cuda") == torch.device("cuda")


def test_valid_devices_and_bad_types() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ValueError, match="Valid values are auto, cpu, cuda"):
        resolve_device("tpu")
    with pytest.raises(ValueError, match="Valid values are auto, cpu, cuda"):
        resolve_device(3.5)  # type: ignore[arg-type]
