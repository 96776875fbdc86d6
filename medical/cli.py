"""``condensekit medical ...`` (filled in below)."""

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("medical", help="MedMNIST condensation")
