"""``benchmarks/privacy.py`` and the noise source: rows made with the seeded noise (before commit a2c5a8c) carry no
DP guarantee, so a re-run archives them once, ``--table`` marks them and ``--selected`` never reuses their sets."""

import json
from typing import Any

import pytest

from condensekit.core.vision import CondensedImages
from condensekit.privacy import condense_private
from condensekit.privacy.dp_merf import DPMERFCondensedConfig
from condensekit.privacy.noise import NOISE_SOURCE
from tests.bench_script import load_bench


@pytest.fixture
def bench(tmp_path, monkeypatch):
    mod = load_bench("privacy.py", monkeypatch)
    monkeypatch.setattr(mod, "RESULTS", tmp_path / "results.json")
    return mod


def _entry(acc: float, noise: str | None) -> dict[str, Any]:
    privacy = {"epsilon": 1.0, "epsilon_rdp": 1.09, "epsilon_analytic": 0.999, "target_epsilon": 1.0}
    if noise is not None:
        privacy["noise"] = noise
    # a Summary.to_dict record (the table prints from the runs): mean acc, std 0.1
    test = {m: {"mean": acc, "std": 0.1, "runs": [acc - 0.1, acc + 0.1]} for m in ("lr", "mlp", "cnn")}
    return {"dataset": "mnist", "method": "dp-merf-condensed", "epsilon": 1.0, "privacy": privacy, "test": test,
            "images": 10, "cost": {"wall_time_s": 1.0, "peak_memory_mb": 1.0}, "artifact": f"a{acc}"}  # fmt: skip


def test_a_seeded_entry_is_archived_once_and_marked_in_the_table(bench):
    key = "mnist/dp-merf-condensed/eps1/ipc=10"
    bench.save_entry(key, _entry(80.0, None), bench.RESULTS)
    bench.save_replacing(key, _entry(81.0, NOISE_SOURCE))
    bench.save_replacing(key, _entry(82.0, NOISE_SOURCE))  # a secret-noise entry replaced: nothing archived
    entries = bench.load(bench.RESULTS)["entries"]
    assert sorted(entries) == [key, key + "/noise=seeded"]
    old = entries[key + "/noise=seeded"]
    assert old["test"]["lr"]["mean"] == 80.0 and old["archived_from"] == key and old["noise"].startswith("seeded")
    assert entries[key]["test"]["lr"]["mean"] == 82.0
    assert bench.archive_seeded(key + "/noise=seeded") is None  # an archive is never archived again
    rows = {r.split(" | ")[2]: r for r in bench.table(bench.load(bench.RESULTS)).splitlines() if "ours" in r}
    assert "seeded noise, pre-a2c5a8c" in rows["80.0 ± 0.1"] and "ipc=10" in rows["80.0 ± 0.1"]
    assert "noise=seeded" not in rows["80.0 ± 0.1"]
    assert "seeded" not in rows["82.0 ± 0.1"]


def test_selected_never_reuses_a_seeded_noise_set(bench, images, tmp_path):
    cfg = DPMERFCondensedConfig(epsilon=5.0, delta=1e-3, n_features=100, bandwidth=2.0, ipc=2)
    ci = condense_private(images, "dp-merf-condensed", config=cfg, steps=2, seed=0, device="cpu")
    assert ci.card["privacy"]["noise"] == NOISE_SOURCE
    ci.save(tmp_path / "secret")
    chosen = {"n_features": 100, "bandwidth": 2.0, "ipc": 2}
    assert bench._reusable(str(tmp_path / "secret"), "dp-merf-condensed", 5.0, 1e-3, chosen, 0) is not None
    card = json.loads(json.dumps(ci.card))
    del card["privacy"]["noise"]  # what a set made before a2c5a8c records
    CondensedImages(ci.x, ci.y, card).save(tmp_path / "seeded")
    assert bench._reusable(str(tmp_path / "seeded"), "dp-merf-condensed", 5.0, 1e-3, chosen, 0) is None


