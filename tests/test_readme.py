"""The README's Python examples name only what the packages export.

Every ``from condensekit... import a, b as c`` line of the README's ``python`` blocks is executed, so a
renamed or unexported name fails here instead of in a user's first session. The examples' calls are run,
as written but on tiny generated data and cut sizes, by tests/test_readme_examples.py.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(r"```python\n(.*?)```", re.S)
_IMPORT = re.compile(r"^from (condensekit[\w.]*) import (.+)$", re.M)


def _imports() -> list[tuple[str, str]]:
    found = []
    for block in _BLOCK.findall(README.read_text()):
        for module, names in _IMPORT.findall(block):
            for name in names.split(","):
                found.append((module, name.split(" as ")[0].strip()))
    return found


def test_readme_has_python_examples_for_every_domain() -> None:
    modules = {m for m, _ in _imports()}
    for pkg in ("graph", "graph.level", "medical", "privacy", "robust"):
        assert f"condensekit.{pkg}" in modules, f"README has no Python example importing condensekit.{pkg}"


@pytest.mark.parametrize(("module", "name"), _imports())
def test_readme_import_resolves(module: str, name: str) -> None:
    assert hasattr(importlib.import_module(module), name), f"README imports {name!r} from {module!r}"
