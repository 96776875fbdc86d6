"""A checkpoint path that can never be a checkpoint file (a folder, a path under a file) is refused by the engine
before the method's set-up; it was read as "not a readable checkpoint ... delete it" (a folder!) or failed at the
first write, after the set-up and the first steps."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from condensekit.core.engine import CondensationMethod, EngineConfig, run


class _Recorder(CondensationMethod):
    name = "recorder"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def setup(self, device: torch.device) -> None:
        self.calls.append("setup")
        self.x = torch.zeros(2, 2)

    def step(self, step: int) -> dict[str, float]:
        self.calls.append("step")
        return {}

    def condensed(self) -> dict[str, torch.Tensor]:
        return {"x": self.x}

    def stateful(self) -> dict[str, object]:
        return {}


def test_a_folder_as_checkpoint_is_refused_before_the_setup(tmp_path: Path) -> None:
    method = _Recorder()
    with pytest.raises(ValueError, match=r"for argument checkpoint: it is a folder; give a file name"):
        run(method, EngineConfig(steps=2, checkpoint=str(tmp_path), progress=False, device="cpu"))
    assert method.calls == [] and tmp_path.is_dir()


def test_a_checkpoint_under_a_file_is_refused_before_the_setup(tmp_path: Path) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("x")
    method = _Recorder()
    with pytest.raises(ValueError, match=r"for argument checkpoint: .*notes\.txt' is a file"):
        run(method, EngineConfig(steps=2, checkpoint=str(blocker / "run.ckpt"), progress=False, device="cpu"))
    assert method.calls == []
