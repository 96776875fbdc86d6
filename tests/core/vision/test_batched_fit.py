"""The batched image trainer (core/vision/batched.py) gives each run the one-at-a-time run's weights, selected
epoch and scores, with DSA drawn per run from its own streams, and waits for the host only at validation checks.

Tolerance: the batched forward is a grouped convolution and the one-at-a-time forward R separate ones, so the
runs' weights differ by float32 rounding, which 20 epochs carry to (measured) 3e-7 with SGD, 2e-6 with batch norm
and 1e-4 with Adam (its update divides by the root of tiny second moments); ATOL = 1e-3 holds those. A wrong
replay (DSA drawn from one shared stream instead of each run's, measured) moves weights by 0.12 to 0.5 and the
selected epochs with them."""

from __future__ import annotations

import inspect

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from condensekit.core.seed import seed_everything
from condensekit.core.vision.augment import DSA
from condensekit.core.vision.batched import fit_images_batched, rng_streams, seeded_runs
from condensekit.core.vision.convnet import ConvNet
from condensekit.core.vision.train import ImageTrainConfig, fit_images
from tests.core.vision.conftest import make_tiny_images
from tests.device_audit import DeviceAudit

RUNS = 3
ATOL = 1e-3


def _data():
    return make_tiny_images(n_per_class=10, size=8, seed=3)


def _build(norm: str, device: str = "cpu") -> nn.Module:
    return ConvNet(1, 2, (8, 8), width=6, depth=2, norm=norm).to(device)


def _neg_val_loss(data):
    # a continuous score (higher is better): the selected epoch is well defined, unlike a tied accuracy
    return lambda logits: -F.cross_entropy(logits, data.y_val)


def _alone(data, norm, cfg, device="cpu"):
    nets, results = [], []
    score = _neg_val_loss(data)
    for i in range(RUNS):
        seed_everything(i)
        net = _build(norm, device)
        gen = torch.Generator(device=device).manual_seed(i)
        results.append(fit_images(net, data.x_train, data.y_train, config=cfg, augment=DSA(generator=None),
                                  generator=gen, validate=lambda m: float(score(m(data.x_val)))))  # fmt: skip
        nets.append(net)
    return nets, results


def _built(norm, device="cpu"):
    return seeded_runs(lambda: _build(norm, device), runs=RUNS, seed=0, device=torch.device(device))


def _fit(data, built, cfg, augment=None):
    nets, gens, states = built
    score = _neg_val_loss(data)
    return fit_images_batched(
        nets, data.x_train, data.y_train, generators=gens, rng_states=states, config=cfg,
        augment=DSA(generator=None) if augment is None else augment, val_x=data.x_val,
        val_score=lambda logits: torch.stack([score(run) for run in logits]),
    )  # fmt: skip


def _together(data, norm, cfg, augment=None, device="cpu"):
    built = _built(norm, device)
    return built[0], _fit(data, built, cfg, augment)


@pytest.mark.parametrize(
    ("norm", "optimizer", "batch_size"),
    [("instancenorm", "sgd", 8), ("instancenorm", "adam", 8), ("batchnorm", "sgd", 8), ("instancenorm", "sgd", 256)],
)
def test_batched_runs_give_the_one_at_a_time_weights_and_epochs(norm, optimizer, batch_size):
    data = _data()
    cfg = ImageTrainConfig(epochs=20, lr=0.05 if optimizer == "sgd" else 0.01, optimizer=optimizer,
                           batch_size=batch_size, val_every=2)  # fmt: skip
    alone_nets, alone = _alone(data, norm, cfg)
    nets, together = _together(data, norm, cfg)
    assert [r.best_epoch for r in together] == [r.best_epoch for r in alone]
    for a, b in zip(alone, together, strict=True):
        assert b.best_val == pytest.approx(a.best_val, abs=ATOL)
    for a, b in zip(alone_nets, nets, strict=True):
        sa, sb = a.state_dict(), b.state_dict()  # batch norm's running statistics included
        for k in sa:
            torch.testing.assert_close(sb[k], sa[k], rtol=0, atol=ATOL)
        torch.testing.assert_close(b(data.x_test), a(data.x_test), rtol=0, atol=ATOL)
    # the runs differ from each other by far more than the tolerance: the test tells them apart
    first = [next(iter(n.state_dict().values())) for n in nets]
    assert (first[0] - first[1]).abs().max() > 100 * ATOL


