"""``condensekit <domain> <verb> ...`` and ``condensekit info PATH``.

Core knows no domain: each domain registers its verbs through the ``condensekit.domains``
entry-point group (``register(subparsers)`` adds a sub-command).

Every parser of the tree is a :class:`CliParser`, which takes no abbreviated option.
"""

from __future__ import annotations

import argparse
import copy
import errno
import os
import re
import select
import sys
import warnings
from importlib.metadata import entry_points
from typing import Any, NoReturn

from condensekit.core.artifact import format_card, library_versions, load_artifact
from condensekit.core.atomic import check_file_target
from condensekit.core.config import add_dataclass_args
from condensekit.core.malloc import keep_freed_memory

__all__ = [
    "CliParser",
    "DefaultsHelpFormatter",
    "MethodHelp",
    "add_method_help",
    "build_parser",
    "console",
    "long_options",
    "main",
    "verb_parser",
]


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Help that shows each option's default: ``(default: X)`` after its text, unless the text already speaks of
    its default (``(default: the profile's)``), or there is none to show (``None``, a flag's ``False``, a suppressed
    one). An option without a help text gets the default alone. Positionals and ``--help`` are left as they are."""

    def _format_action(self, action: argparse.Action) -> str:
        if _shows_default(action):
            action = copy.copy(action)
            action.help = f"{action.help or ''} (default: %(default)s)".strip()
        return super()._format_action(action)


def _shows_default(action: argparse.Action) -> bool:
    default = action.default
    if not action.option_strings or action.nargs == 0 or default in (None, argparse.SUPPRESS) or default is False:
        return False
    return action.help is not argparse.SUPPRESS and "default" not in (action.help or "").lower()


class CliParser(argparse.ArgumentParser):
    """An :class:`argparse.ArgumentParser` that refuses abbreviated options (``allow_abbrev=False``).

    argparse's default takes any unambiguous prefix of an option for the option (``--ip 10`` for ``--ipc 10``),
    and where a verb passes the flags it does not know to a method's config (``accepts_extra``), a method flag
    that is a prefix of one of the verb's own options (``--eval`` of ``--eval-runs``) would be taken for it
    instead of reaching the method. With this parser an abbreviation is an unknown option: refused by name.

    The rule lives here once: ``add_subparsers`` makes its sub-parsers with the class of the parser it is
    called on (argparse's ``parser_class`` default), so every domain's sub-command and verb under
    :func:`build_parser` is a ``CliParser`` too; a method's own flags go through
    :func:`~condensekit.core.config.parse_config_flags`, whose parser refuses abbreviations the same way.
    """

    def __init__(self, *args: Any, allow_abbrev: bool = False, **kwargs: Any) -> None:
        if allow_abbrev:
            raise ValueError(f"Argument allow_abbrev of CliParser must be False, got {allow_abbrev!r}")
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)  # every verb's --help shows the defaults
        super().__init__(*args, allow_abbrev=False, **kwargs)
        self._argv: list[str] = []

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self._argv = list(sys.argv[1:] if args is None else args)  # what error() names an abbreviation from
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        """argparse's error, with the abbreviations of the options it names: ``--ip 10`` alone reads "the following
        arguments are required: --ipc", since the abbreviation, refused, leaves the required option unset."""
        argv = self._argv[: self._argv.index("--")] if "--" in self._argv else self._argv  # after --: positionals
        given = {a.split("=", 1)[0] for a in argv if a.startswith("--") and a != "--"}
        known = {o for a in self._actions for o in a.option_strings}
        # the full options: this parser's, and those the message names (a verb's, when the root parser reports)
        full = (known | set(re.findall(r"--[\w-]+", message))) - (given - known)  # less the abbreviations themselves
        short = sorted(f"{a} (for {o})" for a in given - known for o in full if o.startswith(a))
        if short:
            message += f"; an abbreviation is not an option, write it in full: {', '.join(short)}"
        super().error(message)


class MethodHelp(argparse.Action):
    """``-h/--help`` of a verb that passes the flags it does not know to a method's config (``accepts_extra``): the
    verb's options and, when ``--method X`` came before it, X's own flags (its config dataclass, as
    :func:`~condensekit.core.config.parse_config_flags` reads them). argparse's help knows only the verb's options,
    so a method's flags could be learnt only from the error of a wrong one.

    Args:
        methods: the method registry (entries with a ``config`` dataclass), or a function of the namespace parsed so
            far that returns it (``graph condense``: node or graph-level methods by ``--task``).
        method_dest: the namespace attribute holding the method's name (``method``; ``base`` for ``robust``), or a
            function of the namespace parsed so far that names it (a verb that is its method: ``privacy dp-merf``
            runs ``dp-merf-condensed`` when ``--ipc`` came first).
        note: text after "flags of method 'X'" (e.g. which defaults a profile replaces).
        hint: a function of the namespace parsed so far and a method name that ``methods`` does not hold, returning
            how to reach it (``graph condense``: a graph-level method needs ``--task graph`` before ``--help``), or
            ``""`` when it names no method of another kind; printed under the unknown method's line.
    """

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, *, methods: Any,
                 method_dest: Any = "method", note: str = "", hint: Any = None, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, **kwargs)
        self.methods, self.method_dest, self.note, self.hint = methods, method_dest, note, hint

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:  # fmt: skip
        parser.print_help()
        methods = self.methods(namespace) if callable(self.methods) else self.methods
        if callable(self.method_dest):
            method, option = self.method_dest(namespace), "the verb's options"
        else:
            method, option = getattr(namespace, self.method_dest, None), "--" + self.method_dest.replace("_", "-")
        if method is None:
            print(f"\nmethod flags: put {option} X before --help to list them")
        elif method not in methods:
            print(f"\nmethod flags: unknown method {method!r}; valid methods are {{{', '.join(methods.names())}}}")
            hint = self.hint(namespace, method) if self.hint is not None else ""
            if hint:
                print(hint)
        else:
            flags = argparse.ArgumentParser(prog=parser.prog, add_help=False, usage=argparse.SUPPRESS)
            add_dataclass_args(flags, methods.get(method).config)
            print(f"\nflags of method {method!r}{self.note}:\n{flags.format_help().strip()}")
        parser.exit()


def add_method_help(
    parser: argparse.ArgumentParser, methods: Any, *, method_dest: Any = "method", note: str = "", hint: Any = None
) -> None:
    """Give ``parser`` (made with ``add_help=False``) the ``-h/--help`` of :class:`MethodHelp`."""
    after = (
        "with the method's flags, for the options given before it"
        if callable(method_dest)
        else f"after --{method_dest.replace('_', '-')} X: X's flags too"
    )
    parser.add_argument("-h", "--help", action=MethodHelp, methods=methods, method_dest=method_dest, note=note,
                        hint=hint, help=f"show this help ({after}) and exit")  # fmt: skip


def _info(ns: argparse.Namespace) -> int:
    art = load_artifact(ns.path)
    print(format_card(art.card))
    return 0


# torch_geometric imports torch.jit.script, which torch 2.9+ flags as deprecated on every run.
warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)


