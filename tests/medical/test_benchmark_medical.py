"""``benchmarks/medical.py``'s candidate workflow: ``--validate K`` scores a set on validation only, and
``--reuse-set`` then tests that same set without condensing it again."""

import json
from dataclasses import replace

import pytest

from condensekit.core.vision.train import ImageTrainConfig
from tests.bench_script import load_bench
from tests.medical.test_medical_data import _write


@pytest.fixture
def bench(tmp_path, monkeypatch):
    import condensekit.medical.profiles as profiles

    mod = load_bench("medical.py", monkeypatch)
    monkeypatch.setattr(mod, "RESULTS", tmp_path / "results.json")
    monkeypatch.setattr(mod, "RUNS", tmp_path / "runs")
    cpu = profiles.PROFILES.get("cpu")
    fast = ImageTrainConfig(epochs=2, val_every=1)
    monkeypatch.setitem(profiles.PROFILES._items, "cpu", replace(cpu, evaluation=fast))
    _write(tmp_path, "breastmnist", n=(16, 6, 6))
    return mod, tmp_path


def test_validate_then_reuse_set_tests_the_kept_candidate(bench):
    mod, tmp = bench
    args = ["--flags", "breastmnist", "--root", str(tmp), "--methods", "ptm", "--ipcs", "2", "--runs", "2",
            "--experts", "2", "--expert-epochs", "2", "--set", "iterations=2", "--set", "syn_steps=2",
            "--set", "max_start_epoch=1", "--set", "stages=2", "--select-every", "1"]  # fmt: skip
    assert mod.main([*args, "--validate", "2"]) == 0
    entries = json.loads((tmp / "results.json").read_text())["entries"]
    (key,) = entries
    val = entries[key]
    assert key.endswith("/expert_epochs=2/validation") and val["kind"] == "validation"
    assert "test" not in val and len(val["validation"]["convnet"]["acc"]["runs"]) == 2
    assert val["experts"]["config"]["epochs"] == 2
    assert (tmp / "runs/experts/breastmnist-convnet-cpu-experts2-epochs2/card.json").exists()
    assert [h["step"] for h in val["selection"]["history"]] == [0, 1, 2]
    folder = tmp / val["artifact"]
    made = (folder / "card.json").stat().st_mtime_ns
    assert mod.main([*args, "--reuse-set"]) == 0  # tests the saved set: no second condensation
    entries = json.loads((tmp / "results.json").read_text())["entries"]
    test = entries[key.removesuffix("/validation")]
    assert test["reused_set"] == val["artifact"] and test["validation"] == val["validation"]
    assert test["condense"] == val["condense"] and len(test["test"]["convnet"]["acc"]["runs"]) == 2
    assert (folder / "card.json").stat().st_mtime_ns == made  # the set was not written again
    assert "| breastmnist | ptm | 2 |" in mod.validation_table(json.loads((tmp / "results.json").read_text()))
    with pytest.raises(ValueError, match="--reuse-set"):  # a candidate run may not overwrite a tested set
        mod.main([*args, "--validate", "2", "--force"])


def test_reuse_set_without_a_saved_set_says_how_to_make_one(bench):
    mod, tmp = bench
    with pytest.raises(FileNotFoundError, match="without --reuse-set"):
        mod.main(["--flags", "breastmnist", "--root", str(tmp), "--methods", "dm", "--ipcs", "2", "--reuse-set"])


