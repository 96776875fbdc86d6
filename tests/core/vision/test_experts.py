import json

import pytest
import torch

from condensekit.core.vision.experts import ExpertBuffer, ExpertConfig, generate_experts, train_expert
from tests.core.vision.conftest import make_tiny_images

CFG = ExpertConfig(num_experts=2, epochs=2, model="mlp", batch_size=8)


def test_generate_reuse_and_shapes(tmp_path, tiny_images):
    buf = generate_experts(tiny_images, tmp_path / "buf", CFG)
    trajs = buf.trajectories()
    assert len(trajs) == 2 and trajs[0].shape == (3, buf.num_params)
    assert not torch.equal(trajs[0][0], trajs[0][2])  # the expert moved
    assert not torch.equal(trajs[0][0], trajs[1][0])  # experts start apart
    mtime = buf.path(0).stat().st_mtime_ns
    generate_experts(tiny_images, tmp_path / "buf", CFG)  # reused, not retrained
    assert buf.path(0).stat().st_mtime_ns == mtime


def test_resume_from_partial_gives_same_trajectory(tmp_path, tiny_images):
    full = generate_experts(tiny_images, tmp_path / "a", CFG).load(1)
    buf = ExpertBuffer.create(tmp_path / "b", tiny_images, CFG)
    from condensekit.core.vision.experts import _write_trajectory

    _write_trajectory(buf.path(1, partial_file=True), full[:2])  # as if killed after epoch 1
    resumed = train_expert(tiny_images, buf, 1, CFG)
    assert torch.equal(resumed, full) and not buf.path(1, partial_file=True).exists()


def test_resume_is_exact_when_the_transform_pick_comes_from_the_global_stream(tmp_path, tiny_images, monkeypatch):
    """On an accelerator DSA picks its transform on the host from torch's default generator (a device generator
    cannot serve a host draw without a sync); an expert resumed after epoch 1 must still draw epoch 2's picks as the
    uninterrupted run did. Simulated on the CPU: a DSA whose pick ignores the given generator."""
    import condensekit.core.vision.experts as experts
    from condensekit.core.vision.augment import DSA, apply_dsa, draw_params

    class HostPickDSA(DSA):
        def draw(self, x, *, batch=None):
            pick = draw_params(self.config, 1, (x.shape[-2], x.shape[-1]), generator=None)  # global stream
            mode = type(self.config)(strategy=pick.ops[0]) if pick.ops else self.config
            return draw_params(mode, x.shape[0], (x.shape[-2], x.shape[-1]), generator=self.generator)

        def __call__(self, x, params=None):
            return apply_dsa(x, self.draw(x) if params is None else params, self.config)

    monkeypatch.setattr(experts, "DSA", HostPickDSA)
    cfg = ExpertConfig(num_experts=1, epochs=3, model="mlp", batch_size=8)
    full = generate_experts(tiny_images, tmp_path / "a", cfg).load(0)
    buf = ExpertBuffer.create(tmp_path / "b", tiny_images, cfg)
    experts._write_trajectory(buf.path(0, partial_file=True), full[:2])  # as if killed after epoch 1
    torch.manual_seed(12345)  # whatever the caller's global stream holds
    assert torch.equal(train_expert(tiny_images, buf, 0, cfg), full)


def test_other_dataset_model_or_normalisation_refused(tmp_path, tiny_images):
    generate_experts(tiny_images, tmp_path / "buf", CFG)
    with pytest.raises(ValueError, match="model"):
        ExpertBuffer.create(tmp_path / "buf", tiny_images, ExpertConfig(num_experts=2, epochs=2, model="lr"))
    other = make_tiny_images()
    other.mean = (0.1,)
    with pytest.raises(ValueError, match="mean"):
        ExpertBuffer.open(tmp_path / "buf", data=other)
    with pytest.raises(ValueError, match="needs 'convnet'"):
        ExpertBuffer.open(tmp_path / "buf", model="convnet")
    with pytest.raises(FileNotFoundError, match="no expert buffer"):
        ExpertBuffer.open(tmp_path / "nothing")


