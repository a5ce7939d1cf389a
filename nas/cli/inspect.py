"""``nas describe``, ``nas draw`` and ``nas validate``: look at one architecture (a zoo name or a file)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from nas.cli.options import add_format, command, finish, positive_int
from nas.core.compile import validate
from nas.core.genotype import Network
from nas.core.graph import canonical_key
from nas.core.resolve import resolve
from nas.tools.describe import describe, write
from nas.tools.draw import draw
from nas.tools.sizeguard import check_network

ARCH_HELP = "a zoo name (see `nas zoo list`) or a genotype JSON file"


def _describe(args: argparse.Namespace) -> None:
    d = describe(args.arch, input_size=args.input_size, num_classes=args.num_classes)
    check_network(d)  # a network no device could hold is an error, not a table
    print(write(d, args.format, args.output))


def _draw(args: argparse.Namespace) -> None:
    print(draw(validate(args.arch), args.output, cell=args.cell))  # a broken genotype draws nothing


def _validate(args: argparse.Namespace) -> None:
    g = resolve(args.arch)
    if isinstance(g, Network):
        check_network(describe(g))  # sizes first: checking the structure builds it on the meta device
    g = validate(g)
    print(json.dumps({"name": g.name, "valid": True, "key": canonical_key(g)}))


def add_parser(sub: Any) -> None:
    """Register ``nas describe``, ``nas draw`` and ``nas validate``."""
    d = command(
        sub,
        "describe",
        help="per-layer table, params, MACs, depth, memory",
        description="Print a network's per-layer table (shapes, filters, params, MACs, activation memory) "
        "and its totals.",
        example="nas describe resnet50 --input-size 224 --format json -o resnet50.json",
    )
    d.add_argument("arch", help=ARCH_HELP)
    d.add_argument(
        "--input-size",
        type=positive_int,
        default=None,
        help="input height and width (default: the genotype's)",
    )
    d.add_argument(
        "--num-classes",
        type=positive_int,
        default=None,
        help="classes of the classifier (default: the genotype's)",
    )
    add_format(d, ("table", "json", "csv"))
    d.add_argument("-o", "--output", type=Path, default=None, help="also write to this file")
    finish(d, _describe)

    dr = command(
        sub,
        "draw",
        help="draw a cell (or a network's stage cells) to PNG/SVG/PDF",
        example="nas draw darts_v2_cifar --cell darts_v2_normal -o normal.svg",
    )
    dr.add_argument("arch", help=ARCH_HELP)
    dr.add_argument("-o", "--output", type=Path, required=True, help="the picture file (.png, .svg or .pdf)")
    dr.add_argument("--cell", default=None, help="which cell of a network (a cell name, 'stem' or 'head')")
    finish(dr, _draw)

    v = command(
        sub,
        "validate",
        help="check a genotype completely and print its canonical key",
        example="nas validate my_net.json",
    )
    v.add_argument("arch", help=ARCH_HELP)
    finish(v, _validate)
