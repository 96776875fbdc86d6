from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from condensekit.graph.adjacency import dense_to_edge_index, normalize, spmm, to_sparse_adj
from condensekit.graph.models import GCN, MODELS, ChebNet, GraphModel, create_model

NAMES = MODELS.names()
GRAPH_MODELS = [name for name in NAMES if MODELS.get(name).propagation_kind is not None]

# A 4-node path 0-1-2-3 with a chord 0-2, both directions, as in PyG's conv tests.
EDGE_INDEX = torch.tensor([[0, 1, 1, 2, 2, 3, 0, 2], [1, 0, 2, 1, 3, 2, 2, 0]])


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    # Tiny tensors: intra-op threads only add overhead (and stall badly on busy shared CPUs).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _model(name: str, **kwargs: object) -> GraphModel:
    torch.manual_seed(0)
    return create_model(name, in_channels=16, hidden_channels=8, out_channels=3, **kwargs)


def _ops(model: GraphModel, adj: torch.Tensor) -> list[torch.Tensor | None]:
    return [model.propagation(a) for a in (adj.to_dense(), adj.to_sparse_coo(), adj.to_sparse_csr())]


def test_registry_names() -> None:
    assert set(NAMES) == {"gcn", "sgc", "appnp", "cheb", "sage", "mlp"}
    assert create_model("GCN", in_channels=4, out_channels=2).__class__ is GCN


def test_unknown_model_name() -> None:
    with pytest.raises(ValueError, match=r"Unknown model 'gat'.*appnp, cheb, gcn, mlp, sage, sgc"):
        create_model("gat", in_channels=4, out_channels=2)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="dropout"):
        create_model("gcn", in_channels=4, out_channels=2, dropout=1.5)
    with pytest.raises(ValueError, match="k must"):
        create_model("cheb", in_channels=4, out_channels=2, k=0)
    with pytest.raises(ValueError, match=r"GCN needs op = GCN.propagation\(adj\)"):
        _model("gcn")(torch.randn(4, 16), None)


@pytest.mark.parametrize("name", NAMES)
def test_output_and_embedding_shapes(name: str) -> None:
    model = _model(name)
    x = torch.randn(4, 16)
    op = model.propagation(to_sparse_adj(EDGE_INDEX, 4))
    assert model(x, op).shape == (4, 3)
    embeddings = model.embed(x, op)
    assert embeddings and all(e.dim() == 2 and e.size(0) == 4 and e.layout == torch.strided for e in embeddings)
    assert "propagation_kind" in repr(model)


@pytest.mark.parametrize("name", NAMES)
def test_dense_and_sparse_adjacency_agree(name: str) -> None:
    model = _model(name).eval()
    x = torch.randn(4, 16)
    out = [model(x, op) for op in _ops(model, to_sparse_adj(EDGE_INDEX, 4))]
    assert torch.allclose(out[0], out[1], atol=1e-6)
    assert torch.allclose(out[0], out[2], atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_dense_and_sparse_features_agree(name: str) -> None:
    model = _model(name).eval()
    x = torch.randn(4, 16)
    op = model.propagation(to_sparse_adj(EDGE_INDEX, 4))
    out = model(x, op)
    for xs in (x.to_sparse_coo(), x.to_sparse_csr()):
        assert torch.allclose(out, model(xs, op), atol=1e-6)
        for a, b in zip(model.embed(x, op), model.embed(xs, op), strict=True):
            assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_flows_to_dense_adjacency_and_features(name: str) -> None:
    model = _model(name)
    adj = to_sparse_adj(EDGE_INDEX, 4).to_dense().requires_grad_()
    x = torch.randn(4, 16, requires_grad=True)
    model(x, model.propagation(adj)).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    if name == "mlp":
        assert adj.grad is None
    else:
        assert adj.grad is not None and torch.isfinite(adj.grad).all() and adj.grad.abs().sum() > 0


@pytest.mark.parametrize("name", NAMES)
def test_functional_call_reproduces_forward(name: str) -> None:
    model = _model(name).eval()
    x = torch.randn(4, 16)
    op = model.propagation(to_sparse_adj(EDGE_INDEX, 4).to_dense())
    params = dict(model.named_parameters())
    assert torch.equal(functional_call(model, params, (x, op)), model(x, op))
    # Other parameters give the output of a model holding them, and gradients reach them.
    other = {k: torch.randn_like(v, requires_grad=True) for k, v in params.items()}
    out = functional_call(model, other, (x, op))
    clone = _model(name).eval()
    clone.load_state_dict({k: v.detach() for k, v in other.items()})
    assert torch.allclose(out, clone(x, op), atol=1e-6)
    grads = torch.autograd.grad(out.sum(), list(other.values()))
    assert all(g is not None for g in grads)


@pytest.mark.parametrize("name", NAMES)
def test_dropout_only_in_training(name: str) -> None:
    model = _model(name, dropout=0.5, num_layers=3)
    x = torch.randn(4, 16)
    op = model.propagation(to_sparse_adj(EDGE_INDEX, 4))
    model.eval()
    assert torch.equal(model(x, op), model(x, op))
    if name != "sgc":  # SGC has no hidden representation to drop.
        model.train()
        torch.manual_seed(1)
        first = model(x, op)
        assert not torch.equal(first, model(x, op))


@pytest.mark.parametrize("name", NAMES)
def test_reset_parameters(name: str) -> None:
    model = _model(name)
    before = [p.detach().clone() for p in model.parameters()]
    torch.manual_seed(123)
    model.reset_parameters()
    changed = [not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True)]
    assert any(changed)


