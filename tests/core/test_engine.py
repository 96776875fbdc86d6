from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn

from condensekit.core.engine import CondensationMethod, EngineConfig, run


class ToyMethod(CondensationMethod):
    """Fits a synthetic 4×3 set to random targets with a freshly drawn random model each step,
    so every step consumes the RNG (as GCond's per-epoch model re-initialisation does)."""

    name = "toy"

    def setup(self, device: torch.device) -> None:
        self.device = device
        self.x = nn.Parameter(torch.randn(4, 3, device=device))
        self.net = nn.Linear(3, 2).to(device)
        self.opt = torch.optim.Adam([self.x, *self.net.parameters()], lr=0.05)

    def step(self, step: int) -> dict[str, float]:
        # Tensors on the engine's device: with CUDA visible, device="auto" picks it.
        target = torch.randn(4, 2, device=self.device)
        noise = torch.nn.init.normal_(torch.empty(2, 3, device=self.device))
        loss = (self.net(self.x) + self.x @ noise.t() - target).pow(2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return {"loss": float(loss.detach())}

    def condensed(self) -> dict[str, torch.Tensor]:
        return {"x": self.x.detach().clone()}

    def stateful(self) -> dict[str, object]:
        return {"x": self.x, "net": self.net, "opt": self.opt}


def score(c: dict[str, torch.Tensor]) -> float:
    torch.rand(3)  # evaluation draws random numbers too; the engine must isolate them
    return -float(c["x"].abs().sum())


def test_resume_is_bit_for_bit(tmp_path: Path) -> None:
    full = run(ToyMethod(), EngineConfig(steps=12, seed=3, eval_every=4, progress=False), score)
    ckpt = tmp_path / "run.ckpt"
    cfg = EngineConfig(steps=12, seed=3, eval_every=4, checkpoint=str(ckpt), checkpoint_every=2, progress=False)
    part = run(ToyMethod(), EngineConfig(**{**cfg.__dict__, "stop_after": 5}), score)
    assert not part.finished and part.steps_done == 5
    assert ckpt.exists()
    assert not list(tmp_path.glob("*.tmp"))
    resumed = run(ToyMethod(), cfg, score)
    assert resumed.finished and resumed.steps_done == 12
    assert torch.equal(resumed.condensed["x"], full.condensed["x"])
    assert resumed.best_step == full.best_step
    assert resumed.history == full.history


def test_best_by_validation_and_cost(tmp_path: Path) -> None:
    res = run(ToyMethod(), EngineConfig(steps=6, seed=0, eval_every=2, progress=False), score)
    assert res.best_score == max(h["val"] for h in res.history)
    assert [h["step"] for h in res.history] == [0, 2, 4, 6]
    assert res.wall_time_s > 0 and res.peak_memory_mb > 0
    cost = res.cost()
    # the process had imported torch before its first step: that took CPU time
    assert cost["start_to_first_step_cpu_s"] > 0 and cost["cpu_sec_per_step"] >= 0
    # the first step apart, the others' mean beside it: together they make up sec_per_step
    assert res.first_step_s is not None and res.later_sec_per_step is not None
    total = res.sec_per_step * 6
    assert abs(res.first_step_s + 5 * res.later_sec_per_step - total) < 1e-9
    assert cost["first_step_s"] >= 0 and "later_sec_per_step" in cost
    one = run(ToyMethod(), EngineConfig(steps=1, seed=0, progress=False)).cost()
    assert "first_step_s" in one and "later_sec_per_step" not in one
    same = run(ToyMethod(), EngineConfig(steps=6, seed=0, eval_every=2, progress=False), score)
    assert torch.equal(same.condensed["x"], res.condensed["x"])


def test_checkpoint_from_other_settings_is_refused(tmp_path: Path) -> None:
    ckpt = tmp_path / "c.ckpt"
    run(ToyMethod(), EngineConfig(steps=2, seed=0, checkpoint=str(ckpt), progress=False))
    with pytest.raises(ValueError, match="seed"):
        run(ToyMethod(), EngineConfig(steps=2, seed=1, checkpoint=str(ckpt), progress=False))


@dataclass(frozen=True)
class ToyConfig:
    lr: float = 0.05


class ConfiguredToy(ToyMethod):
    def __init__(self, config: ToyConfig, rows: int = 4) -> None:
        self.config, self.rows = config, rows

    def data_setting(self) -> dict[str, object]:
        return {"rows": self.rows}


def test_checkpoint_of_another_method_setting_is_refused(tmp_path: Path) -> None:
    ckpt = tmp_path / "c.ckpt"
    cfg = EngineConfig(steps=2, seed=0, checkpoint=str(ckpt), progress=False)
    run(ConfiguredToy(ToyConfig()), EngineConfig(**{**cfg.__dict__, "stop_after": 1}))
    with pytest.raises(ValueError, match=r"written by a run with lr=0\.05, this run has lr=0\.5"):
        run(ConfiguredToy(ToyConfig(lr=0.5)), cfg)
    with pytest.raises(ValueError, match="rows=4, this run has rows=5"):
        run(ConfiguredToy(ToyConfig(), rows=5), cfg)
    assert run(ConfiguredToy(ToyConfig()), cfg).finished  # the same setting resumes


class InitToy(ConfiguredToy):
    """A setting holding a tensor (an initialisation) and a closure (a schedule)."""

    def __init__(self, init: torch.Tensor, decay: float) -> None:
        super().__init__(ToyConfig())
        self.init, self.schedule = init, (lambda step: decay**step)

    def data_setting(self) -> dict[str, object]:
        return {"init": self.init, "schedule": self.schedule}


def test_checkpoint_of_another_tensor_or_closure_of_the_same_shape_and_name_is_refused(tmp_path: Path) -> None:
    ckpt = tmp_path / "c.ckpt"
    cfg = EngineConfig(steps=2, seed=0, checkpoint=str(ckpt), progress=False)
    run(InitToy(torch.zeros(3), 0.5), EngineConfig(**{**cfg.__dict__, "stop_after": 1}))
    with pytest.raises(ValueError, match=r"written by a run with init=\{.*'sha256'"):
        run(InitToy(torch.ones(3), 0.5), cfg)
    with pytest.raises(ValueError, match=r"schedule=\{.*'closure': \{'decay': 0\.5\}"):
        run(InitToy(torch.zeros(3), 0.9), cfg)
    assert run(InitToy(torch.zeros(3), 0.5), cfg).finished  # the same values resume


def test_bad_config() -> None:
    with pytest.raises(ValueError, match="steps"):
        EngineConfig(steps=-1)


class OutOfMemory(ToyMethod):
    """Runs out of memory at step 3."""

    def step(self, step: int) -> dict[str, float]:
        if step == 3:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return super().step(step)

    def memory_hint(self) -> str:
        return "the toy has 4 rows; lower memory with --rows"


def test_out_of_memory_names_the_size_and_keeps_the_checkpoint(tmp_path: Path) -> None:
    ckpt = tmp_path / "run.ckpt"
    cfg = EngineConfig(steps=6, seed=0, checkpoint=str(ckpt), checkpoint_every=2, progress=False)
    with pytest.raises(
        MemoryError,
        match=r"in step 3 of 'toy' \(CUDA out of memory\. Tried to allocate 2\.00 GiB\): "
        r"the toy has 4 rows; lower memory with --rows\. "
        r"the checkpoint .* is intact at step 2",
    ):
        run(OutOfMemory(), cfg)
    resumed = run(ToyMethod(), cfg)  # the same run, resumed from step 2 once memory suffices
    assert resumed.finished and resumed.steps_done == 6
    assert torch.equal(
        resumed.condensed["x"], run(ToyMethod(), EngineConfig(steps=6, seed=0, progress=False)).condensed["x"]
    )


def test_a_resumed_run_returns_its_best_set_on_the_runs_device(tmp_path: Path) -> None:
    """A checkpoint is loaded on the CPU; a best set kept from it came back as host tensors while an uninterrupted
    run returns device tensors (a CUDA run then evaluated or saved a CPU set). Checked with the device audit, which
    counts what torch.load(map_location="cpu") gives back as host tensors."""
    from tests.device_audit import DeviceAudit

    ckpt = tmp_path / "run.ckpt"
    falling = iter(range(0, -100, -1))  # scores fall: the best set is the first one evaluated
    cfg = EngineConfig(steps=6, seed=0, eval_every=1, checkpoint=str(ckpt), checkpoint_every=1, progress=False)
    part = run(ToyMethod(), EngineConfig(**{**cfg.__dict__, "stop_after": 3}), lambda c: next(falling))
    assert part.best_step == 0 and not part.finished
    falling = iter(range(-100, -200, -1))
    with DeviceAudit() as audit:
        resumed = run(ToyMethod(), cfg, lambda c: next(falling))
    assert resumed.best_step == 0 and resumed.finished  # the set kept from the checkpoint
    assert all(t not in audit.host for t in resumed.condensed.values())


def test_checkpoint_of_another_selection_schedule_is_refused(tmp_path: Path) -> None:
    # a finished checkpoint holds the set chosen every 2 steps: another schedule returned it as its own
    ckpt = tmp_path / "c.ckpt"
    cfg = EngineConfig(steps=4, seed=0, eval_every=2, checkpoint=str(ckpt), checkpoint_every=1, progress=False)
    run(ToyMethod(), EngineConfig(**{**cfg.__dict__, "stop_after": 2}), score)
    other = EngineConfig(**{**cfg.__dict__, "eval_every": 1})
    with pytest.raises(ValueError, match=r"c\.ckpt.*select_every=2, this run has select_every=1;.*same --select-every"):
        run(ToyMethod(), other, score)
    with pytest.raises(ValueError, match=r"select_every=2, this run has select_every=0;.*delete the checkpoint"):
        run(ToyMethod(), cfg)  # no evaluator: no selection
    steps = EngineConfig(**{**cfg.__dict__, "eval_steps": (1,)})
    with pytest.raises(ValueError, match=r"select_steps=\[\], this run has select_steps=\[1\]"):
        run(ToyMethod(), steps, score)
    assert run(ToyMethod(), cfg, score).finished  # the same schedule resumes


def test_checkpoint_without_a_recorded_selection_is_accepted(tmp_path: Path) -> None:
    ckpt = tmp_path / "c.ckpt"
    cfg = EngineConfig(steps=4, seed=0, eval_every=2, checkpoint=str(ckpt), checkpoint_every=1, progress=False)
    run(ToyMethod(), EngineConfig(**{**cfg.__dict__, "stop_after": 2}), score)
    state = torch.load(ckpt, weights_only=True)
    del state["selection"]  # as written before the schedule was recorded
    torch.save(state, ckpt)
    assert run(ToyMethod(), EngineConfig(**{**cfg.__dict__, "eval_every": 1}), score).finished


def test_unreadable_checkpoint_is_a_value_error_naming_it(tmp_path: Path) -> None:
    ckpt = tmp_path / "c.ckpt"
    cfg = EngineConfig(steps=2, seed=0, checkpoint=str(ckpt), progress=False)
    run(ToyMethod(), cfg)
    ckpt.write_bytes(ckpt.read_bytes()[:500])  # cut off: torch's own error escaped
    with pytest.raises(ValueError, match=r"c\.ckpt' is not a readable checkpoint.*delete it"):
        run(ToyMethod(), cfg)
    ckpt.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="is not a readable checkpoint"):
        run(ToyMethod(), cfg)


@pytest.mark.parametrize("bad", [(2.5,), (-1,), (7,), (True,), 3, "3"])
def test_bad_eval_steps_are_refused_by_name(bad: object) -> None:
    # 2.5, -1 and steps beyond the run were never evaluated, silently; 3 and "3" failed at the first step
    with pytest.raises(ValueError, match="argument eval_steps"):
        EngineConfig(steps=6, eval_steps=bad)  # type: ignore[arg-type]
    assert EngineConfig(steps=6, eval_steps=(0, 1, 6)).eval_steps == (0, 1, 6)
