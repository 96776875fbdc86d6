"""A device audit that runs on the CPU: what a method's step would do wrong on CUDA.

On a CPU-only machine every tensor lands on the CPU, so a tensor factory called without ``device=`` inside a
step (``torch.zeros(n)``, ``torch.arange(k)``, ``torch.tensor([...])``, ``torch.randperm(n)``) passes every
test, and on CUDA makes a CPU tensor: a device-mismatch crash, or a host-to-device copy per step. A random op
fed a generator made without ``device=`` crashes on CUDA ("Expected a 'cuda' device type for generator"). And
``.item()``, ``bool(t)``, ``float(t)``, ``.tolist()``, ``.cpu()``, ``nonzero`` or boolean-mask indexing wait for
the device (a host sync) on CUDA, which serialises the step.

:class:`DeviceAudit` is a :class:`torch.overrides.TorchFunctionMode` that records, while it is active:

* ``factory`` (``module`` when an ``nn.Module``'s ``__init__`` makes it: a module's parameters and buffers, built
  on the host and moved with the module, as the engine's methods do to give every device the same initial
  weights), every tensor factory called without a ``device`` argument (``tensor``/``as_tensor``/``asarray``,
  ``normal`` and ``sparse_coo_tensor``/``sparse_csr_tensor`` only when no argument is a tensor, whose device
  they keep; ``*_like`` and ``Tensor.new_*`` keep their input's device and are not factories here), and
  ``torch.from_numpy``;
* ``generator``: a random op on a device tensor, or a factory told a device other than ``"cpu"``, fed a generator
  made by ``torch.Generator()`` without ``device`` while the audit was active (a generator made before it is
  unknown and not flagged; a CPU generator drawing host tensors, ``device="cpu"``, is fine);
* ``sync``: the host syncs listed in :data:`SYNCS`, plus ``__getitem__`` with a boolean mask, ``where`` with one
  argument, ``repeat_interleave`` with tensor repeats and no ``output_size``, ``coalesce`` of a sparse tensor not
  yet coalesced, ``index_select`` of a sparse one, and conversions to a sparse layout (:data:`TO_SPARSE`) of a
  dense tensor or of an uncoalesced COO one to a compressed layout (each sizes its output from the device), each on
  a tensor that is not a host tensor (reading a host tensor waits for nothing). What torch does inside other calls
  is not seen (``torch.sparse.mm`` of two sparse matrices, a sparse tensor made without a size): the GPU visit's
  :func:`device_run` counts those;
* ``mix``: an op that meets a *host* tensor (not 0-dim) and a device tensor: a crash on CUDA ("Expected all
  tensors to be on the same device");
* ``copy``: a host tensor used as an index of a device tensor (``x[idx]``, ``x[idx] = v``), which CUDA accepts
  with a host-to-device copy.

A tensor is a host tensor when a deviceless factory made it while an audit was active, when ``.cpu()`` made it,
when a factory told ``device="cpu"`` (the string: a method's own device is a ``torch.device``) made it on purpose,
``torch.load(..., map_location="cpu")`` gave it back (a checkpoint), or
an op computed it from host tensors only; a ``Parameter`` of a host tensor is a host parameter (a module built
without a device); ``.to(device)``/``.to(tensor)``/``.cuda()`` move a tensor (on the CPU these return their
input, so the audit returns a copy, as CUDA would) and ``t.data = v`` (``Module.to``) moves ``t`` where ``v``
is. Every tensor made before the audit (the real data handed to the method) counts as a device tensor. This
tracking is what keeps false positives down: a deviceless factory whose tensor never meets a device tensor
(host-side bookkeeping; a module built and then moved) is a ``factory`` but makes no ``mix``; one made in
``setup``, kept, and used in a step is caught at the step's op although the step itself creates nothing.

Each finding carries the innermost frame in the condensekit packages (``core/``, ``graph/``, ``medical/``,
``privacy/``, ``robust/``) that made the call, as ``"graph/methods/gcdm.py:120"``, and the innermost frame of all
(``origin``). A call is recorded only when the innermost frame outside torch and the standard library is
condensekit's: not the test itself or its fixtures, and not what a third-party library (torchattacks) does
inside a call.

:func:`audit_method` runs a :class:`~condensekit.core.engine.CondensationMethod` through the engine for a few
steps with its construction, ``setup`` and each ``step`` audited separately.
"""

