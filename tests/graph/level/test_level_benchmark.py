"""``benchmarks/graph_level.py --validate K``: a set scored on the validation split only, recorded with a
fingerprint of the graphs the evaluators see, and kept out of the test table."""

import json
from dataclasses import replace

import pytest
import torch
from torch_geometric.data import Data

from condensekit.graph.level.data import graphset_from_list
from tests.bench_script import load_bench


@pytest.fixture
def bench(tmp_path, monkeypatch, tiny_set):
    mod = load_bench("graph_level.py", monkeypatch)
    monkeypatch.setattr(mod, "RESULTS", tmp_path / "results.json")
    monkeypatch.setattr(mod, "prepare_graphs", lambda *a, **k: tiny_set)
    fast = {m: replace(p, train=replace(p.train, epochs=3, val_every=1)) for m, p in mod.PROTOCOLS.items()}
    monkeypatch.setattr(mod, "PROTOCOLS", fast)
    seen = []  # the ``test`` flag of every evaluation run the benchmark makes
    real_cond, real_whole = mod.train_on_condensed, mod.train_on_real

    def on_condensed(*a, test=True, **k):
        seen.append(test)
        return real_cond(*a, test=test, **k)

    def on_real(*a, test=True, **k):
        seen.append(test)
        return real_whole(*a, test=test, **k)

    monkeypatch.setattr(mod, "train_on_condensed", on_condensed)
    monkeypatch.setattr(mod, "train_on_real", on_real)
    return mod, tmp_path, seen


def test_validate_scores_on_validation_only_and_fingerprints_the_evaluated_set(bench):
    mod, tmp, seen = bench
    common = ["--datasets", "mutag", "--gpcs", "3", "--validate", "2", "--eval-every", "1"]
    assert mod.main([*common, "--methods", "random,herding"]) == 0
    start = ["--set", "start=coreset", "--set", "mask_padding=true", "--set", "batch_real=4", "--steps", "0"]
    assert mod.main([*common, "--methods", "doscond", *start]) == 0
    assert mod.main([*common, "--methods", "doscond", *start, "--set", "init=herding", "--set", "embed_epochs=50"]) == 0
    assert mod.main(["--datasets", "mutag", "--whole", "--validate", "2"]) == 0
    assert seen and not any(seen)  # every run skipped the test split
    entries = json.loads((tmp / "results.json").read_text())["entries"]
    assert all("test" not in e and e["runs"] == 2 for e in entries.values())
    rnd = entries["mutag|random|gpc3|seed0|validate2"]
    her = entries["mutag|herding|gpc3|seed0|validate2"]
    ds = entries["mutag|doscond|gpc3|seed0|start=coreset mask_padding=True batch_real=4|steps0|validate2"]
    ds_her = entries["mutag|doscond|gpc3|seed0|start=coreset mask_padding=True batch_real=4 init=herding "
                     "embed_epochs=50|steps0|validate2"]  # fmt: skip
    # DosCond's coreset start at step 0 is the coreset, as the evaluators see it, and scores the same
    assert ds["set_fingerprint"] == rnd["set_fingerprint"] and ds["validate"] == rnd["validate"]
    assert ds_her["set_fingerprint"] == her["set_fingerprint"] and ds_her["validate"] == her["validate"]
    assert rnd["set_fingerprint"] != her["set_fingerprint"]
    assert set(rnd["validate"]) == {"gcn", "gin"} and len(rnd["validate"]["gcn"]["runs"]) == 2
    assert entries["mutag|whole|seed0|validate2"]["method"] == "whole"
    table = mod.table(json.loads((tmp / "results.json").read_text()))
    head, _, val = table.partition("Validation only")
    assert "| mutag | 3 | random |" not in head  # no test figures: not in the test table
    assert f"| mutag | 3 | random | the defaults | - | {rnd['set_fingerprint']} |" in val
    assert "| mutag | all | whole | - | - | - |" in val


