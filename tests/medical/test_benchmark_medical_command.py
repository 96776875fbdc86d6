"""``benchmarks/medical.py`` records the command line of every entry it writes; an entry it archives keeps the entry
as it was (one made before sitting 21 gains no ``command``)."""

import json

from tests.medical.test_benchmark_medical import bench  # noqa: F401  (bench: a pytest fixture)


def test_entries_record_their_command_and_an_archived_one_gains_none(bench):  # noqa: F811
    mod, tmp = bench
    args = ["--flags", "breastmnist", "--root", str(tmp), "--methods", "random", "--ipcs", "2", "--runs", "1"]
    assert mod.main(args) == 0
    results = json.loads((tmp / "results.json").read_text())
    (key,) = results["entries"]
    old = results["entries"][key]
    assert old["command"] == "python benchmarks/medical.py " + " ".join(args)
    old.pop("arch"), old.pop("command")  # as every entry made before sitting 12 (and before sitting 21)
    (tmp / "results.json").write_text(json.dumps(results))
    assert mod.main([*args, "--reuse-set", "--force"]) == 0
    entries = json.loads((tmp / "results.json").read_text())["entries"]
    archived = entries[key + "/arch=convnet_pad1"]
    assert "command" not in archived  # the archive adds archived_from and the layout it was made on, nothing else
    assert {k: v for k, v in archived.items() if k not in ("archived_from", "arch")} == old
    assert entries[key]["command"] == "python benchmarks/medical.py " + " ".join([*args, "--reuse-set", "--force"])