def test_a_second_seed_gets_its_own_entry_and_set_and_the_seeds_table_pools_them(bench):
    mod, tmp = bench
    args = ["--flags", "breastmnist", "--root", str(tmp), "--methods", "random", "--ipcs", "2", "--runs", "2"]
    assert mod.main(args) == 0
    assert mod.main([*args, "--seed", "1"]) == 0
    entries = json.loads((tmp / "results.json").read_text())["entries"]
    base = "breastmnist/random/ipc2/cpu/convnet"
    assert set(entries) == {base, base + "/seed=1"}  # seed 0 keeps its old key; seed 1 does not overwrite it
    zero, one = entries[base], entries[base + "/seed=1"]
    assert (zero["seed"], zero["eval"]["seed"]) == (0, 0) and (one["seed"], one["eval"]["seed"]) == (1, 1)
    sets = tmp / "runs/benchmarks"
    names = sorted(p.name for p in sets.iterdir())
    assert names == ["breastmnist-random-ipc2-cpu", "breastmnist-random-ipc2-cpu-seed=1"]
    rows = [json.loads((sets / name / "card.json").read_text())["init"]["train_indices"] for name in names]
    assert rows[0] != rows[1]  # the seed reaches the real-image draw
    before = entries[base + "/seed=1"]
    assert mod.main([*args, "--force"]) == 0  # re-running seed 0 leaves seed 1 alone
    assert json.loads((tmp / "results.json").read_text())["entries"][base + "/seed=1"] == before
    table = mod.seeds_table(json.loads((tmp / "results.json").read_text()))
    (row,) = [r for r in table.splitlines() if r.startswith("| breastmnist")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:3] == ["breastmnist", "random", "2"] and cells[6] == "2" and cells[8].endswith("(4)")
    assert "(seed=1)" in mod.table(json.loads((tmp / "results.json").read_text()))


