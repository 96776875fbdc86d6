"""The host-read savings of graph-level DosCond and KiDD keep every number: DosCond's real batches drawn up front
are the batches it drew class by class, and KiDD's Cholesky factor checked together with the real batch's node
count gives krr_predict's prediction bit for bit (tests/graph/test_device_audit_graph.py pins the read counts)."""

from __future__ import annotations

import pytest
import torch

from condensekit.core.objectives.kernel_ridge import cholesky_jitter, krr_predict
from condensekit.graph.level.batch import GraphBatch
from condensekit.graph.level.condense import make_graph_config
from condensekit.graph.level.data import GraphSet
from condensekit.graph.level.methods import GRAPH_METHODS


def _setup(graphs: GraphSet, method: str, **config: object):
    m = GRAPH_METHODS.get(method).cls(graphs, 2, make_graph_config(method, {"init": "random", **config}))
    m.setup(torch.device("cpu"))
    return m


def test_doscond_real_batches_are_drawn_in_the_old_order_with_their_sizes(tiny_set: GraphSet) -> None:
    """Draw after draw, class after class, one randperm each: the order matching_loss drew them in, one class at
    a time; each batch's (nodes, edges) totals are those select read back on its own."""
    m = _setup(tiny_set, "doscond", batch_real=4)
    torch.manual_seed(5)
    got = m.real_batches(3)
    torch.manual_seed(5)
    want = [[c[torch.randperm(c.numel())[:4]] for c in m.real_by_class] for _ in range(3)]
    assert len(got) == 3 and all(len(draw) == tiny_set.num_classes for draw in got)
    for draw, expected in zip(got, want, strict=True):
        for (pick, sizes), old in zip(draw, expected, strict=True):
            assert torch.equal(pick, old)
            x, edge_index, _ = tiny_set.select(pick)
            assert sizes == (x.shape[0], edge_index.shape[1])
            batch = GraphBatch.from_graphset(tiny_set, pick, sizes)
            assert torch.equal(batch.x, x) and torch.equal(batch.adj.to_dense(), GraphBatch.from_graphset(
                tiny_set, pick).adj.to_dense())  # fmt: skip


def test_graphset_batch_sizes_of_no_batch_is_empty(tiny_set: GraphSet) -> None:
    assert tiny_set.batch_sizes([]) == []


@pytest.mark.parametrize("method", ["kidd", "kidd-lr"])
def test_kidd_factor_gives_krr_predict_bit_for_bit(tiny_set: GraphSet, method: str) -> None:
    extra = {"rank": 2} if method == "kidd-lr" else {}
    m = _setup(tiny_set, method, batch_real=8, batch_syn=4, fused=False, **extra)
    torch.manual_seed(0)
    syn = torch.randperm(m.n_syn)[:4]
    real = torch.randperm(m.y_real.numel())[:8]
    adj = m.adjacency()[syn]
    s = m.kernel.stats(GraphBatch.dense(m.feat[syn], 0.5 * (adj + adj.transpose(1, 2))), hops=m.config.hops)
    k_ss = m.kernel.matrix(s, s)
    counts = m.real_stats.nodes_per_graph[real]
    factor, total = m._factor(k_ss, counts.sum())
    assert factor is not None and total == int(counts.sum())
    k_st = m.kernel.matrix(s, m.real_stats.subset(real, total))
    assert torch.equal(k_st, m.kernel.matrix(s, m.real_stats.subset(real)))
    fast = k_st.t() @ torch.cholesky_solve(m.y_onehot[syn], factor)
    assert torch.equal(fast, krr_predict(k_st.t(), k_ss, m.y_onehot[syn], ridge=m.config.ridge))


def test_kidd_factor_is_krr_factor_with_its_jitter_and_errors(tiny_set: GraphSet) -> None:
    """KiDD's factor is core's krr_factor (one jittered Cholesky): a matrix that needs jitter gets krr_predict's
    jittered factor (KiDD had its own unjittered copy and fell back to krr_predict), a NaN one krr_factor's error,
    and a vanished kernel (all-zero K_SS) KiDD's explanation; a NaN diagonal is not called a vanished kernel."""
    m = _setup(tiny_set, "kidd", batch_real=8, batch_syn=4, fused=False, ridge=0.0)
    nodes = torch.tensor(7)
    singular = torch.ones(3, 3)  # rank 1: Cholesky fails unjittered, the jitter takes over
    factor, total = m._factor(singular, nodes)
    assert total == 7 and torch.equal(factor, cholesky_jitter(singular))
    y = torch.eye(3)
    assert torch.equal(torch.ones(2, 3) @ torch.cholesky_solve(y, factor), krr_predict(torch.ones(2, 3), singular, y,
                                                                                        ridge=0.0))  # fmt: skip
    for bad in (torch.full((2, 2), float("nan")), torch.tensor([[1.0, float("nan")], [float("nan"), 1.0]])):
        with pytest.raises(ValueError, match="NaN or inf"):
            m._factor(bad, nodes)
    with pytest.raises(ValueError, match=r"the LiteGNTK of this step's 2 synthetic graphs vanishes"):
        m._factor(torch.zeros(2, 2), nodes)


