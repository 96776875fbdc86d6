"""`medical condense` (and any PTM run) refuses curvature-trained (GUARD) experts unless the caller asks for them:
pointed at a GUARD buffer with ``--experts`` it matched robust experts under a card naming plain ones."""

from __future__ import annotations

import pytest

from condensekit.core.objectives.curvature import CurvatureRegularizer
from condensekit.core.vision.experts import ExpertBuffer, ExpertConfig, generate_experts
from condensekit.core.vision.methods import make_image_config
from condensekit.medical.condense import condense_medical
from condensekit.medical.ptm import PTM
from tests.core.vision.conftest import make_tiny_images

CURV = CurvatureRegularizer(lam=5.0, h=1.0)
# PTM's stages: 2, as many as the iterations (PTMConfig refuses fewer iterations than stages)
SMALL = {"iterations": 2, "syn_steps": 2, "expert_epochs": 1, "max_start_epoch": 1, "lr_lr": 1e-8, "model": "mlp",
         "overlap_every": 0, "stages": 2}  # fmt: skip


@pytest.fixture(scope="module")
def curved(tmp_path_factory):
    data = make_tiny_images()
    folder = tmp_path_factory.mktemp("curv")
    generate_experts(data, folder, ExpertConfig(num_experts=1, epochs=2, model="mlp"), regularizer=CURV)
    return data, folder


@pytest.mark.parametrize("method", ["ptm", "mtt"])
def test_condense_medical_refuses_curvature_experts(curved, method):
    data, folder = curved
    buffer = ExpertBuffer.open(folder, data=data)  # what `medical condense --experts` opens
    small = SMALL if method == "ptm" else {k: v for k, v in SMALL.items() if k not in ("overlap_every", "stages")}
    with pytest.raises(ValueError, match=r"curv.*trained with regulariser \{'lam': 5\.0.*this run expects None"):
        condense_medical(data, method, ipc=2, profile="cpu", overrides=small, experts=buffer, device="cpu",
                         progress=False, select_every=0)  # fmt: skip


def test_condense_medical_takes_them_when_asked_and_records_it(curved):
    data, folder = curved
    ci = condense_medical(data, "ptm", ipc=2, profile="cpu", overrides=SMALL, experts=ExpertBuffer.open(folder),
                          device="cpu", progress=False, select_every=0, expert_regularizer=CURV.record())  # fmt: skip
    assert ci.card["experts"]["regularizer"] == CURV.record()


def test_ptm_refuses_experts_other_than_it_was_given_for(curved):
    data, folder = curved
    cfg = make_image_config("ptm", SMALL)
    with pytest.raises(ValueError, match=r"this run expects None"):
        PTM(data, 2, cfg, experts=ExpertBuffer.open(folder))  # opened without saying: taken for plain
    assert PTM(data, 2, cfg, experts=ExpertBuffer.open(folder, regularizer=CURV.record())).buffer.regularizer
