import pytest
import torch

from condensekit.core.engine import EngineConfig, run
from condensekit.core.vision.experts import ExpertConfig, generate_experts
from condensekit.core.vision.methods import IMAGE_METHODS, MTT, condense_images, make_image_config
from condensekit.medical.ptm import PTM, PTMConfig, stage_ends
from tests.core.vision.conftest import make_tiny_images

SMALL = {
    "syn_steps": 2,
    "expert_epochs": 1,
    "max_start_epoch": 3,
    "lr_img": 1.0,
    "lr_lr": 1e-8,
    "model": "mlp",
    "stages": 3,
}


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    data = make_tiny_images()
    buf = generate_experts(data, tmp_path_factory.mktemp("buf"), ExpertConfig(num_experts=2, epochs=3, model="mlp"))
    return data, buf


def test_stage_ends_golden():
    assert stage_ends(PTMConfig()) == [2, 7, 12, 16, 21]  # expert_epochs 2, max_start_epoch 20, 5 stages
    assert stage_ends(PTMConfig(stages=1)) == [21]
    with pytest.raises(ValueError, match="stages"):
        PTMConfig(stages=0)


def test_segments_start_at_zero_and_grow(setting):
    data, buf = setting
    ptm = PTM(data, 2, make_image_config("ptm", SMALL | {"iterations": 9}), experts=buf)
    ptm.setup(torch.device("cpu"))
    segs = [ptm.segment(s) for s in range(9)]
    assert {s for s, _ in segs} == {0}
    assert [e for _, e in segs] == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert isinstance(ptm, MTT) and "ptm" in IMAGE_METHODS


@pytest.fixture(scope="module")
def long_experts(tmp_path_factory):
    """Experts of 9 epochs: with ``max_start_epoch`` 9 every stage count up to 5 ends at its own epoch."""
    data = make_tiny_images()
    buf = generate_experts(data, tmp_path_factory.mktemp("buf9"), ExpertConfig(num_experts=1, epochs=9, model="mlp"))
    return data, buf