def test_seeds_table_lists_a_diverged_seed_apart(bench):
    mod, tmp = bench
    args = ["--flags", "breastmnist", "--root", str(tmp), "--methods", "random", "--ipcs", "2", "--runs", "2"]
    assert mod.main(args) == 0
    results = json.loads((tmp / "results.json").read_text())
    base = "breastmnist/random/ipc2/cpu/convnet"
    results["entries"][base + "/seed=2"] = {"dataset": "breastmnist", "method": "random", "ipc": 2, "test": {},
                                            "diverged": "lr < 0", "seed": 2}  # fmt: skip
    (row,) = [r for r in mod.seeds_table(results).splitlines() if r.startswith("| breastmnist")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[5].endswith("; 2: diverged") and cells[6] == "1 (+1 diverged)" and cells[8].endswith("(2)")


def test_reuse_set_keeps_an_old_layout_entry_it_replaces(bench):
    """The replaced entry is archived as it was; entries record the command line that wrote them (since sitting
    21), and an archived one made before gains none."""
    mod, tmp = bench
    args = ["--flags", "breastmnist", "--root", str(tmp), "--methods", "random", "--ipcs", "2", "--runs", "1"]
    assert mod.main(args) == 0
    results = json.loads((tmp / "results.json").read_text())
    (key,) = results["entries"]
    old = results["entries"][key]
    assert old["command"] == "python benchmarks/medical.py " + " ".join(args)
    old.pop("arch"), old.pop("command")  # as every entry made before sitting 12 (and before sitting 21)
    (tmp / "results.json").write_text(json.dumps(results))
    assert mod.main([*args, "--reuse-set", "--force"]) == 0
    entries = json.loads((tmp / "results.json").read_text())["entries"]
    archived = entries[key + "/arch=convnet_pad1"]
    assert archived["archived_from"] == key and archived["test"] == old["test"]
    assert {k: v for k, v in archived.items() if k not in ("archived_from", "arch")} == old  # no command added
    assert entries[key]["command"] == "python benchmarks/medical.py " + " ".join([*args, "--reuse-set", "--force"])
    assert entries[key]["arch"]["convnet"] == "convnet" and entries[key]["reused_set"]
    assert (tmp / entries[key]["reused_set"] / "card.json").exists()  # the reused set was not moved away


def test_a_diverged_seed_records_its_recipe_and_joins_it_not_the_entry_under_its_key(bench, monkeypatch):
    mod, tmp = bench
    args = ["--flags", "breastmnist", "--root", str(tmp), "--methods", "mtt", "--ipcs", "2", "--runs", "2",
            "--experts", "2", "--expert-epochs", "2", "--set", "iterations=2", "--set", "syn_steps=2",
            "--set", "max_start_epoch=1", "--select-every", "1"]  # fmt: skip
    assert mod.main(args) == 0

    def diverge(*args, **kwargs):
        raise FloatingPointError("mtt diverged at iteration 0: the learned lr became -0.001")

    monkeypatch.setattr(mod, "condense_medical", diverge)
    assert mod.main([*args, "--seed", "1"]) == 0
    results = json.loads((tmp / "results.json").read_text())
    key = ("breastmnist/mtt/ipc2/cpu/convnet/iterations=2,max_start_epoch=1,syn_steps=2/select_every=1/experts=2"
           "/expert_epochs=2")  # fmt: skip
    made, failed = results["entries"][key], results["entries"][key + "/seed=1"]
    assert failed["diverged"].startswith("mtt diverged") and failed["test"] == {} and failed["eval"]["runs"] == 0
    assert failed["experts"]["folder"].endswith("breastmnist-convnet-cpu-experts2-epochs2")
    assert mod.recipe(failed) == mod.recipe(made)  # the set it did not make is of the seed-0 set's recipe
    # Under the seed-0 key, an entry of another recipe (as one made before the profile gave the flag its own
    # experts); the seed-0 set of the diverged seed's recipe under another key: the diverged seed joins the latter.
    other = json.loads(json.dumps(made))
    other["experts"]["config"]["num_experts"] = 10
    results["entries"][key.replace("/experts=2", "")] = made
    results["entries"][key] = other
    (row,) = [r for r in mod.seeds_table(results).splitlines() if r.startswith("| breastmnist")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[4] == "2 × 2" and cells[5].endswith("; 1: diverged") and cells[6] == "1 (+1 diverged)"


def test_seeds_table_refuses_a_seed_counted_twice(bench):
    mod, tmp = bench
    args = ["--flags", "breastmnist", "--root", str(tmp), "--methods", "random", "--ipcs", "2", "--runs", "2"]
    assert mod.main(args) == 0 and mod.main([*args, "--seed", "1"]) == 0
    results = json.loads((tmp / "results.json").read_text())
    base = "breastmnist/random/ipc2/cpu/convnet"
    assert "| breastmnist | random | 2 |" in mod.seeds_table(results)
    twice = json.loads(json.dumps(results))  # the seed-0 set scored again under another key (one set, not two)
    twice["entries"][base.replace("/convnet", "/convnet+resnet18")] = results["entries"][base]
    with pytest.raises(ValueError, match=r"seed 0 of one recipe is in more than one entry"):
        mod.seeds_table(twice)
    failed = json.loads(json.dumps(results))  # seed 1 both made and recorded as diverged
    failed["entries"][base + "/seed=1/select_every=3"] = {"dataset": "breastmnist", "method": "random", "ipc": 2,
                                                          "test": {}, "diverged": "lr < 0", "seed": 1}  # fmt: skip
    failed["entries"][base + "/seed=1/select_every=3"] |= {
        k: results["entries"][base + "/seed=1"][k] for k in ("profile", "arch", "config", "selection", "eval")
    }
    with pytest.raises(ValueError, match=r"seed 1 of one recipe .*seed=1/select_every=3"):
        mod.seeds_table(failed)


@pytest.mark.parametrize(
    ("given", "match"),
    [
        (["--methods", "random,nosuch"], r"Unknown image method 'nosuch'.*random"),
        (["--flags", "breastmnist,nosuchmnist"], r"'nosuchmnist' for argument flag.*pneumoniamnist"),
        (["--ipcs", "2,x"], r"Invalid value 'x' for argument --ipcs"),
        (["--ipcs", "2,0"], r"Invalid value 0 for argument --ipcs"),
        (["--seed", "-1"], r"Invalid value -1 for argument --seed"),
        (["--runs", "0"], r"Invalid value 0 for argument --runs"),
        # these were refused only when the first set was evaluated or its experts made (after condensing)
        (["--models", "convnet,resnet"], r"Unknown image model 'resnet'.*resnet18"),
        (["--select-every", "-1"], r"Invalid value -1 for argument --select-every"),
        (["--expert-workers", "0"], r"Invalid value 0 for argument --expert-workers"),
        (["--expert-epochs", "0"], r"Invalid value 0 for argument --expert-epochs"),
        (["--experts", "0"], r"Invalid value 0 for argument --experts"),
    ],
)
def test_a_bad_list_item_is_refused_before_the_items_before_it_run(bench, given, match):
    mod, tmp = bench
    args = ["--flags", "breastmnist", "--root", str(tmp), "--methods", "random", "--ipcs", "2", "--runs", "1"]
    with pytest.raises(ValueError, match=match):
        mod.main([*args, *given])
    assert not (tmp / "results.json").exists() and not (tmp / "runs").exists()  # nothing ran, nothing written


def test_a_diverged_validate_candidate_stays_out_of_the_seeds_table(bench, monkeypatch):
    mod, tmp = bench
    args = ["--flags", "breastmnist", "--root", str(tmp), "--methods", "random", "--ipcs", "2", "--runs", "2"]

    def diverge(*args, **kwargs):
        raise FloatingPointError("diverged at iteration 0")

    with monkeypatch.context() as patched:
        patched.setattr(mod, "condense_medical", diverge)
        assert mod.main([*args, "--validate", "2"]) == 0  # a candidate of seed 0's recipe, on validation only
    assert mod.main(args) == 0 and mod.main([*args, "--seed", "1"]) == 0
    results = json.loads((tmp / "results.json").read_text())
    assert results["entries"]["breastmnist/random/ipc2/cpu/convnet/validation"]["diverged"]
    (row,) = [r for r in mod.seeds_table(results).splitlines() if r.startswith("| breastmnist")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert "diverged" not in cells[5] and cells[6] == "2"


def _entry_of(mod, recipe, **fields):
    """A test entry that records ``recipe`` (:func:`run_recipe`'s fields) as the benchmark writes them."""
    made = {"best_step": 300, "val_acc": 0.9, "history": []}
    return {"profile": "cpu", "arch": {"convnet": recipe["layout"]}, "config": json.loads(json.dumps(recipe["config"])),
            "experts": None if recipe["experts"] is None else {"config": dict(recipe["experts"])},
            "selection": recipe["selection"] and recipe["selection"] | made,
            "eval": {"config": recipe["eval"]}, "test": {}} | fields  # fmt: skip


def test_recipe_status_names_the_profiles_present_recipe_and_what_a_former_one_differs_in(bench):
    mod, _ = bench
    e = {"dataset": "breastmnist", "method": "mtt", "ipc": 10, "profile": "cpu"}
    want = mod.profile_recipe(e)
    assert want["config"]["lr_lr"] == 1e-6 and (want["experts"]["num_experts"], want["experts"]["epochs"]) == (7, 15)
    assert mod.recipe_status(_entry_of(mod, want, **e)) == "profile"
    former = _entry_of(mod, want, **e)
    former["config"]["lr_lr"] = 1e-5  # BreastMNIST IPC 10 before sitting 16
    assert mod.recipe_status(former) == "former (lr_lr=1e-05)"
    former["experts"]["config"] |= {"num_experts": 10, "epochs": 5}
    former["config"].pop("momentum")  # a field the entry does not record is not a difference
    assert mod.recipe_status(former) == "former (lr_lr=1e-05, experts 10 × 5)"
    assert mod.recipe_status({"dataset": "breastmnist", "method": "full", "ipc": None, "profile": "cpu"}) == "-"
    old = {"dataset": "breastmnist", "method": "mtt", "ipc": 10, "profile": "cpu", "diverged": "lr < 0", "test": {}}
    assert mod.recipe_status(old) == "-"  # a diverged entry made before it recorded its recipe


def test_tables_put_the_profiles_recipe_first_and_label_the_former_one(bench):
    mod, _ = bench
    base = {"dataset": "breastmnist", "method": "ptm", "ipc": 10}
    want = mod.profile_recipe(base | {"profile": "cpu"})
    one = {"mean": 0.8, "std": 0.0, "runs": [0.8]}
    acc = {"convnet": {"acc": one, "auc": one}}
    entries = {}
    for seed in (0, 1):
        suffix = f"/seed={seed}" if seed else ""
        former = _entry_of(mod, want, **base, test=acc, seed=seed)
        former["config"]["lr_lr"] = 1e-5
        entries["breastmnist/ptm/ipc10/cpu/convnet/max_start_epoch=8/expert_epochs=15" + suffix] = former
    # the profile's recipe: seed 0 named with --set (before the profile carried it), seed 1 by a plain run after
    entries["breastmnist/ptm/ipc10/cpu/convnet/lr_lr=1e-06,max_start_epoch=8/expert_epochs=15"] = _entry_of(
        mod, want, **base, test=acc, seed=0, overrides={"lr_lr": 1e-6, "max_start_epoch": 8}
    )
    entries["breastmnist/ptm/ipc10/cpu/convnet/seed=1"] = _entry_of(mod, want, **base, test=acc, seed=1)
    rows = [r for r in mod.seeds_table({"entries": entries}).splitlines() if r.startswith("| breastmnist")]
    assert [r.rsplit("|", 2)[1].strip() for r in rows] == ["profile", "former (lr_lr=1e-05)"]
    assert "| 2 |" in rows[0]  # the --set seed 0 and the plain seed 1 are one recipe: 2 sets
    # a diverged seed made before entries recorded their recipe: it takes the status of its key's seed-0 entry
    lost = {"profile": "cpu", "arch": {"convnet": "convnet"}, "test": {}, "diverged": "lr < 0", "seed": 2}
    entries["breastmnist/ptm/ipc10/cpu/convnet/max_start_epoch=8/expert_epochs=15/seed=2"] = base | lost
    rows = [r for r in mod.table({"entries": entries}).splitlines() if r.startswith("| breastmnist")]
    assert [r.rsplit("|", 2)[1].strip() for r in rows] == ["profile"] * 2 + ["former (lr_lr=1e-05)"] * 3
    assert "(seed=2)" in rows[-1] and "diverged" in rows[-1]  # after the former recipe's seeds 0 and 1
    entries["breastmnist/ptm/ipc10/cpu/convnet"] = entries["breastmnist/ptm/ipc10/cpu/convnet/seed=1"] | {"seed": 0}
    with pytest.raises(ValueError, match="seed 0 of one recipe"):  # seed 0 of that recipe made twice
        mod.seeds_table({"entries": entries})


def test_a_plain_run_does_not_overwrite_an_entry_of_another_recipe(bench, capsys):
    mod, tmp = bench
    args = ["--flags", "breastmnist", "--root", str(tmp), "--methods", "random", "--ipcs", "2", "--runs", "1"]
    assert mod.main(args) == 0
    results = json.loads((tmp / "results.json").read_text())
    (key,) = results["entries"]
    results["entries"][key]["config"]["init"] = "noise"  # as if the profile's setting changed since it was made
    (tmp / "results.json").write_text(json.dumps(results))
    before = (tmp / "results.json").read_text()
    with pytest.raises(ValueError, match=r"--force would overwrite entry .*random/ipc2.*init=noise.*--set"):
        mod.main([*args, "--force"])
    assert mod.main(args) == 0
    assert "kept, not re-run: it holds another recipe's entry (init=noise)" in capsys.readouterr().out
    assert (tmp / "results.json").read_text() == before  # neither call touched it
    assert mod.main([*args, "--seed", "1"]) == 0  # another key: runs as before
    assert len(json.loads((tmp / "results.json").read_text())["entries"]) == 2


def test_a_replaced_entry_is_archived_once(bench):
    mod, _ = bench
    # an old-layout PTM entry (no `arch`) that predates the overlap rule and re-initialised images: both archivers
    # would take it; it is kept once, under the layout's key
    old = {"method": "ptm", "config": {"overlap_every": 50}, "diagnostics": {"overlap_reinit": 3}, "test": {}}
    key = "b/ptm/ipc50/cpu/convnet"
    mod.save_entry(key, old, mod.RESULTS)
    assert mod.archive_replaced(key, "convnet", "set") == key + "/arch=convnet_pad1"
    assert sorted(mod.load(mod.RESULTS)["entries"]) == [key, key + "/arch=convnet_pad1"]
    # a present-layout entry of the former rule is archived under the rule's key
    mod.save_entry("b/ptm/ipc10/cpu/convnet", old | {"arch": {"convnet": "convnet"}}, mod.RESULTS)
    assert mod.archive_replaced("b/ptm/ipc10/cpu/convnet", "convnet", "set").endswith("/overlap_rule=pair")


def test_help_describes_the_script_in_whole_sentences(bench, capsys):
    # the description was the docstring's first line, cut mid-sentence: "... at IPC 1 / 10, plus the"
    mod, _ = bench
    with pytest.raises(SystemExit):
        mod.main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "plus the full-data ConvNet, scored with medmnist's ACC and AUC on the real test split." in out
