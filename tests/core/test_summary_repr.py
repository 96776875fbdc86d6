"""``print(evaluate_node(...))`` prints a dict of :class:`Summary`: each shows its mean and std, not only the runs."""

from __future__ import annotations

from condensekit.core.evaluate import Summary


def test_summary_repr_leads_with_mean_std_and_runs() -> None:
    s = Summary([81.80000066757202, 80.0, 83.5])
    assert repr(s) == "Summary(mean=81.77, std=1.429, runs=3, values=[81.8, 80, 83.5])"
    assert repr({"gcn": s}) == "{'gcn': Summary(mean=81.77, std=1.429, runs=3, values=[81.8, 80, 83.5])}"
    assert str(s) == "81.77 ± 1.43"  # the tables' form is unchanged


def test_summary_repr_of_no_runs() -> None:
    assert repr(Summary()) == "Summary(mean=nan, std=0, runs=0, values=[])"
