"""``benchmarks/robust.py --autoattack-steps``: AutoAttack's APGD/FAB iterations reach the audit, and a re-attack
at other than torchattacks' 10 iterations is kept beside the recorded entries (key and folder get ``-aaN``)."""

import json

import pytest

from tests.robust.test_benchmark_robust import bench  # noqa: F401  (the fixture)

ARGS = ["--dataset", "pneumoniamnist", "--base", "sre2l", "--ipc", "1", "--model", "convnet_bn_small",
        "--teacher-epochs", "1", "--curvature", "0", "--steps", "1", "--runs", "1", "--epochs", "1",
        "--attacks", "autoattack", "--eps", "8/255", "--subset", "0", "--device", "cpu", "--relabel", "online",
        "--set", "init=real"]  # fmt: skip
STEM = "pneumoniamnist/sre2l-online{}/convnet_bn_small/ipc1/lam0/seed0/autoattack/8/255"


def test_the_script_keeps_the_recorded_10_iterations_whatever_the_librarys_default(bench, monkeypatch):  # noqa: F811
    # the library's default moved to Croce & Hein's 100; the script's default and its key rule stay on the recorded
    # protocol's 10, so every command line keeps its key and its run (a key compared with the library's default
    # would now tag a plain run -aa10 and leave an --autoattack-steps 100 run untagged, over the recorded entries)
    from condensekit.robust.attacks import AttackConfig

    mod, _ = bench
    parsed = []
    monkeypatch.setattr(mod, "run", parsed.append)  # main's parsed command line, nothing run
    for extra, steps, tag in (
        ([], 10, ""),
        (["--autoattack-steps", "10"], 10, ""),
        (["--autoattack-steps", "100"], 100, "-aa100"),
        (["--autoattack-steps", "2"], 2, "-aa2"),
    ):
        assert mod.main([*ARGS, *extra]) == 0
        ns = parsed.pop()
        assert mod._autoattack_tag(ns) == tag, extra
        assert mod._attack_config(ns).autoattack_steps == steps, extra
    assert mod.AUTOATTACK_STEPS == 10 and AttackConfig.autoattack_steps == 100


def test_autoattack_steps_reach_the_audit_and_key_the_entries_apart(bench):  # noqa: F811
    mod, tmp = bench
    results = tmp / "results.json"
    args = [*ARGS, "--root", str(tmp / "data"), "--results", str(results)]
    assert mod.main(args) == 0
    first = json.loads(results.read_text())["entries"][STEM.format("")]
    assert first["audit_config"]["attack"]["autoattack_steps"] == 10  # the default: every recorded row's

    assert mod.main([*args, "--autoattack-steps", "2"]) == 0
    entries = json.loads(results.read_text())["entries"]
    assert entries[STEM.format("")] == first  # the 10-iteration entry is not written over
    new = entries[STEM.format("-aa2")]
    assert new["method"] == "sre2l-online-aa2"
    assert new["audit_config"]["attack"]["autoattack_steps"] == 2
    assert "APGD and FAB at 2 iterations" in new["audit_config"]["autoattack_ran"]
    assert new["artifact"].endswith("pneumoniamnist-sre2l-online-aa2-convnet_bn_small-ipc1-lam0-seed0")
    assert (tmp / "runs" / "pneumoniamnist-sre2l-online-convnet_bn_small-ipc1-lam0-seed0").is_dir()  # kept

    # with --audit-tag too, the iterations still enter the key
    assert mod.main([*args, "--autoattack-steps", "2", "--audit-tag", "t"]) == 0
    assert STEM.format("-t-aa2") in json.loads(results.read_text())["entries"]


@pytest.mark.parametrize("value", ["0", "-3", "2.5", "ten"])
def test_autoattack_steps_other_than_a_positive_integer_is_refused_by_name(bench, capsys, value):  # noqa: F811
    mod, tmp = bench
    with pytest.raises(SystemExit):
        mod.main([*ARGS, "--root", str(tmp / "data"), "--results", str(tmp / "r.json"), "--autoattack-steps", value])
    err = capsys.readouterr().err
    assert f"argument --autoattack-steps: invalid value {value!r}: valid values are integers >= 1" in err
    assert not (tmp / "r.json").exists()
