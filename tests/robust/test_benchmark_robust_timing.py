"""``benchmarks/robust.py``'s timing options: ``--time-square`` times the layouts ``--timing-layouts`` names (the
TorchScript copy's among them) under a key that ``--timing-tag`` keeps apart, and ``--inference-jit`` reaches the
audit's attack config."""

import json

import pytest

from tests.robust.test_benchmark_robust import bench  # noqa: F401  (the fixture)

TIMING = ["--dataset", "pneumoniamnist", "--model", "convnet_bn_small", "--time-square", "--timing-images", "6",
          "--timing-queries", "3", "--timing-reps", "1"]  # fmt: skip


def test_time_square_times_the_named_layouts_under_a_tagged_key(bench):  # noqa: F811
    mod, tmp = bench
    results = tmp / "results.json"
    args = [*TIMING, "--root", str(tmp / "data"), "--results", str(results)]
    assert mod.main([*args, "--timing-layouts", "folded_chunked,folded_chunked_jit", "--timing-tag", "jit"]) == 0
    entries = json.loads(results.read_text())["entries"]
    e = entries["pneumoniamnist/square-timing/convnet_bn_small/n6-jit"]
    assert list(e["median"]) == ["folded_chunked", "folded_chunked_jit"]
    assert e["layouts"]["folded_chunked_jit"]["inference_jit"] is True
    assert "inference_jit" not in e["layouts"]["folded_chunked"]
    assert e["max_abs_diff"]["folded_chunked_jit"] < 1e-5  # the same adversarial images, up to rounding
    assert mod.main(args) == 0  # untagged, every layout: a key of its own, the tagged entry kept
    entries = json.loads(results.read_text())["entries"]
    assert list(entries["pneumoniamnist/square-timing/convnet_bn_small/n6"]["median"]) == list(mod.SQUARE_LAYOUTS)
    assert entries["pneumoniamnist/square-timing/convnet_bn_small/n6-jit"] == e


def test_an_unknown_timing_layout_is_refused_by_name_before_anything_runs(bench):  # noqa: F811
    mod, tmp = bench
    with pytest.raises(ValueError, match=r"Unknown value 'jit' for argument --timing-layouts\. Valid values are"):
        mod.main([*TIMING, "--root", str(tmp / "data"), "--results", str(tmp / "r.json"), "--timing-layouts", "jit"])
    assert not (tmp / "r.json").exists()


def test_inference_jit_reaches_the_attack_config(bench, monkeypatch):  # noqa: F811
    mod, tmp = bench
    parsed = []
    monkeypatch.setattr(mod, "run", parsed.append)  # main's parsed command line, nothing run
    base = ["--dataset", "pneumoniamnist", "--base", "sre2l", "--root", str(tmp / "data")]
    for extra, want in (([], True), (["--inference-jit", "false"], False), (["--inference-jit", "true"], True)):
        assert mod.main([*base, *extra]) == 0
        assert mod._attack_config(parsed.pop()).inference_jit is want, extra
