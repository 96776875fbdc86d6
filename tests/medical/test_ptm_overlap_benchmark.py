"""``benchmarks/ptm_overlap.py``: the measurement behind PTM's per-set overlap rule."""

import torch

from tests.bench_script import load_bench


def _bench(monkeypatch):
    mod = load_bench("ptm_overlap.py", monkeypatch)
    return mod


def test_the_set_rule_flags_random_real_sets_rarely_where_the_pair_rule_flags_most(monkeypatch):
    mod = _bench(monkeypatch)
    x = torch.randn(300, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    z = torch.nn.functional.normalize(x.flatten(1), dim=1)
    iu = torch.triu_indices(300, 300, 1)
    pair = float((z @ z.T)[iu[0], iu[1]].quantile(0.99))  # the pair rule's threshold on these images
    e = mod.measure(x, 30, pair)
    assert e["set_threshold"] >= pair
    assert e["pair_rule"]["subsets_flagged_share"] > 0.9  # 435 pairs: about 4 flagged per set
    assert e["set_rule"]["subsets_flagged_share"] < 0.05
    row = mod.table({"entries": {"f/class0/k30": {"dataset": "f", "class": 0, "k": 30} | e}})
    assert "| f | 0 | 30 |" in row


def test_pair_thresholds_prefer_the_recorded_pair_rule(monkeypatch):
    mod = _bench(monkeypatch)
    entry = {"diagnostics": {"overlap_threshold": {"0": 0.95}, "overlap_threshold_pair": {"0": 0.85}}}
    assert mod.pair_thresholds(entry) == {"0": 0.85}  # an entry made under the set rule
    assert mod.pair_thresholds({"diagnostics": {"overlap_threshold": {"0": 0.9}}}) == {"0": 0.9}  # made before it
