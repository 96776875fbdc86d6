"""The interface every GNN of the zoo shares: ``propagation(adj)`` then ``forward(x, op)``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from torch import Tensor, nn

from condensekit.core.batched import dropout
from condensekit.core.registry import is_integer, type_name
from condensekit.graph.adjacency import is_sparse, normalize, spmm

__all__ = [
    "GraphModel",
    "check_model_args",
    "check_model_int",
    "linear",
    "propagate",
    "propagate_linear",
    "require_op",
]


def check_model_int(name: str, value: object, low: int) -> int:
    """``value`` as a Python ``int`` when it is an integer ``>= low`` (``low``: 0 or 1), else ``ValueError``
    naming ``name``. An integer is any :class:`numbers.Integral` (``np.int64`` from an array too), not a Python or
    numpy bool, a float or a tensor: the rule of :func:`~condensekit.core.registry.check_int`, in this package's
    words."""
    valid = "a positive integer" if low == 1 else "a non-negative integer"
    if not is_integer(value):
        raise ValueError(f"{name} must be {valid}, got {value!r} (a {type_name(value)})")
    if value < low:
        raise ValueError(f"{name} must be {valid}, got {value!r}")
    return int(value)


def check_model_args(*, dropout: float, **sizes: int) -> None:
    """Every size (``in_channels``, ``hidden_channels``, ...) a positive integer (a Python or numpy one, see
    :func:`check_model_int`), ``dropout`` in [0, 1)."""
    for name, value in sizes.items():
        check_model_int(name, value, 1)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")


class GraphModel(nn.Module, ABC):
    r"""Base class of the node-classification GNNs used to condense and to evaluate graphs.

    A model is used in two steps. :meth:`propagation` maps a raw adjacency to the operator the
    model multiplies by; it does not touch parameters, so a caller computes it once for the
    large real graph (sparse) and reuses it for every epoch and every model with the same
    :attr:`propagation_kind`, while for a learned synthetic adjacency (dense, differentiable) it
    is recomputed at each step. :meth:`forward` then maps features and operator to logits, and
    :meth:`embed` returns the hidden representations (for distribution matching, e.g. GCDM).

    Parameters live in registered submodules (``nn.Linear`` with weight layout ``(out, in)``), so
    :func:`torch.func.functional_call` runs a model on any parameter dictionary.

    Args:
        in_channels: input feature size.
        out_channels: number of classes (logit size).
        hidden_channels: hidden size (default ``256``).
        num_layers: number of layers (default ``2``).
        dropout: dropout probability on hidden representations, training mode only (default
            ``0.5``).

    Shapes:
        ``x``: ``(n, in_channels)`` dense or torch sparse; ``op``: ``(n, n)`` dense or sparse;
        output: ``(n, out_channels)``.
    """

    #: The :func:`~condensekit.graph.adjacency.normalize` kind of :meth:`propagation`, or ``None``
    #: when the model ignores the graph.
    propagation_kind: ClassVar[str | None] = "sym"

    def __init__(
        self,
        *,
        in_channels: int,
        out_channels: int,
        hidden_channels: int = 256,
        num_layers: int = 2,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        check_model_args(
            in_channels=in_channels,
            out_channels=out_channels,
            hidden_channels=hidden_channels,
            num_layers=num_layers,
            dropout=dropout,
        )
        # Python ints: np.int64 sizes from an array would come back as np.int64 from hops / a layer's shape
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.hidden_channels = int(hidden_channels)
        self.num_layers = int(num_layers)
        self.dropout = dropout

    @classmethod
    def propagation(cls, adj: Tensor) -> Tensor | None:
        """The operator this model multiplies by, from a raw ``n × n`` adjacency.

        Dense input gives a dense, differentiable operator; sparse input a sparse one.
        Independent of parameters: cache it per :attr:`propagation_kind`.
        """
        if cls.propagation_kind is None:
            return None
        return normalize(adj, kind=cls.propagation_kind)

    def forward(self, x: Tensor, op: Tensor | None) -> Tensor:
        """Logits ``(n, out_channels)`` for features ``x`` and operator ``op``."""
        logits, _ = self._run(x, op, logits=True)
        assert logits is not None
        return logits

    def embed(self, x: Tensor, op: Tensor | None) -> list[Tensor]:
        """Hidden representations after each non-final layer (after the activation, before
        dropout), dense; a model without hidden layers returns the features its classifier
        sees (e.g. ``[op @ x]``)."""
        return self._run(x, op, logits=False)[1]

    @abstractmethod
    def _run(self, x: Tensor, op: Tensor | None, *, logits: bool) -> tuple[Tensor | None, list[Tensor]]:
        """Return ``(logits or None when not asked for, hidden representations)``."""

    @property
    def hops(self) -> int:
        """How far a forward pass reaches: the times it multiplies by ``op`` (0 without a graph).
        A node's logits depend on its ``hops``-hop neighbourhood only."""
        return 0 if self.propagation_kind is None else self.num_layers

    def precompute(self, x: Tensor, op: Tensor | None) -> Tensor | None:
        """The parameter-free part of the forward pass, when the model has one (SGC: ``op^K x``).

        A caller that evaluates the model many times on a fixed graph computes this once and then
        calls :meth:`forward_precomputed` on the rows it needs. ``None`` when there is no such part.
        """
        return None

    def forward_precomputed(self, z: Tensor) -> Tensor:
        """Logits from :meth:`precompute`'s output (rows may be any subset of nodes)."""
        raise NotImplementedError(f"{type(self).__name__} has no precomputable part")

    def reset_parameters(self) -> None:
        """Re-initialise every parameter (``nn.Linear`` defaults)."""
        for module in self.modules():
            if not isinstance(module, GraphModel) and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def _dropout(self, h: Tensor) -> Tensor:
        # condensekit.core.batched.dropout: F.dropout, or the replayed masks of a batched evaluation.
        return dropout(h, self.dropout, self.training)

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, out_channels={self.out_channels}, "
            f"propagation_kind={self.propagation_kind!r}"
        )


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias`` for dense or torch sparse ``x`` (weight layout ``(out, in)``)."""
    out = spmm(x, weight.t()) if is_sparse(x) else x @ weight.t()
    return out if bias is None else out + bias


def propagate_linear(op: Tensor, x: Tensor, weight: Tensor) -> Tensor:
    """``op @ x @ weight.T`` in the cheaper order.

    Transform first (``op @ (x W^T)``) when it shrinks the features or ``x`` is sparse,
    otherwise propagate first (``(op @ x) W^T``); both are the same matrix.
    """
    out_features, in_features = weight.shape
    if is_sparse(x) or out_features <= in_features:
        return spmm(op, linear(x, weight))
    return spmm(op, x) @ weight.t()


def propagate(op: Tensor, x: Tensor) -> Tensor:
    """``op @ x`` as a dense tensor, for dense or sparse ``op`` and ``x``."""
    out = spmm(op, x)
    return out.to_dense() if is_sparse(out) else out


def require_op(model: GraphModel, op: Tensor | None) -> Tensor:
    """``op``, or a ``ValueError`` saying how to build it when it is ``None``."""
    if op is None:
        name = type(model).__name__
        raise ValueError(f"{name} needs op = {name}.propagation(adj), got None")
    return op
