"""What saving a strategy's state after every trial costs (``strategy.json``, fsynced rename).

    python benchmarks/bench_strategy_state.py [--trials 500]

For evolution and TPE on nb201: the size of the state and the time of one save after n observations."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from nas.core.registry import SPACES
from nas.search import rundir
from nas.search.objectives import SyntheticObjective
from nas.search.objectives.base import Job
from nas.search.strategies import make_strategy


def measure(name: str, trials: int, marks: tuple[int, ...]) -> list[tuple[int, int, float]]:
    space = SPACES["nb201"]()
    strategy = make_strategy(name, space, seed=0)
    score = SyntheticObjective()
    out = []
    with tempfile.TemporaryDirectory() as d:
        for i in range(1, trials + 1):
            c = strategy.propose()
            strategy.observe(c, score.score(Job(trial_id=i, key="", genotype="", choices=c)))
            if i in marks:
                t0 = time.perf_counter()
                for _ in range(5):
                    rundir.save_strategy(Path(d), strategy, i)
                dt = (time.perf_counter() - t0) / 5
                out.append((i, (Path(d) / "strategy.json").stat().st_size, dt))
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--trials", type=int, default=500)
    a = p.parse_args()
    marks = tuple(m for m in (10, 100, 500, 1000, 2000) if m <= a.trials)
    print("strategy  observed  state_kB  save_ms")
    for name in ("evolution", "tpe"):
        for n, size, dt in measure(name, a.trials, marks):
            print(f"{name:9s} {n:9d} {size / 1e3:9.1f} {dt * 1e3:8.2f}")


if __name__ == "__main__":
    main()