from __future__ import annotations

import sys
import sysconfig
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

REPO = Path(__file__).resolve().parents[1]
PACKAGES = tuple(str(REPO / p) + "/" for p in ("core", "graph", "medical", "privacy", "robust"))
#: Frames looked through on the way to the caller: torch itself and the standard library (functools, contextlib).
SKIPPED = (str(Path(torch.__file__).parent) + "/", sysconfig.get_paths()["stdlib"] + "/", "<")

#: Factories that make a new tensor on the default device unless told ``device=``.
FACTORIES = frozenset(
    {
        "tensor", "as_tensor", "asarray", "scalar_tensor", "zeros", "ones", "full", "empty", "empty_strided",
        "arange", "range", "linspace", "logspace", "eye", "rand", "randn", "randint", "randperm", "normal",
        "tril_indices", "triu_indices", "sparse_coo_tensor", "sparse_csr_tensor", "hann_window",
        "hamming_window", "blackman_window", "bartlett_window", "kaiser_window",
    }
)  # fmt: skip
#: Factories whose tensor arguments, when they have some, give the result its device.
DATA_FACTORIES = frozenset({"tensor", "as_tensor", "asarray", "normal", "sparse_coo_tensor", "sparse_csr_tensor"})
#: Calls that wait for the device on CUDA.
SYNCS = frozenset(
    {
        "item", "tolist", "__bool__", "__float__", "__int__", "__index__", "__format__", "cpu", "numpy",
        "nonzero", "argwhere", "unique", "unique_consecutive", "masked_select", "equal", "allclose", "bincount",
    }
)  # fmt: skip


#: Conversions to a sparse layout: from a dense tensor they count its non-zeros, from an uncoalesced COO one to a
#: compressed layout they coalesce it first (a sync on CUDA either way).
TO_SPARSE = frozenset(
    {"to_sparse", "to_sparse_coo", "to_sparse_csr", "to_sparse_csc", "to_sparse_bsr", "to_sparse_bsc"}
)


def _uncoalesced(t: torch.Tensor) -> bool:
    return t.layout == torch.sparse_coo and not t.is_coalesced()


def _compressed_target(name: str, args: tuple, kwargs: dict) -> bool:
    """Whether a :data:`TO_SPARSE` call converts to a compressed layout (CSR, CSC, BSR, BSC): ``to_sparse`` does when
    told such a ``layout`` (``Tensor.to_sparse_coo`` calls it without one, which keeps a COO tensor as it is)."""
    if name != "to_sparse":
        return name != "to_sparse_coo"
    layout = kwargs.get("layout", next((a for a in args[1:] if isinstance(a, torch.layout)), None))
    return layout not in (None, torch.sparse_coo)


#: Ops whose tensor arguments may sit on another device than ``self`` (they copy, or take host indices).
MOVES = frozenset(
    {"to", "cuda", "cpu", "copy_", "new_tensor", "tolist", "item", "numpy", "__format__", "__repr__",
     "_has_compatible_shallow_copy_type"}
)  # fmt: skip
INDEXING = frozenset({"__getitem__", "__setitem__"})
#: Code whose "syncs" read host tensors by design (torch.optim keeps its step counters on the host).
HOST_STATE = ("torch/optim/",)


class HostTensors:
    """The tensors an audit has seen made on the host (by id, held weakly), shared by the audits of one run."""

    def __init__(self) -> None:
        self._refs: dict[int, weakref.ref] = {}

    def add(self, t: torch.Tensor) -> None:
        key = id(t)
        self._refs[key] = weakref.ref(t, lambda _r, key=key: self._refs.pop(key, None))

    def discard(self, t: torch.Tensor) -> None:
        self._refs.pop(id(t), None)

    def __contains__(self, t: torch.Tensor) -> bool:
        ref = self._refs.get(id(t))
        return ref is not None and ref() is t


