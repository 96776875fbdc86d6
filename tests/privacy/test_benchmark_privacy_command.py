"""``benchmarks/privacy.py``'s merge of another evaluation into an entry (``merge_entry``, written without
``save_entry``) records the command that last wrote the entry, as ``save_entry`` does."""

from tests.bench_script import load_bench

HERE = "tests/privacy/test_benchmark_privacy_command.py"  # the script path a main defined here records


def test_a_merged_evaluation_records_the_command_that_last_wrote_the_entry(tmp_path, monkeypatch):
    mod = load_bench("privacy.py", monkeypatch)
    monkeypatch.setattr(mod, "RESULTS", tmp_path / "results.json")

    @mod.records_command
    def main(argv):
        model = argv[-1].split("=")[0]
        one = {"mean": 80.0, "std": 0.0, "runs": [80.0]}
        mod.merge_entry("k", {"artifact": "a", "test": {model: one}, "eval": {"runs": {model: 1}}})
        return 0

    assert main(["--runs", "lr=1"]) == 0 and main(["--runs", "mlp=1"]) == 0
    entry = mod.load(mod.RESULTS)["entries"]["k"]
    assert sorted(entry["test"]) == ["lr", "mlp"]  # merged: both evaluations kept
    assert entry["command"] == f"python {HERE} --runs mlp=1"
