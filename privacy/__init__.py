"""condensekit.privacy: differentially private condensed sets and membership-inference audits.

Public API: the accountants (:mod:`~condensekit.privacy.accounting`), the private methods registered in
:data:`PRIVACY_METHODS` (``dp-merf``, ``dp-merf-condensed``, ``psg``) run by :func:`condense_private`,
and the membership-inference audits: :func:`audit_artifact` for any image artifact, :func:`audit_node_artifact`
/ :func:`audit_node_graph` for condensed node graphs (imported on first use: they load the graph domain).
"""

from typing import Any

from condensekit.privacy import dp_merf as _dp_merf  # noqa: F401  (registers the methods)
from condensekit.privacy import psg as _psg  # noqa: F401
from condensekit.privacy.accounting import (
    GaussianRelease,
    PrivacyReport,
    dp_sgd_epsilon,
    gaussian_epsilon,
    noise_for_epsilon,
)
from condensekit.privacy.audit import AuditConfig, audit_artifact
from condensekit.privacy.base import PRIVACY_METHODS, condense_private

_GRAPH_AUDIT = ("NodeAuditConfig", "audit_node_artifact", "audit_node_graph", "audit_node_graphs")


def __getattr__(name: str) -> Any:
    if name in _GRAPH_AUDIT:
        from condensekit.privacy import graph_audit

        return getattr(graph_audit, name)
    raise AttributeError(f"module 'condensekit.privacy' has no attribute {name!r}")


__all__ = [
    "PRIVACY_METHODS",
    "AuditConfig",
    "NodeAuditConfig",
    "audit_artifact",
    "audit_node_artifact",
    "audit_node_graph",
    "audit_node_graphs",
    "GaussianRelease",
    "PrivacyReport",
    "condense_private",
    "dp_sgd_epsilon",
    "gaussian_epsilon",
    "noise_for_epsilon",
]
