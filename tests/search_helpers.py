"""Shared by the search tests and benchmarks/bench_strategies.py: a synthetic NAS-Bench-201 table.

Every one of the 15,625 NB201 arch strings gets a smooth pseudo-accuracy: a per-(edge, op) effect (convs
help, ``none`` hurts, with seeded noise per edge) plus small seeded pairwise interactions, squashed into
60–94 %; cells with no input→output path score 10 % (as in the real benchmark). One mutation changes the
score a little, so strategies that exploit structure (evolution, TPE, RL) can beat random sampling.
"""

from __future__ import annotations

import csv
import itertools
import math
import random
from pathlib import Path


def synthetic_nb201_table(seed: int = 0) -> dict[str, float]:
    from search_spaces.nb201 import FIELDS, OPS, arch_string, live_edges

    rng = random.Random(seed)
    base = {"none": -3.0, "skip_connect": 0.0, "nor_conv_1x1": 1.5, "nor_conv_3x3": 2.5, "avg_pool_3x3": -0.5}
    w = {(f, o): base[o] + rng.gauss(0, 0.8) for f in FIELDS for o in OPS}
    pairs = list(itertools.combinations(range(len(FIELDS)), 2))
    inter = {(a, b, oa, ob): rng.gauss(0, 0.4) for a, b in pairs for oa in OPS for ob in OPS}
    table: dict[str, float] = {}
    for ops in itertools.product(OPS, repeat=len(FIELDS)):
        c = dict(zip(FIELDS, ops))
        if not live_edges(c):
            acc = 10.0
        else:
            s = sum(w[(f, o)] for f, o in c.items()) + sum(inter[(a, b, ops[a], ops[b])] for a, b in pairs)
            acc = 60.0 + 34.0 / (1.0 + math.exp(-(s - 4.0) / 4.0))
        table[arch_string(c)] = round(acc, 4)
    return table


def write_table(path: Path, table: dict[str, float], metric: str = "val_acc") -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arch", metric, "params_m"])
        for arch, acc in table.items():
            w.writerow([arch, acc, round(len(arch) / 100, 3)])
    return path


def best_found(strategy: str, table: dict[str, float], seed: int, queries: int, **options) -> list[float]:
    """Best-so-far curve of a strategy driven ask/tell on the table (each proposal is one query)."""
    from nas.core.registry import SPACES
    from nas.search.strategies import make_strategy
    from search_spaces.nb201 import arch_string

    s = make_strategy(strategy, SPACES["nb201"](), seed=seed, **options)
    best, curve = -math.inf, []
    for _ in range(queries):
        c = s.propose()
        v = table[arch_string(c)]
        s.observe(c, v)
        best = max(best, v)
        curve.append(best)
    return curve
