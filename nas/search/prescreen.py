"""The zero-cost pre-screen: score many distinct candidates with a proxy, keep the best.

A search with ``prescreen="synflow:1000", train_top=50`` scores 1,000 distinct candidates before its
strategy starts and trains the 50 best first (``prescreen.csv`` keeps every score; the screening's CPU time
is charged to the budget; see :meth:`nas.search.driver.Search.prescreen`). Calibration uses the same
screen on a space or a list of genotypes (:func:`prescreen`).

Candidates are sampled without repetition (:func:`distinct_sample`: every member when ``n`` covers the
space); each is built with weights seeded by ``seed`` and scored on one minibatch. Rows are ranked by
score, best first; ties keep the sampling order and non-finite scores rank last.
"""

from __future__ import annotations

import csv
import json
import math
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas.core.errors import ConfigError, first_line
from nas.core.genotype import Genotype
from nas.core.space import SearchSpace, get_space
from nas.search.durable import StateFileError, replace_with
from nas.search.zero_cost import BatchSource, check_data, check_proxy, score_genotype
from nas.train.threads import torch_threads

PRESCREEN_COLUMNS = ("rank", "score", "cpu_s", "key", "arch", "choices")


# ------------------------------------------------------------------------------------------ the plan


def parse_prescreen(spec: str) -> tuple[str, int]:
    """``"synflow:1000"`` → ``("synflow", 1000)``."""
    m = re.fullmatch(r"([^:]+):(\d+)", str(spec).strip())
    if m is None or int(m.group(2)) < 1:
        raise ConfigError("prescreen", f"must be PROXY:N (e.g. synflow:1000), got {spec!r}")
    check_proxy(m.group(1), "prescreen")
    return m.group(1), int(m.group(2))


@dataclass(frozen=True)
class PrescreenPlan:
    """Score ``n`` distinct candidates with ``proxy`` and train the ``top`` best first."""

    proxy: str
    n: int
    top: int

    @classmethod
    def parse(cls, spec: str, top: int | None) -> PrescreenPlan:
        """``("synflow:1000", 50)`` → ``PrescreenPlan("synflow", 1000, 50)`` (``SearchConfig.prescreen`` and
        ``SearchConfig.train_top``)."""
        proxy, n = parse_prescreen(spec)
        if top is None:
            raise ConfigError(
                "prescreen", "needs train_top (how many of the best-scored candidates to train)"
            )
        if not 1 <= top <= n:
            raise ConfigError("train_top", f"must be between 1 and the {n} screened candidates, got {top}")
        return cls(proxy, n, int(top))


# ---------------------------------------------------------------------------------------- screening


def distinct_sample(space: SearchSpace, n: int, rng: random.Random) -> list[Genotype]:
    """``n`` distinct members of ``space`` drawn with ``rng`` (all of them, in order, if ``n`` ≥ its size)."""
    size = space.size()
    if n >= size:
        return list(space.enumerate(limit=size))
    seen: set[tuple] = set()
    out = []
    while len(out) < n:
        c = space.sample_choices(rng)
        key = tuple(sorted(c.items()))
        if key not in seen:
            seen.add(key)
            out.append(space.decode(c))
    return out


@dataclass
class Prescreened:
    """The outcome of a pre-screen: every scored candidate, best first (``rank``, ``score``, ``cpu_s``,
    ``arch``, ``choices`` and, when screened in this process, ``genotype``) and the CPU time it took."""

    rows: list[dict[str, Any]]
    cpu_s: float
    wall_s: float