class _Version(argparse.Action):
    """``--version``: :func:`_version_line` on one line (argparse's own version action wraps it at the terminal's
    width)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:  # fmt: skip
        print(_version_line())
        parser.exit()


def _version_line() -> str:
    """``condensekit 0.1.0 (torch ..., torch_geometric ..., safetensors ..., python ...)``: the versions every card
    records (:func:`~condensekit.core.artifact.format_card`'s ``versions``), for a bug report."""
    versions = library_versions()
    own = versions.pop("condensekit")
    return f"condensekit {own} (" + ", ".join(f"{k} {v}" for k, v in versions.items()) + ")"


def build_parser(argv: list[str] | None = None) -> CliParser:
    """The whole command tree; given ``argv``, only the domain it names is imported.

    Importing a domain costs seconds (PyG, medmnist, sklearn, opacus), so ``condensekit graph ...``
    loads the graph domain alone and the others get a placeholder sub-command; ``condensekit --help``
    lists every domain's own help; ``condensekit info`` imports none.
    """
    parser = CliParser(prog="condensekit", description="Dataset condensation beyond natural images.")
    parser.add_argument("--version", action=_Version, help="print the versions a card records and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = sub.add_parser("info", help="print the card of a condensed-set artifact")
    info.add_argument("path", help="artifact folder (tensors.safetensors + card.json)")
    info.set_defaults(func=_info)
    domains = sorted(entry_points(group="condensekit.domains"), key=lambda e: e.name)
    named = next((a for a in (argv or []) if not a.startswith("-")), None)
    if named in {ep.name for ep in domains}:
        load = {named}
    else:  # `info` needs no domain; help or a typo lists them all with their own help
        load = set() if named == "info" else {ep.name for ep in domains}
    for ep in domains:
        if ep.name in load:
            ep.load()(sub)
        else:
            sub.add_parser(ep.name, help=f"{ep.name} domain (condensekit {ep.name} --help)")
    return parser


def _check_json_target(ns: argparse.Namespace) -> None:
    """Refuse a verb's ``--json`` that names a folder before the verb runs: the JSON is written last, so the write's
    ``IsADirectoryError`` came as a traceback after the work (a condensation, an evaluation) was done."""
    path = getattr(ns, "json", None)
    if path:
        check_file_target(path, argument="--json")


def verb_parser(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.ArgumentParser:
    """The innermost sub-parser that ``argv`` names (``condensekit graph evaluate ...``: ``graph evaluate``'s), found
    by following its sub-command words down the tree; ``parser`` itself when ``argv`` names none."""
    for token in argv:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            break
        if token in subs[0].choices:
            parser = subs[0].choices[token]
    return parser


def long_options(parser: argparse.ArgumentParser) -> list[str]:
    """The ``--options`` of ``parser`` (not ``--help``), sorted: the list an unknown option's error gives."""
    return sorted(o for a in parser._actions for o in a.option_strings if o.startswith("--") and o != "--help")


def console() -> int:
    """The ``condensekit`` command: :func:`main` on ``sys.argv`` after
    :func:`~condensekit.core.malloc.keep_freed_memory` (glibc keeps freed activation memory in the process: -22 %
    CPU on a CPU expert epoch). Only the command does this; :func:`main` called from Python leaves its host's
    allocator alone."""
    try:
        keep_freed_memory()
    except ValueError as err:  # CONDENSEKIT_MALLOC with a value that means nothing
        print(f"condensekit: error: {err}", file=sys.stderr)
        return 2
    return main()


def main(argv: list[str] | None = None) -> int:
    """Run ``condensekit ARGV``; the exit status. A reader that stops reading (``condensekit info A | head``) ends the
    command quietly with status 1, as the Python documentation's recipe for SIGPIPE does, not with a traceback."""
    try:
        try:
            return _main(argv)
        finally:  # inside the try: a failing flush of buffered output is the same broken pipe
            sys.stdout.flush()
    except BrokenPipeError as err:
        if not _stdout_reader_gone():  # another pipe broke (a worker's, a subprocess's): an error, not a quiet stop
            print(f"condensekit: error: {err}", file=sys.stderr)
            return 2
        try:  # the interpreter flushes stdout again at exit: point it at /dev/null, or that flush fails too
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):  # a stdout without a file descriptor
            pass
        return 1


def _os_error_text(err: OSError) -> str:
    """What ``condensekit`` prints of an ``OSError`` that ended a verb: the path(s) it names and its error, with
    the errno's name (``'/data/out.json': No space left on device (ENOSPC)``); its text when it has no errno."""
    if err.strerror is None:
        return str(err)
    text = err.strerror + (f" ({errno.errorcode[err.errno]})" if err.errno in errno.errorcode else "")
    paths = [repr(os.fsdecode(p) if isinstance(p, bytes) else str(p)) for p in (err.filename, err.filename2)
             if p is not None]  # fmt: skip
    return f"{' -> '.join(paths)}: {text}" if paths else text


def _stdout_reader_gone() -> bool:
    """Whether stdout is a pipe or socket whose reader has gone (``poll`` reports an error or hang-up on it); false
    when stdout has no file descriptor or cannot be polled."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    ns, extra = parser.parse_known_args(argv)
    verb = verb_parser(parser, argv)
    if extra and not getattr(ns, "accepts_extra", False):  # the verb's usage and options, not the top level's
        options = long_options(verb)
        verb.error(f"unrecognized arguments: {' '.join(extra)}" + (f". Valid options are {options}" if options else ""))
    ns.extra = extra
    # what a method's flag parser (parse_config_flags) lists beside its own flags when an option is unknown
    ns.verb_prog, ns.verb_options = verb.prog.removeprefix(f"{parser.prog} "), long_options(verb)
    if not hasattr(ns, "func"):
        parser.print_help()
        return 2
    try:
        _check_json_target(ns)
        return int(ns.func(ns) or 0)
    except (ValueError, FileNotFoundError, NotADirectoryError, PermissionError) as err:  # a --root that is a file
        print(f"condensekit: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # main's: a quiet end when stdout's reader has gone
        raise
    except OSError as err:  # a write the checks before the work could not foresee: a disk that filled during the run
        print(f"condensekit: error: {_os_error_text(err)}", file=sys.stderr)
        return 2
    except MemoryError as err:  # the engine's names the run's size, what lowers memory and the checkpoint
        print(f"condensekit: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
