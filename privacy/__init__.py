"""condensekit.privacy: differentially private condensed sets and membership-inference audits.

Public API: the accountants (:mod:`~condensekit.privacy.accounting`), the private methods registered in
:data:`PRIVACY_METHODS` (``dp-merf``, ``dp-merf-condensed``, ``psg``) run by :func:`condense_private`,
and :func:`audit_artifact` for any image artifact.
"""

from condensekit.privacy import dp_merf as _dp_merf  # noqa: F401  (registers the methods)
from condensekit.privacy import psg as _psg  # noqa: F401
from condensekit.privacy.accounting import (
    GaussianRelease,
    PrivacyReport,
    dp_sgd_epsilon,
    gaussian_epsilon,
    noise_for_epsilon,
)
from condensekit.privacy.base import PRIVACY_METHODS, condense_private

__all__ = [
    "PRIVACY_METHODS",
    "GaussianRelease",
    "PrivacyReport",
    "condense_private",
    "dp_sgd_epsilon",
    "gaussian_epsilon",
    "noise_for_epsilon",
]
