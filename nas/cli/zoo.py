"""``nas zoo``: list the architecture zoo, print or export a genotype, check one against its reference."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from nas.cli.options import command, finish, positive_int, subcommands
from nas.core.genotype import save
from nas.core.registry import ARCHS
from nas.core.resolve import resolve
from nas.tools.describe import describe
from nas.tools.sizeguard import check_network
from nas.weights.reference import compare

NAME_HELP = "a zoo name (see `nas zoo list`)"


def _name(name: str) -> str:
    if name not in ARCHS:
        ARCHS.entry(name)  # raises the "unknown architecture" error with suggestions
    return name


def _list(args: argparse.Namespace) -> None:
    names = ARCHS.list(args.pattern)
    if not names:
        raise ValueError(f"no architecture matches {args.pattern!r}")
    for n in names:
        meta = ARCHS.entry(n).meta
        ref = meta.get("reference")
        print(f"{n:24s} {meta.get('family', ''):16s} {'torchvision.models.' + ref if ref else ''}".rstrip())


def _show(args: argparse.Namespace) -> None:
    print(resolve(_name(args.name)).to_json(indent=1))


def _export(args: argparse.Namespace) -> None:
    print(save(resolve(_name(args.name)), args.output))


def _check(args: argparse.Namespace) -> None:
    size = args.input_size or ARCHS.entry(_name(args.name)).meta.get("test_size")
    check_network(describe(args.name, input_size=size), batch=2)  # compare() runs two images for real
    r = compare(args.name, input_size=args.input_size)
    ok = (
        r["params"] == r["reference_params"] and r["macs"] == r["reference_macs"] and r["max_rel_diff"] < 1e-5
    )
    r["match"] = ok
    print(json.dumps(r, indent=1))
    if not ok:
        raise SystemExit(1)


def add_parser(sub: Any) -> None:
    """Register ``nas zoo list|show|export|check``."""
    z = command(
        sub,
        "zoo",
        help="the architecture zoo: list, show, export, check against a reference",
        example="nas zoo list 'resnet*'",
    )
    zs = subcommands(z, "zoo_command")
    zl = command(
        zs,
        "list",
        help="list architectures matching a pattern ('resnet*')",
        example="nas zoo list 'efficientnet*'",
    )
    zl.add_argument("pattern", nargs="?", default="*", help="a shell-style name pattern (default: *, all)")
    finish(zl, _list)
    zw = command(zs, "show", help="print an architecture's genotype JSON", example="nas zoo show resnet18")
    zw.add_argument("name", help=NAME_HELP)
    finish(zw, _show)
    ze = command(
        zs,
        "export",
        help="write an architecture's genotype JSON to a file",
        example="nas zoo export resnet50 -o resnet50.json",
    )
    ze.add_argument("name", help=NAME_HELP)
    ze.add_argument("-o", "--output", type=Path, required=True, help="the genotype JSON file to write")
    finish(ze, _export)
    zc = command(
        zs,
        "check",
        help="compare params, MACs and outputs with the reference implementation",
        example="nas zoo check resnet18 --input-size 32",
    )
    zc.add_argument("name", help=NAME_HELP)
    zc.add_argument(
        "--input-size",
        type=positive_int,
        default=None,
        help="input height and width (default: the zoo entry's test size, else its own)",
    )
    finish(zc, _check)
