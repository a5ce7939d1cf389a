"""Zero-cost proxies inside a search: as the objective, as extra trial columns, and as a pre-screen.

* ``--objective zero-cost:synflow`` — :class:`ZeroCostObjective`: a trial builds the candidate (weights
  seeded by the run's seed, the same for every candidate) and scores it with one proxy on one minibatch.
* ``--zero-cost synflow,naswot`` — every trial (whatever the objective) also records ``zc_<proxy>``
  scores (:func:`score_genotype`), stored as extra columns of the trials table so a run shows how each
  proxy agreed with the trained score.
* ``--prescreen synflow:1000 --train-top 50`` — :func:`run_prescreen`: before the strategy starts, score
  1,000 distinct candidates with the proxy and train the 50 best first (``prescreen.csv`` keeps every
  score; the screening's CPU time is charged to the budget).

The minibatch (:class:`BatchSpec`) is drawn exactly as ``nas calibrate`` draws it (same seed → same
images), so the ρ measured there applies to a search: ImageFolder archives and folders through
:func:`nas.calibration.calibrate.load_image_batch`, other data sets (CIFAR's own format,
``synthetic``) through
:func:`nas.data.datasets.load_dataset`. Proxies that need no images (synflow, params, macs) need no data.
"""

from __future__ import annotations

import csv
import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nas.search.objectives import Job, Objective, Report

PREFIX = "zc_"
PRESCREEN_COLUMNS = ("rank", "score", "cpu_s", "key", "arch", "choices")


def parse_names(text: str | Sequence[str] | None) -> list[str]:
    """``"synflow,naswot"`` (or a list) → checked, de-duplicated proxy names."""
    from nas.proxies import get_proxy

    if not text:
        return []
    items = text.split(",") if isinstance(text, str) else list(text)
    out: list[str] = []
    for name in (str(n).strip() for n in items):
        if name and name not in out:
            get_proxy(name)  # unknown name: ValueError listing the proxies
            out.append(name)
    return out


def column(name: str) -> str:
    return PREFIX + name


@dataclass(frozen=True)
class BatchSpec:
    """Where a proxy's minibatch comes from (plain data: it travels to Ray workers)."""

    dataset: str = "cifar10"
    data: str | None = None
    size: int = 64
    seed: int = 0

    def load(self, image_size: int) -> tuple[Any, Any]:
        key = (self, image_size)
        if key not in _BATCHES:
            _BATCHES.clear()
            _BATCHES[key] = self._load(image_size)
        return _BATCHES[key]

    def _load(self, image_size: int) -> tuple[Any, Any]:
        from nas.calibration.calibrate import load_image_batch

        if self.data is not None and Path(self.data).exists():
            try:  # an ImageFolder archive/folder: exactly nas calibrate's batch
                return load_image_batch(self.data, self.size, seed=self.seed, size=image_size)
            except ValueError:
                pass  # not ImageFolder-shaped (e.g. CIFAR's python format): the data set loader
        from nas.data.datasets import load_dataset

        ds = load_dataset(
            self.dataset,
            self.data,
            train_subset=self.size,
            image_size=image_size,
            split_seed=self.seed,
            synthetic_size=(max(self.size, 10), 10),
        )
        return next(iter(ds.loader("train", self.size)))


_BATCHES: dict[tuple[BatchSpec, int], tuple[Any, Any]] = {}


def check_data(names: Sequence[str], spec: BatchSpec | None, where: str) -> None:
    """Proxies that read images need a data set (``ValueError`` naming the option otherwise)."""
    from nas.proxies import get_proxy

    need = [n for n in names if get_proxy(n).needs_data]
    if need and spec is None:
        raise ValueError(
            f"{where}: {', '.join(need)} score(s) real images: pass --data PATH (or --dataset NAME); "
            "synflow, params and macs need none"
        )


def score_genotype(
    genotype: Any, names: Sequence[str], spec: BatchSpec | None, seed: int
) -> dict[str, dict[str, float]]:
    """``{proxy: {"score", "cpu_s", "wall_s"}}`` for one genotype (one build, weights from ``seed``)."""
    import torch

    from nas.proxies import build_scored, get_proxy

    size = int(genotype.input_size[-1])
    if spec is not None and any(get_proxy(n).needs_data for n in names):
        batch = spec.load(size)
    else:
        batch = (torch.zeros((2, *genotype.input_size)), torch.zeros(2, dtype=torch.long))
    return build_scored(genotype, names, batch, seed=seed)


def zero_cost_metrics(genotype_json: str, names: Sequence[str], spec: BatchSpec | None, seed: int) -> dict:
    """The ``zc_<proxy>`` metrics of a trial and their CPU time (``zc_cpu_s``)."""
    from nas.core.genotype import from_json

    t0 = time.process_time()
    scored = score_genotype(from_json(genotype_json), names, spec, seed)
    out: dict[str, Any] = {column(n): r["score"] for n, r in scored.items()}
    out["zc_cpu_s"] = time.process_time() - t0
    return out