def run_prescreen(
    space: SearchSpace | str,
    proxy: str,
    n: int,
    rng: random.Random,
    *,
    batch: BatchSource = None,
    seed: int = 0,
    pool: Sequence[Mapping[str, Any]] | None = None,
    candidates: Sequence[Genotype] | None = None,
    fmt: Callable[[Mapping[str, Any]], str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    threads: int | None = None,
) -> Prescreened:
    """Score ``n`` distinct candidates with ``proxy``: sampled from ``space``, or drawn from ``pool`` (choice
    dicts, e.g. a tabular benchmark's rows), or exactly ``candidates`` (genotypes). ``batch``: the images
    for proxies that read them (see :func:`nas.search.zero_cost.score_genotype`); ``fmt``: choices → the
    ``arch`` text of a row; ``threads``: torch threads while scoring (the driver's: as many as a trial
    holds, so the CPU-seconds charged to the budget are comparable)."""
    space = get_space(space)
    check_proxy(proxy, "prescreen")
    check_data([proxy], batch)
    picked = _candidates(space, n, rng, pool, candidates)
    t0, w0 = time.process_time(), time.perf_counter()
    rows = []
    for i, (choices, g) in enumerate(picked):
        with torch_threads(threads):
            r = score_genotype(g, [proxy], batch, seed)[proxy]
        arch = fmt(choices) if fmt and choices is not None else ""
        rows.append(
            {"score": r["score"], "cpu_s": r["cpu_s"], "arch": arch, "choices": choices, "genotype": g}
        )
        if progress:
            progress(i + 1, len(picked))
    rows.sort(key=lambda r: -r["score"] if math.isfinite(r["score"]) else math.inf)
    for i, r in enumerate(rows):
        r["rank"] = i + 1
    return Prescreened(rows, time.process_time() - t0, time.perf_counter() - w0)


def _candidates(
    space: SearchSpace,
    n: int,
    rng: random.Random,
    pool: Sequence[Mapping[str, Any]] | None,
    candidates: Sequence[Genotype] | None,
) -> list[tuple[dict[str, Any] | None, Genotype]]:
    """(choices, genotype) pairs to score; choices None for given genotypes outside the space (or whose
    cells are members at another layout: the choices would describe another network than the one scored)."""
    if candidates is not None:
        return [(space.encode(g) if space.layout_matches(g) else None, g) for g in candidates]
    if pool is not None:
        picked = list(pool) if n >= len(pool) else rng.sample(list(pool), n)
        return [(dict(c), space.decode(c)) for c in picked]
    return [(space.encode(g), g) for g in distinct_sample(space, n, rng)]


def prescreen(
    space: SearchSpace | str,
    proxy: str,
    n: int,
    top: int,
    rng: random.Random,
    *,
    batch: BatchSource = None,
    seed: int = 0,
    candidates: Sequence[Genotype] | None = None,
) -> list[tuple[Genotype, float]]:
    """The ``top`` best of ``n`` distinct members of ``space`` (or of ``candidates``) by ``proxy``, as
    ``(genotype, score)``, best first (:func:`run_prescreen` without the bookkeeping)."""
    if top < 1 or n < 1:
        raise ValueError(f"prescreen needs n ≥ 1 and top ≥ 1, got n={n}, top={top}")
    result = run_prescreen(space, proxy, n, rng, batch=batch, seed=seed, candidates=candidates)
    return [(r["genotype"], r["score"]) for r in result.rows[:top]]


# -------------------------------------------------------------------------------------- prescreen.csv


def write_prescreen(path: Path, result: Prescreened) -> None:
    replace_with(path, lambda tmp: _write_rows(tmp, result))


def _write_rows(tmp: Path, result: Prescreened) -> None:
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([*PRESCREEN_COLUMNS, "total_cpu_s", "total_wall_s"])
        for i, r in enumerate(result.rows):
            extra = [repr(result.cpu_s), repr(result.wall_s)] if i == 0 else ["", ""]
            w.writerow(
                [r["rank"], repr(r["score"]), repr(r["cpu_s"]), r.get("key", ""), r["arch"],
                 json.dumps(r["choices"], separators=(",", ":")), *extra]
            )  # fmt: skip


def read_prescreen(path: Path) -> Prescreened | None:
    """A finished pre-screen's table (``None`` if absent; :class:`StateFileError` naming it if it does not
    parse: it is written in one rename, so that is damage, not a kill)."""
    if not path.is_file():
        return None
    try:
        with open(path, newline="") as f:
            recs = list(csv.DictReader(f))
        rows = [
            {
                "rank": int(r["rank"]),
                "score": float(r["score"]),
                "cpu_s": float(r["cpu_s"]),
                "key": r["key"],
                "arch": r["arch"],
                "choices": json.loads(r["choices"]),
            }
            for r in recs
        ]
        return Prescreened(rows, float(recs[0]["total_cpu_s"]), float(recs[0]["total_wall_s"]))
    except (KeyError, ValueError, IndexError, TypeError, csv.Error) as e:
        raise StateFileError(
            path, f"not a pre-screen table ({type(e).__name__}: {first_line(e)})",
            "delete it to screen again (the same seed screens the same candidates)",
        ) from None  # fmt: skip


__all__ = [
    "PRESCREEN_COLUMNS",
    "PrescreenPlan",
    "Prescreened",
    "distinct_sample",
    "parse_prescreen",
    "prescreen",
    "read_prescreen",
    "run_prescreen",
    "write_prescreen",
]
