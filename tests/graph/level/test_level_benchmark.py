"""``benchmarks/graph_level.py --validate K``: a set scored on the validation split only, recorded with a
fingerprint of the graphs the evaluators see, and kept out of the test table."""

import importlib.util
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Data

from condensekit.graph.level.data import graphset_from_list

BENCH = Path(__file__).resolve().parents[3] / "benchmarks"


@pytest.fixture
def bench(tmp_path, monkeypatch, tiny_set):
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_graph_level", BENCH / "graph_level.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
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
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_graph_level_trace", BENCH / "graph_level_trace.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
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