def test_truncated_expert_detected(tmp_path, tiny_images):
    buf = generate_experts(tiny_images, tmp_path / "buf", CFG)
    raw = buf.path(0).read_bytes()
    buf.path(0).write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="truncated"):
        buf.trajectories()


def test_regularizer_reaches_fit_images(tmp_path, tiny_images):
    calls = []

    class Spy:  # a regulariser needs a record() for the buffer's card (test_experts_regularizer.py)
        def record(self) -> dict:
            return {"spy": True}

        def __call__(self, model, x, y):
            calls.append(x.shape[0])
            return x.new_zeros(())

    buf = generate_experts(tiny_images, tmp_path / "buf", ExpertConfig(num_experts=1, epochs=1, model="mlp"),
                           regularizer=Spy())  # fmt: skip
    assert calls and buf.card["regularizer"] == {"spy": True}


def test_two_processes_match_one(tmp_path, tiny_images):
    one = generate_experts(tiny_images, tmp_path / "one", CFG).trajectories()
    two = generate_experts(tiny_images, tmp_path / "two", CFG, workers=2).trajectories()
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(one, two, strict=True))


def test_buffer_of_the_old_convnet_layout_refused(tmp_path):
    # a buffer written before sitting 12 says model "convnet" but holds the pad-1 layout's parameters
    data = make_tiny_images(size=12)  # pad 3: 16 → 8 → 4 → 2 (512 features); pad 1: 12 → 6 → 3 → 1 (128)
    old = ExpertBuffer.create(tmp_path / "old", data, ExpertConfig(num_experts=1, epochs=1, model="convnet_pad1"))
    card = dict(old.card, model="convnet", config=dict(old.card["config"], model="convnet"))
    (tmp_path / "old" / "card.json").write_text(json.dumps(card))
    new = ExpertBuffer.create(tmp_path / "new", data, ExpertConfig(num_experts=1, epochs=1, model="convnet"))
    assert new.num_params - old.num_params == (512 - 128) * 2
    with pytest.raises(ValueError, match=r"num_params: buffer 297474, model 298242 .*convnet_pad1"):
        ExpertBuffer.create(tmp_path / "old", data, ExpertConfig(num_experts=1, epochs=1, model="convnet"))
    with pytest.raises(ValueError, match=r"another architecture .*num_params.*convnet_pad1"):
        ExpertBuffer.open(tmp_path / "old", data=data, model="convnet")
    rng = torch.random.get_rng_state()
    assert ExpertBuffer.open(tmp_path / "new", data=data, model="convnet").num_params == new.num_params
    assert torch.equal(rng, torch.random.get_rng_state())  # the check draws no random numbers (MTT reproduces)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"momentum": -1.0}, "momentum"), ({"weight_decay": -0.1}, "weight_decay"), ({"seed": -1}, "seed")],
)
def test_bad_expert_config_refused_before_the_card_is_written(tmp_path, tiny_images, kwargs, argument):
    # A bad value used to fail inside torch's SGD after the card was written; the card then refused the corrected run.
    with pytest.raises(ValueError, match=f"argument {argument}"):
        generate_experts(tiny_images, tmp_path / "buf", ExpertConfig(num_experts=1, epochs=1, model="mlp", **kwargs))
    assert not (tmp_path / "buf" / "card.json").exists()
    generate_experts(tiny_images, tmp_path / "buf", ExpertConfig(num_experts=1, epochs=1, model="mlp", batch_size=8))


@pytest.mark.parametrize("workers", [0, -1])
def test_non_positive_workers_refused(tmp_path, tiny_images, workers):
    with pytest.raises(ValueError, match="argument workers"):
        generate_experts(tiny_images, tmp_path / "buf", CFG, workers=workers)
    assert not (tmp_path / "buf").exists()


