"""Zero-cost proxy scores of every NAS-Bench-201 isomorphism class, cached for the strategy benchmark.

``bench_strategies.py --warm PROXY:N:K`` simulates ``nas search --prescreen PROXY:N --train-top K`` over 30
seeds; scoring the candidates anew for each seed would cost hours, so each of the 8,765 isomorphism classes
of ``search_spaces.nb201.isomorphism_classes`` is scored once, with the project's own proxy code exactly as
the pre-screen scores a candidate (``nas.search.zero_cost.score_genotype``: one build with weights seeded
by ``--seed``, no images: synflow and params read none; the same call ``run_prescreen`` makes).

A class is scored on one member, its representative: the member with the fewest non-``none`` edges (ties:
the smaller arch string), i.e. the class with its dead edges switched off. The driver scores the member it
sampled instead; they differ only in the weights of dead edges (params counts them; synflow sees none of
them, since no signal flows through a dead edge), so the cache is the pruned network's score.

Output ``benchmarks/results/nb201_<proxy>.csv``: ``arch`` (the representative), ``score``, ``cpu_s`` (one
build plus the proxy, process CPU seconds, as the pre-screen charges it), ``source``. Resumable: rows
already in the file are kept and not scored again. ``--fill`` (params only) completes a partial cache with
the parameter count's closed form once it matches every scored class (``source`` ``closed-form``, ``cpu_s``
the scored rows' mean).

``nb201_params.csv`` (2026-12-02, seed 0, single-threaded, niced, on a 2-core machine shared with a
training run): the proxy scored 5,475 classes (mean 0.17 CPU-s each, 0.08 on an idle core: the build;
counting is free, 937 CPU-s in all), then the run was stopped for time and ``--fill`` added the other
3,290, the closed form having matched all 5,475 exactly. synflow (about 0.18 CPU-s a class) was not run.

    nice -n 19 python benchmarks/bench_proxy_cache.py [--proxy params] [--seed 0] [--limit N] [--fill]
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import torch

from nas.core.registry import SPACES
from nas.search.zero_cost import check_proxy, score_genotype
from search_spaces.nb201 import isomorphism_classes, parse_arch_string

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def representative(members: list[str]) -> str:
    """The member with the fewest non-``none`` edges (then the smallest arch string)."""
    return min(members, key=lambda a: (sum(op != "none" for op in parse_arch_string(a).values()), a))


def cache_path(proxy: str) -> Path:
    return RESULTS / f"nb201_{proxy}.csv"


def read_cache(path: Path) -> dict[str, tuple[float, float]]:
    """``{representative arch: (score, cpu_s)}`` from a cache file (empty if absent)."""
    if not path.is_file():
        return {}
    with open(path, newline="") as f:
        return {r["arch"]: (float(r["score"]), float(r["cpu_s"])) for r in csv.DictReader(f)}


CONV_KERNELS = {"nor_conv_1x1": 1, "nor_conv_3x3": 9}  # k² of NB201's ReLU-conv-BN edges


def params_closed_form(arch: str) -> int:
    """The parameters that depend on the cell, less a constant: each ReLU-conv-BN edge has C²k² weights
    (no bias) and 2C batch-norm ones, in 5 cells at each of C = 16, 32, 64."""
    ops = parse_arch_string(arch).values()
    return sum(5 * (C * C * CONV_KERNELS[o] + 2 * C) for C in (16, 32, 64) for o in ops if o in CONV_KERNELS)


def fill_params(path: Path, reps: list[str]) -> None:
    """Complete a partial ``params`` cache with the closed form, after checking that it equals (up to one
    constant, the stem, reduction blocks and head) the proxy on every class the proxy scored; filled rows
    have ``source`` ``closed-form`` and the scored rows' mean ``cpu_s`` (what the proxy would cost)."""
    done = read_cache(path)
    offsets = {score - params_closed_form(a) for a, (score, _) in done.items()}
    if len(offsets) != 1:
        raise SystemExit(f"{path}: the closed form does not match the proxy ({len(offsets)} offsets)")
    offset, mean_cpu = offsets.pop(), sum(c for _, c in done.values()) / len(done)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["arch", "score", "cpu_s", "source"])
        for a in reps:
            if a in done:
                w.writerow([a, repr(done[a][0]), f"{done[a][1]:.4f}", "proxy"])
            else:
                w.writerow([a, repr(offset + params_closed_form(a)), f"{mean_cpu:.4f}", "closed-form"])
    print(f"{path}: {len(done)} classes scored by the proxy, {len(reps) - len(done)} by the closed form")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0, help="weight-initialisation seed (the run seed)")
    ap.add_argument("--limit", type=int, default=None, help="score at most this many new classes")
    ap.add_argument("--proxy", default="params", help="a proxy that reads no images (params, synflow, macs)")
    ap.add_argument("--fill", action="store_true", help="params: complete the cache with the closed form")
    args = ap.parse_args()
    check_proxy(args.proxy, "--proxy")
    torch.set_num_threads(1)
    space = SPACES["nb201"]()
    out = cache_path(args.proxy)
    done = read_cache(out)
    reps = sorted(representative(m) for m in isomorphism_classes().values())
    if args.fill:
        if args.proxy != "params":
            raise SystemExit("--fill: only params has a closed form")
        return fill_params(out, reps)
    todo = [a for a in reps if a not in done][: args.limit]
    new = not out.is_file()
    t0 = time.process_time()
    with open(out, "a", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        if new:
            w.writerow(["arch", "score", "cpu_s", "source"])
        for i, arch in enumerate(todo):
            r = score_genotype(space.decode(parse_arch_string(arch)), [args.proxy], None, args.seed)
            w.writerow([arch, repr(r[args.proxy]["score"]), f"{r[args.proxy]['cpu_s']:.4f}", "proxy"])
            if i % 200 == 199:
                f.flush()
                print(f"{len(done) + i + 1}/{len(reps)}  {time.process_time() - t0:.0f} CPU-s", flush=True)
    total = read_cache(out)
    cpu = sum(c for _, c in total.values())
    print(f"{len(total)}/{len(reps)} classes, {cpu:.0f} CPU-s in all ({cpu / max(len(total), 1):.3f} each)")


if __name__ == "__main__":
    main()
