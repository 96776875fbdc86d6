"""The optimisers on a condensation step's hot path run fused on CUDA (condensekit.core.optim), as the image protocol's
already did; on the CPU they stay torch's default, so CPU figures are unchanged.

On the CPU, ``FUSED_DEVICES`` is widened to the CPU (torch has fused CPU kernels too): every SGD / Adam a method
builds in its set-up and steps must then come out fused, which shows that each asks :func:`fused_on_cuda` and that
the fused kernels take its parameters (a 0-dim learned rate, a bank of differently shaped tensors). The CUDA-only
test checks the same without widening, on a GPU visit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from condensekit.core import optim
from condensekit.core.engine import EngineConfig, run
from condensekit.core.optim import fused_on_cuda


def test_fused_on_cuda_is_torchs_default_off_cuda():
    assert fused_on_cuda([torch.zeros(3), torch.zeros(())]) is None
    assert fused_on_cuda([]) is None
    assert fused_on_cuda(iter([torch.zeros(2)])) is None


def test_fused_only_when_every_parameter_is_on_a_fused_device(monkeypatch):
    monkeypatch.setattr(optim, "FUSED_DEVICES", ("meta",))
    assert fused_on_cuda([torch.zeros(3, device="meta"), torch.zeros((), device="meta")]) is True
    assert fused_on_cuda([torch.zeros(3, device="meta"), torch.zeros(3)]) is None
    assert fused_on_cuda(t for t in [torch.zeros(3, device="meta")]) is True  # any iterable, read once


def _builders(tmp: Any) -> dict[str, Callable[[], Any]]:
    """A tiny instance of every method whose step updates tensors with an optimiser (DC and DosCond also train a
    network inside the step, with an optimiser of its own)."""
    from condensekit.core.vision.experts import ExpertConfig, generate_experts
    from condensekit.core.vision.methods import IMAGE_METHODS, make_image_config
    from condensekit.graph.level.condense import make_graph_config
    from condensekit.graph.level.methods import GRAPH_METHODS
    from condensekit.medical.ptm import PTM
    from condensekit.privacy import PRIVACY_METHODS
    from condensekit.robust.sre2l import SRe2L, SRe2LConfig
    from tests.core.vision.conftest import make_tiny_images
    from tests.graph.test_device_audit_graph import LEVEL, canonical_tiny_graphs
    from tests.privacy.conftest import make_images
    from tests.privacy.test_privacy_device_audit import CONFIGS as PRIVATE
    from tests.robust.conftest import make_toy_images

    images = make_tiny_images()
    experts = generate_experts(images, tmp / "experts", ExpertConfig(num_experts=1, epochs=2, model="mlp"))
    small = {"syn_steps": 2, "expert_epochs": 1, "max_start_epoch": 1, "lr_img": 1.0, "lr_lr": 1e-8, "model": "mlp"}
    image = {
        "dm": {"iterations": 2, "batch_real": 8, "dsa": False},
        "dc": {"iterations": 2, "outer_loop": 2, "inner_loop": 1, "batch_real": 8, "dsa": False},
        "mtt": small | {"iterations": 2},
    }
    out: dict[str, Callable[[], Any]] = {
        m: (lambda m=m, c=c: IMAGE_METHODS.get(m).cls(images, 2, make_image_config(m, c),
                                                      **({"experts": experts} if m == "mtt" else {})))
        for m, c in image.items()
    }  # fmt: skip
    ptm = make_image_config("ptm", small | {"iterations": 2, "stages": 2})
    out["ptm"] = lambda: PTM(images, 2, ptm, experts=experts)
    graphs = canonical_tiny_graphs()
    level = {"doscond": {"outer": 2, "inner": 1}, "kidd": {}, "kidd-lr": {}}
    for m, extra in level.items():
        out[f"graph-{m}"] = lambda m=m, e=extra: GRAPH_METHODS.get(m).cls(
            graphs, 2, make_graph_config(m, LEVEL[m][0] | e)
        )
    from condensekit.graph.condense import make_config
    from condensekit.graph.methods import NODE_METHODS, node_budgets
    from condensekit.graph.task import NodeTask
    from tests.conftest import make_tiny_graph
    from tests.graph.test_device_audit_graph import NODE

    task = NodeTask.from_data(make_tiny_graph())
    for m in ("gcond", "gcondx", "doscond", "gcdm", "gcsntk"):
        out[f"node-{m}"] = lambda m=m: NODE_METHODS.get(m).cls(task, node_budgets(task, budget=9),
                                                               make_config(m, NODE[m][0]))  # fmt: skip
    toy = make_toy_images()
    teacher = _bn_teacher()
    out["sre2l"] = lambda: SRe2L(toy, 2, SRe2LConfig(iterations=2), teacher=teacher)
    private = make_images()
    for m, (cfg, _) in PRIVATE.items():
        out[m] = lambda m=m, c=cfg: PRIVACY_METHODS.get(m).cls(private, c)
    return out


def _bn_teacher() -> torch.nn.Module:
    from condensekit.core.vision import build_image_model

    return build_image_model("convnet_bn", channels=1, num_classes=3, im_size=(6, 6)).eval()


METHODS = ["dm", "dc", "mtt", "ptm", "graph-doscond", "graph-kidd", "graph-kidd-lr", "sre2l", "dp-merf",
           "dp-merf-condensed", "psg", "node-gcond", "node-gcondx", "node-doscond", "node-gcdm",
           "node-gcsntk"]  # fmt: skip


@pytest.fixture(scope="module")
def builders(tmp_path_factory):
    return _builders(tmp_path_factory.mktemp("optim"))


def _optimizers_of_two_steps(build: Callable[[], Any], device: str, monkeypatch) -> list[torch.optim.Optimizer]:
    made: list[torch.optim.Optimizer] = []
    for cls in (torch.optim.SGD, torch.optim.Adam):
        init = cls.__init__

        def record(self, *args, _init=init, **kwargs):
            _init(self, *args, **kwargs)
            made.append(self)

        monkeypatch.setattr(cls, "__init__", record)
    run(build(), EngineConfig(steps=2, seed=0, device=device, progress=False))
    return made


def test_every_method_with_a_step_optimiser_is_listed():
    import condensekit.medical  # noqa: F401 (registers PTM)
    import condensekit.robust  # noqa: F401 (registers SRe2L)
    from condensekit.core.vision.methods import IMAGE_METHODS
    from condensekit.graph.level.methods import GRAPH_METHODS
    from condensekit.graph.methods import NODE_METHODS
    from condensekit.privacy import PRIVACY_METHODS

    selections = {"random", "herding", "kcenter"}  # no step, no optimiser
    image = {m for m in IMAGE_METHODS.names() if m not in selections}
    level = {f"graph-{m}" for m in GRAPH_METHODS.names() if m not in selections}
    node = {f"node-{m}" for m in NODE_METHODS.names() if m not in selections}
    assert image | level | node | set(PRIVACY_METHODS.names()) == set(METHODS)


@pytest.mark.parametrize("method", METHODS)
def test_step_optimisers_ask_whether_to_fuse(builders, method, monkeypatch):
    monkeypatch.setattr(optim, "FUSED_DEVICES", ("cuda", "cpu"))
    made = _optimizers_of_two_steps(builders[method], "cpu", monkeypatch)
    assert made, f"{method} built no optimiser"
    unfused = [type(o).__name__ for o in made if not o.defaults["fused"]]
    assert unfused == [], f"{method}: {unfused} of {len(made)} optimisers not fused"


@pytest.mark.parametrize("method", METHODS)
def test_step_optimisers_stay_unfused_on_the_cpu(builders, method, monkeypatch):
    made = _optimizers_of_two_steps(builders[method], "cpu", monkeypatch)
    assert made and all(not o.defaults["fused"] for o in made)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (run on a GPU visit)")
@pytest.mark.parametrize("method", METHODS)
def test_step_optimisers_are_fused_on_cuda(builders, method, monkeypatch):
    """On a GPU: two steps on CUDA, every optimiser of set-up and steps fused."""
    made = _optimizers_of_two_steps(builders[method], "cuda", monkeypatch)
    assert made and all(o.defaults["fused"] for o in made), [(type(o).__name__, o.defaults["fused"]) for o in made]
