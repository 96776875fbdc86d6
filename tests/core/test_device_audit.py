"""The device audit (tests/device_audit.py) catches what fails or syncs on CUDA, and passes clean code.

The toy functions below are compiled with a file name inside the condensekit packages, since the audit records
only calls made from condensekit code (as a method's step is).
"""

from __future__ import annotations

import pytest
import torch

from tests.device_audit import REPO, DeviceAudit, HostTensors, audit_method, device_run

TOY = str(REPO / "core" / "_toy_step.py")

SOURCE = """
import torch

def deviceless(x):
    return x + torch.zeros(x.shape[0])

def with_device(x):
    return x + torch.zeros(x.shape[0], device=x.device) + torch.arange(x.shape[0], device=x.device)

def keeps_device(x):
    return torch.as_tensor(x) + torch.zeros_like(x) + x.new_ones(x.shape)

def syncs(x):
    total = x.sum()
    out = [total.item(), float(total), bool(total > 0), x.tolist(), x.cpu(), x.nonzero(), x[x > 0]]
    return len(out)

def deviceless_generator(x):
    gen = torch.Generator().manual_seed(0)
    return torch.bernoulli(x.clamp(0, 1), generator=gen)

def host_draw_from_cpu_generator(x):
    gen = torch.Generator().manual_seed(0)
    idx = torch.randperm(x.shape[0], generator=gen, device="cpu")
    coin = torch.bernoulli(torch.full((x.shape[0],), 0.5, device="cpu"), generator=gen)
    return x[idx.to(x.device)] + coin.to(x.device)

def device_generator(x):
    gen = torch.Generator(device=x.device).manual_seed(0)
    return torch.bernoulli(x.clamp(0, 1), generator=gen)

def host_index(x):
    idx = torch.arange(2)
    return x[idx]

def host_only(x):
    idx = torch.randperm(5)
    return idx.tolist()

def moved(x):
    h = torch.ones(x.shape[0])
    d = h.to(x.device)  # moved: a device copy, h stays on the host
    back = x.cpu()  # a host copy on CUDA
    return x + d, back * x, h + x

def module_left_on_host(x):
    return torch.nn.Linear(5, 2)(x)

def module_moved(x):
    return torch.nn.Linear(5, 2).to(x.device)(x)

def cpu_on_purpose(x):
    return int(torch.randint(3, (1,), device="cpu"))  # a host draw: no sync, no factory

def sparse_syncs(x):
    index = torch.tensor([[1, 0, 1], [0, 1, 0]], device=x.device)
    sp = torch.sparse_coo_tensor(index, x[:3], (2, 2), check_invariants=False)
    merged = sp.coalesce()  # sizes its output by the unique entries: a sync
    again = merged.coalesce()  # already coalesced: returns itself, no sync
    rows = torch.tensor([1, 0], device=x.device)
    picked = merged.index_select(0, rows)  # sizes its output by the entries it keeps: a sync
    cols = torch.index_select(merged, 1, rows)  # the function form too
    dense = x.index_select(0, rows)  # a dense index_select knows its size: no sync
    return again, picked, cols, dense

def sparse_conversions(x):
    square = x[:4].reshape(2, 2)
    coo = square.to_sparse()  # counts the non-zeros: a sync
    csr = square.to_sparse_csr()  # likewise
    index = torch.tensor([[1, 0, 1], [0, 1, 0]], device=x.device)
    loose = torch.sparse_coo_tensor(index, x[:3], (2, 2), check_invariants=False)
    merged = loose.to_sparse_csr()  # coalesces first: a sync
    also = loose.to_sparse(layout=torch.sparse_csr)  # likewise
    kept = loose.to_sparse_coo()  # stays as it is: no sync
    fine = coo.to_sparse_csr()  # a coalesced COO tensor converts without one
    return coo, csr, merged, also, kept, fine

def sparse_on_host(x):
    host = torch.sparse_coo_tensor(torch.tensor([[0, 0], [1, 1]]), torch.ones(2), (2, 2), check_invariants=False)
    return host.coalesce().index_select(0, torch.tensor([1]))  # host tensors: no wait

class Kept:
    def setup(self, x):
        self.mask = torch.ones(x.shape[0])  # deviceless, stored

    def step(self, x):
        return x * self.mask  # meets the device tensor: the crash is here, not at the factory
"""

namespace: dict = {}
exec(compile(SOURCE, TOY, "exec"), namespace)


def _line(text: str) -> str:
    """``core/_toy_step.py:N`` of the first toy line holding ``text``."""
    return f"core/_toy_step.py:{next(i for i, line in enumerate(SOURCE.split(chr(10)), 1) if text in line)}"


def _audit(fn_name: str, x: torch.Tensor | None = None) -> DeviceAudit:
    x = torch.rand(5) if x is None else x
    with DeviceAudit() as audit:
        namespace[fn_name](x)
    return audit


def test_a_deviceless_factory_is_caught_with_its_line() -> None:
    audit = _audit("deviceless")
    assert [(f.kind, f.op, f.site) for f in audit.factories] == [("factory", "zeros", _line("x + torch.zeros"))]
    assert [f.op for f in audit.mixes] == ["add"]  # on CUDA: host zeros + device x


def test_factories_with_a_device_or_a_tensor_to_copy_pass() -> None:
    for name in ("with_device", "keeps_device", "device_generator", "host_draw_from_cpu_generator"):
        audit = _audit(name)
        assert audit.factories == [] and audit.mixes == [], name


