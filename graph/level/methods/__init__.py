"""Graph-level condensation methods, registered by name in :data:`GRAPH_METHODS`."""

from condensekit.graph.level.methods.base import GRAPH_METHODS, GraphCondensation, check_gpc
from condensekit.graph.level.methods.coreset import (
    GraphCoresetConfig,
    HerdingGraphCoreset,
    KCenterGraphCoreset,
    RandomGraphCoreset,
)
from condensekit.graph.level.methods.doscond import GraphDosCond, GraphDosCondConfig
from condensekit.graph.level.methods.kidd import KiDD, KiDDConfig, KiDDLR, KiDDLRConfig

__all__ = [
    "GRAPH_METHODS",
    "GraphCondensation",
    "check_gpc",
    "GraphCoresetConfig",
    "RandomGraphCoreset",
    "HerdingGraphCoreset",
    "KCenterGraphCoreset",
    "GraphDosCond",
    "GraphDosCondConfig",
    "KiDD",
    "KiDDConfig",
    "KiDDLR",
    "KiDDLRConfig",
]
