"""Registry.check_names: the one check of a Python caller's list of model names (graph, graph level, medical)."""

import pytest

from condensekit.core.registry import Registry


@pytest.fixture
def reg() -> Registry:
    r: Registry = Registry("model")
    r.register("gcn", object())
    r.register("gin", object())
    return r


def test_a_sequence_of_registered_names_is_returned_as_a_list(reg):
    assert reg.check_names(("gcn", "gin"), "models") == ["gcn", "gin"]
    assert reg.check_names(iter(["gin"]), "models") == ["gin"]


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("gcn", r"Invalid value 'gcn' for argument models\. .*\{gcn, gin\}, e\.g\. \['gcn'\]"),
        ([], r"Invalid value \[\] for argument models\. Valid values are non-empty"),
        (3, r"Invalid value 3 for argument models\."),
        (["gcn", "gat"], r"Unknown model 'gat' in argument models\. Valid values are \{gcn, gin\}"),
    ],
)
def test_a_string_an_empty_or_non_sequence_or_an_unknown_name_is_refused(reg, value, match):
    with pytest.raises(ValueError, match=match):
        reg.check_names(value, "models")
