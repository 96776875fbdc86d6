"""condensekit.robust — curvature-regularised robust condensation (GUARD) and adversarial robustness audits.

Public API::

    GuardConfig, robust_condense, curvature_experts            # GUARD and the curvature plug-in
    ATTACKS, AttackConfig, robust_accuracy, parse_eps_list      # attacks (torchattacks) in pixel space
    AuditConfig, audit_images, audit_artifact                   # audit any image artifact
    GraphAuditConfig, audit_graph, audit_graph_artifact         # audit a condensed node graph
    load_image_data                                             # mnist or a MedMNIST flag

The curvature terms themselves are domain-free: :mod:`condensekit.core.objectives.curvature`.
"""

from condensekit.robust.attacks import ATTACKS, AttackConfig, parse_eps_list, robust_accuracy, stratified_subset
from condensekit.robust.audit import AuditConfig, AuditResult, audit_artifact, audit_images
from condensekit.robust.data import load_image_data
from condensekit.robust.graph_audit import GraphAuditConfig, audit_graph, audit_graph_artifact
from condensekit.robust.guard import GuardConfig, curvature_experts, robust_condense

__all__ = [
    "ATTACKS",
    "AttackConfig",
    "AuditConfig",
    "AuditResult",
    "GraphAuditConfig",
    "GuardConfig",
    "audit_artifact",
    "audit_graph",
    "audit_graph_artifact",
    "audit_images",
    "curvature_experts",
    "load_image_data",
    "parse_eps_list",
    "robust_accuracy",
    "robust_condense",
    "stratified_subset",
]