@pytest.mark.parametrize("stages", [1, 2, 3, 4, 5])
def test_the_schedule_runs_every_stage_in_order(long_experts, stages):
    """Every stage runs, in order, in shares of ``iterations // stages`` or one more, for any ``iterations >= stages``
    (divisible or not); the last stage reaches the farthest epoch (``max_start_epoch − 1 + expert_epochs``)."""
    data, buf = long_experts
    small = SMALL | {"stages": stages, "max_start_epoch": 9, "overlap_every": 0}
    ptm = PTM(data, 2, make_image_config("ptm", small | {"iterations": stages}), experts=buf)
    ptm.setup(torch.device("cpu"))
    assert len(set(ptm.ends)) == stages and ptm.ends[-1] == 9  # distinct ends: a segment's end names its stage
    for iterations in range(stages, 3 * stages + 2):
        ptm.config = make_image_config("ptm", small | {"iterations": iterations})
        visited = [ptm.ends.index(ptm.segment(i)[1]) for i in range(iterations)]
        assert visited == sorted(visited) and sorted(set(visited)) == list(range(stages)), (iterations, visited)
        shares = [visited.count(s) for s in range(stages)]
        assert set(shares) <= {iterations // stages, -(-iterations // stages)}, (iterations, shares)


def test_fewer_iterations_than_stages_are_refused():
    # iterations 3, stages 5 ran stages 0, 1 and 3: the last segment never reached max_start_epoch, and nothing said so
    with pytest.raises(ValueError, match=r"Invalid value 3 for argument iterations with stages 5: .* Valid values are "
                       r"iterations >= stages \(here >= 5\), or set stages <= iterations \(here <= 3\)"):  # fmt: skip
        PTMConfig(iterations=3, stages=5)
    with pytest.raises(ValueError, match="argument iterations with stages 4"):
        make_image_config("ptm", {"iterations": 2, "stages": 4})
    PTMConfig(iterations=5, stages=5)  # as many iterations as stages: one each, valid
    PTMConfig(iterations=1, stages=1)


def test_overlap_mitigation_reinitialises_and_retrains(setting):
    data, buf = setting
    cfg = make_image_config("ptm", SMALL | {"iterations": 10, "overlap_every": 1, "retrain_iterations": 2})
    ptm = PTM(data, 3, cfg, experts=buf)
    ptm.setup(torch.device("cpu"))
    with torch.no_grad():
        ptm.x_syn[1] = ptm.x_syn[0]  # a duplicate within class 0
    assert ptm.duplicates()[0].tolist() == [False, True, False, False, False, False]
    logs = ptm.after_update(0)
    assert logs["reinit"] == 1.0 and logs["max_cosine"] == pytest.approx(1.0)
    diag = ptm.diagnostics()
    assert diag["overlap_checks"] == 1.0 and diag["overlap_reinit"] == 1.0
    assert diag["overlap_max_cosine"] == pytest.approx(1.0) and set(diag["overlap_threshold"]) == {"0", "1"}
    assert not torch.equal(ptm.x_syn[1], ptm.x_syn[0])
    assert ptm.retrain.tolist() == [False, True, False, False, False, False] and int(ptm.retrain_until) == 3
    before = ptm.x_syn.detach().clone()
    ptm.step(1)  # only the re-initialised image moves
    moved = (ptm.x_syn.detach() != before).flatten(1).any(1)
    assert moved.tolist() == [False, True, False, False, False, False]


def test_overlap_mitigation_records_the_real_rows_it_copies_in(setting):
    data, buf = setting
    cfg = make_image_config("ptm", SMALL | {"iterations": 10, "overlap_every": 1, "retrain_iterations": 2})
    ptm = PTM(data, 3, cfg, experts=buf)
    ptm.setup(torch.device("cpu"))
    assert ptm.init_record()["reinit_train_indices"] == []
    with torch.no_grad():
        ptm.x_syn[1] = ptm.x_syn[0]
    ptm.after_update(0)
    record = ptm.init_record()
    (row,) = record["reinit_train_indices"]
    assert torch.equal(data.x_train[row], ptm.x_syn.detach()[1])  # the image now at row 1 is that real row
    assert "reseeded" in ptm.stateful()  # checkpointed, so a resumed run keeps the record


def test_ptm_runs_and_resumes_bit_for_bit(tmp_path, setting):
    data, buf = setting
    cfg = SMALL | {"iterations": 6, "overlap_every": 2, "retrain_iterations": 1}
    ci = condense_images(data, "ptm", ipc=3, domain="medical", config=cfg, device="cpu", progress=False, experts=buf)
    assert ci.x.shape == (6, 1, 8, 8) and ci.lr is not None
    assert ci.card["metrics"]["overlap_checks"] == 2.0  # after steps 2 and 4 (none at the last step)

    def fresh():
        return PTM(data, 3, make_image_config("ptm", cfg), experts=buf)

    full = run(fresh(), EngineConfig(steps=6, device="cpu", progress=False)).condensed
    ck = str(tmp_path / "ck.pt")
    run(fresh(), EngineConfig(steps=6, device="cpu", progress=False, checkpoint=ck, checkpoint_every=1, stop_after=3))
    resumed = run(fresh(), EngineConfig(steps=6, device="cpu", progress=False, checkpoint=ck)).condensed
    assert all(torch.equal(full[k], resumed[k]) for k in full)


def test_ptm_steps_sync_the_host_no_more_than_mtt_between_overlap_checks(setting):
    """MTT reads two values per step (its loss and learned rate, logged). PTM read one or two more on every step to
    decide whether images were frozen (its retraining window, kept on the device for the checkpoint); the window's
    end is known on the host when a check sets it, and read back once after a resume. (DSA off: its op pick counts
    as a read on the CPU, see tests/core/vision/test_image_device_audit.py.)"""
    from tests.device_audit import audit_method

    data, buf = setting
    cfg = make_image_config("ptm", SMALL | {"iterations": 8, "overlap_every": 3, "retrain_iterations": 2,
                                            "overlap_quantile": 0.01, "dsa": False})  # fmt: skip
    report = audit_method(lambda: PTM(data, 4, cfg, experts=buf), steps=8)
    assert report.crashes() == [] and report.step_factories() == [], report.summary()
    syncs = report.syncs_per_step()
    checks = {s for s in range(8) if (s + 1) % 3 == 0}
    assert all(n <= 2 for s, n in enumerate(syncs) if s not in checks), report.summary()


def test_ptm_retraining_window_steps_read_nothing_back(setting):
    """Inside a retraining window (after a check re-initialised images) the frozen rows were kept and put back by
    boolean-mask indexing, which reads their number back: one more host sync per step of a window on CUDA (two with
    the masked assignment, which the CPU audit does not see). The ``"pair"`` rule at a low quantile flags images at
    every check, so both windows open here; their steps read MTT's two logged values and nothing more."""
    from tests.device_audit import audit_method

    data, buf = setting
    window = {"iterations": 8, "overlap_every": 3, "retrain_iterations": 2, "overlap_quantile": 0.01}
    cfg = make_image_config("ptm", SMALL | window | {"overlap_rule": "pair", "dsa": False})
    built = []
    report = audit_method(lambda: built.append(PTM(data, 4, cfg, experts=buf)) or built[0], steps=8)
    assert report.crashes() == [] and report.step_factories() == [], report.summary()
    assert float(built[0].overlap_stats[1]) >= 2  # a re-initialisation at both checks (steps 2 and 5)
    windows = {3, 4, 6, 7}
    syncs = report.syncs_per_step()
    assert [syncs[s] for s in sorted(windows)] == [2] * len(windows), report.summary()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (run on a GPU visit)")
def test_ptm_retraining_window_steps_on_cuda(setting, record_property):
    """On a GPU: the syncs per step as CUDA counts them (torch.cuda.set_sync_debug_mode), printed; a step inside a
    retraining window waits for the device as often as a step outside one (the masked read and assignment were two
    more, the second invisible to the CPU audit)."""
    from tests.device_audit import device_run

    data, buf = setting
    window = {"iterations": 8, "overlap_every": 3, "retrain_iterations": 2, "overlap_quantile": 0.01}
    cfg = make_image_config("ptm", SMALL | window | {"overlap_rule": "pair", "dsa": False})
    built = []
    _, syncs = device_run(lambda: built.append(PTM(data, 4, cfg, experts=buf)) or built[0], steps=8, device="cuda")
    record_property("cuda_syncs_per_step", syncs)
    print(f"ptm with retraining windows: CUDA syncs per step {syncs} (windows: steps 3, 4, 6, 7)")
    assert float(built[0].overlap_stats[1]) >= 2
    assert {syncs[s] for s in (3, 4, 6, 7)} == {syncs[1]}, syncs  # step 0 may warm something up


@pytest.mark.parametrize("method", ["mtt", "ptm"])
def test_only_the_epochs_a_segment_reaches_are_kept_in_memory(setting, method):
    """MTT keeps epochs 0..max_epoch of each expert; on the CPU the slice was a view that held every expert's whole
    trajectory alive (MTT's paper buffer: 100 experts x 51 epochs, where 22 are reachable)."""
    data, buf = setting
    small = {k: v for k, v in SMALL.items() if method == "ptm" or k != "stages"}
    cfg = make_image_config(method, small | {"iterations": 3, "max_start_epoch": 1})  # reaches epoch 1 of 3
    algo = IMAGE_METHODS.get(method).cls(data, 2, cfg, experts=buf)
    algo.setup(torch.device("cpu"))
    rows = algo.max_epoch() + 1
    assert rows == 2 and len(algo.trajectories) == 2
    for t, full in zip(algo.trajectories, buf.trajectories(), strict=True):
        assert torch.equal(t, full[:rows])
        assert t.untyped_storage().nbytes() == t.numel() * t.element_size()  # nothing beyond the rows kept