@pytest.mark.parametrize("name", NAMES)
def test_zero_degree_node_gives_finite_output(name: str) -> None:
    model = _model(name).eval()
    adj = to_sparse_adj(EDGE_INDEX, 5)  # node 4 is isolated
    x = torch.randn(5, 16)
    for op in _ops(model, adj):
        assert torch.isfinite(model(x, op)).all()


def test_normalize_matches_hand_computed_path_graph() -> None:
    # Path 0 - 1 - 2: degrees 1, 2, 1 (2, 3, 2 with self loops).
    adj = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    s6, s2 = 1 / math.sqrt(6), 1 / math.sqrt(2)
    expected = {
        "sym": torch.tensor([[1 / 2, s6, 0.0], [s6, 1 / 3, s6], [0.0, s6, 1 / 2]]),
        "row": torch.tensor([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5], [0.0, 1.0, 0.0]]),
        "cheb": torch.tensor([[0.0, -s2, 0.0], [-s2, 0.0, -s2], [0.0, -s2, 0.0]]),
    }
    for kind, want in expected.items():
        assert torch.allclose(normalize(adj, kind=kind), want, atol=1e-6)
        for sparse in (adj.to_sparse_coo(), adj.to_sparse_csr()):
            out = normalize(sparse, kind=kind)
            assert out.layout == sparse.layout
            assert torch.allclose(out.to_dense(), want, atol=1e-6)
    # self_loops overrides the kind's default: row with loops is D^-1 (A + I).
    row_loops = torch.tensor([[0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.0, 0.5, 0.5]])
    assert torch.allclose(normalize(adj, kind="row", self_loops=True), row_loops, atol=1e-6)
    with pytest.raises(ValueError, match="argument kind"):
        normalize(adj, kind="rw")


def test_normalize_weighted_dense_matches_sparse() -> None:
    torch.manual_seed(0)
    adj = torch.rand(6, 6) * (torch.rand(6, 6) < 0.5)
    adj[3] = 0.0
    adj[:, 3] = 0.0  # an isolated node
    for kind in ("sym", "row", "cheb"):
        for loops in (True, False):
            dense = normalize(adj, kind=kind, self_loops=loops)
            assert torch.isfinite(dense).all()
            assert torch.allclose(dense, normalize(adj.to_sparse(), kind=kind, self_loops=loops).to_dense())
    assert torch.equal(normalize(adj, kind="row")[3], torch.zeros(6))


