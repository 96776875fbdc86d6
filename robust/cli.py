"""``condensekit robust condense | audit``."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("robust", help="curvature-regularised condensation and adversarial robustness audits")
