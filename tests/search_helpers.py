"""Helpers of the search tests around the synthetic NAS-Bench-201 table
(:func:`search_spaces.nb201_synthetic.synthetic_nb201_table`): write it as a CSV, drive a strategy on it.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path


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


def damaged_run(name: str | None = None, text: str | None = None, trials: int = 3):
    """A test setup ``(tmp) -> None``: a finished synthetic inline run in ``tmp/run`` (nb201, evolution,
    seed 1), then its file ``name`` overwritten with ``text`` (``text`` None: deleted; ``name`` None: left
    whole, for resume-flag cases)."""

    def setup(tmp: Path) -> None:
        from nas.cli import main

        run = tmp / "run"
        argv = ["search", "--space", "nb201", "--strategy", "evolution", "--seed", "1", "--quiet"]
        argv += ["--objective", "synthetic", "--executor", "inline", "--budget", f"{trials}trials"]
        argv += ["--out", str(run)]
        assert main(argv) == 0
        if name is not None and text is None:
            (run / name).unlink()
        elif name is not None:
            (run / name).write_text(text)

    return setup
