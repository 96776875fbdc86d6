"""Named scales for the medical commands and benchmark: ``paper`` (the papers' scale, GPU work) and
``cpu`` (chosen by measurement on 2 shared CPU cores).

``paper``: experts as MTT (100 × 50 epochs, SGD 0.01, DSA); each method's config defaults (MTT/PTM:
HoP-TM's MedMNIST setting, 5,000 iterations; DM 20,000; DC 1,000); evaluation 1,000 epochs as MTT's
``evaluate_synset`` (SGD, momentum 0.9, the rate ÷10 half way), validated every 50; full-data rows as
MedMNIST v2 (100 epochs, Adam 1e-3, batch 128, ÷10 half way; MedMNIST drops at 50 and 75).

``cpu`` (measured on PneumoniaMNIST, 1 torch thread, machine shared with other jobs): one expert epoch
(ConvNet-3 width 128, DSA, 4,708 images) took 57 s; an MTT iteration with 10 student steps took 1.1 s at
IPC 1 and 6.5 s at IPC 10 on the whole 20-image set; a DM iteration 1.7–2.9 s; 100 evaluation epochs of
ConvNet on a 20-image set 38 s, of ResNet-18 357 s; when the benchmark started, the load average was 13 on
the 2 cores (five sessions' jobs), so each process got a fraction of a core. Hence: 2 experts × 3 epochs,
segments of 1 expert epoch starting below epoch 2, 10 student steps on minibatches of 10, 30 iterations for
every learned method (PTM: 2 stages ending at epochs 1 and 2, overlap check every 10 iterations),
evaluation 50 epochs validated every 10, full-data ConvNet 2 epochs. These are far below the papers'
scale; the figures they give are what 2 shared CPU cores allow in a sitting, not the methods' reach.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from condensekit.core.registry import Registry
from condensekit.core.vision.experts import ExpertConfig
from condensekit.core.vision.train import ImageTrainConfig


@dataclass(frozen=True)
class Profile:
    """Experts, per-method config overrides, and the evaluation / full-data training configs."""

    name: str
    experts: ExpertConfig
    evaluation: ImageTrainConfig
    full: ImageTrainConfig
    methods: dict[str, dict[str, Any]] = field(default_factory=dict)

    def method_overrides(self, method: str) -> dict[str, Any]:
        return dict(self.methods.get(method, {}))


PROFILES: Registry[Profile] = Registry("profile")

PROFILES.register(
    "paper",
    Profile(
        name="paper",
        experts=ExpertConfig(),
        evaluation=ImageTrainConfig(epochs=1000, val_every=50),
        full=ImageTrainConfig(epochs=100, optimizer="adam", lr=1e-3, batch_size=128, weight_decay=0.0, val_every=1),
    ),
)

_CPU_TM = {"iterations": 30, "syn_steps": 10, "expert_epochs": 1, "max_start_epoch": 2, "batch_syn": 10}
PROFILES.register(
    "cpu",
    Profile(
        name="cpu",
        experts=ExpertConfig(num_experts=2, epochs=3),
        evaluation=ImageTrainConfig(epochs=50, val_every=10),
        full=ImageTrainConfig(epochs=2, val_every=1),
        methods={
            "mtt": _CPU_TM,
            "ptm": _CPU_TM | {"stages": 2, "overlap_every": 10, "retrain_iterations": 3},
            "dm": {"iterations": 30},
            "dc": {"iterations": 5, "outer_loop": 2, "inner_loop": 5},
        },
    ),
)
