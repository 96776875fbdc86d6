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


def test_the_license_is_an_spdx_expression_with_its_file() -> None:
    """``license = { text = "MIT" }`` named no file (there was none) and is deprecated by setuptools (PEP 639): the
    SPDX string and ``license-files`` need setuptools >= 77 at build time, so the build requires it."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Copyright (c) 2026 the condensekit developers" in text
    setuptools_req = [r for r in pyproject["build-system"]["requires"] if r.startswith("setuptools")]
    assert setuptools_req == ["setuptools>=77"], setuptools_req


def test_the_built_metadata_carries_the_license(tmp_path: Path) -> None:
    """The metadata setuptools writes for the wheel: ``License-Expression: MIT`` and ``License-File: LICENSE``, and no
    license deprecation warning. Built from a copy of the sources (the build writes an egg-info beside them)."""
    import shutil
    import subprocess
    import sys

    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 77:  # pip's isolated build fetches >= 77; this venv's is older
        pytest.skip(f"setuptools {setuptools.__version__} < 77 cannot read an SPDX license")
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    folders = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"].values()
    for folder in set(folders):
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "meta"
    out.mkdir()
    code = f"from setuptools import build_meta; print(build_meta.prepare_metadata_for_build_wheel({str(out)!r}))"
    run = subprocess.run([sys.executable, "-c", code], cwd=src, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "deprecated" not in run.stderr.lower(), run.stderr[-2000:]
    dist_info = out / run.stdout.strip().splitlines()[-1]
    metadata = (dist_info / "METADATA").read_text()
    assert "License-Expression: MIT" in metadata.splitlines() and "License-File: LICENSE" in metadata.splitlines()
    assert (dist_info / "licenses" / "LICENSE").read_text() == (ROOT / "LICENSE").read_text()
