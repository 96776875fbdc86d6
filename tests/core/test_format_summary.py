"""``format_summary``: the one cell formatter of every benchmark table. A record's ``mean`` and ``std`` are rounded to
4 places by ``Summary.to_dict``; a table that rounded those again to 1 or 2 places could move the last digit, so the
cell is rounded once, from the record's runs."""

from __future__ import annotations

import pytest

from condensekit.core.evaluate import Summary, format_summary

# benchmarks/results/graph_level.json, proteins|random|gpc50|seed0: the GIN test accuracy of 10 runs (k / 112 test
# graphs, k = 68, 68, 69, 69, 70, 75, 69, 70, 67, 68): mean 61.87499, recorded 61.875, which printed 61.88
PROTEINS_GIN = [60.7143, 60.7143, 61.6071, 61.6071, 62.5, 66.9643, 61.6071, 62.5, 59.8214, 60.7143]
# mean 11.25005 and std 1.25005, recorded 11.25 and 1.25 (exact in binary: half-even to 11.2 and 1.2 at 1 place)
TWO_RUNS = [10.0, 12.5001]


def test_a_record_prints_its_runs_rounded_once():
    record = Summary(PROTEINS_GIN).to_dict()
    assert (record["mean"], record["std"]) == (61.875, 1.875)
    assert f"{record['mean']:.2f} ± {record['std']:.2f}" == "61.88 ± 1.88"  # rounded twice: the last digit moved
    assert format_summary(record, 2) == "61.87 ± 1.88"
    record = Summary(TWO_RUNS).to_dict()
    assert (record["mean"], record["std"]) == (11.25, 1.25)
    assert f"{record['mean']:.1f} ± {record['std']:.1f}" == "11.2 ± 1.2"
    assert format_summary(record, 1) == "11.3 ± 1.3"
    assert format_summary(record, 1, std=False) == "11.3"
    assert format_summary(Summary(TWO_RUNS), 1) == f"{Summary(TWO_RUNS):.1f}" == "11.3 ± 1.3"
    # medical's case (sitting 25): an AUC std of 0.016462, recorded 0.0165
    assert format_summary({"mean": 0.8298, "std": 0.0165, "runs": [0.8523, 0.8454, 0.815, 0.8256, 0.8106]}, 3) == (
        "0.830 ± 0.016"
    )


def test_a_record_without_runs_prints_as_recorded_and_nothing_prints_a_dash():
    assert format_summary({"mean": 11.25, "std": 1.25}, 1) == "11.2 ± 1.2"  # the only figures it has
    assert format_summary({"mean": 11.25, "std": 1.25, "runs": []}, 2) == "11.25 ± 1.25"
    assert format_summary({"mean": 11.25}, 2, std=False) == "11.25"
    assert format_summary(None, 1) == format_summary({}, 3) == "-"


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="for argument places. Valid values are integers >= 0"):
        format_summary(Summary([1.0]), -1)
    with pytest.raises(ValueError, match="for argument places"):
        format_summary(Summary([1.0]), 1.5)  # type: ignore[arg-type]
    for bad in ({"std": 0.1}, {"mean": 1.0}, [1.0, 2.0]):
        with pytest.raises(ValueError, match="for argument record. Valid values are a Summary"):
            format_summary(bad, 1)  # type: ignore[arg-type]
