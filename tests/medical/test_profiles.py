from dataclasses import replace

import pytest

from condensekit.core.vision.experts import ExpertConfig
from condensekit.core.vision.train import ImageTrainConfig
from condensekit.medical.condense import medical_config
from condensekit.medical.profiles import PROFILES, Profile
from tests.core.vision.conftest import make_tiny_images


def _profile(**kw):
    return Profile(name="t", experts=ExpertConfig(), evaluation=ImageTrainConfig(), full=ImageTrainConfig(), **kw)


def test_expert_batch_shrinks_to_the_minimum_steps_per_epoch():
    data = make_tiny_images(n_per_class=50)  # 100 training images
    assert _profile().expert_config(data).batch_size == 256  # no rule: MTT's batch
    assert _profile(expert_min_steps=8).expert_config(data).batch_size == 12  # 100 // 8: 9 steps per epoch
    assert _profile(expert_min_steps=8).expert_config(data, batch_size=50).batch_size == 50  # given wins
    assert _profile(expert_min_steps=1000).expert_config(data).batch_size == 1


def test_cpu_profile_keeps_pneumonia_batch_and_shrinks_breast():
    cpu = PROFILES.get("cpu")
    pneumonia, breast = make_tiny_images(n_per_class=2354), make_tiny_images(n_per_class=273)
    assert cpu.expert_config(pneumonia).batch_size == 256
    assert cpu.expert_config(breast).batch_size == 546 // cpu.expert_min_steps


def test_full_config_caps_the_optimiser_steps():
    p = _profile(full_max_steps=100)
    p = replace(p, full=ImageTrainConfig(epochs=50, batch_size=10))
    assert p.full_config(make_tiny_images(n_per_class=5)).epochs == 50  # 1 step per epoch: 50 steps
    assert p.full_config(make_tiny_images(n_per_class=50)).epochs == 10  # 10 steps per epoch
    assert _profile().full_config(make_tiny_images()).epochs == ImageTrainConfig().epochs


@pytest.mark.parametrize("method", ["mtt", "ptm"])
def test_ipc_overrides_apply_only_at_their_ipc(method):
    assert medical_config(method, "cpu", ipc=1).lr_lr == 1e-7
    assert medical_config(method, "cpu", ipc=10).lr_lr == 1e-5
    assert medical_config(method, "cpu", {"lr_lr": 1e-6}, ipc=1).lr_lr == 1e-6  # the caller's override wins


def test_expert_count_is_cut_to_the_image_budget():
    data = make_tiny_images(n_per_class=50)  # 100 training images
    p = _profile(expert_max_image_epochs=1000)  # ExpertConfig(): 50 epochs → 5,000 images per expert
    assert p.expert_config(data).num_experts == 2  # at least 2
    assert p.expert_config(data, epochs=2).num_experts == 5  # 1000 // (100 × 2)
    assert p.expert_config(data, epochs=2, num_experts=7).num_experts == 7  # given wins
    assert _profile().expert_config(data).num_experts == ExpertConfig().num_experts


def test_cpu_profile_expert_budget_and_evaluation_schedule():
    cpu = PROFILES.get("cpu")
    pneumonia, breast = make_tiny_images(n_per_class=2354), make_tiny_images(n_per_class=273)
    assert cpu.expert_config(pneumonia).num_experts == 2 and cpu.expert_config(breast).num_experts == 10
    assert cpu.evaluation.epochs == PROFILES.get("paper").evaluation.epochs == 1000  # MTT's evaluate_synset
    ptm = medical_config("ptm", "cpu", ipc=10)
    assert cpu.expert_config(breast).epochs >= ptm.max_start_epoch - 1 + ptm.expert_epochs  # the buffer suffices


def test_per_flag_settings_apply_only_to_their_flag():
    flags = {"tiny": {"experts": {"num_experts": 7, "epochs": 3}, "ptm": {"iterations": 11}, "ptm/ipc2": {"lr_img": 5}}}
    p = _profile(expert_max_image_epochs=1000, methods={"ptm": {"iterations": 9, "syn_steps": 4}}, flags=flags)
    data = make_tiny_images(n_per_class=50)  # 100 training images
    other = replace(data, name="other")
    tiny = replace(data, name="tiny")
    # the flag's expert budget is kept as given (the image cap would cut 7 experts × 3 epochs to 3)
    assert (p.expert_config(tiny).num_experts, p.expert_config(tiny).epochs) == (7, 3)
    assert p.expert_config(tiny, epochs=2).epochs == 2  # the caller's wins
    assert p.expert_config(other).num_experts == 2 and p.expert_config(other).epochs == ExpertConfig().epochs
    assert p.method_overrides("ptm", 2, "tiny") == {"iterations": 11, "syn_steps": 4, "lr_img": 5}
    assert p.method_overrides("ptm", 10, "tiny") == {"iterations": 11, "syn_steps": 4}
    assert p.method_overrides("ptm", 2, "other") == p.method_overrides("ptm", 2) == {"iterations": 9, "syn_steps": 4}
    assert p.method_overrides("mtt", 2, "tiny") == {}


