"""A figure printed from a summary is rounded once, from its unrounded value: ``Summary.to_dict`` rounds the mean
and std to 4 places for JSON, and a table that rounded those again to 3 could move the last digit (BreastMNIST MTT
IPC 10's AUC std 0.01646 is recorded 0.0165, which printed 0.017)."""

from __future__ import annotations

import pytest

from condensekit.core.evaluate import Summary

# benchmarks/results/medical.json, breastmnist/mtt/ipc10/cpu/convnet: the ConvNet test AUC of 5 students
RUNS = [0.8523, 0.8454, 0.815, 0.8256, 0.8106]


def test_format_rounds_mean_and_std_once():
    s = Summary(RUNS)
    assert s.to_dict() == {"mean": 0.8298, "std": 0.0165, "runs": RUNS}  # the record: each value rounded once
    assert f"{s:.3f}" == "0.830 ± 0.016"  # std 0.016462: not 0.017, which rounding the record's 0.0165 gives
    assert f"{s}" == str(s) == "0.83 ± 0.02"  # no spec: __str__
    assert f"{Summary([50.0]):.1f}" == "50.0 ± 0.0"


def test_from_dict_rebuilds_the_summary_from_the_runs_not_the_rounded_fields():
    record = {"mean": 0.8298, "std": 0.0165, "runs": RUNS}
    s = Summary.from_dict(record)
    assert s.values == RUNS and s.std == pytest.approx(0.0164616, abs=1e-6)
    assert f"{Summary.from_dict(record):.3f}" == "0.830 ± 0.016"
    for bad in ({"mean": 0.8, "std": 0.01}, {"runs": 0.8}, [0.8, 0.9]):
        with pytest.raises(ValueError, match="for argument record. Valid values are Summary.to_dict"):
            Summary.from_dict(bad)  # type: ignore[arg-type]