def test_fingerprint_ignores_padding_but_not_the_graphs(bench):
    mod, _, _ = bench
    x = torch.rand(2, 3, 4)
    adj = torch.tensor([[0, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=torch.float).expand(2, 3, 3).clone()
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    cond = {"x": x, "adj": adj, "mask": mask, "y": torch.tensor([0, 1])}
    fp = mod.set_fingerprint(cond)
    wide = {"x": torch.cat([x, torch.rand(2, 2, 4)], 1), "adj": torch.nn.functional.pad(adj, (0, 2, 0, 2)),
            "mask": torch.nn.functional.pad(mask, (0, 2)), "y": cond["y"]}  # fmt: skip
    wide["x"][0, 2] = 7.0  # a padding node's value: not seen by the evaluators
    assert mod.set_fingerprint(wide) == fp
    for k, change in (("y", torch.tensor([1, 0])), ("mask", torch.ones(2, 3))):
        assert mod.set_fingerprint(cond | {k: change}) != fp
    moved = adj.clone()
    moved[1, 1, 2] = moved[1, 2, 1] = 1.0
    assert mod.set_fingerprint(cond | {"adj": moved}) != fp


def test_wl_baseline_counts_subtrees_and_separates_the_tiny_classes(tiny_set, monkeypatch):
    mod = load_bench("graph_level_trace.py", monkeypatch)
    f = mod.wl_features(tiny_set, iterations=2)
    assert f.shape[0] == tiny_set.num_graphs and torch.allclose(f.norm(dim=1), torch.ones(tiny_set.num_graphs))
    sizes, y = tiny_set.num_nodes, tiny_set.y
    edges = tiny_set.eptr[1:] - tiny_set.eptr[:-1]
    same = [(i, j) for i in range(len(y)) for j in range(i) if y[i] == y[j] and sizes[i] == sizes[j]
            and edges[i] == edges[j] and sizes[i] > 1]  # fmt: skip
    assert same and all(torch.equal(f[i], f[j]) for i, j in same)  # isomorphic, same labels: same counts

    # 1-WL cannot tell a 6-cycle from two triangles (both 2-regular), but tells a 4-path from a 4-star
    def graph(edges, n, c):
        e = torch.tensor(edges).t()
        return Data(x=torch.ones(n, 1), edge_index=torch.cat([e, e.flip(0)], 1), y=torch.tensor([c]))

    c6 = graph([(i, (i + 1) % 6) for i in range(6)], 6, 0)
    two_c3 = graph([(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3)], 6, 0)
    p4, s4 = graph([(0, 1), (1, 2), (2, 3)], 4, 1), graph([(0, 1), (0, 2), (0, 3)], 4, 1)
    g = graphset_from_list([c6, two_c3, c6, p4, s4, p4])
    h = mod.wl_features(g)
    assert torch.equal(h[0], h[1]) and not torch.equal(h[3], h[4])
    acc = mod.wl_logistic(tiny_set, f)
    assert acc["train"] == 100.0 and acc["val"] == 100.0 and acc["test"] == 100.0


@pytest.fixture
def split_bench(bench, tiny_graphs, monkeypatch):
    """The benchmark with a ``prepare_graphs`` that honours the split seed it is given (and records it)."""
    mod, tmp, _ = bench
    asked = []

    def prepare(_name, *, seed=0, device="cpu"):
        asked.append(seed)
        return graphset_from_list(tiny_graphs, name="tiny", seed=seed, device=device)

    monkeypatch.setattr(mod, "prepare_graphs", prepare)
    monkeypatch.setattr(mod, "ARTIFACTS", tmp / "artifacts")
    return mod, tmp, asked


def test_split_seed_keys_split_zero_as_before_and_draws_another_split(split_bench, tiny_graphs):
    mod, tmp, asked = split_bench
    common = ["--datasets", "mutag", "--methods", "random", "--gpcs", "3", "--runs", "1", "--models", "gcn"]
    assert mod.main(common) == 0
    assert mod.main([*common, "--split-seed", "1"]) == 0
    assert asked == [0, 1]
    entries = json.loads((tmp / "results.json").read_text())["entries"]
    assert set(entries) == {"mutag|random|gpc3|seed0", "mutag|random|gpc3|seed0|split=1"}  # split 0: the old key
    assert entries["mutag|random|gpc3|seed0"]["split_seed"] == 0
    assert entries["mutag|random|gpc3|seed0|split=1"]["split_seed"] == 1
    # the split really differs, and the card records the split the set was condensed from
    s0, s1 = (graphset_from_list(tiny_graphs, seed=s) for s in (0, 1))
    assert not torch.equal(s0.test_idx, s1.test_idx) and not torch.equal(s0.train_idx, s1.train_idx)
    assert (s0.split_seed, s1.split_seed, s1.to("cpu").split_seed) == (0, 1, 1)
    card = json.loads((tmp / "artifacts" / "mutag-random-3-s0-split1" / "card.json").read_text())
    assert card["source"]["split"]["seed"] == 1 and card["seed"] == 0
    assert mod.validate_key("mutag", "random", 3, mod.argparse.Namespace(seed=0, set=[], steps=None, validate=2,
                            split_seed=2)) == "mutag|random|gpc3|seed0|validate2|split=2"  # fmt: skip
    # another split's rows stay out of the split-0 table
    assert "split=1" not in mod.table(json.loads((tmp / "results.json").read_text()))


def test_kept_recipe_takes_split_zeros_kept_config_and_chooses_nothing(split_bench):
    mod, tmp, asked = split_bench
    common = ["--datasets", "mutag", "--gpcs", "3", "--runs", "2", "--models", "gcn", "--eval-every", "1"]
    with pytest.raises(ValueError, match="no split-0 entry"):
        mod.main([*common, "--methods", "doscond", "--split-seed", "1", "--kept-recipe"])
    assert mod.main([*common, "--methods", "doscond", "--set", "batch_real=4", "--set", "steps=2",
                     "--choose", "mask_padding=false,true"]) == 0  # fmt: skip
    assert mod.main([*common, "--methods", "random"]) == 0
    with pytest.raises(ValueError, match="--split-seed N with N > 0"):
        mod.main([*common, "--methods", "doscond", "--kept-recipe"])
    for extra in (["--choose", "beta=0,1"], ["--steps", "3"]):
        with pytest.raises(ValueError, match="drop --choose"):
            mod.main([*common, "--methods", "doscond", "--split-seed", "1", "--kept-recipe", *extra])
    for split in ("1", "2"):
        assert mod.main([*common, "--methods", "doscond,random", "--split-seed", split, "--kept-recipe"]) == 0
    results = json.loads((tmp / "results.json").read_text())
    entries = results["entries"]
    e0, e1 = entries["mutag|doscond|gpc3|seed0"], entries["mutag|doscond|gpc3|seed0|split=1"]
    kept = next(c for c in e0["choice"]["candidates"] if c.get("kept"))
    assert e1["config"] == e0["config"] and "choice" not in e1  # the kept config, no choice on split 1
    assert e1["recipe"]["from"] == "mutag|doscond|gpc3|seed0" and e1["recipe"]["kept_overrides"] == kept["overrides"]
    assert e1["config"]["batch_real"] == 4 and e1["config"]["steps"] == 2 and e1["split_seed"] == 1
    assert set(e1["test"]) == {"gcn"} and entries["mutag|random|gpc3|seed0|split=2"]["recipe"]["kept_overrides"] == {}
    # a recorded config that the kept candidate does not give is refused
    entries["mutag|doscond|gpc3|seed0"]["config"]["beta"] = 0.5
    with pytest.raises(ValueError, match="differs from its kept candidate"):
        mod.kept_recipe(entries, "mutag", "doscond", 3, mod.argparse.Namespace(seed=0))
    (row,) = mod.split_rows(results)
    assert [x["split"] for x in row["per"]] == [0, 1, 2] and row["model"] == "gcn"
    assert "| mutag | 3 | doscond | GCN | 0: " in "\n".join(mod.splits_table(results))


def test_split_verdict_rule_on_the_mean_difference_against_its_split_to_split_std(bench):
    mod, _, _ = bench

    def entry(method, split, runs, recipe=True):
        e = {"dataset": "d", "gpc": 10, "method": method, "seed": 0, "split_seed": split,
             "test": {"gin": {"runs": runs}}}  # fmt: skip
        return e | ({"recipe": {}} if recipe and split and method != "random" else {})

    def results(diffs):
        es = {}
        for s, d in enumerate(diffs):
            sfx = mod.split_suffix(s)
            es[f"d|random|gpc10|seed0{sfx}"] = entry("random", s, [50.0, 60.0])  # mean 55
            es[f"d|kidd|gpc10|seed0{sfx}"] = entry("kidd", s, [55.0 + d, 55.0 + d, 0.0])  # a third run: not paired
        return {"entries": es}

    # differences +4, +6: mean +5, population std 1 -> a win; +4, -2, +1: mean +1, std 2.45 -> a tie
    (win,) = mod.split_rows(results([4.0, 6.0]))
    assert win["verdict"] == "win" and win["diff"].mean == pytest.approx(5.0) and win["diff"].std == pytest.approx(1.0)
    assert [x["runs"] for x in win["per"]] == [2, 2]  # scored on the runs both sides have
    (tie,) = mod.split_rows(results([4.0, -2.0, 1.0]))
    assert tie["verdict"] == "tie" and tie["diff"].mean == pytest.approx(1.0)
    (loss,) = mod.split_rows(results([-3.0, -5.0, -4.0]))
    assert loss["verdict"] == "loss"
    assert mod.split_rows(results([4.0])) == []  # split 0 alone is no multi-split row


def test_tag_keeps_the_untagged_row_and_lists_tagged_rows_apart(split_bench):
    mod, tmp, _ = split_bench
    common = ["--datasets", "mutag", "--methods", "random", "--gpcs", "3", "--runs", "1", "--models", "gcn"]
    assert mod.main(common) == 0
    before = json.loads((tmp / "results.json").read_text())["entries"]["mutag|random|gpc3|seed0"]
    assert mod.main([*common, "--tag", "gpu"]) == 0  # the untagged key neither skips it nor is replaced
    other = tmp / "other.json"
    assert mod.main([*common, "--tag", "gpu", "--results", str(other)]) == 0
    results = json.loads((tmp / "results.json").read_text())
    assert set(results["entries"]) == {"mutag|random|gpc3|seed0", "mutag|random|gpc3|seed0|gpu"}
    assert results["entries"]["mutag|random|gpc3|seed0"] == before
    assert results["entries"]["mutag|random|gpc3|seed0|gpu"]["tag"] == "gpu"
    assert set(json.loads(other.read_text())["entries"]) == {"mutag|random|gpc3|seed0|gpu"}
    assert (tmp / "artifacts" / "mutag-random-3-s0-gpu" / "card.json").exists()
    head, _, tagged = mod.table(results).partition("Tagged rows")
    assert head.count("| mutag | 3 | random |") == 1
    assert "| gpu | " in tagged and "| mutag | 0 | 3 | random |" in tagged
    with pytest.raises(ValueError, match="argument --tag"):
        mod.main([*common, "--tag", "a/b"])


def test_extend_takes_a_whole_entry_written_before_cost_was_recorded(bench):
    """``--whole --extend`` on an entry without ``cost`` (MUTAG's and PROTEINS' sitting-9 rows) used to stop with a
    KeyError after training the added runs; the old session is costed from the entry's own eval times."""
    mod, tmp, _ = bench
    common = ["--datasets", "mutag", "--whole", "--models", "gcn"]
    assert mod.main([*common, "--runs", "1"]) == 0
    data = json.loads((tmp / "results.json").read_text())
    (key,) = data["entries"]
    old = data["entries"][key]
    old.pop("cost"), old.pop("sessions", None)
    old["eval_time_s"], old["eval_cpu_s"] = 12.5, 10.0
    (tmp / "results.json").write_text(json.dumps(data))
    assert mod.main([*common, "--runs", "2", "--extend"]) == 0
    new = json.loads((tmp / "results.json").read_text())["entries"][key]
    assert new["runs"] == 2 and len(new["test"]["gcn"]["runs"]) == 2
    assert new["sessions"][0] == {"runs": 1, "first_seed": 0, "end_to_end_s": 12.5, "end_to_end_cpu_s": 10.0}
    assert new["cost"]["end_to_end_s"] >= 12.5
    old["eval_cpu_s"] = None  # a session without CPU time: the total is unknown, not the other sessions' sum
    old.pop("runs"), old.update(runs=1)
    data["entries"][key] = old
    (tmp / "results.json").write_text(json.dumps(data))
    assert mod.main([*common, "--runs", "2", "--extend"]) == 0
    new = json.loads((tmp / "results.json").read_text())["entries"][key]
    assert new["cost"]["end_to_end_cpu_s"] is None and new["sessions"][1]["end_to_end_cpu_s"] is not None


def test_evaluation_runs_are_seeded_from_the_seed_option(bench, monkeypatch):
    """``--seed`` is the "condensation and evaluation seed": the evaluation ran seeds 0.. whatever it was, so a
    ``--whole --seed 1`` row was seed 0's row again under a key naming seed 1."""
    mod, tmp, _ = bench
    seeds = []
    real = mod.evaluate_graphs

    def recording(graphs, condensed, *, models, config):
        seeds.append((condensed is None, config.seed, config.runs))
        return real(graphs, condensed, models=models, config=config)

    monkeypatch.setattr(mod, "evaluate_graphs", recording)
    common = ["--datasets", "mutag", "--models", "gcn", "--seed", "3"]
    assert mod.main([*common, "--whole", "--runs", "1"]) == 0
    assert mod.main([*common, "--whole", "--runs", "2", "--extend"]) == 0  # the added run is seed 3 + 1
    assert mod.main([*common, "--methods", "random", "--gpcs", "3", "--runs", "1"]) == 0
    assert seeds == [(True, 3, 1), (True, 4, 1), (False, 3, 1)]
    whole = json.loads((tmp / "results.json").read_text())["entries"]["mutag|whole|seed3"]
    assert [s["first_seed"] for s in whole["sessions"]] == [3, 4]
