"""Node-level condensation methods, registered by name in :data:`NODE_METHODS`."""

from condensekit.graph.methods.base import NODE_METHODS, MethodEntry, NodeCondensation, node_budgets
from condensekit.graph.methods.coreset import CoresetConfig, HerdingCoreset, KCenterCoreset, RandomCoreset
from condensekit.graph.methods.gcdm import GCDM, GCDMConfig
from condensekit.graph.methods.gradient_matching import (
    DosCond,
    DosCondConfig,
    GCond,
    GCondConfig,
    GCondX,
    GCondXConfig,
)
from condensekit.graph.methods.krr import GCSNTK, GCSNTKConfig

__all__ = [
    "NODE_METHODS",
    "MethodEntry",
    "NodeCondensation",
    "node_budgets",
    "GCond",
    "GCondX",
    "DosCond",
    "GCDM",
    "GCSNTK",
    "RandomCoreset",
    "HerdingCoreset",
    "KCenterCoreset",
    "GCondConfig",
    "GCondXConfig",
    "DosCondConfig",
    "GCDMConfig",
    "GCSNTKConfig",
    "CoresetConfig",
]
