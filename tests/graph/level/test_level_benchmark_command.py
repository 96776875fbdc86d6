"""``benchmarks/graph_level.py`` records the command line of every entry it writes; ``--extend`` (an update) records
the command that last wrote the entry."""

import json
import shlex

from tests.graph.level.test_level_benchmark import bench  # noqa: F401  (bench: a pytest fixture)


def test_entries_record_the_command_that_last_wrote_them(bench):  # noqa: F811
    mod, tmp, _ = bench
    whole = ["--datasets", "mutag", "--whole", "--models", "gcn", "--runs", "1"]
    sets = ["--datasets", "mutag", "--methods", "random", "--gpcs", "3", "--runs", "1", "--models", "gcn",
            "--tag", "cpu-1"]  # fmt: skip
    assert mod.main(whole) == 0 and mod.main(sets) == 0
    entries = json.loads((tmp / "results.json").read_text())["entries"]
    assert entries["mutag|whole|seed0"]["command"] == "python benchmarks/graph_level.py " + " ".join(whole)
    tagged = entries["mutag|random|gpc3|seed0|cpu-1"]["command"]
    assert shlex.split(tagged) == ["python", "benchmarks/graph_level.py", *sets]
    extend = ["--datasets", "mutag", "--whole", "--models", "gcn", "--runs", "2", "--extend"]
    assert mod.main(extend) == 0
    entry = json.loads((tmp / "results.json").read_text())["entries"]["mutag|whole|seed0"]
    assert entry["runs"] == 2 and entry["command"] == "python benchmarks/graph_level.py " + " ".join(extend)
