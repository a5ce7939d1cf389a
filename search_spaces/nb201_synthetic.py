"""A synthetic NAS-Bench-201 ground-truth table: every one of the 15,625 NB201 arch strings with a smooth,
seeded pseudo-accuracy, for testing and benchmarking search strategies without the real benchmark.

The score is a per-(edge, op) effect (convs help, ``none`` hurts, with seeded noise per edge) plus small
seeded pairwise interactions, squashed into 60–94 %; cells with no input→output path score 10 % (as in the
real benchmark). One mutation changes the score a little, so strategies that exploit structure
(evolution, TPE, RL) can beat random sampling. Used by the search tests and
``benchmarks/bench_strategies.py`` (the same table for both).
"""

from __future__ import annotations

import itertools
import math
import random

from search_spaces.nb201 import FIELDS, OPS, arch_string, live_edges


def synthetic_nb201_table(seed: int = 0) -> dict[str, float]:
    """``{arch string: pseudo-accuracy}`` for the whole NB201 space, the same for the same ``seed``."""
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