def test_normalize_zero_degree_gradient_is_finite() -> None:
    adj = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]], requires_grad=True)
    for kind in ("sym", "row", "cheb"):
        out = normalize(adj, kind=kind, self_loops=False)
        (grad,) = torch.autograd.grad(out.sum(), adj)
        assert torch.isfinite(out).all() and torch.isfinite(grad).all()


def test_to_sparse_adj_and_back() -> None:
    edge_index = torch.tensor([[0, 0, 1, 2], [1, 1, 2, 0]])
    weight = torch.tensor([1.0, 2.0, 0.5, 4.0])
    adj = to_sparse_adj(edge_index, 3, weight, layout="coo")
    assert adj.layout == torch.sparse_coo and adj.is_coalesced()
    assert torch.equal(adj.to_dense(), torch.tensor([[0.0, 3.0, 0.0], [0.0, 0.0, 0.5], [4.0, 0.0, 0.0]]))
    assert to_sparse_adj(edge_index, 3).layout == torch.sparse_csr
    ei, ew = dense_to_edge_index(adj.to_dense(), threshold=0.75)
    assert torch.equal(ei, torch.tensor([[0, 2], [1, 0]])) and torch.equal(ew, torch.tensor([3.0, 4.0]))
    with pytest.raises(ValueError, match="num_nodes=3"):
        to_sparse_adj(torch.tensor([[0], [3]]), 3)
    with pytest.raises(ValueError, match="argument layout"):
        to_sparse_adj(edge_index, 3, layout="dense")


def test_spmm_all_layouts() -> None:
    torch.manual_seed(0)
    a = torch.randn(5, 4) * (torch.rand(5, 4) < 0.5)
    b = torch.randn(4, 3) * (torch.rand(4, 3) < 0.5)
    want = a @ b
    for left in (a, a.to_sparse_coo(), a.to_sparse_csr()):
        for right in (b, b.to_sparse_coo(), b.to_sparse_csr()):
            out = spmm(left, right)
            assert torch.allclose(out.to_dense() if out.layout != torch.strided else out, want, atol=1e-6)


def test_spmm_backward_through_constant_csr_uses_the_transpose() -> None:
    """Gradients through a constant CSR operator (non-symmetric) equal the dense ones, on first use
    (transpose built) and on reuse (cached); a CSR operator with learnable values still gets its
    value gradients."""
    torch.manual_seed(0)
    a = torch.randn(6, 4) * (torch.rand(6, 4) < 0.5)
    csr = a.to_sparse_csr()
    for _ in range(2):
        x = torch.randn(4, 3, requires_grad=True)
        w = torch.randn(6, 3)
        (g,) = torch.autograd.grad((spmm(csr, x) * w).sum(), x)
        assert torch.allclose(g, a.t() @ w, atol=1e-6)
    assert torch.equal(csr._condensekit_transpose.to_dense(), a.t())
    values = csr.values().clone().requires_grad_(True)
    learnable = torch.sparse_csr_tensor(csr.crow_indices(), csr.col_indices(), values, csr.shape, check_invariants=True)
    x = torch.randn(4, 3, requires_grad=True)
    (gv, gx) = torch.autograd.grad(spmm(learnable, x).sum(), (values, x))
    assert torch.allclose(gx, a.t() @ torch.ones(6, 3), atol=1e-6) and gv.abs().sum() > 0


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("out_channels", [3, 40])  # transform-first and propagate-first orders
def test_cheb_matches_explicit_polynomial(k: int, out_channels: int) -> None:
    torch.manual_seed(0)
    model = ChebNet(in_channels=16, out_channels=out_channels, num_layers=1, k=k).eval()
    with torch.no_grad():
        model.biases[0].normal_()
    x = torch.randn(5, 16)
    adj = to_sparse_adj(EDGE_INDEX, 5)
    lap = normalize(adj.to_dense(), kind="cheb")
    terms = [x, lap @ x, 2 * lap @ lap @ x - x][:k]
    weights = model.layers[0].weight.view(k, out_channels, 16)
    want = sum(t @ w.t() for t, w in zip(terms, weights, strict=True)) + model.biases[0]
    assert torch.allclose(model(x, model.propagation(adj)), want, atol=1e-5)