def test_another_model_is_not_blamed_on_a_layout_change(tmp_path, tiny_images):
    generate_experts(tiny_images, tmp_path / "buf", CFG)
    with pytest.raises(ValueError, match="model: buffer 'mlp', wanted 'lr'") as err:
        ExpertBuffer.create(tmp_path / "buf", tiny_images, ExpertConfig(num_experts=2, epochs=2, model="lr"))
    assert "layout changed" not in str(err.value)  # the hint is for one model name with two layouts
    with pytest.raises(ValueError, match="num_classes: buffer 2, wanted 3") as err:
        ExpertBuffer.create(tmp_path / "buf", make_tiny_images(classes=3), CFG)
    assert "layout changed" not in str(err.value)


def test_buffer_missing_an_expert_file_is_reported(tmp_path, tiny_images):
    buf = generate_experts(tiny_images, tmp_path / "buf", CFG)
    buf.path(1).unlink()
    with pytest.raises((FileNotFoundError, ValueError), match="expert_0001"):
        buf.trajectories()


def test_workers_train_on_the_callers_device(tmp_path, tiny_images, monkeypatch):
    """With workers > 1 the data crosses to the workers on the CPU; each worker's context puts it back on the
    caller's device (it used to stay on the CPU: a CUDA caller's experts trained on the host)."""
    from condensekit.core.vision import experts as mod

    seen = {}
    monkeypatch.setattr(mod, "run_seeded", lambda jobs, context, workers: seen.setdefault("context", context))
    generate_experts(tiny_images, tmp_path / "buf", CFG, workers=2)
    assert seen["context"].args[0].x_train.device.type == "cpu"  # what is pickled
    assert seen["context"].args[-1] == str(tiny_images.x_train.device)  # where the worker puts it back
    monkeypatch.setattr(mod.ExpertBuffer, "create", staticmethod(lambda folder, data, config, regularizer=None: None))

    class Moved:
        def to(self, device):
            seen["to"] = device
            return self

    mod._context(Moved(), str(tmp_path / "buf"), CFG, None, "cuda:0")
    assert seen["to"] == "cuda:0"


def test_a_truncated_or_misshapen_finished_expert_is_set_aside_and_trained_again(tmp_path, tiny_images):
    # a finished file that is cut off (a copy interrupted) counted as done: the rerun reported success and condense
    # then refused the buffer
    buf = generate_experts(tiny_images, tmp_path / "buf", CFG)
    good = buf.load(1).clone()  # not a view of the file (safetensors maps it), which is cut below
    raw = buf.path(1).read_bytes()
    buf.path(1).write_bytes(raw[: len(raw) // 2])
    buf.path(1).with_name("expert_0001.safetensors.corrupt").write_bytes(b"an earlier one")  # its name is taken
    with pytest.warns(RuntimeWarning, match=r"expert_0001\.safetensors.*truncated or corrupt.*corrupt-2"):
        again = generate_experts(tiny_images, tmp_path / "buf", CFG)
    assert torch.equal(again.load(1), good)  # seeded: the same expert as before
    assert (tmp_path / "buf" / "expert_0001.safetensors.corrupt-2").read_bytes() == raw[: len(raw) // 2]
    from condensekit.core.vision.experts import _write_trajectory

    _write_trajectory(buf.path(0), good[:2])  # a whole file of the wrong shape (one epoch short)
    with pytest.warns(RuntimeWarning, match=r"expert_0000\.safetensors.*\(2, \d+\) F32.*expected \(3, \d+\)"):
        generate_experts(tiny_images, tmp_path / "buf", CFG)
    assert len(buf.trajectories()) == 2


def test_expert_files_get_the_mode_a_plain_write_gets(tmp_path, tiny_images):
    # safetensors' save_file made them 0600 whatever the umask: a buffer in a shared folder was unreadable to others
    import os

    old = os.umask(0o022)
    try:
        buf = generate_experts(tiny_images, tmp_path / "buf", ExpertConfig(num_experts=1, epochs=1, model="mlp"))
    finally:
        os.umask(old)
    assert buf.path(0).stat().st_mode & 0o777 == 0o644
