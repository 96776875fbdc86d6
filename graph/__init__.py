"""condensekit.graph — graph condensation (node classification today; graph level next).

Public API::

    prepare_task, condense_nodes, CondensedGraph      # condensation
    evaluate_node, NodeEvalConfig                     # train on condensed, test on real
    fit_node_model                                    # a trained model (condensed or real labels)
    load_node_dataset, validate_node_data             # data
    NODE_METHODS, create_model, MODELS                # registries
"""

from condensekit.graph.condense import TASK as NODE_TASK
from condensekit.graph.condense import CondensedGraph, condense_nodes, prepare_task
from condensekit.graph.data import NODE_DATASETS, load_node_dataset, validate_node_data
from condensekit.graph.evaluate import NodeEvalConfig, evaluate_node, fit_node_model
from condensekit.graph.methods import NODE_METHODS
from condensekit.graph.models import MODELS, create_model
from condensekit.graph.task import NodeTask

__all__ = [
    "CondensedGraph",
    "condense_nodes",
    "prepare_task",
    "NODE_DATASETS",
    "load_node_dataset",
    "validate_node_data",
    "NodeEvalConfig",
    "evaluate_node",
    "fit_node_model",
    "NODE_METHODS",
    "MODELS",
    "create_model",
    "NodeTask",
    "NODE_TASK",
]
