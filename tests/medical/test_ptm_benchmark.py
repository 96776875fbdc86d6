"""``benchmarks/medical.py`` and PTM's overlap rule (sitting 17): entries made before ``overlap_rule`` existed count as
the rule their run had, and a re-run keeps the former entry under ``/overlap_rule=pair``."""

import json

from tests.medical.test_benchmark_medical import _entry_of, bench  # noqa: F401  (bench: a pytest fixture)

ONE = {"mean": 0.8, "std": 0.0, "runs": [0.8]}
ACC = {"convnet": {"acc": ONE, "auc": ONE}}


def _former(mod, reinit, **fields):
    """A PTM entry of the profile's PneumoniaMNIST IPC 10 recipe made before ``overlap_rule`` existed."""
    base = {"dataset": "pneumoniamnist", "method": "ptm", "ipc": 10}
    e = _entry_of(mod, mod.profile_recipe(base | {"profile": "cpu"}), **base, test=ACC, **fields)
    e["config"].pop("overlap_rule")
    return e | {"diagnostics": {"overlap_reinit": float(reinit)}}


def test_an_entry_without_the_rule_counts_as_the_rule_its_run_had(bench):  # noqa: F811
    mod, _ = bench
    assert mod.recipe_status(_former(mod, 2)) == "former (overlap_rule=pair)"  # re-initialised: the pair rule's run
    assert mod.recipe_status(_former(mod, 0)) == "profile"  # nothing re-initialised: the same run under either rule
    no_diag = _former(mod, 0)
    no_diag.pop("diagnostics")
    assert mod.recipe_status(no_diag) == "former (overlap_rule=pair)"  # unknown: the former rule
    new = _former(mod, 2)
    new["config"]["overlap_rule"] = "set"
    assert mod.recipe_status(new) == "profile"


def test_seeds_table_counts_a_set_that_either_rule_makes_in_both_recipes(bench):  # noqa: F811
    mod, _ = bench
    key = "pneumoniamnist/ptm/ipc10/cpu/convnet"
    entries = {key: _former(mod, 0, seed=0)}
    for s in (1, 2):
        entries[f"{key}/seed={s}/overlap_rule=pair"] = _former(mod, 1, seed=s)
        entries[f"{key}/seed={s}"] = _former(mod, 1, seed=s)
        entries[f"{key}/seed={s}"]["config"]["overlap_rule"] = "set"
    rows = [r for r in mod.seeds_table({"entries": entries}).splitlines() if r.startswith("| pneumoniamnist")]
    assert [r.rsplit("|", 2)[1].strip() for r in rows] == ["profile", "former (overlap_rule=pair)"]
    assert all("| 3 |" in r and "0: 0.800" in r for r in rows)  # seed 0 counts in both
    # before any set-rule run, seed 0 stays where it was: with the pair rule's seeds
    only_pair = {k: e for k, e in entries.items() if k == key or k.endswith("pair")}
    rows = [r for r in mod.seeds_table({"entries": only_pair}).splitlines() if r.startswith("| pneumoniamnist")]
    assert len(rows) == 1 and "| 3 |" in rows[0] and rows[0].rsplit("|", 2)[1].strip() == "former (overlap_rule=pair)"


def test_a_forced_re_run_archives_the_pair_rule_entry_and_its_set(bench):  # noqa: F811
    mod, tmp = bench
    args = ["--flags", "breastmnist", "--root", str(tmp), "--methods", "ptm", "--ipcs", "2", "--runs", "1",
            "--experts", "2", "--expert-epochs", "2", "--set", "iterations=2", "--set", "syn_steps=2",
            "--set", "max_start_epoch=1", "--set", "stages=2", "--select-every", "1"]  # fmt: skip
    assert mod.main(args) == 0
    results = json.loads((tmp / "results.json").read_text())
    (key,) = results["entries"]
    (folder,) = (tmp / "runs" / "benchmarks").iterdir()
    results["entries"][key]["config"].pop("overlap_rule")  # as made before sitting 17, re-initialising one image
    results["entries"][key]["diagnostics"]["overlap_reinit"] = 1.0
    (tmp / "results.json").write_text(json.dumps(results))
    former = results["entries"][key]
    assert mod.main(args) == 0  # without --force: kept
    assert json.loads((tmp / "results.json").read_text())["entries"] == results["entries"]
    assert mod.main([*args, "--force"]) == 0  # a pure overlap-rule difference: archived, not refused
    entries = json.loads((tmp / "results.json").read_text())["entries"]
    archived = entries[key + "/overlap_rule=pair"]
    assert archived["archived_from"] == key and "overlap_rule=pair" in archived["archive_reason"]
    assert {k: v for k, v in archived.items() if k not in ("archived_from", "archive_reason", "artifact")} == former
    assert entries[key]["config"]["overlap_rule"] == "set"
    assert entries[key]["diagnostics"]["overlap_rule"] == "set"
    assert archived["artifact"].endswith(folder.name + "-overlap_rule=pair")
    assert (tmp / archived["artifact"] / "card.json").exists() and (folder / "card.json").exists()
    label = [r for r in mod.table({"entries": entries}).splitlines() if "re-run with the set rule" in r]
    assert len(label) == 1 and "overlap_rule=pair" in label[0].rsplit("|", 2)[1]
    assert "overlap_rule=pair" in mod.recipe_status(archived)
    assert "overlap_rule" not in mod.recipe_status(entries[key])  # (a test recipe: former in other fields)
