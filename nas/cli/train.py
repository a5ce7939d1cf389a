"""``nas train`` and ``nas transfer``: train an architecture over seeds and report mean ± 95% CI.

Output directory (``--out runs/NAME``)::

    config.json            preset, data set summary, command options
    genotype.json          the genotype trained (after the preset's cells/width and the data set's
                           classes and size)
    seed<S>/               one run: checkpoint.pt (every epoch), metrics.csv, metrics.parquet,
                           tb/ (TensorBoard scalars), result.json
    results.csv/.parquet   one row per seed
    summary.json           mean, standard deviation and 95% confidence half-width per metric
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from pathlib import Path
from typing import Any

# Student-t 0.975 quantiles for 1..30 degrees of freedom (two-sided 95% intervals).
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
    2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
    2.045, 2.042,
)  # fmt: skip

SUMMARY_METRICS = (
    "test_top1", "test_top5", "test_loss", "val_top1", "val_top5", "val_loss", "train_top1",
    "train_loss", "train_seconds", "images_per_second", "data_wait_fraction", "peak_memory_mb",
)  # fmt: skip


def t_quantile_975(df: int) -> float:
    if df < 1:
        return float("nan")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964  # Cornish-Fisher expansion around the normal quantile
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def mean_ci(values: list[float]) -> dict[str, float | int | None]:
    """Mean, sample standard deviation and the half-width of the 95% t-interval of the mean."""
    v = [float(x) for x in values if x is not None]
    n = len(v)
    if n == 0:
        return {"n": 0, "mean": None, "std": None, "ci95": None}
    mean = sum(v) / n
    if n == 1:
        return {"n": 1, "mean": mean, "std": None, "ci95": None}
    std = math.sqrt(sum((x - mean) ** 2 for x in v) / (n - 1))
    return {"n": n, "mean": mean, "std": std, "ci95": t_quantile_975(n - 1) * std / math.sqrt(n)}


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in SUMMARY_METRICS:
        vals = [r.get(k) for r in results]
        if any(v is not None for v in vals):
            out[k] = mean_ci(vals)
    first = results[0] if results else {}
    out.update({k: first.get(k) for k in ("name", "dataset", "params", "aux_params", "macs", "epochs")})
    out["seeds"] = [r["seed"] for r in results]
    return out


def _fmt(s: dict[str, Any], key: str, unit: str = "%") -> str | None:
    m = s.get(key)
    if not m or m["mean"] is None:
        return None
    text = f"{m['mean']:.2f}{unit}"
    if m["ci95"] is not None:
        text = f"{m['mean']:.2f} ± {m['ci95']:.2f}{unit} (95% CI, n={m['n']})"
    return text


# ----------------------------------------------------------------------------------------------------
# shared options


def _add_train_options(p: argparse.ArgumentParser, default_preset: str) -> None:
    from nas.train.presets import preset_names

    p.add_argument(
        "--preset",
        default=default_preset,
        help=f"fidelity preset: {', '.join(preset_names())} (default {default_preset})",
    )
    p.add_argument("--data-dir", type=Path, default=None, help="local data (directory or .tar/.tar.gz)")
    p.add_argument("--cache-dir", type=Path, default=None, help="downloads and decoded arrays (~/.cache/nas)")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--train-subset", type=str, default=None, help="class-balanced subset size ('none': all)")
    p.add_argument("--val-size", type=str, default=None, help="validation images from train (count/fraction)")
    p.add_argument("--image-size", type=int, default=None, help="training resolution")
    p.add_argument("--test-image-size", type=int, default=None, help="evaluation resolution (FixRes)")
    p.add_argument(
        "--cells", type=str, default=None, help="total stage cells ('none': as written / the layout's)"
    )
    p.add_argument(
        "--width", type=str, default=None, help="first stage width C ('none': as written / the layout's)"
    )
    p.add_argument("--num-classes", type=int, default=None, help="classes the network must have")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override any preset field (repeatable), e.g. --set cutout=16 --set schedule=onecycle",
    )
    p.add_argument("--seeds", type=int, default=1, help="number of seeds (reports mean ± 95%% CI)")
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.add_argument("--compile", action="store_true", help="torch.compile the network")
    p.add_argument("--out", type=Path, default=None, help="output directory, e.g. runs/NAME")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoints")
    p.add_argument("--overwrite", action="store_true", help="replace a previous run in --out")
    p.add_argument("--dry-run", action="store_true", help="print what would be trained and stop")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def _preset(args: argparse.Namespace) -> Any:
    from nas.train.presets import get_preset

    over: dict[str, Any] = {}
    for item in args.set:
        if "=" not in item:
            raise ValueError(f"--set takes FIELD=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        over[k.strip().replace("-", "_")] = v
    for k in ("epochs", "batch_size", "lr", "image_size", "test_image_size"):
        if getattr(args, k) is not None:
            over[k] = getattr(args, k)
    for k in ("train_subset", "val_size", "cells", "width"):
        if getattr(args, k) is not None:
            over[k] = getattr(args, k)
    if args.compile:
        over["compile"] = True
    if args.seeds < 1:
        raise ValueError("--seeds must be >= 1")
    return get_preset(args.preset, **over)


_RUN_FILES = ("config.json", "genotype.json", "summary.json", "results.csv", "results.parquet")


def _prepare_out(out: Path, resume: bool, overwrite: bool) -> None:
    if resume and overwrite:
        raise ValueError("--resume and --overwrite exclude each other")
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a directory")
    previous = out.is_dir() and (
        any((out / f).exists() for f in _RUN_FILES) or any(out.glob("seed*/checkpoint.pt"))
    )
    if previous and overwrite:
        for f in _RUN_FILES:
            (out / f).unlink(missing_ok=True)
        for d in out.glob("seed*"):
            if d.is_dir():
                shutil.rmtree(d)
    elif previous and not resume:
        raise ValueError(
            f"{out} already holds a run; pass --resume to continue it or --overwrite to replace it"
        )
    out.mkdir(parents=True, exist_ok=True)


def _check_classes(expected: int | None, ds_classes: int, what: str, dataset: str) -> None:
    if expected is None or expected == ds_classes:
        return
    if what.startswith("--num-classes"):
        raise ValueError(
            f"--num-classes {expected} does not match data set {dataset}, which has {ds_classes} classes"
        )
    raise ValueError(
        f"{what} has {expected} classes but data set {dataset} has {ds_classes}; "
        f"pass --num-classes {ds_classes} to retrain its classifier for them"
    )


def run_training(
    genotype: Any,
    ds: Any,
    preset: Any,
    args: argparse.Namespace,
    extra: dict[str, Any] | None = None,
    prepare: bool = True,
) -> list[dict[str, Any]]:
    """Train ``genotype`` on ``ds`` for every seed, write the outputs, print the summary."""
    from dataclasses import replace

    from nas.train.trainer import Trainer

    out: Path = args.out
    if prepare:
        _prepare_out(out, args.resume, args.overwrite)
    (out / "genotype.json").write_text(genotype.to_json(indent=1) + "\n")
    config = {
        "arch": args.arch,
        "preset": preset.to_dict(),
        "data": ds.summary(),
        "seeds": list(range(args.seed, args.seed + args.seeds)),
        "device": args.device,
        **(extra or {}),
    }
    (out / "config.json").write_text(json.dumps(config, indent=1, default=str) + "\n")
    base = preset.train_config()
    results = []
    try:
        for s in range(args.seed, args.seed + args.seeds):
            if not args.no_progress:
                print(f"== {genotype.name} on {ds.name}, seed {s} → {out / f'seed{s}'}", file=sys.stderr)
            trainer = Trainer(
                genotype,
                ds,
                replace(base, seed=s),
                device=args.device,
                out_dir=out / f"seed{s}",
                resume=args.resume,
                progress=not args.no_progress,
            )
            results.append(trainer.fit())
    except KeyboardInterrupt:
        print(
            f"nas: interrupted; finished epochs are checkpointed in {out} (continue with --resume)",
            file=sys.stderr,
        )
        raise SystemExit(130) from None
    import pandas as pd

    flat = [{k: v for k, v in r.items() if not isinstance(v, dict | list)} for r in results]
    pd.DataFrame(flat).to_csv(out / "results.csv", index=False)
    pd.DataFrame(flat).to_parquet(out / "results.parquet", index=False)
    summary = summarize(results)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        lines = [f"{summary['name']} on {ds.name}: {len(results)} seed(s), {summary['epochs']} epochs"]
        for key, label in (
            ("test_top1", "test top-1"),
            ("test_top5", "test top-5"),
            ("val_top1", "val top-1"),
        ):
            text = _fmt(summary, key)
            if text:
                lines.append(f"  {label:11s} {text}")
        ips = summary.get("images_per_second", {}).get("mean")
        macs = summary.get("macs")
        lines.append(
            f"  params {summary['params'] / 1e6:.3f}M"
            + (f", MACs {macs / 1e6:.1f}M" if macs else "")
            + (f", {ips:.0f} img/s" if ips else "")
        )
        lines.append(f"  outputs in {out}")
        print("\n".join(lines))
    return results


def _setup(args: argparse.Namespace) -> None:
    import torch

    from nas.train.trainer import check_device

    if args.threads is not None:
        if args.threads < 1:
            raise ValueError("--threads must be >= 1")
        torch.set_num_threads(args.threads)
    check_device(args.device)


# ----------------------------------------------------------------------------------------------------
# nas train


def _expected_classes(arch: str, num_classes: int | None) -> tuple[int | None, str]:
    """The class count the user committed to: --num-classes, else a genotype file's own (a zoo name's
    class count is only a default and follows the data set)."""
    from nas.core.resolve import resolve

    if num_classes is not None:
        return num_classes, f"--num-classes {num_classes}"
    if arch.endswith(".json") or "/" in arch:
        g = resolve(arch)
        return getattr(g, "num_classes", None), f"genotype {arch}"
    return None, arch


def _train(args: argparse.Namespace) -> None:
    from nas.core.genotype import Network
    from nas.core.resolve import resolve
    from nas.data.datasets import load_dataset
    from nas.train.presets import apply_preset
    from nas.train.trainer import fit_genotype

    _setup(args)
    preset = _preset(args)
    if args.out is None and not args.dry_run:
        raise ValueError("--out is required (e.g. --out runs/NAME)")
    net = resolve(args.arch)
    if not isinstance(net, Network):
        raise ValueError(f"{args.arch} is a single cell; nas train takes a network")
    expected, what = _expected_classes(args.arch, args.num_classes)
    where = args.dataset + (f" ({args.data_dir})" if args.data_dir is not None else "")
    ds = load_dataset(
        args.dataset,
        args.data_dir,
        cache_dir=args.cache_dir,
        num_classes=expected if args.dataset == "synthetic" else None,
        check_classes=lambda k: _check_classes(expected, k, what, where),
        **preset.data_options(),
    )
    notes: list[str] = []
    net = apply_preset(net, preset, notes)
    if notes and not args.json:
        print("; ".join(notes) + " (--cells none --width none: train it as written)", file=sys.stderr)
    genotype = fit_genotype(net, ds.num_classes, ds.image_size, aux=preset.aux_weight > 0)
    if args.dry_run:
        _print_plan(genotype, ds, preset, args)
        return
    run_training(genotype, ds, preset, args)


def _print_plan(genotype: Any, ds: Any, preset: Any, args: argparse.Namespace, **extra: Any) -> None:
    from nas.tools.describe import describe

    d = describe(genotype.replace(aux=()))
    plan = {
        "would_train": genotype.name,
        "cells": genotype.num_cells,
        "params": d["params"],
        "macs": d["macs"],
        "aux_heads": len(genotype.aux),
        "input_size": list(genotype.input_size),
        "num_classes": genotype.num_classes,
        "data": ds.summary(),
        "seeds": list(range(args.seed, args.seed + args.seeds)),
        "preset": preset.to_dict(),
        **extra,
    }
    print(json.dumps(plan, indent=1, default=str))


def add_parser(sub: argparse._SubParsersAction) -> None:
    """``nas train`` and ``nas transfer``."""
    t = sub.add_parser(
        "train",
        help="train an architecture on a data set (mean ± 95%% CI over seeds)",
        description="Train a zoo name or genotype JSON; metrics and checkpoints go to --out.",
    )
    t.add_argument("arch", help="a zoo name (see `nas zoo list`) or a genotype JSON file")
    t.add_argument(
        "--dataset",
        default="cifar10",
        help="cifar10, cifar100, imagefolder (with --data-dir), synthetic, or a path",
    )
    _add_train_options(t, "small")
    t.set_defaults(func=_train)

    x = sub.add_parser(
        "transfer",
        help="build the ImageNet network of a CIFAR-found cell genotype and train it",
        description="Stack a NASNet/DARTS-style genotype's cells in the ImageNet layout, write the new "
        "genotype JSON, and train it on an ImageFolder (or print the plan with --dry-run).",
    )
    x.add_argument("arch", metavar="GENOTYPE", help="a zoo name or genotype JSON of a cell network")
    x.add_argument("--to", choices=("imagenet",), required=True, help="target setting")
    x.add_argument(
        "--layout", default="darts", help="darts (14 cells, C=48), nasnet_mobile (4@1056), N@F, ..."
    )
    x.add_argument("--no-aux", action="store_true", help="no auxiliary head")
    x.add_argument("-o", "--output", type=Path, default=None, help="where to write the ImageNet genotype")
    x.set_defaults(dataset="imagefolder")
    _add_train_options(x, "imagenet")
    x.set_defaults(func=_transfer)


# ----------------------------------------------------------------------------------------------------
# nas transfer


def _transfer(args: argparse.Namespace) -> None:
    from nas.core.genotype import Network, save
    from nas.core.resolve import resolve
    from nas.data.datasets import load_dataset
    from nas.train.trainer import fit_genotype

    # search_spaces is a layer above nas core, which must not import it; the CLI is the top layer,
    # so this handler imports the ImageNet layout logic lazily, here and only here.
    from search_spaces.transfer import to_imagenet

    _setup(args)
    preset = _preset(args)
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
        check_classes=lambda k: _check_classes(args.num_classes, k, what, str(args.data_dir)),
        **preset.data_options(),
    )
    cells = int(preset.cells) if preset.cells else None
    width = int(preset.width) if preset.width else None
    net = to_imagenet(
        src,
        layout=args.layout,
        cells=cells,
        width=width,
        num_classes=ds.num_classes,
        image_size=ds.image_size[1],
        auxiliary=not args.no_aux,
    )
    genotype = fit_genotype(net, ds.num_classes, ds.image_size, aux=preset.aux_weight > 0 and not args.no_aux)
    if not args.dry_run:
        _prepare_out(args.out, args.resume, args.overwrite)
    path = args.output or (args.out or Path(".")) / f"{net.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    save(net, path)
    print(f"wrote {path}", file=sys.stderr)
    if args.dry_run:
        _print_plan(genotype, ds, preset, args, genotype_path=str(path), source=src.name, layout=args.layout)
        return
    extra = {"source": src.name, "layout": args.layout, "imagenet_genotype": str(path)}
    run_training(genotype, ds, preset, args, extra=extra, prepare=False)