def test_selected_with_force_condenses_anew(bench, monkeypatch):
    chosen = {"ipc": 100, "lr": 0.1}
    sel = {"complete": True, "chosen": chosen, "chosen_score": 85.0, "protocol": {"fixed": {}},
           "points": [{"overrides": chosen, "artifact": "select-set"}]}  # fmt: skip
    bench.save_entry("selection/mnist/dp-merf-condensed/eps1", sel, bench.RESULTS)
    bench.save_entry("mnist/dp-merf-condensed/eps1/selected", _entry(80.0, None), bench.RESULTS)
    made = []
    monkeypatch.setattr(bench, "_reusable", lambda *a: pytest.fail("--force must not reuse the selection's set"))

    def run_entry(method: str, epsilon: float, **kw: Any) -> dict[str, Any]:
        made.append(kw["overrides"])
        return _entry(81.0, NOISE_SOURCE)

    monkeypatch.setattr(bench, "run_entry", run_entry)
    args = ["--selected", "--methods", "dp-merf-condensed", "--epsilons", "1", "--runs", "lr=1"]
    assert bench.main([*args, "--force"]) == 0
    assert made == [chosen]
    entries = bench.load(bench.RESULTS)["entries"]
    assert entries["mnist/dp-merf-condensed/eps1/selected"]["test"]["lr"]["mean"] == 81.0
    assert entries["mnist/dp-merf-condensed/eps1/selected/noise=seeded"]["test"]["lr"]["mean"] == 80.0


def test_a_re_made_release_moves_the_seeded_set_aside_with_its_archived_entry(bench, images, monkeypatch, tmp_path):
    """The seeded-noise entry was archived but its set was not: the re-made set was saved in the same folder, so the
    archived entry's ``artifact`` named the new, secret-noise set. Its set now moves to ``<folder>-noise=seeded``
    (as medical's archives keep theirs) before the new one is saved."""
    monkeypatch.setattr(bench, "ARTIFACTS", tmp_path / "artifacts")
    monkeypatch.setattr(bench, "load_mnist", lambda: images)
    overrides = {"n_features": 100, "bandwidth": 2.0, "ipc": 2}
    folder = bench.ARTIFACTS / bench._artifact_name("dp-merf-condensed", 5.0, overrides)
    cfg = DPMERFCondensedConfig(epsilon=5.0, delta=1e-3, **overrides)
    ci = condense_private(images, "dp-merf-condensed", config=cfg, steps=2, seed=0, device="cpu")
    card = json.loads(json.dumps(ci.card))
    del card["privacy"]["noise"]  # a set made before a2c5a8c
    CondensedImages(ci.x, ci.y, card).save(folder)
    key = "mnist/dp-merf-condensed/eps5/bandwidth=2.0/ipc=2/n_features=100"
    bench.save_entry(key, _entry(80.0, None) | {"artifact": str(folder)}, bench.RESULTS)
    args = ["--methods", "dp-merf-condensed", "--epsilons", "5", "--delta", "1e-3", "--steps", "2", "--runs", "lr=1",
            "--train-steps", "2", "--force"]  # fmt: skip
    args += [a for k, v in overrides.items() for a in ("--set", f"{k}={v}")]
    assert bench.main(args) == 0
    entries = bench.load(bench.RESULTS)["entries"]
    archived, new = entries[key + "/noise=seeded"], entries[key]
    assert archived["test"]["lr"]["mean"] == 80.0 and archived["artifact"] == str(folder) + "-noise=seeded"
    assert not bench.is_secret(CondensedImages.load(archived["artifact"]).card["privacy"])  # the seeded set itself
    assert new["artifact"] == str(folder) and bench.is_secret(CondensedImages.load(folder).card["privacy"])


