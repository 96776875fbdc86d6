"""Every public function and class of the domains' APIs has a docstring, and the containers a notebook user handles
(condensed sets, tasks, splits, audit results) say what each of their public methods and properties returns."""

import importlib
import inspect

import pytest

PACKAGES = [
    "condensekit.graph",
    "condensekit.graph.level",
    "condensekit.medical",
    "condensekit.privacy",
    "condensekit.robust",
    "condensekit.core.vision",
]

CONTAINERS = [
    ("condensekit.graph", "CondensedGraph"),
    ("condensekit.graph", "NodeTask"),
    ("condensekit.graph.level", "CondensedGraphSet"),
    ("condensekit.graph.level", "GraphSet"),
    ("condensekit.core.vision", "CondensedImages"),
    ("condensekit.core.vision", "ImageSplits"),
    ("condensekit.robust", "AuditResult"),
    ("condensekit.robust", "GuardConfig"),
]


def _documented(obj: object) -> bool:
    """A docstring of its own: a dataclass without one gets a generated ``Name(field: type = ...)`` signature."""
    doc = obj.__doc__ or ""
    return bool(doc.strip()) and not (inspect.isclass(obj) and doc.startswith(f"{obj.__name__}("))


@pytest.mark.parametrize("package", PACKAGES)
def test_public_functions_and_classes_have_docstrings(package: str) -> None:
    mod = importlib.import_module(package)
    missing = [
        name
        for name in mod.__all__
        if (inspect.isfunction(obj := getattr(mod, name)) or inspect.isclass(obj)) and not _documented(obj)
    ]
    assert missing == []


def test_an_undocumented_dataclass_counts_as_undocumented() -> None:
    from dataclasses import dataclass

    @dataclass
    class Bare:
        a: int = 1

    @dataclass
    class Told:
        """Says something."""

        a: int = 1

    assert not _documented(Bare) and _documented(Told)


@pytest.mark.parametrize(("package", "name"), CONTAINERS)
def test_container_methods_say_what_they_return(package: str, name: str) -> None:
    cls = getattr(importlib.import_module(package), name)
    missing = []
    for attr, value in vars(cls).items():
        if attr.startswith("_"):
            continue
        func = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
        if inspect.isfunction(func) and not func.__doc__:
            missing.append(attr)
    assert missing == []
