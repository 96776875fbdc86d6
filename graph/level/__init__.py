"""condensekit.graph.level — graph-level (graph classification) condensation.

Public API::

    condense_graphs, CondensedGraphSet, prepare_graphs        # condensation
    evaluate_graphs, GraphEvalConfig, PROTOCOLS               # train on condensed, test on real
    load_graph_dataset, GRAPH_DATASETS, GraphSet              # TU data, stratified splits
    GRAPH_METHODS, GRAPH_MODELS, lite_gntk, lite_gntk_stats   # registries and the LiteGNTK
"""

from condensekit.graph.level.condense import CondensedGraphSet, condense_graphs, prepare_graphs
from condensekit.graph.level.data import GRAPH_DATASETS, GraphSet, load_graph_dataset
from condensekit.graph.level.evaluate import PROTOCOLS, GraphEvalConfig, evaluate_graphs
from condensekit.graph.level.kernel import lite_gntk, lite_gntk_stats
from condensekit.graph.level.methods import GRAPH_METHODS
from condensekit.graph.level.models import GRAPH_MODELS

__all__ = [
    "CondensedGraphSet",
    "condense_graphs",
    "prepare_graphs",
    "GRAPH_DATASETS",
    "GraphSet",
    "load_graph_dataset",
    "PROTOCOLS",
    "GraphEvalConfig",
    "evaluate_graphs",
    "lite_gntk",
    "lite_gntk_stats",
    "GRAPH_METHODS",
    "GRAPH_MODELS",
]