def test_an_archived_entry_whose_set_is_not_on_disk_says_its_path_holds_the_new_set(bench, tmp_path):
    """A seeded entry made on another machine has no set here: nothing moves, and the archived entry's ``artifact``
    would silently name the re-made set's folder; it now says so."""
    folder = tmp_path / "absent"
    bench.save_entry("k", _entry(80.0, None) | {"artifact": str(folder)}, bench.RESULTS)
    bench.save_entry("m", _entry(80.0, None) | {"artifact": "elsewhere"}, bench.RESULTS)
    assert bench.archive_seeded("k", folder=folder) == "k/noise=seeded"
    assert bench.archive_seeded("m", folder=folder) == "m/noise=seeded"  # its set is elsewhere: not overwritten
    entries = bench.load(bench.RESULTS)["entries"]
    assert entries["k/noise=seeded"]["artifact"] == str(folder)
    assert "path holds the set that replaced it" in entries["k/noise=seeded"]["artifact_note"]
    assert "artifact_note" not in entries["m/noise=seeded"]


def test_a_select_re_run_moves_aside_the_set_a_selected_row_tested(bench, images, monkeypatch, tmp_path):
    """A ``…/selected`` row that tested the selection's own set names its ``select-*`` folder; a re-run of the sweep
    saved its new set over it, so the row named a set it never tested. The tested set now moves to
    ``<folder>-replaced`` with the rows that name it."""
    monkeypatch.setattr(bench, "ARTIFACTS", tmp_path / "artifacts")
    monkeypatch.setattr(bench, "load_mnist", lambda: images)
    common = ["--methods", "dp-merf-condensed", "--epsilons", "5", "--delta", "1e-3", "--train-steps", "2",
              "--set", "n_features=100", "--set", "bandwidth=2.0", "--set", "steps=2", "--grid", "ipc=2"]  # fmt: skip
    assert bench.main(["--select", *common, "--val-runs", "lr=1"]) == 0
    folder = bench.ARTIFACTS / "select-mnist-dp-merf-condensed-eps5-ipc2"
    (folder / "tested.txt").write_text("the set the selected row tested")
    assert bench.main(["--selected", *common, "--runs", "lr=1"]) == 0
    key = "mnist/dp-merf-condensed/eps5/selected"
    assert bench.load(bench.RESULTS)["entries"][key]["artifact"] == str(folder)  # it reused the selection's set
    assert bench.main(["--select", *common, "--val-runs", "lr=2"]) == 0  # another protocol: every point made anew
    entry = bench.load(bench.RESULTS)["entries"][key]
    moved = tmp_path / "artifacts" / "select-mnist-dp-merf-condensed-eps5-ipc2-replaced"
    assert entry["artifact"] == str(moved) and "--select re-run" in entry["artifact_note"]
    assert (moved / "tested.txt").exists() and not (folder / "tested.txt").exists()
    assert CondensedImages.load(moved).card["privacy"] == entry["privacy"]
    assert (folder / "card.json").exists()  # the new point's set


def test_selected_reuses_a_set_saved_before_a_config_field_existed(bench, images, tmp_path):
    """A card from before ``allow_large_delta`` lacks the field; it holds the default, so the set is the setting."""
    cfg = DPMERFCondensedConfig(epsilon=5.0, delta=1e-3, n_features=100, bandwidth=2.0, ipc=2)
    ci = condense_private(images, "dp-merf-condensed", config=cfg, steps=2, seed=0, device="cpu")
    card = json.loads(json.dumps(ci.card))
    del card["config"]["allow_large_delta"]
    CondensedImages(ci.x, ci.y, card).save(tmp_path / "old")
    chosen = {"n_features": 100, "bandwidth": 2.0, "ipc": 2}
    assert bench._reusable(str(tmp_path / "old"), "dp-merf-condensed", 5.0, 1e-3, chosen, 0) is not None
    assert bench._reusable(str(tmp_path / "old"), "dp-merf-condensed", 5.0, 1e-3, chosen | {"ipc": 3}, 0) is None
    card["config"]["no_such_field"] = 1
    CondensedImages(ci.x, ci.y, card).save(tmp_path / "unknown")
    assert bench._reusable(str(tmp_path / "unknown"), "dp-merf-condensed", 5.0, 1e-3, chosen, 0) is None