def test_host_syncs_are_counted() -> None:
    ops = sorted(f.op for f in _audit("syncs").syncs)
    assert ops == sorted(["item", "__float__", "__bool__", "tolist", "cpu", "nonzero", "__getitem__[bool mask]"])


def test_sparse_coalesce_and_index_select_are_counted_as_syncs() -> None:
    """Both size their output from the device (a sync on CUDA); a coalesce of a coalesced tensor returns it, a dense
    index_select knows its size, and host tensors wait for nothing. PyG replaces torch.index_select with a Python
    wrapper on import: the audit looks through it (it took every torch.index_select call for PyG's own)."""
    import torch_geometric  # noqa: F401

    assert hasattr(torch.index_select, "__code__")  # PyG's wrapper stands in torch's place
    syncs = _audit("sparse_syncs").syncs
    assert [(f.op, f.site) for f in syncs] == [
        ("coalesce", _line("merged = sp.coalesce()")),
        ("index_select[sparse]", _line("picked = merged.index_select")),
        ("index_select[sparse]", _line("cols = torch.index_select")),
    ]
    assert _audit("sparse_on_host").syncs == []


def test_conversions_to_sparse_that_size_from_the_device_are_counted_as_syncs() -> None:
    syncs = _audit("sparse_conversions").syncs
    assert [(f.op, f.site) for f in syncs] == [
        ("to_sparse[dense]", _line("coo = square.to_sparse()")),
        ("to_sparse_csr[dense]", _line("csr = square.to_sparse_csr()")),
        ("to_sparse_csr[uncoalesced]", _line("merged = loose.to_sparse_csr()")),
        ("to_sparse[uncoalesced]", _line("also = loose.to_sparse(layout")),
    ]


def test_a_generator_without_device_fed_to_a_random_op_is_caught() -> None:
    found = _audit("deviceless_generator").factories
    assert len(found) == 1 and found[0].kind == "generator" and found[0].site == _line("return torch.bernoulli")
    assert _line("gen = torch.Generator()") in found[0].op  # where the generator was made
    assert torch.Generator is torch._C.Generator  # the patch is undone


def test_host_index_is_a_copy_and_host_only_bookkeeping_makes_no_mix() -> None:
    idx = _audit("host_index")
    assert [f.kind for f in idx.findings] == ["factory", "copy"]
    only = _audit("host_only")
    assert [f.kind for f in only.findings] == ["factory"]  # idx.tolist() reads a host tensor: no sync


def test_moves_make_copies_on_their_side() -> None:
    audit = _audit("moved")
    assert [(f.kind, f.op) for f in audit.findings] == [("factory", "ones"), ("sync", "cpu"), ("mix", "mul"),
                                                        ("mix", "add")]  # fmt: skip
    assert audit.mixes[0].site == _line("back * x")


def test_a_module_built_in_a_step_must_be_moved() -> None:
    left = _audit("module_left_on_host")
    assert [f.op for f in left.mixes] == ["linear"] and left.mixes[0].site == _line("torch.nn.Linear(5, 2)(x)")
    moved = _audit("module_moved")
    assert moved.mixes == [] and {f.kind for f in moved.findings} == {"module"}
    assert {f.origin.split(":")[0] for f in moved.factories} == {"torch/nn/modules/linear.py"}
    assert moved.problems() == [] and [f.kind for f in left.problems()] == ["mix"]
    assert _audit("cpu_on_purpose").findings == []


def test_a_host_tensor_kept_from_setup_is_caught_where_a_step_uses_it() -> None:
    host, x, kept = HostTensors(), torch.rand(5), namespace["Kept"]()
    with DeviceAudit(host):
        kept.setup(x)
    with DeviceAudit(host) as step:
        kept.step(x)
    assert step.factories == [] and [(f.op, f.site) for f in step.mixes] == [("mul", _line("x * self.mask"))]


def test_calls_outside_condensekit_are_not_recorded() -> None:
    with DeviceAudit() as audit:
        torch.zeros(3).sum().item()
    assert audit.findings == []


def test_audit_method_audits_setup_and_each_step() -> None:
    from condensekit.core.engine import CondensationMethod

    kept = namespace["Kept"]

    class Method(CondensationMethod):
        def setup(self, device: torch.device) -> None:
            self.x = torch.rand(5, device=device)
            self.inner = kept()
            self.inner.setup(self.x)

        def step(self, step: int) -> dict[str, float]:
            self.inner.step(self.x)
            return {}

        def condensed(self) -> dict[str, torch.Tensor]:
            return {"x": self.x}

    report = audit_method(Method, steps=2)  # built under the audit too
    assert report.init == [] and [f.op for f in report.setup_factories()] == ["ones"]
    assert report.step_factories() == [] and [f.op for f in report.crashes()] == ["mul", "mul"]
    assert report.syncs_per_step() == [0, 0]


def test_device_run_counts_per_step_and_restores_the_step() -> None:
    from condensekit.core.engine import CondensationMethod

    class Method(CondensationMethod):
        def setup(self, device: torch.device) -> None:
            self.x = torch.zeros(3, device=device)

        def step(self, step: int) -> dict[str, float]:
            self.x += 1
            return {}

        def condensed(self) -> dict[str, torch.Tensor]:
            return {"x": self.x}

    made = []
    result, syncs = device_run(lambda: made.append(Method()) or made[-1], steps=3, device="cpu")
    assert result.finished and torch.equal(result.condensed["x"], torch.full((3,), 3.0))
    assert syncs == [0, 0, 0] and "step" not in vars(made[0])  # nothing is counted off CUDA


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-q"])
