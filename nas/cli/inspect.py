"""``nas describe``, ``nas draw`` and ``nas validate``: look at one architecture (a zoo name or a file),
or at what differs between two (``nas draw --diff A B``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from nas.cli.options import add_format, command, finish, positive_int
from nas.core.compile import validate
from nas.core.errors import ConfigError
from nas.core.genotype import Network
from nas.core.graph import canonical_key
from nas.core.resolve import resolve
from nas.tools.describe import describe, write
from nas.tools.draw import draw, draw_diff
from nas.tools.sizeguard import check_network

ARCH_HELP = "a zoo name (see `nas zoo list`) or a genotype JSON file"


def _describe(args: argparse.Namespace) -> None:
    d = describe(args.arch, input_size=args.input_size, num_classes=args.num_classes)
    check_network(d)  # a network no device could hold is an error, not a table
    print(write(d, args.format, args.output))


def _draw(args: argparse.Namespace) -> None:
    if args.diff is not None:
        if args.arch is not None or args.cell is not None or args.network:
            raise ConfigError("diff", "takes the two architectures itself: give no ARCH, --cell or --network")
        # a diff is of structure: each drawn cell's is checked (check_structure), not every op's settings
        a, b = (resolve(x) for x in args.diff)
        diffs = draw_diff(a, b, args.output, names=(Path(args.diff[0]).stem, Path(args.diff[1]).stem))
        if args.format == "json":
            print(json.dumps({"output": str(args.output), "diffs": [d.to_dict() for d in diffs]}, indent=1))
        else:
            print("\n".join(line for d in diffs for line in d.lines()))
            print(args.output)
        return
    if args.arch is None:
        raise ValueError("draw needs an architecture (ARCH) or --diff A B")
    # a stage diagram builds the network (on the meta device), which checks it as validate() would
    g = resolve(args.arch) if args.network else validate(args.arch)
    print(draw(g, args.output, cell=args.cell, network=args.network))


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
        help="draw a cell, a network's stage cells or stage diagram, or a diff of two, to PNG/SVG/PDF",
        example=[
            "nas draw darts_v2_cifar --cell darts_v2_normal -o normal.svg",
            "nas draw resnet50 --network -o resnet50.png",
            "nas draw --diff darts_v1_cifar darts_v2_cifar -o diff.png",
        ],
    )
    dr.add_argument("arch", nargs="?", default=None, help=ARCH_HELP)
    dr.add_argument("-o", "--output", type=Path, required=True, help="the picture file (.png, .svg or .pdf)")
    dr.add_argument("--cell", default=None, help="which cell of a network (a cell name, 'stem' or 'head')")
    dr.add_argument(
        "--network",
        action="store_true",
        help="draw the whole network as a stage diagram: stem, stages (repeats × cell, width, stride, "
        "output shape, params), head",
    )
    dr.add_argument(
        "--diff",
        nargs=2,
        metavar=("A", "B"),
        default=None,
        help="draw two architectures' cells side by side and print what differs: nodes matched by name, "
        "normal cells (and reduction cells when both have them) of networks; removed red, added green, "
        "changed orange",
    )
    add_format(dr, ("table", "json"))
    finish(dr, _draw)

    v = command(
        sub,
        "validate",
        help="check a genotype completely and print its canonical key",
        example="nas validate my_net.json",
    )
    v.add_argument("arch", help=ARCH_HELP)
    finish(v, _validate)