def test_single_layers_match_pyg() -> None:
    """Golden check against PyG's reference layers on the same weights."""
    nn_pyg = pytest.importorskip("torch_geometric.nn")
    torch.manual_seed(0)
    x, adj = torch.randn(5, 16), to_sparse_adj(EDGE_INDEX, 5)
    with torch.no_grad():
        gcn, ref = create_model("gcn", in_channels=16, out_channels=3, num_layers=1), nn_pyg.GCNConv(16, 3)
        ref.lin.weight.copy_(gcn.layers[0].weight)
        ref.bias.copy_(gcn.layers[0].bias)
        assert torch.allclose(gcn(x, gcn.propagation(adj)), ref(x, EDGE_INDEX), atol=1e-5)

        sgc, ref = create_model("sgc", in_channels=16, out_channels=3, k=2), nn_pyg.SGConv(16, 3, K=2)
        ref.lin.load_state_dict(sgc.lin.state_dict())
        assert torch.allclose(sgc(x, sgc.propagation(adj)), ref(x, EDGE_INDEX), atol=1e-5)

        sage, ref = create_model("sage", in_channels=16, out_channels=3, num_layers=1), nn_pyg.SAGEConv(16, 3)
        ref.lin_l.load_state_dict(sage.neigh[0].state_dict())
        ref.lin_r.weight.copy_(sage.root[0].weight)
        assert torch.allclose(sage(x, sage.propagation(adj)), ref(x, EDGE_INDEX), atol=1e-5)

        cheb, ref = (
            create_model("cheb", in_channels=16, out_channels=3, num_layers=1, k=3),
            nn_pyg.ChebConv(16, 3, K=3),
        )
        for t, w in enumerate(cheb.layers[0].weight.view(3, 3, 16)):
            ref.lins[t].weight.copy_(w)
        ref.bias.copy_(cheb.biases[0])
        assert torch.allclose(cheb(x, cheb.propagation(adj)), ref(x, EDGE_INDEX, lambda_max=2.0), atol=1e-5)

        appnp = create_model("appnp", in_channels=16, out_channels=3).eval()
        want = nn_pyg.APPNP(K=10, alpha=0.1)(appnp.mlp(x), EDGE_INDEX)
        assert torch.allclose(appnp(x, appnp.propagation(adj)), want, atol=1e-5)


def _two_community_graph(n: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A stochastic block model with two communities and noisy community-indicator features."""
    g = torch.Generator().manual_seed(seed)
    y = (torch.arange(n) >= n // 2).long()
    p = torch.where(y[:, None] == y[None, :], 0.3, 0.02)
    upper = torch.triu((torch.rand(n, n, generator=g) < p).float(), diagonal=1)
    adj = upper + upper.t()
    x = F.one_hot(y, 2).float().repeat(1, 4) + 1.5 * torch.randn(n, 8, generator=g)
    return adj, x, y


def test_gcn_learns_two_communities() -> None:
    adj, x, y = _two_community_graph()
    torch.manual_seed(0)
    model = create_model("gcn", in_channels=8, hidden_channels=16, out_channels=2)
    op = model.propagation(adj.to_sparse_csr())
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    for _ in range(100):
        optimizer.zero_grad()
        F.cross_entropy(model(x, op), y).backward()
        optimizer.step()
    model.eval()
    accuracy = (model(x, op).argmax(dim=1) == y).float().mean().item()
    assert accuracy > 0.9


def test_sgc_propagates_num_layers_times_unless_k_is_given() -> None:
    # GCond's SGC (--sgc=1 --nlayers=K) propagates nlayers times; ours ignored num_layers, so a GCond/DosCond
    # config with num_layers=3 (SGC backbone) condensed with K=2 under a card naming 3
    for layers in (1, 3):
        sgc = create_model("sgc", in_channels=16, out_channels=3, num_layers=layers)
        assert sgc.k == layers and sgc.hops == layers
    assert create_model("sgc", in_channels=16, out_channels=3).k == 2  # the default, unchanged
    assert create_model("sgc", in_channels=16, out_channels=3, num_layers=3, k=1).k == 1
