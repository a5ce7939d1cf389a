"""The ``nas`` command line: the parser, built from one module per command, and ``main``.

Every user mistake takes one path: one line ``nas: error: …`` on stderr and exit code 2. A library
:class:`~nas.core.errors.ConfigError` names a setting in library terms (``field="cost_s"``); ``main`` names
the flag that sets it for the running command instead (``nas: error: --table-cost-s: must be >= 0``), and
the flags of the settings in its ``fixes`` as a hint (``… (pass --resume or --overwrite)``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import nas.oneshot.objective  # noqa: F401  (registers the supernet objective kind: its runs' config.json)
from nas.cli.options import HELP_FORMAT, flag_for
from nas.core.errors import ConfigError

# Each module registers its commands with ``add_parser(subparsers)``.
COMMAND_MODULES = (
    "nas.cli.inspect",
    "nas.cli.zoo",
    "nas.cli.spaces",
    "nas.cli.train",
    "nas.cli.transfer",
    "nas.cli.search",
    "nas.cli.scale",
    "nas.cli.calibrate",
    "nas.cli.final",
    "nas.cli.report",
    "nas.cli.compare",
    "nas.cli.ls",
    "nas.cli.oneshot",
)

# OSError: a path the user gave that cannot be read or written (permissions, read-only or full disk)
USER_ERRORS = (ValueError, TypeError, KeyError, OSError)


class UsageError(Exception):
    """Raised by the parser instead of exiting, so every user mistake takes the same path."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # "argument --preset: invalid choice …" → "--preset: invalid choice …", as library errors read
        raise UsageError(message.removeprefix("argument "))


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="nas",
        description="Neural architecture search for PyTorch.",
        epilog="example:\n  nas describe resnet50\n  nas search --space nb201 --budget 2cpuh --out runs/nb201"
        "\n\nsee `nas COMMAND --help` for a command's options",
        formatter_class=HELP_FORMAT,
    )
    p.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for module in COMMAND_MODULES:
        importlib.import_module(module).add_parser(sub)
    return p


def _message(e: BaseException, args: argparse.Namespace | None) -> str:
    if isinstance(e, ConfigError):
        flags = getattr(args, "config_flags", {})
        flag = flag_for(e.field, flags)
        text = f"{flag}: {e.message}" if flag else str(e)
        fixes = dict.fromkeys(f for f in (flag_for(x, flags) for x in e.fixes) if f)
        return f"{text} (pass {' or '.join(fixes)})" if fixes else text
    if isinstance(e, OSError) and e.filename is not None and e.strerror:
        return _os_message(e, args)
    return str(e.args[0] if isinstance(e, KeyError) and e.args else e)


def _os_message(e: OSError, args: argparse.Namespace | None) -> str:
    """``--out /sys/t: Permission denied``: the path the system refused and, when it is (under)
    the value of one of the command's flags, that flag."""
    path = Path(str(e.filename))
    text = f"{path}: {e.strerror}"
    flags = getattr(args, "config_flags", {})
    for dest, value in vars(args or argparse.Namespace()).items():
        if isinstance(value, str | Path) and dest in flags and str(value):
            given = Path(value)
            if given == path:
                return f"{flags[dest]} {text}"
            if path in given.parents:
                return f"{flags[dest]} {given}: {text}"
    return text


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    args: argparse.Namespace | None = None
    try:
        args = build_parser().parse_args(argv)
        func: Callable[[argparse.Namespace], None] = args.func
        func(args)
    except UsageError as e:
        print(f"nas: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except USER_ERRORS as e:
        if debug:
            raise
        print(f"nas: error: {_message(e, args)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
