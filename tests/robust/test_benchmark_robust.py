"""``benchmarks/robust.py --eval-model``: a set condensed from one teacher architecture, audited with other
students; the entries and the table say which, and the keys of sets audited with ``--model`` stay as before."""

import json

import pytest

from tests.bench_script import load_bench, write_pneumonia


@pytest.fixture
def bench(tmp_path, monkeypatch):
    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path / "cache"))
    mod = load_bench("robust.py", monkeypatch)
    monkeypatch.setattr(mod, "ARTIFACTS", tmp_path / "runs")
    write_pneumonia(tmp_path / "data")
    return mod, tmp_path


def test_eval_model_audits_other_students_of_the_same_teacher(bench):
    mod, tmp = bench
    results = tmp / "results.json"
    args = ["--dataset", "pneumoniamnist", "--root", str(tmp / "data"), "--base", "sre2l", "--ipc", "1",
            "--model", "convnet_bn", "--teacher-epochs", "1", "--curvature", "0", "--steps", "2", "--runs", "1",
            "--epochs", "2", "--attacks", "fgsm", "--eps", "1/255", "--subset", "0", "--device", "cpu",
            "--relabel", "online", "--set", "init=real", "--results", str(results)]  # fmt: skip
    assert mod.main([*args, "--eval-model", "convnet_bn_small"]) == 0
    entries = json.loads(results.read_text())["entries"]
    key = "pneumoniamnist/sre2l-online/convnet_bn-students-convnet_bn_small/ipc1/lam0/seed0/clean/0"
    assert key in entries
    e = entries[key]
    assert e["model"] == "convnet_bn" and e["eval_model"] == "convnet_bn_small"
    assert e["audit_config"]["models"] == ["convnet_bn_small"]
    assert e["method_config"]["teacher"]["config"]["model"] == "convnet_bn"  # the set's teacher is full width
    assert e["eval_arch"]["num_params"] < e["arch"]["num_params"]
    assert (tmp / "runs" / "pneumoniamnist-sre2l-online-convnet_bn-students-convnet_bn_small-ipc1-lam0-seed0").is_dir()
    assert "| convnet_bn → convnet_bn_small |" in mod.table(results)
    assert mod.main(args) == 0  # without --eval-model: the key and the table name one model, as before
    entries = json.loads(results.read_text())["entries"]
    same = entries["pneumoniamnist/sre2l-online/convnet_bn/ipc1/lam0/seed0/clean/0"]
    assert same["eval_model"] == "convnet_bn" and same["audit_config"]["models"] == ["convnet_bn"]
    assert "| pneumoniamnist | sre2l-online | convnet_bn | 1 |" in mod.table(results)


def test_table_marks_an_audit_whose_sanity_check_failed(bench):
    mod, tmp = bench
    base = {"dataset": "mnist", "method": "mtt", "model": "mlp", "ipc": 1, "curvature": True, "lambda": 100.0,
            "h": 3.0, "mode": "teacher", "seed": 0, "std": 0.0, "runs": [],
            "audit_config": {"eps": ["0.1", "0.2"]}}  # fmt: skip
    bad = {"ok": False, "issues": ["mlp pgd: accuracy rises from 10.00 at 0.1 to 20.00 at 0.2"]}
    entries = {}
    for lam, sanity in ((0.0, {"ok": True, "issues": []}), (100.0, bad)):
        for attack, eps, mean in (("clean", "0", 90.0), ("pgd", "0.1", 10.0), ("pgd", "0.2", 20.0)):
            entries[f"{lam}/{attack}/{eps}"] = base | {"lambda": lam, "curvature": lam > 0, "attack": attack,
                                                      "eps": eps, "mean": mean, "sanity": sanity}  # fmt: skip
    path = tmp / "results.json"
    path.write_text(json.dumps({"entries": entries}))
    text = mod.table(path)
    rows = [line for line in text.splitlines() if line.startswith("| mnist")]
    assert len(rows) == 2 and "⚠" not in rows[0] and "| 0 ⚠1 |" in rows[1]  # the row was unmarked
    assert text.endswith("- ⚠1 mnist mtt mlp ipc 1 λ 100: " + bad["issues"][0])


def test_select_keys_name_the_unit_direction_and_a_tag_keeps_earlier_entries(bench, capsys):
    mod, tmp = bench
    results = tmp / "results.json"
    args = ["--dataset", "pneumoniamnist", "--root", str(tmp / "data"), "--base", "sre2l", "--model",
            "convnet_bn_small", "--teacher-epochs", "1", "--teacher-batch", "8", "--select", "--val-subset", "6",
            "--eps", "1/255,2/255", "--pgd-steps", "2", "--curvature", "5", "--h-grid", "0.5",
            "--results", str(results)]  # fmt: skip
    assert mod.main(args) == 0
    assert mod.main([*args, "--direction", "unit"]) == 0
    entries = json.loads(results.read_text())["entries"]
    stem = "pneumoniamnist/sre2l-teacher-val/convnet_bn_small/e1-w0-b8-nall"
    ref, unit = entries[f"{stem}/lam5-h0.5-cascade/clean/0"], entries[f"{stem}/lam5-h0.5-unit-cascade/clean/0"]
    assert ref["direction"] == "reference" and unit["direction"] == "unit"
    assert unit["teacher"]["folder"].endswith("-curv5-h0.5-unit-s0") and ref["teacher"]["folder"].endswith("-h0.5-s0")
    plain_key = f"{stem}/lam0-h3-cascade/pgd/2/255"
    first = entries[plain_key]
    assert mod.main([*args, "--curvature", "0", "--audit-tag", "again"]) == 0  # the plain teacher re-attacked
    assert "only the plain teacher was scored: nothing to choose" in capsys.readouterr().out
    entries = json.loads(results.read_text())["entries"]
    assert entries[plain_key] == first and entries[f"{stem}/lam0-h3-cascade-again/pgd/2/255"]["audit_tag"] == "again"
    rows = [line for line in mod.table(results).splitlines() if "| 5 |" in line]
    assert len(rows) == 2 and sum("0.5 (unit z)" in r for r in rows) == 1  # not merged into one row
    plain = [line for line in mod.table(results).splitlines() if "| 0 | - | - |" in line]
    assert len(plain) == 2 and sum("cascade again |" in r for r in plain) == 1  # the re-attack has its own row


