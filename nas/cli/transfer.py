"""``nas transfer``: stack a CIFAR-found cell genotype's cells in an ImageNet layout and train it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from nas.cli.options import command, finish
from nas.cli.train import (
    add_train_options,
    check_classes,
    prepare_out,
    preset_from,
    print_plan,
    run_training,
    setup,
)
from nas.core.genotype import Network, save
from nas.core.registry import LAYOUTS
from nas.core.resolve import resolve
from nas.data.datasets import load_dataset
from nas.train.trainer import fit_genotype


def _transfer(args: argparse.Namespace) -> None:
    setup(args)
    preset = preset_from(args)
    if args.data_dir is None:
        raise ValueError("nas transfer needs --data-dir (an ImageFolder directory or archive)")
    if args.out is None and not args.dry_run:
        raise ValueError("--out is required (e.g. --out runs/NAME), or pass --dry-run")
    src = resolve(args.arch)
    if not isinstance(src, Network):
        raise ValueError(f"{args.arch} is a single cell; transfer takes a cell network genotype")
    what = f"--num-classes {args.num_classes}"
    ds = load_dataset(
        "imagefolder",
        args.data_dir,
        cache_dir=args.cache_dir,
        check_classes=lambda k: check_classes(args.num_classes, k, what, str(args.data_dir)),
        **preset.data_options(),
    )
    cells = int(preset.cells) if preset.cells else None
    width = int(preset.width) if preset.width else None
    to_imagenet = LAYOUTS["imagenet"](args.layout, cells=cells, width=width, auxiliary=not args.no_aux)
    net = to_imagenet(src, num_classes=ds.num_classes, image_size=ds.image_size[1])
    genotype = fit_genotype(net, ds.num_classes, ds.image_size, aux=preset.aux_weight > 0 and not args.no_aux)
    if not args.dry_run:
        prepare_out(args.out, args.resume, args.overwrite)
    path = args.output or (args.out or Path(".")) / f"{net.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    save(net, path)
    print(f"wrote {path}", file=sys.stderr)
    if args.dry_run:
        print_plan(genotype, ds, preset, args, genotype_path=str(path), source=src.name, layout=args.layout)
        return
    extra = {"source": src.name, "layout": args.layout, "imagenet_genotype": str(path)}
    run_training(genotype, ds, preset, args, extra=extra, prepare=False)


def add_parser(sub: Any) -> None:
    """Register ``nas transfer``."""
    x = command(
        sub,
        "transfer",
        help="build the ImageNet network of a CIFAR-found cell genotype and train it",
        description="Stack a NASNet/DARTS-style genotype's cells in the ImageNet layout, write the new "
        "genotype JSON, and train it on an ImageFolder (or print the plan with --dry-run).",
        example="nas transfer darts_v2_cifar --to imagenet --data-dir /data/imagenet --out runs/darts_in",
    )
    x.add_argument("arch", metavar="GENOTYPE", help="a zoo name or genotype JSON of a cell network")
    x.add_argument("--to", choices=("imagenet",), required=True, help="target setting")
    x.add_argument(
        "--layout", default="darts", help="darts (default: 14 cells, C=48), nasnet_mobile (4@1056), N@F, ..."
    )
    x.add_argument("--no-aux", action="store_true", help="no auxiliary head")
    x.add_argument("-o", "--output", type=Path, default=None, help="where to write the ImageNet genotype")
    x.set_defaults(dataset="imagefolder")
    add_train_options(x, "imagenet")
    finish(x, _transfer)
