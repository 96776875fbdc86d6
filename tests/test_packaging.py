"""The wheel ships every subpackage: pyproject.toml lists the packages by hand (``[tool.setuptools] packages``),
so a new folder of modules would be left out of the wheel while the editable install, which the rest of the tests
use, still imports it. Checked against the tree: every folder with an ``__init__.py`` under a mapped top-level
folder is listed, and nothing listed is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+ (the project allows 3.10)
ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_in_the_wheel() -> None:
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping = setup["package-dir"]  # condensekit.core -> core, ...
    listed = set(setup["packages"])
    found = set()
    for package, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([package, *rel.parts]))
    assert found == listed, f"not in pyproject's packages: {sorted(found - listed)}; listed, not found: " + str(
        sorted(listed - found)
    )


def test_every_entry_point_names_a_module_in_the_wheel() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    targets = [project["scripts"]["condensekit"]]
    for group in project["entry-points"].values():
        targets += list(group.values())
    for target in targets:
        module = target.split(":")[0]
        package = module.rsplit(".", 1)[0]
        assert package in setup["packages"], target
        folder = ROOT / setup["package-dir"][".".join(package.split(".")[:2])]
        assert (folder.joinpath(*package.split(".")[2:]) / (module.rsplit(".", 1)[1] + ".py")).exists(), target