def test_direction_stats_entry(bench):
    mod, tmp = bench
    results = tmp / "results.json"
    args = ["--dataset", "pneumoniamnist", "--root", str(tmp / "data"), "--model", "convnet_bn_small",
            "--teacher-epochs", "1", "--teacher-warmup", "1", "--teacher-batch", "8", "--direction-stats",
            "--results", str(results)]  # fmt: skip
    assert mod.main(args) == 0
    (key, e), *_ = json.loads(results.read_text())["entries"].items()
    assert key == "pneumoniamnist/direction-stats/convnet_bn_small/e1-w1-b8-nall/plain/seed0"
    assert e["kind"] == "direction" and set(e["stats"]) == {"after_warmup", "final"}
    assert e["stats"]["final"]["images"] == 16 and 0 <= e["stats"]["final"]["pct_length_over_1.1"] <= 100
    assert "direction" not in mod.table(results)


def test_audit_split_val_scores_a_dm_plugin_set_on_validation_images_only(bench, monkeypatch):
    """``--audit-split val``: the set-level validation audit (how a plug-in setting is chosen before any test)
    gives the audit the validation split in the test split's place, keys the entries ``-val`` and attacks no
    test image; DM with the plug-in on a batch-norm ConvNet records the plug-in's own-mode term."""
    mod, tmp = bench
    seen = []
    audit = mod.audit_artifact

    def spy(path, *, config, data, device, out=None):
        seen.append(data)
        return audit(path, config=config, data=data, device=device, out=out)

    monkeypatch.setattr(mod, "audit_artifact", spy)
    results = tmp / "results.json"
    args = ["--dataset", "pneumoniamnist", "--root", str(tmp / "data"), "--base", "dm", "--ipc", "1",
            "--model", "convnet_bn_small", "--curvature", "0,100", "--steps", "2", "--runs", "1", "--epochs", "2",
            "--attacks", "pgd", "--pgd-steps", "2", "--eps", "1/255,2/255", "--subset", "0", "--device", "cpu",
            "--audit-split", "val", "--results", str(results)]  # fmt: skip
    assert mod.main(args) == 0
    assert len(seen) == 2
    for data in seen:
        assert data.x_test.shape[0] == 6 and data.x_test.equal(data.x_val) and data.y_test.equal(data.y_val)
    entries = json.loads(results.read_text())["entries"]
    plain = entries["pneumoniamnist/dm-val/convnet_bn_small/ipc1/lam0/seed0/pgd/2/255"]
    curved = entries["pneumoniamnist/dm-val/convnet_bn_small/ipc1/lam100/seed0/clean/0"]
    assert plain["split"] == curved["split"] == "val" and plain["subset"] == "full"  # all 6 validation images
    assert curved["mode"] == "plugin" and curved["method_config"]["guard"]["plugin_eval_mode"] is False
    assert not [k for k in entries if not k.startswith("pneumoniamnist/dm-val/")]  # no test-split entry


def test_audit_class_reaudits_the_saved_set_on_one_class(bench):
    """``--audit-class C``: the same set and students, attacked on one class of the audited split; the per-class
    clean accuracies, weighted by the class counts, give the whole split's, and no set is condensed again."""
    mod, tmp = bench
    results = tmp / "results.json"
    args = ["--dataset", "pneumoniamnist", "--root", str(tmp / "data"), "--base", "dm", "--ipc", "1",
            "--model", "convnet_bn_small", "--curvature", "0", "--steps", "2", "--runs", "2", "--epochs", "3",
            "--attacks", "pgd", "--pgd-steps", "2", "--eps", "1/255", "--subset", "0", "--device", "cpu",
            "--audit-split", "val", "--results", str(results)]  # fmt: skip
    with pytest.raises(ValueError, match="run the same command without --audit-class first"):
        mod.main([*args, "--audit-class", "0"])
    assert mod.main(args) == 0
    folder = tmp / "runs" / "pneumoniamnist-dm-val-convnet_bn_small-ipc1-lam0-seed0"
    tensors = (folder / "tensors.safetensors").read_bytes()
    for c in (0, 1):
        assert mod.main([*args, "--audit-class", str(c)]) == 0
    assert (folder / "tensors.safetensors").read_bytes() == tensors  # re-audited, not condensed again
    entries = json.loads(results.read_text())["entries"]
    whole = entries["pneumoniamnist/dm-val/convnet_bn_small/ipc1/lam0/seed0/clean/0"]
    per = [entries[f"pneumoniamnist/dm-val-class{c}/convnet_bn_small/ipc1/lam0/seed0/clean/0"] for c in (0, 1)]
    assert [e["audit_class"] for e in per] == [0, 1] and whole["audit_class"] is None
    assert all(e["cost"]["reused_set"] for e in per)
    for run in range(2):  # the fixture's validation split: 3 images of each class
        assert abs((per[0]["runs"][run] + per[1]["runs"][run]) / 2 - whole["runs"][run]) < 1e-3
    assert (tmp / "runs" / f"{folder.name}-robust-audit-class1.json").exists()
    with pytest.raises(ValueError, match="Valid values are 0..1"):
        mod.main([*args, "--audit-class", "2"])