class ZeroCostObjective(Objective):
    """``--objective zero-cost:NAME``: the trial's score is the proxy's value (higher is better)."""

    kind = "zero-cost"

    def __init__(self, proxy: str, spec: BatchSpec | None, seed: int = 0) -> None:
        (self.proxy,) = parse_names(proxy) or [""]
        if not self.proxy:
            raise ValueError("--objective zero-cost:NAME needs a proxy name, e.g. zero-cost:synflow")
        check_data([self.proxy], spec, f"--objective zero-cost:{self.proxy}")
        self.spec = spec
        self.seed = int(seed)

    def provides(self) -> set[str]:
        return {column(self.proxy)}

    def evaluate(self, job: Job, report: Report) -> dict[str, Any]:
        m = zero_cost_metrics(job.genotype, [self.proxy], self.spec, self.seed)
        return {**m, "score": m[column(self.proxy)]}

    def config(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "proxy": self.proxy,
            "batch": asdict(self.spec) if self.spec else None,
            "seed": self.seed,
        }


# ------------------------------------------------------------------------------------------ prescreen


@dataclass
class Prescreened:
    """The outcome of a pre-screen: every scored candidate (best first) and the CPU time it took."""

    rows: list[dict[str, Any]]
    cpu_s: float
    wall_s: float


def parse_prescreen(spec: str, top: int | None) -> tuple[str, int, int]:
    """``("synflow:1000", 50)`` → ``("synflow", 1000, 50)``."""
    from nas.calibration.calibrate import parse_prescreen as parse

    name, n = parse(spec)
    if top is None:
        raise ValueError("--prescreen needs --train-top K (how many of the best-scored candidates to train)")
    if not 1 <= top <= n:
        raise ValueError(f"--train-top must be between 1 and the {n} screened candidates, got {top}")
    return name, n, top


def run_prescreen(
    space: Any,
    proxy: str,
    n: int,
    rng: random.Random,
    *,
    spec: BatchSpec | None,
    seed: int,
    pool: Sequence[Mapping[str, Any]] | None = None,
    fmt: Callable[[Mapping[str, Any]], str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Prescreened:
    """Score ``n`` distinct candidates (sampled from ``space``, or drawn from ``pool``, a list of choice
    dicts such as a tabular benchmark's rows) with ``proxy``; rows best first, non-finite scores last."""
    import math

    from nas.calibration.calibrate import _distinct_sample

    check_data([proxy], spec, f"--prescreen {proxy}")
    if pool is not None:
        picked = list(pool) if n >= len(pool) else rng.sample(list(pool), n)
        candidates = [(dict(c), space.decode(c)) for c in picked]
    else:
        candidates = [(space.encode(g), g) for g in _distinct_sample(space, n, rng)]
    t0, w0 = time.process_time(), time.perf_counter()
    rows = []
    for i, (choices, g) in enumerate(candidates):
        r = score_genotype(g, [proxy], spec, seed)[proxy]
        rows.append(
            {
                "score": r["score"],
                "cpu_s": r["cpu_s"],
                "arch": fmt(choices) if fmt else "",
                "choices": choices,
            }
        )
        if progress:
            progress(i + 1, len(candidates))
    rows.sort(key=lambda r: -r["score"] if math.isfinite(r["score"]) else math.inf)
    for i, r in enumerate(rows):
        r["rank"] = i + 1
    return Prescreened(rows, time.process_time() - t0, time.perf_counter() - w0)


def write_prescreen(path: Path, result: Prescreened) -> None:
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([*PRESCREEN_COLUMNS, "total_cpu_s", "total_wall_s"])
        for i, r in enumerate(result.rows):
            extra = [repr(result.cpu_s), repr(result.wall_s)] if i == 0 else ["", ""]
            w.writerow(
                [r["rank"], repr(r["score"]), repr(r["cpu_s"]), r.get("key", ""), r["arch"],
                 json.dumps(r["choices"], separators=(",", ":")), *extra]
            )  # fmt: skip
    tmp.replace(path)


def read_prescreen(path: Path) -> Prescreened | None:
    """A finished pre-screen's table (``None`` if absent or torn: it is then redone)."""
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
    except (OSError, KeyError, ValueError, IndexError, json.JSONDecodeError):
        return None


__all__ = [
    "BatchSpec",
    "Prescreened",
    "ZeroCostObjective",
    "check_data",
    "column",
    "parse_names",
    "parse_prescreen",
    "read_prescreen",
    "run_prescreen",
    "score_genotype",
    "write_prescreen",
    "zero_cost_metrics",
]
