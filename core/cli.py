"""``condensekit <domain> <verb> ...`` and ``condensekit info PATH``.

Core knows no domain: each domain registers its verbs through the ``condensekit.domains``
entry-point group (``register(subparsers)`` adds a sub-command).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from importlib.metadata import entry_points

from condensekit.core.artifact import format_card, load_artifact


def _info(ns: argparse.Namespace) -> int:
    art = load_artifact(ns.path)
    print(format_card(art.card))
    return 0


# torch_geometric imports torch.jit.script, which torch 2.9+ flags as deprecated on every run.
warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="condensekit", description="Dataset condensation beyond natural images.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = sub.add_parser("info", help="print the card of a condensed-set artifact")
    info.add_argument("path", help="artifact folder (tensors.safetensors + card.json)")
    info.set_defaults(func=_info)
    for ep in sorted(entry_points(group="condensekit.domains"), key=lambda e: e.name):
        ep.load()(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    ns, extra = parser.parse_known_args(argv)
    if extra and not getattr(ns, "accepts_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    ns.extra = extra
    if not hasattr(ns, "func"):
        parser.print_help()
        return 2
    try:
        return int(ns.func(ns) or 0)
    except (ValueError, FileNotFoundError, PermissionError) as err:
        print(f"condensekit: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