def _nested_tensors(obj: Any) -> Iterator[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _nested_tensors(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _nested_tensors(v)


def _tensors(args: tuple, kwargs: dict) -> list[torch.Tensor]:
    out = []
    for a in (*args, *kwargs.values()):
        if isinstance(a, torch.Tensor):
            out.append(a)
        elif isinstance(a, (list, tuple)):
            out.extend(x for x in a if isinstance(x, torch.Tensor))
    return out


@dataclass(frozen=True)
class Finding:
    """One recorded call: its kind (``factory``, ``generator``, ``sync``), the op, the condensekit frame that
    made it (``file:line``, relative to the repository) and the innermost frame of all."""

    kind: str
    op: str
    site: str
    origin: str

    def __str__(self) -> str:
        via = "" if self.origin == self.site else f" (via {self.origin})"
        return f"{self.kind} {self.op} at {self.site}{via}"


def _site(func: str | None = None) -> tuple[str, str] | None:
    """``(site, origin)`` of the call being recorded, or ``None`` when it is not condensekit's: the innermost frame
    outside torch and the standard library must lie in the condensekit packages (a call that a third-party
    library such as torchattacks makes on its own is that library's business).

    ``func``: the torch function called. A Python function that a library put in its place in the ``torch``
    namespace is looked through like torch's own frames (PyG's ``hash_tensor`` replaces ``torch.index_select``
    and ``torch.select`` with wrappers on import: every call of them would otherwise count as PyG's)."""
    shim = getattr(getattr(torch, func, None), "__code__", None) if func else None
    frame = sys._getframe(2)
    origin = None
    while frame is not None:
        name = frame.f_code.co_filename
        if name != __file__ and frame.f_code is not shim:
            if origin is None:
                origin = f"{_short(name)}:{frame.f_lineno}"
            if name.startswith(PACKAGES):
                return f"{Path(name).relative_to(REPO)}:{frame.f_lineno}", origin
            if not name.startswith(SKIPPED):
                return None
        frame = frame.f_back
    return None


def _constructing_module() -> bool:
    """Whether the call comes from an ``nn.Module``'s ``__init__`` (its parameters and buffers)."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name == "__init__" and isinstance(frame.f_locals.get("self"), torch.nn.Module):
            return True
        frame = frame.f_back
    return False


def _short(name: str) -> str:
    marker = "/site-packages/"
    if marker in name:
        return name.split(marker, 1)[1]
    return str(Path(name).relative_to(REPO)) if name.startswith(str(REPO) + "/") else name


def _has_bool_mask(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in items)


class DeviceAudit(TorchFunctionMode):
    """Records deviceless factories, deviceless generators fed to random ops, and host syncs (see module doc).

    Use as a context manager; ``findings`` lists every recorded call in order. ``torch.Generator`` and
    ``torch.from_numpy`` are wrapped while the audit is active and restored after.
    """

    def __init__(self, host: HostTensors | None = None) -> None:
        super().__init__()
        self.host = HostTensors() if host is None else host
        self.findings: list[Finding] = []
        self._deviceless_generators: dict[int, str] = {}
        self._func: str | None = None
        self._saved: dict[str, Any] = {}

    # -- views ---------------------------------------------------------------------------------------------
    def of_kind(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    @property
    def factories(self) -> list[Finding]:
        """Deviceless factories (module construction included) and deviceless generators fed to device ops."""
        return self.of_kind("factory") + self.of_kind("module") + self.of_kind("generator")

    def problems(self, *, modules: bool = False) -> list[Finding]:
        """Deviceless factories (with ``modules``, also those building a module: see
        :meth:`MethodAudit.step_factories`), deviceless generators fed to device ops, and host/device mixes."""
        kinds = ("factory", "generator", "mix", "module") if modules else ("factory", "generator", "mix")
        return [f for f in self.findings if f.kind in kinds]

    @property
    def mixes(self) -> list[Finding]:
        return self.of_kind("mix")

    @property
    def syncs(self) -> list[Finding]:
        return self.of_kind("sync")

    def sync_sites(self) -> Counter[str]:
        return Counter(f"{f.op} at {f.site}" for f in self.syncs)

    # -- recording -----------------------------------------------------------------------------------------
    def _record(self, kind: str, op: str) -> None:
        where = _site(self._func)
        if where is None or (kind == "sync" and where[1].startswith(HOST_STATE)):
            return
        if kind == "factory" and _constructing_module():
            kind = "module"
        self.findings.append(Finding(kind, op, *where))

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        name = getattr(func, "__name__", str(func))
        self._func = name  # the torch function whose call is recorded (see _site)
        if name == "__set__":  # t.data = v (Module.to moves parameters so): t now lives where v does
            value = args[1] if len(args) > 1 else None
            if getattr(getattr(func, "__self__", None), "__name__", None) == "data" and isinstance(value, torch.Tensor):
                (self.host.add if value in self.host else self.host.discard)(args[0])
            return func(*args, **kwargs)
        inputs = _tensors(args, kwargs)
        made_on_host = False
        if name in FACTORIES and kwargs.get("device") is None:
            if not (name in DATA_FACTORIES and inputs):
                self._record("factory", name)
                made_on_host = True
        elif name in FACTORIES and kwargs.get("device") == "cpu":
            made_on_host = True  # the string "cpu": host on purpose (a method's own device is a torch.device)
        on_host = [t in self.host for t in inputs]
        host_big = any(h and t.dim() > 0 for h, t in zip(on_host, inputs, strict=True))
        on_device = [t for h, t in zip(on_host, inputs, strict=True) if not h]
        if host_big and on_device and name not in MOVES:
            self_on_device = bool(args) and isinstance(args[0], torch.Tensor) and args[0] not in self.host
            indexed = name in INDEXING and self_on_device
            self._record("copy" if indexed else "mix", name)
        generator = kwargs.get("generator")
        if generator is None:
            generator = next((a for a in args if isinstance(a, torch.Generator)), None)
        if generator is not None and id(generator) in self._deviceless_generators:
            # a CPU generator feeding a device op: a factory told another device than "cpu" (deviceless ones are
            # factories already), or a random op on a device tensor (bernoulli(p), t.normal_())
            to_device = kwargs.get("device") not in (None, "cpu") if name in FACTORIES else not all(on_host or [0])
            if to_device:
                self._record("generator", f"{name}(generator made at {self._deviceless_generators[id(generator)]})")
        if inputs and on_host[0]:
            pass  # reading a host tensor waits for nothing
        elif name in SYNCS:
            self._record("sync", name)
        elif name == "__getitem__" and len(args) > 1 and _has_bool_mask(args[1]):
            self._record("sync", "__getitem__[bool mask]")
        elif name == "where" and len(args) + len(kwargs) == 1:
            self._record("sync", "where(condition)")
        elif name == "repeat_interleave" and "output_size" not in kwargs:
            repeats = args[1] if len(args) > 1 else kwargs.get("repeats")
            if isinstance(repeats, torch.Tensor):
                self._record("sync", "repeat_interleave")
        elif name == "coalesce" and inputs and _uncoalesced(inputs[0]):
            self._record("sync", "coalesce")  # sizes its output by its unique entries (a coalesced one: no work)
        elif name == "index_select" and inputs and inputs[0].layout != torch.strided:
            self._record("sync", "index_select[sparse]")  # sizes its output by the entries it keeps
        elif name in TO_SPARSE and inputs and inputs[0].layout == torch.strided:
            self._record("sync", f"{name}[dense]")  # counts the non-zeros
        elif name in TO_SPARSE and inputs and _uncoalesced(inputs[0]) and _compressed_target(name, args, kwargs):
            self._record("sync", f"{name}[uncoalesced]")  # coalesces first, in C++
        out = func(*args, **kwargs)
        if out is (args[0] if args else None) and self._moves(name, args, kwargs, on_host):
            # On CUDA a move makes a new tensor; on the CPU it returns its input, which would move the input too.
            out = out.clone()
        self._track(name, args, kwargs, inputs, on_host, made_on_host, out)
        return out

    def _moves(self, name: str, args: tuple, kwargs: dict, on_host: list) -> bool:
        """``t.cpu()`` of a device tensor, or ``t.to(device or tensor)`` of a host tensor."""
        if name == "cpu":
            return not on_host[0]
        if name == "to" and on_host and on_host[0]:
            target = [a for a in (*args[1:], kwargs.get("device"), kwargs.get("other")) if a is not None]
            return any(isinstance(a, (str, torch.device)) or (isinstance(a, torch.Tensor) and a not in self.host)
                       for a in target)  # fmt: skip
        return False

    def _track(
        self, name: str, args: tuple, kwargs: dict, inputs: list, on_host: list, made_on_host: bool, out: Any
    ) -> None:
        outs = _tensors((out,), {}) if not isinstance(out, torch.Tensor) else [out]
        if not outs:
            return
        if name == "to":
            target = [a for a in (*args[1:], kwargs.get("device"), kwargs.get("other")) if a is not None]
            if any(isinstance(a, (str, torch.device)) for a in target):
                host = False
            elif any(isinstance(a, torch.Tensor) for a in target):
                host = next(a for a in target if isinstance(a, torch.Tensor)) in self.host
            else:
                host = bool(on_host) and on_host[0]
            for t in outs:
                (self.host.add if host else self.host.discard)(t)
            return
        if name == "cuda":
            for t in outs:
                self.host.discard(t)
            return
        host = made_on_host or name in ("cpu", "numpy") or (bool(inputs) and all(on_host))
        if host:
            for t in outs:
                self.host.add(t)

    # -- patching of what is not a torch function ----------------------------------------------------------
    def __enter__(self) -> DeviceAudit:
        audit = self
        real_generator, real_from_numpy = torch.Generator, torch.from_numpy

        class AuditedGenerator(real_generator):  # type: ignore[misc, valid-type]
            def __new__(cls, device: Any = None) -> Any:
                if device is not None:
                    return real_generator.__new__(cls, device)
                gen = real_generator.__new__(cls)
                where = _site()
                if where is not None:
                    audit._deviceless_generators[id(gen)] = where[0]
                return gen

        def from_numpy(array: Any) -> torch.Tensor:
            audit._record("factory", "from_numpy")
            return real_from_numpy(array)

        real_parameter_new = vars(torch.nn.Parameter)["__new__"]

        def parameter_new(cls: type, data: Any = None, requires_grad: bool = True) -> Any:
            param = real_parameter_new.__func__(cls, data, requires_grad)
            if isinstance(data, torch.Tensor) and data in audit.host:
                audit.host.add(param)  # nn.Linear(...) wraps a deviceless torch.empty: a host parameter
            return param

        real_load = torch.load

        def load(*args: Any, **kwargs: Any) -> Any:
            out = real_load(*args, **kwargs)
            where = kwargs.get("map_location")
            if isinstance(where, (str, torch.device)) and torch.device(where).type == "cpu":
                for t in _nested_tensors(out):
                    audit.host.add(t)  # map_location="cpu": what a checkpoint gives back is on the host
            return out

        self._saved = {
            "Generator": real_generator, "from_numpy": real_from_numpy, "Parameter": real_parameter_new,
            "load": real_load,
        }  # fmt: skip
        torch.load = load  # type: ignore[assignment]
        torch.Generator = AuditedGenerator  # type: ignore[misc]
        torch.from_numpy = from_numpy  # type: ignore[assignment]
        torch.nn.Parameter.__new__ = staticmethod(parameter_new)  # type: ignore[method-assign, assignment]
        return super().__enter__()

    def __exit__(self, *exc: Any) -> None:
        try:
            super().__exit__(*exc)
        finally:
            torch.Generator = self._saved["Generator"]  # type: ignore[misc]
            torch.from_numpy = self._saved["from_numpy"]  # type: ignore[assignment]
            torch.nn.Parameter.__new__ = self._saved["Parameter"]  # type: ignore[method-assign]
            torch.load = self._saved["load"]  # type: ignore[assignment]


@dataclass
class MethodAudit:
    """What :func:`audit_method` saw: the construction's findings (when it built the method), the set-up's and
    each step's."""

    init: list[Finding] = field(default_factory=list)
    setup: list[Finding] = field(default_factory=list)
    steps: list[list[Finding]] = field(default_factory=list)

    def step_factories(self, *, modules: bool = False) -> list[Finding]:
        """Deviceless factories and deviceless generators fed to device ops, in any step; with ``modules``, also
        the factories of ``nn.Module`` s built in the step (initialised on the host, from the CPU generator, and
        moved: one copy of the weights, the same initial weights on every device; a module left on the host shows
        up as a ``mix`` where it meets the device's data)."""
        kinds = ("factory", "generator", "module") if modules else ("factory", "generator")
        return [f for s in self.steps for f in s if f.kind in kinds]

    def setup_factories(self) -> list[Finding]:
        return [f for f in self.setup if f.kind in ("factory", "generator")]  # modules built in set-up: not here

    def crashes(self) -> list[Finding]:
        """What fails on CUDA: host/device mixes and deviceless generators, in set-up or any step."""
        return [f for s in (self.init, self.setup, *self.steps) for f in s if f.kind in ("mix", "generator")]

    def syncs_per_step(self) -> list[int]:
        return [sum(f.kind == "sync" for f in s) for s in self.steps]

    def summary(self) -> str:
        lines = [f"syncs per step: {self.syncs_per_step()}"]
        named = (("init", self.init), ("setup", self.setup), *((f"step {i}", s) for i, s in enumerate(self.steps)))
        for title, found in named:
            counts = Counter(str(f) for f in found)
            lines += [f"  [{title}] {n}x {what}" for what, n in sorted(counts.items())]
        return "\n".join(lines)


@contextmanager
def _audited(method: Any, name: str, sink: Callable[[list[Finding]], None], host: HostTensors) -> Iterator[None]:
    real = getattr(method, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with DeviceAudit(host) as audit:
            out = real(*args, **kwargs)
        sink(audit.findings)
        return out

    setattr(method, name, wrapped)
    try:
        yield
    finally:
        delattr(method, name)


def audit_method(method: Any, steps: int = 2, *, seed: int = 0) -> MethodAudit:
    """Run ``method`` (a :class:`~condensekit.core.engine.CondensationMethod`, or a function of no arguments
    that builds one: then its construction is watched too, so that the host tensors it makes, such as budgets
    kept with ``.cpu()``, are known as host tensors) on the CPU through the engine for ``steps`` steps, auditing
    ``setup`` and each ``step`` (evaluation, checkpoints and ``condensed`` are not audited)."""
    from condensekit.core.engine import CondensationMethod, EngineConfig, run

    report = MethodAudit()
    host = HostTensors()
    if not isinstance(method, CondensationMethod):
        with DeviceAudit(host) as built:
            method = method()
        report.init = built.findings

    def keep_setup(found: list[Finding]) -> None:
        report.setup = found

    with _audited(method, "setup", keep_setup, host), _audited(method, "step", report.steps.append, host):
        run(method, EngineConfig(steps=steps, seed=seed, device="cpu", progress=False))
    return report


def device_run(
    build: Callable[[], Any], steps: int = 2, *, device: str = "cuda", seed: int = 0
) -> tuple[Any, list[int]]:
    """The ground truth the CPU audit stands in for, on a machine with a GPU: build a method (its data already on
    ``device``), run it through the engine for ``steps`` steps on ``device``, and count each step's host syncs as
    CUDA reports them (``torch.cuda.set_sync_debug_mode("warn")``: one warning per synchronising call). Returns
    the engine's result and the syncs per step (zeros off CUDA, where nothing is counted). For the GPU visits: the
    per-domain device-audit tests run this on ``"cuda"`` when it is available and skip otherwise."""
    import warnings

    from condensekit.core.engine import EngineConfig, run

    method = build()
    real_step = method.step
    counts: list[int] = []
    on_cuda = torch.device(device).type == "cuda"

    def step(i: int) -> Any:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if on_cuda:
                torch.cuda.set_sync_debug_mode("warn")
            try:
                out = real_step(i)
            finally:
                if on_cuda:
                    torch.cuda.set_sync_debug_mode(0)
        counts.append(sum("synchroniz" in str(w.message) for w in caught))
        return out

    method.step = step
    try:
        result = run(method, EngineConfig(steps=steps, seed=seed, device=device, progress=False))
    finally:
        del method.step
    return result, counts
