"""PTM's overlap mitigation (sitting 17): the per-set threshold, and re-initialisation from rows not already in the
set."""

import pytest
import torch
import torch.nn.functional as F

from condensekit.core.engine import EngineConfig, run
from condensekit.core.vision.experts import ExpertConfig, generate_experts
from condensekit.core.vision.methods import make_image_config
from condensekit.core.vision.splits import ImageSplits
from condensekit.medical.ptm import (
    PTM,
    PTMConfig,
    later_duplicates,
    overlap_flag_rates,
    pair_threshold,
    set_threshold,
)
from tests.core.vision.conftest import make_tiny_images

SMALL = {"syn_steps": 2, "expert_epochs": 1, "max_start_epoch": 3, "lr_img": 1.0, "lr_lr": 1e-8, "model": "mlp",
         "stages": 3}  # fmt: skip


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    data = make_tiny_images()  # 12 training images per class
    buf = generate_experts(data, tmp_path_factory.mktemp("buf"), ExpertConfig(num_experts=2, epochs=3, model="mlp"))
    return data, buf


def _ptm(setting, ipc, **cfg):
    data, buf = setting
    return PTM(data, ipc, make_image_config("ptm", SMALL | {"iterations": 10} | cfg), experts=buf)


def _class(n=400, d=64, seed=0):
    """One class of generated "real" images: a shared pattern plus noise (cosines around 0.5)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(1, d, generator=gen) + torch.randn(n, d, generator=gen)


def test_the_set_rule_flags_random_real_sets_about_1_minus_q_where_the_pair_rule_flags_most():
    x, k, q = _class(), 30, 0.9  # 435 pairs per set
    z = F.normalize(x, dim=1)
    t_set = set_threshold(z, k, q, torch.Generator().manual_seed(0))
    t_pair = pair_threshold(z, q)
    assert t_set > t_pair
    fresh = overlap_flag_rates(x, k, t_set, subsets=400, seed=1)  # other subsets than the calibration's
    assert 0.04 < fresh["subsets_flagged_share"] < 0.18  # about 1 - q = 0.1
    pair = overlap_flag_rates(x, k, t_pair, subsets=400, seed=1)
    assert pair["subsets_flagged_share"] > 0.9 and pair["images_flagged_mean"] > 10  # real diversity flagged
    # with one image there is nothing to compare: never flagged
    assert float(set_threshold(z, 1, q, torch.Generator())) == 1.0


def test_thresholds_are_on_the_methods_device_never_below_the_pair_rule_and_recorded(setting):
    ptm = _ptm(setting, 4)
    ptm.setup(torch.device("cpu"))
    assert all(t.device == ptm.device and t.dim() == 0 for t in ptm.thresholds.values())
    assert all(ptm.thresholds[c] >= ptm.pair_thresholds[c] for c in ptm.classes)
    diag = ptm.diagnostics()
    assert diag["overlap_rule"] == "set" and set(diag["overlap_threshold_pair"]) == {"0", "1"}
    old = _ptm(setting, 4, overlap_rule="pair")
    old.setup(torch.device("cpu"))
    assert all(torch.equal(old.thresholds[c], old.pair_thresholds[c]) for c in old.classes)


def test_the_rule_is_checked_by_name():
    with pytest.raises(ValueError, match=r"argument overlap_rule. Valid values are \{pair, set\}"):
        PTMConfig(overlap_rule="sets")


@pytest.mark.parametrize("field", ["overlap_every", "retrain_iterations", "iterations", "lr_img"])
def test_ptm_config_refuses_bad_counts_and_rates_as_mtt_does(field):
    with pytest.raises(ValueError, match=f"argument {field}"):
        PTMConfig(**{field: -1})


def test_the_set_rule_leaves_the_main_random_stream_alone(setting):
    states = []
    for rule in ("set", "pair"):
        torch.manual_seed(3)
        ptm = _ptm(setting, 4, overlap_rule=rule)
        ptm.setup(torch.device("cpu"))
        states.append((torch.get_rng_state(), ptm.x_syn.detach().clone(), ptm.init_indices.clone()))
    assert all(torch.equal(a, b) for a, b in zip(*states, strict=True))


def test_a_run_the_pair_rule_leaves_alone_is_bit_for_bit_the_same_under_the_set_rule(setting):
    out, diag = {}, {}
    for rule in ("pair", "set"):
        cfg = {"iterations": 6, "overlap_every": 2, "retrain_iterations": 1, "overlap_rule": rule,
               "overlap_quantile": 1.0}  # fmt: skip
        ptm = _ptm(setting, 3, **cfg)
        out[rule] = run(ptm, EngineConfig(steps=6, device="cpu", progress=False, seed=5)).condensed
        diag[rule] = ptm.diagnostics()
    assert diag["pair"]["overlap_checks"] == 2.0 and diag["pair"]["overlap_reinit"] == 0.0  # the premise
    assert all(torch.equal(out["pair"][k], out["set"][k]) for k in out["pair"])


def _duplicate_and_reinit(ptm, rows):
    with torch.no_grad():
        for r in rows:
            ptm.x_syn[r] = ptm.x_syn[0]
    before = ptm.reseeded.clone()
    ptm.after_update(0)
    return (ptm.reseeded & ~before).nonzero().flatten()


def test_reinitialisation_never_copies_a_row_already_in_the_set(setting):
    for seed in range(10):  # 6 of class 0's 12 rows start the set: a draw of 2 collides half of the time
        torch.manual_seed(seed)
        ptm = _ptm(setting, 6, overlap_every=1)
        ptm.setup(torch.device("cpu"))
        init = set(ptm.init_indices.tolist())
        first = _duplicate_and_reinit(ptm, [1, 2]).tolist()
        assert len(first) == 2 and not init & set(first)
        second = _duplicate_and_reinit(ptm, [3, 4]).tolist()  # and not one an earlier re-initialisation copied
        assert len(second) == 2 and not (init | set(first)) & set(second)
        assert sorted(ptm.init_record()["reinit_train_indices"]) == sorted(first + second)


def test_reinitialisation_draws_as_before_when_no_collision_happens(setting):
    seen = {"same": 0, "moved": 0}
    for seed in range(20):
        ptm = _ptm(setting, 6, overlap_every=1)
        torch.manual_seed(seed)
        ptm.setup(torch.device("cpu"))
        used = set(ptm.init_indices.tolist())
        state = torch.get_rng_state()
        before = ptm.real_rows(0, 2).tolist()  # what re-initialisation drew before sitting 17
        after_old = torch.get_rng_state()
        torch.set_rng_state(state)
        now = ptm.reinit_rows(0, 2).tolist()
        assert torch.equal(torch.get_rng_state(), after_old)  # the same draw from the stream
        if used & set(before):
            seen["moved"] += 1
            assert not used & set(now)
        else:
            seen["same"] += 1
            assert now == before
    assert seen["same"] and seen["moved"]  # both cases met


def test_a_class_with_no_unused_row_left_still_gets_distinct_rows(setting):
    ptm = _ptm(setting, 12, overlap_every=1)  # every row of each class is in the set
    torch.manual_seed(0)
    ptm.setup(torch.device("cpu"))
    rows = ptm.reinit_rows(0, 3)
    assert rows.unique().numel() == 3 and bool((ptm.groups[rows] == 0).all())


def test_resume_across_the_rule_change_is_refused_naming_the_field(tmp_path, setting):
    ck = str(tmp_path / "ck.pt")
    cfg = {"iterations": 6, "overlap_every": 2}
    first = EngineConfig(steps=6, device="cpu", progress=False, checkpoint=ck, checkpoint_every=1, stop_after=3)
    run(_ptm(setting, 3, overlap_rule="pair", **cfg), first)
    with pytest.raises(ValueError, match="overlap_rule='pair'.*overlap_rule='set'"):
        run(_ptm(setting, 3, **cfg), EngineConfig(steps=6, device="cpu", progress=False, checkpoint=ck))
    resumed = run(_ptm(setting, 3, overlap_rule="pair", **cfg),
                  EngineConfig(steps=6, device="cpu", progress=False, checkpoint=ck))  # fmt: skip
    full = run(_ptm(setting, 3, overlap_rule="pair", **cfg), EngineConfig(steps=6, device="cpu", progress=False))
    assert all(torch.equal(full.condensed[k], resumed.condensed[k]) for k in full.condensed)


def _multilabel_images(n=16, labels=3, size=8, seed=0):
    """ChestMNIST-like: every image has label 0 (so its group is 0) and labels 1, 2 at random."""
    gen = torch.Generator().manual_seed(seed)

    def split(k):
        y = torch.cat([torch.ones(k, 1), (torch.rand(k, labels - 1, generator=gen) < 0.5).float()], dim=1)
        return torch.randn(k, 1, size, size, generator=gen), y

    (xt, yt), (xv, yv), (xs, ys) = split(n), split(6), split(6)
    return ImageSplits(name="tinychest", x_train=xt, y_train=yt, x_val=xv, y_val=yv, x_test=xs, y_test=ys,
                       num_classes=labels, task="multi-label, binary-class")  # fmt: skip


def test_a_reinitialised_multilabel_image_takes_its_new_real_images_labels_and_resumes(tmp_path):
    """ChestMNIST: an image's group is its first positive label, so the real image a near-duplicate is reset to can
    carry other labels than the one it replaces; the synthetic row must be labelled as the image it now is."""
    data = _multilabel_images()
    buf = generate_experts(data, tmp_path / "buf", ExpertConfig(num_experts=1, epochs=3, model="mlp"))
    for seed in range(6):
        torch.manual_seed(seed)
        ptm = PTM(data, 6, make_image_config("ptm", SMALL | {"iterations": 10, "overlap_every": 1}), experts=buf)
        ptm.setup(torch.device("cpu"))
        new = _duplicate_and_reinit(ptm, [1, 2, 3])
        assert new.numel() == 3
        # each re-initialised row is labelled as the real image it was reset to
        for r in (1, 2, 3):
            src = (ptm.x_real == ptm.x_syn[r]).flatten(1).all(1).nonzero().flatten()
            assert torch.equal(ptm.y_syn[r], ptm.y_real[src[0]])
        assert "y" in ptm.stateful()  # a checkpoint keeps the new labels
    # a run that re-initialises resumes bit for bit, labels included
    ck = str(tmp_path / "ck.pt")
    cfg = make_image_config("ptm", SMALL | {"iterations": 6, "overlap_every": 1, "overlap_quantile": 0.01})
    part = EngineConfig(steps=6, device="cpu", progress=False, checkpoint=ck, checkpoint_every=1, stop_after=3)
    run(PTM(data, 6, cfg, experts=buf), part)
    resumed = run(PTM(data, 6, cfg, experts=buf), EngineConfig(steps=6, device="cpu", progress=False, checkpoint=ck))
    method = PTM(data, 6, cfg, experts=buf)
    full = run(method, EngineConfig(steps=6, device="cpu", progress=False))
    assert method.diagnostics()["overlap_reinit"] > 0  # the premise: images were re-initialised (and relabelled)
    assert all(torch.equal(full.condensed[k], resumed.condensed[k]) for k in full.condensed)


def test_later_duplicates_compares_each_image_with_earlier_ones_only_whatever_the_threshold_sign():
    """Normalised images can have negative cosines, so a low quantile can give a threshold below 0; the zeros the
    masking left on and below the diagonal then counted as cosines above it (an image 'duplicated' itself or a later
    one, and the first image of a class was flagged)."""
    z = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])  # cosines: -1 (0, 1), 0 (0, 2), 0 (1, 2)
    assert later_duplicates(z, -0.5).tolist() == [False, False, True]  # only row 2 exceeds -0.5 with an earlier row
    assert later_duplicates(z, 0.5).tolist() == [False, False, False]
    assert later_duplicates(z, -2.0).tolist() == [False, True, True]  # the first row has no earlier row
