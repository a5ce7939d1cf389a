"""Trainer throughput vs a minimal hand-written PyTorch loop, and the time spent waiting for data.

Both train a zoo ResNet-20 (built by ``nas.build`` from the same seed) on the same in-memory CIFAR-10
tensors (the shared JPEG archive through ``nas.data.datasets``; synthetic data when it is absent), batch 128,
SGD with Nesterov momentum and weight decay. Epochs alternate between the contenders (order flipped
every round, ABBA-style) so that drifting machine load hits both alike; the first epoch of each is a
warm-up and is not counted.

* ``trainer`` — ``nas.train.trainer.Trainer`` as every trial uses it: uint8 images on the device, batched
  random crop + flip, per-step cosine learning rate, no decay on BN/bias, metrics accumulated on the
  device, channels-last (its default on CPU and CUDA).
* ``minimal`` — the loop a user writes: pre-normalised float tensors, ``randperm`` batches,
  ``model(x)``, ``cross_entropy``, ``zero_grad``, ``backward``, ``step``; no augmentation (less work).
* ``minimal_channels_last`` — the same loop with the model and batches in channels-last: the
  framework overhead alone, at equal memory format.

The data-wait fraction is the trainer's own measurement: the time inside ``next(loader)`` (indexing,
augmentation, normalisation) over the epoch's wall time.

    python benchmarks/bench_trainer.py [--rounds 4] [--images 2560] [--threads 1] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import nas
from nas.data.datasets import load_dataset
from nas.train.config import TrainConfig
from nas.train.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
CIFAR_TAR = [ROOT.parent / "shared/data/cifar10-jpeg.tar.gz", Path("/work/shared/data/cifar10-jpeg.tar.gz")]


def minimal_epoch(model, opt, X, Y, batch: int, gen: torch.Generator, channels_last: bool) -> float:
    """One epoch of the hand-written loop; returns images/s."""
    dev = X.device
    n = (len(X) // batch) * batch
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    t0 = time.perf_counter()
    perm = torch.randperm(len(X), generator=gen).to(dev)
    model.train()
    for i in range(0, n, batch):
        idx = perm[i : i + batch]
        x, y = X[idx], Y[idx]
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=4, help="timed epochs per contender")
    ap.add_argument("--images", type=int, default=2560, help="training images (a balanced subset)")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/trainer.json")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)

    tar = next((p for p in CIFAR_TAR if p.is_file()), None)
    opts = {"val_size": 0, "train_subset": args.images, "test_subset": 100}
    if tar is not None:
        ds = load_dataset("cifar10", tar, cache_dir=args.cache_dir, **opts)
    else:
        ds = load_dataset("synthetic", num_classes=10, **opts)
    cfg = TrainConfig(epochs=args.rounds + 1, batch_size=args.batch_size, lr=0.1, evaluate_test=False)

    torch.manual_seed(0)
    trainer = Trainer("resnet20", ds, cfg, device=dev)
    contenders = {}
    for name, cl in (("minimal", False), ("minimal_channels_last", True)):
        torch.manual_seed(0)
        model = nas.build("resnet20").to(dev)
        if cl:
            model = model.to(memory_format=torch.channels_last)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
        contenders[name] = (model, opt, cl)
    mean = torch.tensor(ds.mean, device=dev).view(1, 3, 1, 1)
    std = torch.tensor(ds.std, device=dev).view(1, 3, 1, 1)
    X = ((ds.train.images.to(dev).float() / 255 - mean) / std).contiguous()
    Y = ds.train.labels.to(dev)
    gen = torch.Generator().manual_seed(0)

    runs: dict[str, list[float]] = {"trainer": [], "minimal": [], "minimal_channels_last": []}
    waits: list[float] = []

    def run(name: str, timed: bool) -> None:
        if name == "trainer":
            rec = trainer.train_epoch()
            trainer.epoch += 1
            ips = rec["images_per_second"]
            if timed:
                waits.append(rec["data_wait_fraction"])
        else:
            model, opt, cl = contenders[name]
            ips = minimal_epoch(model, opt, X, Y, args.batch_size, gen, cl)
        if timed:
            runs[name].append(ips)
        print(f"{'  ' if timed else '~ '}{name:22s} {ips:8.1f} img/s", file=sys.stderr)

    order = list(runs)
    for name in order:  # warm-up
        run(name, False)
    for r in range(args.rounds):
        for name in order if r % 2 == 0 else order[::-1]:
            run(name, True)

    med = {k: statistics.median(v) for k, v in runs.items()}
    result = {
        "benchmark": "trainer images/s vs a minimal hand-written loop (ResNet-20, same in-memory tensors)",
        "data": "cifar10-jpeg (shared)" if tar is not None else "synthetic",
        "train_images": len(ds.train),
        "batch_size": args.batch_size,
        "rounds": args.rounds,
        "device": str(dev) if dev.type != "cuda" else torch.cuda.get_device_name(dev),
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "trainer_config": {"augment": "crop 4 + flip", "schedule": "cosine", "nesterov": True},
        "images_per_second": {k: [round(x, 1) for x in v] for k, v in runs.items()},
        "median_images_per_second": {k: round(v, 1) for k, v in med.items()},
        "speedup_vs_minimal": round(med["trainer"] / med["minimal"], 3),
        "speedup_vs_minimal_channels_last": round(med["trainer"] / med["minimal_channels_last"], 3),
        "per_round_speedup_vs_minimal": [round(a / b, 3) for a, b in zip(runs["trainer"], runs["minimal"])],
        "data_wait_fraction": {
            "median": round(statistics.median(waits), 4),
            "max": round(max(waits), 4),
        },
        "targets": {"speedup_vs_minimal": ">= 1.00", "data_wait_fraction": "< 0.05"},
    }
    result["meets_targets"] = (
        result["speedup_vs_minimal"] >= 1.0 and result["data_wait_fraction"]["max"] < 0.05
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