def _canonical_graphs(per_class: int) -> GraphSet:
    from torch_geometric.data import Data
    from torch_geometric.utils import coalesce

    from condensekit.graph.level.data import graphset_from_list
    from tests.graph.level.conftest import make_tiny_graphs

    tiny = [Data(x=g.x, edge_index=coalesce(g.edge_index, num_nodes=g.num_nodes), y=g.y)
            for g in make_tiny_graphs(per_class=per_class)]  # fmt: skip
    graphs = graphset_from_list(tiny, name="tiny", seed=0)
    assert graphs.canonical_edges  # the TU datasets' kind: no coalesce per batch
    return graphs


def test_whole_data_batches_are_the_sliced_shuffles() -> None:
    """The whole-data row's batches, cut an epoch at a time with their sizes read together, are the batches it cut
    one at a time from each epoch's shuffle, in the same order and from the same draws."""
    from condensekit.graph.level.evaluate import _Batches

    graphs = _canonical_graphs(60)
    torch.manual_seed(3)
    batches = _Batches(graphs, 50)
    got = [batches.next() for _ in range(7)]  # 120 training graphs: 3 batches an epoch, into a third epoch
    torch.manual_seed(3)
    want = []
    while len(want) < 7:
        order = graphs.train_idx[torch.randperm(graphs.train_idx.numel())]
        want += list(order.split(50))
    for (batch, y), pick in zip(got, want[:7], strict=True):
        ref = GraphBatch.from_graphset(graphs, pick)
        assert torch.equal(y, graphs.y[pick]) and torch.equal(batch.x, ref.x) and torch.equal(batch.batch, ref.batch)
        assert torch.equal(batch.adj.to_dense(), ref.adj.to_dense())


def test_whole_data_training_reads_batch_sizes_once_an_epoch() -> None:
    """Herding's and k-center's embedding GCN (and the whole-data row) train on shuffled batches of 128 graphs. Each
    batch read its node and edge totals back when it was cut, a sync on CUDA per training step; now an epoch's
    batches read theirs together: one read per epoch, plus one each for the validation, test and embedded graphs."""
    from condensekit.graph.level.evaluate import real_embeddings
    from tests.device_audit import DeviceAudit

    graphs = _canonical_graphs(150)
    per_epoch = -(-graphs.train_idx.numel() // 128)
    assert per_epoch >= 2
    epochs = 4
    with DeviceAudit() as audit:
        real_embeddings(graphs, epochs=epochs)
    reads = [f for f in audit.syncs if f.op == "tolist" and f.site.startswith("graph/level/data.py")]
    assert len(reads) == epochs + 3, audit.sync_sites()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (run on a GPU visit)")
def test_whole_data_training_syncs_per_epoch_on_cuda(record_property) -> None:
    """On a GPU: the syncs of an epoch of whole-data training as CUDA counts them (4 epochs minus 2, halved),
    printed beside the CPU audit's one read per epoch; the batches per epoch too (each read its sizes before)."""
    import warnings

    from condensekit.graph.level.evaluate import real_embeddings

    graphs = _canonical_graphs(150).to("cuda")
    counts = []
    for epochs in (2, 4):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                emb = real_embeddings(graphs, epochs=epochs)
            finally:
                torch.cuda.set_sync_debug_mode(0)
        counts.append(sum("synchroniz" in str(w.message) for w in caught))
        assert torch.isfinite(emb).all()
    per_epoch = (counts[1] - counts[0]) / 2
    batches = -(-graphs.train_idx.numel() // 128)
    record_property("cuda_syncs_per_epoch", per_epoch)
    print(f"graph-level whole-data training: {per_epoch} CUDA syncs per epoch of {batches} batches (CPU audit: 1)")