def test_condense_medical_reads_the_flags_settings(monkeypatch):
    import condensekit.medical.profiles as profiles
    from condensekit.medical.condense import condense_medical

    cpu = PROFILES.get("cpu")
    data = make_tiny_images()
    monkeypatch.setitem(profiles.PROFILES._items, "cpu", replace(cpu, flags={data.name: {"dm": {"iterations": 2}}}))
    assert medical_config("dm", "cpu", ipc=2, flag=data.name).iterations == 2
    assert medical_config("dm", "cpu", ipc=2, flag="elsewhere").iterations == cpu.methods["dm"]["iterations"]
    ci = condense_medical(data, "dm", ipc=2, profile="cpu", device="cpu", progress=False, select_every=0)
    assert ci.card["config"]["iterations"] == 2


def test_cpu_profile_gives_breastmnist_its_own_expert_budget():
    cpu = PROFILES.get("cpu")
    breast = replace(make_tiny_images(n_per_class=273), name="breastmnist")  # 546 training images
    pneumonia = replace(make_tiny_images(n_per_class=2354), name="pneumoniamnist")
    cfg = cpu.expert_config(breast)
    assert (cfg.num_experts, cfg.epochs, cfg.batch_size) == (7, 15, 34)  # 60,000 // (546 × 15) = 7 experts
    assert (cpu.expert_config(pneumonia).num_experts, cpu.expert_config(pneumonia).epochs) == (2, 5)
    ptm = medical_config("ptm", "cpu", ipc=10, flag="breastmnist")
    assert ptm.max_start_epoch == 8 and cfg.epochs >= ptm.max_start_epoch - 1 + ptm.expert_epochs
    assert medical_config("ptm", "cpu", ipc=1, flag="breastmnist").max_start_epoch == 4  # IPC 10 only
    assert medical_config("ptm", "cpu", ipc=10, flag="pneumoniamnist").max_start_epoch == 4
    assert medical_config("mtt", "cpu", ipc=10, flag="breastmnist").max_start_epoch == 2  # MTT's own setting


def test_cpu_profile_gives_breastmnist_ipc10_the_smaller_lr_lr():
    # sitting 16: lr_lr 1e-6 at BreastMNIST IPC 10, PTM and MTT alike (1e-5 diverged at seed 1; chosen on validation)
    for method in ("ptm", "mtt"):
        assert medical_config(method, "cpu", ipc=10, flag="breastmnist").lr_lr == 1e-6
        assert medical_config(method, "cpu", ipc=1, flag="breastmnist").lr_lr == 1e-7  # IPC 1 keeps its own
        assert medical_config(method, "cpu", ipc=50, flag="breastmnist").lr_lr == 1e-5  # IPC 50 keeps the default
        assert medical_config(method, "cpu", {"lr_lr": 1e-5}, ipc=10, flag="breastmnist").lr_lr == 1e-5  # caller wins
    assert medical_config("ptm", "cpu", ipc=10, flag="breastmnist").max_start_epoch == 8  # kept beside it
    assert medical_config("mtt", "cpu", ipc=10, flag="breastmnist").max_start_epoch == 2
    assert medical_config("ptm", "cpu", ipc=10, flag="pneumoniamnist").lr_lr == 1e-5  # PTM never diverged there


def test_cpu_profile_gives_breastmnist_ipc10_ptm_the_whole_set_student_batch():
    # sitting 22: MTT's own batch_syn (0: the whole synthetic set) for PTM at BreastMNIST IPC 10, chosen on validation
    assert medical_config("ptm", "cpu", ipc=10, flag="breastmnist").batch_syn == 0
    assert medical_config("mtt", "cpu", ipc=10, flag="breastmnist").batch_syn == 10  # not offered to MTT
    assert medical_config("ptm", "cpu", ipc=1, flag="breastmnist").batch_syn == 10  # IPC 10 only
    assert medical_config("ptm", "cpu", ipc=10, flag="pneumoniamnist").batch_syn == 10


def test_expert_config_for_a_size_matches_the_loaded_data():
    cpu = PROFILES.get("cpu")
    breast = replace(make_tiny_images(n_per_class=273), name="breastmnist")  # 546 training images
    assert cpu.expert_config_for("breastmnist", 546) == cpu.expert_config(breast)
    assert cpu.expert_config_for("breastmnist", 546, epochs=5) == cpu.expert_config(breast, epochs=5)
    pneumonia = cpu.expert_config_for("pneumoniamnist", 4708)
    assert (pneumonia.num_experts, pneumonia.epochs) == (2, 5)


def test_cpu_profile_gives_pneumoniamnist_mtt_at_ipc10_the_smaller_lr_lr():
    # sitting 16: MTT diverged there at seed 2 with 1e-5; PTM never did and keeps it
    assert medical_config("mtt", "cpu", ipc=10, flag="pneumoniamnist").lr_lr == 1e-6
    assert medical_config("ptm", "cpu", ipc=10, flag="pneumoniamnist").lr_lr == 1e-5
    assert medical_config("mtt", "cpu", ipc=1, flag="pneumoniamnist").lr_lr == 1e-7
    assert medical_config("mtt", "cpu", ipc=50, flag="pneumoniamnist").lr_lr == 1e-5
    pneumonia = replace(make_tiny_images(n_per_class=2354), name="pneumoniamnist")
    assert PROFILES.get("cpu").expert_config(pneumonia) == PROFILES.get("cpu").expert_config_for("other", 4708)
