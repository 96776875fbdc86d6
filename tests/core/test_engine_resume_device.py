"""A resume on another device is refused (its RNG streams cannot continue bit for bit), and a resumed run's peak
memory is the maximum over every call of the run, not the last call's alone."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import condensekit.core.engine as engine
from condensekit.core.engine import EngineConfig, run
from tests.core.test_engine import ToyMethod, score


def _stopped(tmp_path: Path) -> tuple[Path, EngineConfig]:
    ckpt = tmp_path / "run.ckpt"
    cfg = EngineConfig(steps=6, seed=1, device="cpu", checkpoint=str(ckpt), checkpoint_every=1, progress=False)
    part = run(ToyMethod(), EngineConfig(**{**cfg.__dict__, "stop_after": 3}), score)
    assert not part.finished
    return ckpt, cfg


def _rewrite(ckpt: Path, **changes: object) -> None:
    state = torch.load(ckpt, weights_only=True)
    for key, value in changes.items():
        if value is None:
            state.pop(key, None)
        else:
            state[key] = value
    torch.save(state, ckpt)


def test_the_checkpoint_records_the_runs_device(tmp_path: Path) -> None:
    ckpt, _ = _stopped(tmp_path)
    assert torch.load(ckpt, weights_only=True)["device"] == "cpu"


def test_a_checkpoint_written_on_another_device_is_refused(tmp_path: Path) -> None:
    ckpt, cfg = _stopped(tmp_path)
    _rewrite(ckpt, device="cuda:0")  # as a CUDA run writes it
    with pytest.raises(
        ValueError, match=r"run\.ckpt' was written on cuda:0, this run is on cpu.*same --device.*delete"
    ):
        run(ToyMethod(), cfg, score)
    assert ckpt.exists()  # refused, not touched


def test_a_checkpoint_from_before_the_record_is_judged_by_its_requested_device(tmp_path: Path) -> None:
    ckpt, cfg = _stopped(tmp_path)
    state = torch.load(ckpt, weights_only=True)
    _rewrite(ckpt, device=None, config=state["config"] | {"device": "cuda"})  # an old checkpoint of a --device cuda run
    with pytest.raises(ValueError, match=r"was written on cuda, this run is on cpu"):
        run(ToyMethod(), cfg, score)
    _rewrite(ckpt, config=state["config"] | {"device": "auto"})  # "auto": where it ran is unknown; taken as it is
    assert run(ToyMethod(), cfg, score).finished


def test_the_same_device_resumes(tmp_path: Path) -> None:
    ckpt, cfg = _stopped(tmp_path)
    resumed = run(ToyMethod(), cfg, score)
    full = run(ToyMethod(), EngineConfig(steps=6, seed=1, device="cpu", progress=False), score)
    assert resumed.finished and torch.equal(resumed.condensed["x"], full.condensed["x"])


def test_a_resumed_runs_peak_memory_is_the_maximum_over_its_calls(tmp_path: Path, monkeypatch) -> None:
    peaks = iter([500.0] * 100)
    monkeypatch.setattr(engine, "peak_memory_mb", lambda device: next(peaks))
    ckpt, cfg = _stopped(tmp_path)  # the first call peaked at 500 MB
    assert torch.load(ckpt, weights_only=True)["peak_memory_mb"] == 500.0
    peaks = iter([100.0] * 100)  # the resumed call only at 100 MB
    resumed = run(ToyMethod(), cfg, score)
    assert resumed.peak_memory_mb == 500.0 and resumed.cost()["peak_memory_mb"] == 500.0
    assert torch.load(ckpt, weights_only=True)["peak_memory_mb"] == 500.0


def test_a_later_call_with_a_higher_peak_raises_the_record(tmp_path: Path, monkeypatch) -> None:
    peaks = iter([100.0] * 100)
    monkeypatch.setattr(engine, "peak_memory_mb", lambda device: next(peaks))
    _, cfg = _stopped(tmp_path)
    peaks = iter([700.0] * 100)
    assert run(ToyMethod(), cfg, score).peak_memory_mb == 700.0
