"""The model registry: ``create_model("gcn", in_channels=..., out_channels=...)``."""

from __future__ import annotations

from typing import Any

from condensekit.core.registry import Registry
from condensekit.graph.models.base import GraphModel

__all__ = ["MODELS", "create_model", "register_model"]

#: Name → :class:`~condensekit.graph.models.base.GraphModel` subclass.
MODELS: Registry[type[GraphModel]] = Registry("model")


def register_model(name: str) -> Any:
    """Class decorator registering a :class:`GraphModel` subclass under ``name``."""

    def add(cls: type[GraphModel]) -> type[GraphModel]:
        if not (isinstance(cls, type) and issubclass(cls, GraphModel)):
            raise ValueError(f"model {name!r} must be a GraphModel subclass, got {cls!r}")
        MODELS.register(name, cls)
        return cls

    return add


def create_model(name: str, **kwargs: Any) -> GraphModel:
    """Build the model registered as ``name`` with keyword arguments ``kwargs``.

    Unknown names raise ``ValueError`` listing the valid ones.
    """
    return MODELS.get(name)(**kwargs)
