"""``benchmarks/common.records_command``: an entry a benchmark's ``main`` writes records the command line that
made it (sitting 21: none of 1,674 entries did, so a row could only be re-made from BENCHMARKS.md's prose)."""

import ast
import json
import shlex
import sys

import pytest

from tests.bench_script import BENCH, load_bench

HERE = "tests/test_benchmark_command.py"  # the script path a main defined here records


@pytest.fixture
def gn(tmp_path, monkeypatch):
    mod = load_bench("common.py", monkeypatch)
    return mod, tmp_path / "results.json"


def _entries(path):
    return json.loads(path.read_text())["entries"]


def test_main_records_its_explicit_argv_quoted_relative_to_the_repository(gn, monkeypatch):
    mod, path = gn
    monkeypatch.setattr(sys, "argv", ["pytest", "-k", "not this"])  # a test's argv is recorded, not pytest's

    @mod.records_command
    def main(argv=None):
        mod.save_entry("a", {"dataset": "cora"}, path)
        return 0

    argv = ["--datasets", "cora", "--set", "lr=0.01", "--tag", "two words", "--note", "it's"]
    assert main(argv) == 0
    command = _entries(path)["a"]["command"]
    assert command == shlex.join(["python", HERE, *argv])
    assert command.startswith(f"python {HERE} --datasets cora --set lr=0.01 --tag 'two words' --note ")
    assert shlex.split(command)[2:] == argv  # the shell gives the script the argv it was given


def test_main_without_argv_records_the_process_argv(gn, monkeypatch):
    mod, path = gn
    monkeypatch.setattr(sys, "argv", ["benchmarks/graph_node.py", "--datasets", "citeseer"])

    @mod.records_command
    def main(argv=None):
        mod.save_entry("a", {}, path)
        return 0

    assert main() == 0
    assert _entries(path)["a"]["command"] == f"python {HERE} --datasets citeseer"


def test_the_last_write_names_its_command_and_nothing_is_recorded_outside_a_main(gn):
    mod, path = gn

    @mod.records_command
    def main(argv=None):
        mod.save_entry("a", mod.load(path)["entries"].get("a", {}) | {"runs": len(argv)}, path)
        if argv == ["--fail"]:
            raise RuntimeError("stopped")
        return 0

    assert main(["--runs", "1"]) == 0
    assert main(["--runs", "2", "--extend"]) == 0  # an update: the command that last wrote the entry
    assert _entries(path)["a"] == {"runs": 3, "command": f"python {HERE} --runs 2 --extend"}
    with pytest.raises(RuntimeError, match="stopped"):
        main(["--fail"])
    mod.save_entry("b", {"runs": 1}, path)  # after a main (even one that raised): no command of its own
    assert _entries(path)["b"] == {"runs": 1}
    assert mod.with_command({"x": 1}) == {"x": 1}


def test_an_archived_entry_keeps_the_entry_it_copies(gn):
    mod, path = gn
    mod.save_entry("k", {"test": 1}, path)  # as written before sitting 21: no command

    @mod.records_command
    def main(argv=None):
        assert mod.archive_once("k", "old", "replaced", path=path) == "k/old"
        mod.save_entry("k", {"test": 2}, path)
        return 0

    assert main(["--force"]) == 0
    entries = _entries(path)
    assert entries["k/old"] == {"test": 1, "archived_from": "k", "archive_reason": "replaced"}
    assert entries["k"] == {"test": 2, "command": f"python {HERE} --force"}


def test_every_benchmark_script_records_its_command():
    """Every script of ``benchmarks/`` (a new one too) has its ``main`` wrapped by ``records_command`` (read from the
    source: some scripts cannot be loaded outside ``sys.modules``, e.g. graph_scale's dataclass). ``common.py`` is
    the scripts' shared module, not a script: it has no ``main``."""
    scripts = sorted(set(BENCH.glob("*.py")) - {BENCH / "common.py"})
    assert len(scripts) >= 10 and BENCH / "robust.py" in scripts
    for script in scripts:
        tree = ast.parse(script.read_text())
        (main,) = [f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "main"]
        assert [ast.unparse(d) for d in main.decorator_list] == ["records_command"], script.name