def test_a_model_that_draws_in_forward_is_refused_by_name():
    data = _data()
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 8), nn.Dropout(0.5), nn.Linear(8, 2))
    with pytest.raises(ValueError, match="model Sequential cannot be trained batched"):
        fit_images_batched([net], data.x_train, data.y_train, generators=[torch.Generator()],
                           rng_states=[rng_streams(torch.device("cpu"))])  # fmt: skip


def test_wrong_counts_and_streams_of_another_device_are_named():
    data = _data()
    nets, gens, states = _built("instancenorm")
    with pytest.raises(ValueError, match=r"Invalid value of 2 entries for argument generators\. .*one per model \(3\)"):
        fit_images_batched(nets, data.x_train, data.y_train, generators=gens[:2], rng_states=states)
    with pytest.raises(ValueError, match=r"Invalid value of 1 entries for argument rng_states\."):
        fit_images_batched(nets, data.x_train, data.y_train, generators=gens, rng_states=states[:1])
    with pytest.raises(ValueError, match=r"Invalid value \[\] for argument models\."):
        fit_images_batched([], data.x_train, data.y_train, generators=[], rng_states=[])
    # States taken for an accelerator (host + device) given with x on the CPU, and the CPU's with x on CUDA: the
    # run would replay the wrong generators.
    two = [(s[0], s[0].clone()) for s in states]
    with pytest.raises(ValueError, match=r"Invalid value of 2 states \(run 0\) for argument rng_states\. .*1 per run"):
        fit_images_batched(nets, data.x_train, data.y_train, generators=gens, rng_states=two)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (run on a GPU visit)")
def test_host_streams_with_x_on_cuda_are_named():
    data = _data()
    nets, gens, _ = _built("instancenorm", "cuda")
    states = [rng_streams(torch.device("cpu")) for _ in nets]
    with pytest.raises(ValueError, match=r"Invalid value of 1 states \(run 0\) for argument rng_states\. .*2 per run"):
        fit_images_batched(nets, data.x_train.cuda(), data.y_train.cuda(), generators=gens, rng_states=states)


def test_an_augmentation_with_its_own_generator_is_refused():
    data = _data()
    with pytest.raises(ValueError, match="generator=None"):
        _together(data, "instancenorm", ImageTrainConfig(epochs=1), augment=DSA(generator=torch.Generator()))


def test_no_host_sync_per_training_step():
    """On the CPU audit (tests/device_audit.py): nothing made off the device and nothing mixed; with a validation
    score computed on the device the only syncs are the two read-backs at the end and DSA's op pick (which CUDA
    draws on the host, core/vision/augment.py): none in a training step or a validation check."""
    data = _data()
    epochs = 6
    cfg = ImageTrainConfig(epochs=epochs, lr=0.05, batch_size=8, val_every=2)
    built = _built("batchnorm")  # models built on the host before, as the caller builds and moves them
    with DeviceAudit() as audit:
        _fit(data, built, cfg)
    assert audit.problems() == [], audit.findings
    sites = audit.sync_sites()
    steps = epochs * -(-data.x_train.shape[0] // 8)
    import condensekit.core.vision.augment as augment

    pick = next(i for i, line in enumerate(inspect.getsource(augment).splitlines(), 1) if "ops[int(pick)]" in line)
    assert sites.pop(f"__int__ at core/vision/augment.py:{pick}") == RUNS * steps  # DSA's op pick, found by its text
    assert sum(sites.values()) == 2 and all("core/vision/batched.py" in s for s in sites), sites


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (run on a GPU visit)")
@pytest.mark.parametrize("norm", ["instancenorm", "batchnorm"])
def test_batched_runs_give_the_one_at_a_time_weights_on_cuda(norm):
    """On a GPU: DSA's op pick comes from the host generator and its values from the device's, both replayed per
    run; cuDNN's kernels (fused SGD, grouped against single convolutions) round differently, hence 10 x ATOL."""
    data = _data().to("cuda")
    cfg = ImageTrainConfig(epochs=20, lr=0.05, batch_size=8, val_every=2)
    alone_nets, alone = _alone(data, norm, cfg, "cuda")
    nets, together = _together(data, norm, cfg, device="cuda")
    assert [r.best_epoch for r in together] == [r.best_epoch for r in alone]
    for a, b in zip(alone_nets, nets, strict=True):
        torch.testing.assert_close(b(data.x_test), a(data.x_test), rtol=0, atol=10 * ATOL)
    # the runs differ from each other by far more than the tolerance: the test tells them apart
    first = [next(iter(n.state_dict().values())) for n in nets]
    assert (first[0] - first[1]).abs().max() > 100 * ATOL
