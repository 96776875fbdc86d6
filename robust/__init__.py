"""condensekit.robust — curvature-regularised robust condensation (GUARD) and adversarial robustness audits.

Public API::

    GuardConfig, robust_condense, curvature_experts            # GUARD and the curvature plug-in
    expert_nets                                                 # experts at their final weights (BN stats recomputed)
    SRe2L, SRe2LConfig, TeacherConfig, squeeze_teacher         # SRe2L, GUARD's reference base
    OnlineRelabel                                               # students learn the teacher online (SRe2L's eval)
    ATTACKS, AttackConfig, robust_accuracy, parse_eps_list      # attacks (torchattacks) in pixel space
    AuditConfig, audit_images, audit_artifact                   # audit any image artifact (workers: by image)
    GraphAuditConfig, audit_graph, audit_graph_artifact         # audit a condensed node graph
    load_image_data                                             # mnist or a MedMNIST flag

The curvature terms themselves are domain-free: :mod:`condensekit.core.objectives.curvature`. The graph audit's
names load :mod:`condensekit.robust.graph_audit` (and so PyG) when first used, so the image API starts without it.
"""

from typing import Any

from condensekit.robust.attacks import ATTACKS, AttackConfig, parse_eps_list, robust_accuracy, stratified_subset
from condensekit.robust.audit import AuditConfig, AuditResult, audit_artifact, audit_images
from condensekit.robust.data import load_image_data
from condensekit.robust.guard import GuardConfig, curvature_experts, expert_nets, robust_condense
from condensekit.robust.relabel import OnlineRelabel
from condensekit.robust.sre2l import SRe2L, SRe2LConfig, TeacherConfig, load_teacher, squeeze_teacher

__all__ = [
    "ATTACKS",
    "AttackConfig",
    "AuditConfig",
    "AuditResult",
    "GraphAuditConfig",
    "GuardConfig",
    "OnlineRelabel",
    "SRe2L",
    "SRe2LConfig",
    "TeacherConfig",
    "audit_artifact",
    "audit_graph",
    "audit_graph_artifact",
    "audit_images",
    "curvature_experts",
    "expert_nets",
    "load_image_data",
    "load_teacher",
    "parse_eps_list",
    "robust_accuracy",
    "robust_condense",
    "squeeze_teacher",
    "stratified_subset",
]

_GRAPH_AUDIT = ("GraphAuditConfig", "audit_graph", "audit_graph_artifact")


def __getattr__(name: str) -> Any:
    """The graph audit's names, imported on first use (PEP 562): they need PyG, which the image API does not."""
    if name in _GRAPH_AUDIT:
        from condensekit.robust import graph_audit

        return getattr(graph_audit, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_GRAPH_AUDIT])
