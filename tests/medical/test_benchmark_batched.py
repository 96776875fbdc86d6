"""``benchmarks/medical.py --batched``: the students it trains (validation selection during condensation, test or
``--validate`` students, the full-data row) go through ``fit_images_batched``; its entries and sets get their own key
and folder (``students=batched``) and record it; without the flag, keys, folders and entries are as before."""

import argparse
import json
from dataclasses import replace

import pytest

from condensekit.medical.profiles import PROFILES
from tests.medical.test_benchmark_medical import bench  # noqa: F401  (pytest fixtures)
from tests.medical.test_medical_batched import students  # noqa: F401

BASE = "breastmnist/dm/ipc2/cpu/convnet/iterations=2/select_every=1"


def _ns(**given):
    plain = {"select_every": None, "experts": None, "expert_epochs": None, "arch": "convnet", "seed": 0}
    return argparse.Namespace(**(plain | given))


def test_the_key_gains_students_batched_only_with_the_flag(bench):  # noqa: F811
    mod, _ = bench
    every = {"select_every": 50, "experts": 2, "expert_epochs": 3, "arch": "convnet_pad1", "seed": 1}
    args = ("breastmnist", "ptm", 10, "cpu", ["convnet"], {"lr_lr": 1e-6})
    before = "breastmnist/ptm/ipc10/cpu/convnet/lr_lr=1e-06/select_every=50/experts=2/expert_epochs=3/arch=convnet_pad1"
    for ns in (_ns(**every), _ns(**every, batched=False)):  # a namespace made before the option has no `batched`
        assert mod.entry_key(*args, mod._variant(ns)) == before + "/seed=1"
        assert mod.artifact_folder(*args[:4], args[5], mod._variant(ns)).name.endswith("-arch=convnet_pad1-seed=1")
    ns = _ns(**every, batched=True)
    assert mod.entry_key(*args, mod._variant(ns)) == before + "/seed=1/students=batched"
    assert mod.artifact_folder(*args[:4], args[5], mod._variant(ns)).name.endswith("-seed=1-students=batched")
    assert mod.entry_key(*args[:5], {}, mod._variant(_ns(batched=True))).endswith("/convnet/students=batched")
    assert mod.key_variant(before + "/students=batched")[-1] == ("students", "batched")


def test_batched_entries_sit_beside_the_one_at_a_time_ones(bench, students):  # noqa: F811
    mod, tmp = bench
    cpu = PROFILES.get("cpu")
    args = ["--flags", "breastmnist", "--root", str(tmp), "--methods", "dm", "--ipcs", "2", "--runs", "2",
            "--set", "iterations=2", "--select-every", "1"]  # fmt: skip
    assert mod.main(args) == 0
    assert students == ["one"] * (3 * cpu.select_runs + 2)  # 3 validation checks (iterations 0, 1, 2), 2 test runs
    plain = json.loads((tmp / "results.json").read_text())["entries"]
    students.clear()
    assert mod.main([*args, "--batched"]) == 0
    assert students == [cpu.select_runs] * 3 + [2]
    entries = json.loads((tmp / "results.json").read_text())["entries"]
    assert set(entries) == {BASE, BASE + "/students=batched"} and entries[BASE] == plain[BASE]
    # the one-at-a-time entry is written as before the option (the command holds the test folder's name)
    assert "batched" not in json.dumps({k: v for k, v in plain[BASE].items() if k != "command"})
    together = entries[BASE + "/students=batched"]
    assert together["eval"]["batched"] is True and together["selection"]["batched"] is True
    assert together["command"].endswith("--batched")
    names = sorted(p.name for p in (tmp / "runs/benchmarks").iterdir())
    folder = "breastmnist-dm-ipc2-cpu-iterations=2-select_every=1"
    assert names == [folder, folder + "-students=batched"]
    results = json.loads((tmp / "results.json").read_text())
    rows = [r for r in mod.table(results).splitlines() if r.startswith("| breastmnist")]
    assert len(rows) == 2 and sum("(students=batched)" in r for r in rows) == 1
    assert mod.recipe(together) != mod.recipe(plain[BASE])  # so --seeds-table does not count seed 0 twice
    mod.seeds_table(results)
    assert mod.recipe_status(together) == mod.recipe_status(plain[BASE])  # same recipe, students trained together
    students.clear()
    assert mod.main([*args, "--batched"]) == 0 and students == []  # the key is done: nothing re-runs


def test_validate_reuse_set_and_the_full_row_train_their_students_together(bench, students, monkeypatch):  # noqa: F811
    import condensekit.medical.profiles as profiles

    mod, tmp = bench
    cpu = profiles.PROFILES.get("cpu")  # the full-data row's 100 epochs cut to 2
    monkeypatch.setitem(profiles.PROFILES._items, "cpu", replace(cpu, full=replace(cpu.full, epochs=2)))
    args = ["--flags", "breastmnist", "--root", str(tmp), "--methods", "random", "--ipcs", "2", "--runs", "2",
            "--batched"]  # fmt: skip
    assert mod.main([*args, "--validate", "3"]) == 0
    assert students == [3]  # random real images: no selection during condensation
    students.clear()
    assert mod.main([*args, "--reuse-set"]) == 0
    assert students == [2]
    students.clear()
    assert mod.main([*args, "--methods", "", "--full"]) == 0
    assert students == [2]
    entries = json.loads((tmp / "results.json").read_text())["entries"]
    key = "breastmnist/random/ipc2/cpu/convnet/students=batched"
    assert set(entries) == {key, key + "/validation", "breastmnist/full/cpu/convnet/students=batched"}
    val = entries[key + "/validation"]
    assert val["eval"]["batched"] is True and val["variant"] == {"students": "batched"}
    assert entries[key]["reused_set"] == val["artifact"] and entries[key]["eval"]["batched"] is True
    assert entries["breastmnist/full/cpu/convnet/students=batched"]["eval"]["batched"] is True


def test_batched_shift_is_refused(bench):  # noqa: F811
    mod, tmp = bench
    with pytest.raises(ValueError, match="--batched does not apply to --shift"):
        mod.main(["--flags", "breastmnist", "--root", str(tmp), "--shift", "--batched"])
