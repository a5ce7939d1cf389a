"""The ``nas`` command line. User mistakes print one line on stderr and exit with code 2."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

# Modules that add their own subcommands with ``add_parser(subparsers)``; each keeps heavy imports
# inside its handlers so that ``nas --help`` stays fast.
COMMAND_MODULES = (
    "nas.cli.spaces",
    "nas.cli.train",
    "nas.cli.search",
    "nas.cli.calibrate",
    "nas.cli.final",
    "nas.cli.report",
)

USER_ERRORS = (ValueError, TypeError, KeyError, FileNotFoundError, NotADirectoryError, IsADirectoryError)


class UsageError(Exception):
    """Raised by the parser instead of exiting, so every user mistake takes the same path."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def _describe(args: argparse.Namespace) -> None:
    from nas.tools.describe import describe, write

    d = describe(args.arch, input_size=args.input_size, num_classes=args.num_classes)
    print(write(d, args.format, args.output))


def _draw(args: argparse.Namespace) -> None:
    from nas.core.resolve import resolve
    from nas.tools.draw import draw

    path = draw(resolve(args.arch), args.output, cell=args.cell)
    print(path)


def _validate(args: argparse.Namespace) -> None:
    from nas.core.compile import validate
    from nas.core.graph import canonical_key

    g = validate(args.arch)
    print(json.dumps({"name": g.name, "valid": True, "key": canonical_key(g)}))


def _zoo_list(args: argparse.Namespace) -> None:
    from nas.core.registry import ARCHS

    names = ARCHS.list(args.pattern)
    if not names:
        raise ValueError(f"no architecture matches {args.pattern!r}")
    for n in names:
        meta = ARCHS.entry(n).meta
        ref = meta.get("reference")
        print(f"{n:24s} {meta.get('family', ''):16s} {'torchvision.models.' + ref if ref else ''}".rstrip())


def _zoo_show(args: argparse.Namespace) -> None:
    from nas.core.resolve import resolve

    print(resolve(_zoo_name(args.name)).to_json(indent=1))


def _zoo_export(args: argparse.Namespace) -> None:
    from nas.core.genotype import save
    from nas.core.resolve import resolve

    print(save(resolve(_zoo_name(args.name)), args.output))


def _zoo_check(args: argparse.Namespace) -> None:
    from nas.weights.reference import compare

    r = compare(_zoo_name(args.name), input_size=args.input_size)
    ok = (
        r["params"] == r["reference_params"] and r["macs"] == r["reference_macs"] and r["max_rel_diff"] < 1e-5
    )
    r["match"] = ok
    print(json.dumps(r, indent=1))
    if not ok:
        raise SystemExit(1)


def _zoo_name(name: str) -> str:
    from nas.core.registry import ARCHS

    if name not in ARCHS:
        ARCHS.entry(name)  # raises the "unknown architecture" error with suggestions
    return name


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="nas", description="Neural architecture search for PyTorch.")
    p.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    arch_help = "a zoo name (see `nas zoo list`) or a genotype JSON file"
    d = sub.add_parser("describe", help="per-layer table, params, MACs, depth, memory")
    d.add_argument("arch", help=arch_help)
    d.add_argument(
        "--input-size", type=int, default=None, help="input height and width (default: the genotype's)"
    )
    d.add_argument("--num-classes", type=int, default=None)
    d.add_argument("--format", choices=("table", "json", "csv"), default="table")
    d.add_argument("-o", "--output", type=Path, default=None, help="also write to this file")
    d.set_defaults(func=_describe)

    dr = sub.add_parser("draw", help="draw a cell (or a network's stage cells) to PNG/SVG/PDF")
    dr.add_argument("arch", help=arch_help)
    dr.add_argument("-o", "--output", type=Path, required=True)
    dr.add_argument("--cell", default=None, help="which cell of a network (a cell name, 'stem' or 'head')")
    dr.set_defaults(func=_draw)

    v = sub.add_parser("validate", help="check a genotype completely and print its canonical key")
    v.add_argument("arch", help=arch_help)
    v.set_defaults(func=_validate)

    z = sub.add_parser("zoo", help="the architecture zoo")
    zs = z.add_subparsers(dest="zoo_command", metavar="ZOO_COMMAND", parser_class=_Parser)
    zs.required = True
    zl = zs.add_parser("list", help="list architectures matching a pattern ('resnet*')")
    zl.add_argument("pattern", nargs="?", default="*")
    zl.set_defaults(func=_zoo_list)
    zw = zs.add_parser("show", help="print an architecture's genotype JSON")
    zw.add_argument("name")
    zw.set_defaults(func=_zoo_show)
    ze = zs.add_parser("export", help="write an architecture's genotype JSON to a file")
    ze.add_argument("name")
    ze.add_argument("-o", "--output", type=Path, required=True)
    ze.set_defaults(func=_zoo_export)
    zc = zs.add_parser("check", help="compare params, MACs and outputs with the reference implementation")
    zc.add_argument("name")
    zc.add_argument("--input-size", type=int, default=None)
    zc.set_defaults(func=_zoo_check)
    for module in COMMAND_MODULES:
        importlib.import_module(module).add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        func: Callable[[argparse.Namespace], None] = args.func
        func(args)
    except UsageError as e:
        print(str(e), file=sys.stderr)
        return 2
    except USER_ERRORS as e:
        if debug:
            raise
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"nas: error: {msg}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
