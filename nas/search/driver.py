"""The driver of a search run: propose a candidate → ship it as a :class:`~nas.search.objectives.Job` →
record its result. Executors (:mod:`nas.search.executor`) call :meth:`Search.next_job` and
:meth:`Search.complete`; everything else (the budget, deduplication, the strategy's feedback, the run
directory) happens here.

Deduplication: a candidate whose canonical genotype key (``nas.core.graph.KeyIndex``) was already evaluated
is not trained again; its row copies the earlier result with ``cached = True`` and ``cached_from`` set,
costs nothing, and is still shown to the strategy. A resumed run reloads the table, replays to the strategy
any trial finished after its last saved state, rebuilds the ledger from the table and continues.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nas.core.archcodec import ArchCodec
from nas.core.errors import ConfigError
from nas.core.genotype import Genotype, from_json
from nas.core.graph import KeyIndex
from nas.core.registry import SPACES
from nas.core.resolve import resolve
from nas.core.space import Choices, SearchSpace
from nas.search import rundir
from nas.search.budget import Budget, Ledger
from nas.search.config import SearchConfig
from nas.search.objectives import Job, Objective, Result, RunContext, make_objective
from nas.search.prescreen import Prescreened, read_prescreen, run_prescreen, write_prescreen
from nas.search.progress import Progress, status_line
from nas.search.strategies import Strategy, choice_key, make_strategy
from nas.search.trials import (
    TrialsTable,
    cached_row,
    failed_proposal_row,
    now,
    result_row,
    row_costs,
)
from nas.search.zero_cost import BatchSpec, column, parse_names

FLUSH_EVERY_S = 2.0


@dataclass
class SeedPoint:
    """A candidate evaluated before the strategy's proposals: a zoo network or genotype file (``seed`` /
    ``baseline``) or a pre-screened candidate (``prescreen``, with its already measured proxy score)."""

    name: str
    genotype: Genotype
    source: str
    known: dict[str, float] = field(default_factory=dict)


@dataclass
class Candidate:
    name: str
    genotype: Genotype | None  # None: the space could not decode the strategy's proposal
    choices: Choices | None  # None: outside the space (never shown to the strategy)
    source: str
    known: dict[str, float] = field(default_factory=dict)


def resolve_seed_points(specs: Sequence[str]) -> list[tuple[str, Genotype]]:
    """``resnet20,densenet_bc`` names or genotype JSON files → (name, genotype) pairs."""
    out = []
    for spec in specs:
        for name in (p.strip() for p in str(spec).split(",")):
            if name:
                out.append((Path(name).stem if name.endswith(".json") else name, resolve(name)))
    return out


class NoSpace(SearchSpace):
    """The 'space' of a baselines run: seed points only, nothing to propose."""

    name = ""

    def choices(self) -> dict[str, tuple]:
        return {}

    def decode(self, choices: Mapping[str, Any]) -> Genotype:
        raise ValueError("a baselines run has no search space")

    def encode(self, genotype: Genotype) -> Choices:
        raise ValueError("a baselines run has no search space")

    def size(self) -> int:
        return 0


class Search:
    """Driver-side state of a run. :func:`nas.search.run.open_search` makes one and runs its
    :meth:`prescreen` (when configured) before an executor asks for jobs."""

    def __init__(
        self,
        config: SearchConfig,
        directory: Path,
        *,
        resume: bool = False,
        space: SearchSpace | None = None,
        objective: Objective | None = None,
    ) -> None:
        config.validate()
        self.config = config
        self.dir = directory
        self.name = directory.name
        self.budget = Budget.parse(config.budget) if config.budget else None
        self.space: SearchSpace = space if space is not None else self._make_space()
        self.strategy: Strategy | None = None
        if config.strategy:
            self.strategy = make_strategy(
                config.strategy,
                self.space,
                seed=config.seed,
                executor=config.executor,
                **config.strategy_options,
            )
        self.cost = self.strategy.cost_metric if self.strategy else None
        if objective is None:
            context = RunContext(seed=config.seed, proxy_batch=config.proxy_batch)
            objective = make_objective(config.objective_for_run(), self.space, context)
        self.objective = objective
        self.profile = self._decide_profile()
        source = "baseline" if config.kind == "baselines" else "seed"
        self.seed_points = [SeedPoint(n, g, source) for n, g in resolve_seed_points(config.seed_with)]
        codec = None if isinstance(self.space, NoSpace) else ArchCodec(self.space)
        self._codec = codec if codec is not None and codec.native else None  # arch strings in the table
        self._setup_zero_cost()

        directory.mkdir(parents=True, exist_ok=True)
        self.table = TrialsTable(directory, extra=[column(n) for n in self.zc_columns])
        self.keys = KeyIndex()
        self._key_memo: dict[str, str] = {}
        self.cache: dict[str, dict[str, Any]] = {}
        self.inflight: dict[str, Job] = {}
        self.waiting: dict[str, list[tuple[Job, str, float]]] = {}
        self.ledger = Ledger()
        self.best_row: dict[str, Any] | None = None
        self.stop_reason: str | None = None
        self.dup_streak = 0
        self._names: dict[int, str] = {}
        self._started: dict[int, float] = {}
        self._last_flush = 0.0
        self._observed = 0
        self.session = 1
        self._elapsed0 = 0.0
        if resume:
            self._elapsed0, self.session = rundir.previous_sessions(directory)
            self._replay()
        self._t0 = time.monotonic()
        self.ledger.sessions = self.session
        self.next_id = max((r["trial_id"] for r in self.table.rows), default=-1) + 1
        self.progress = Progress(self.status_line, quiet=config.quiet)
        self.prescreen_result: Prescreened | None = None
        self._screened = config.prescreen is None
        rundir.write_config(
            directory, config, session=self.session, objective=self.objective.config(), space=self.space,
            profile=self.profile, cost=self.cost,
        )  # fmt: skip
        done = self._evaluated_names()
        self.seed_points = [p for p in self.seed_points if p.name not in done]

    # ---- setup
    def _make_space(self) -> SearchSpace:
        c = self.config
        return SPACES[c.space](**c.space_options) if c.space else NoSpace()

    def _decide_profile(self) -> bool:
        """Whether trials measure params and MACs: when asked, or when the strategy's cost needs them."""
        provided = self.objective.provides()
        measurable = self.cost in ("params", "macs")
        if self.cost and not measurable and self.cost not in provided:
            raise ConfigError(
                "strategy_options",
                f"strategy {self.config.strategy!r} minimises {self.cost!r}, which the "
                f"{self.objective.kind} objective does not report "
                f"(it reports: {', '.join(sorted(provided | {'params', 'macs'}))})",
            )
        needs = measurable and self.cost not in provided
        profile = self.config.profile if self.config.profile is not None else needs
        if needs and not profile:
            raise ConfigError(
                "profile",
                f"must not be off: strategy {self.config.strategy!r} needs the {self.cost} of every trial",
            )
        return profile

    def _setup_zero_cost(self) -> None:
        """The zc_<proxy> columns and what each trial measures, and the proxies' minibatch."""
        c = self.config
        self.batch_spec = BatchSpec(
            getattr(c.objective, "dataset", None) or "cifar10", getattr(c.objective, "data", None),
            c.proxy_batch, c.seed,
        )  # fmt: skip
        recorded = parse_names(c.zero_cost)
        plan = c.prescreen_plan
        screened = [plan.proxy] if plan else []
        self.zc_columns = list(dict.fromkeys([*recorded, *screened, *self.objective.proxies()]))
        self.zc_measure = list(dict.fromkeys([*recorded, *screened]))

    def _evaluated_names(self) -> set[str]:
        return {r["name"] for r in self.table.rows if r["source"] in ("seed", "baseline", "prescreen")}

    # ---- the pre-screen
    def prescreen(self) -> None:
        """Score the pre-screen's candidates (once per run: ``prescreen.csv``), charge its CPU time to the
        ledger, and queue the best ``train_top`` ahead of the strategy's proposals (no-op without one)."""
        plan = self.config.prescreen_plan
        if plan is None or self._screened:
            return
        path = self.dir / "prescreen.csv"
        result = read_prescreen(path)
        if result is None:
            rng = random.Random(f"prescreen:{self.config.seed}")
            result = run_prescreen(
                self.space, plan.proxy, plan.n, rng, batch=self.batch_spec, seed=self.config.seed,
                pool=self.objective.candidate_pool(self.space),
                fmt=self._codec.format if self._codec is not None else None, progress=self._screen_progress,
            )  # fmt: skip
            for r in result.rows:
                r["key"] = self.key_of(r["genotype"], r["choices"])
            write_prescreen(path, result)
        self.prescreen_result = result
        self.ledger.charge_cpu(result.cpu_s, "prescreen")
        col, done = column(plan.proxy), self._evaluated_names()
        queued = [
            SeedPoint(
                f"prescreen#{r['rank']}", self.space.decode(r["choices"]), "prescreen", {col: r["score"]}
            )
            for r in result.rows[: plan.top]
        ]
        self.seed_points = [p for p in queued if p.name not in done] + self.seed_points
        self._screened = True

    def _screen_progress(self, i: int, total: int) -> None:
        if not self.config.quiet and (i == total or i % 100 == 0):
            proxy = self.config.prescreen_plan.proxy  # type: ignore[union-attr]
            print(f"[{self.name}] prescreen {proxy}: {i}/{total}", file=sys.stderr, flush=True)

    # ---- persistence
    def _replay(self) -> None:
        """Rebuild the ledger, the dedup cache, the key index and the strategy from a resumed run's table."""
        rows = self.table.rows
        collided = {r["key"].split("#")[0] for r in rows if "#" in (r["key"] or "")}
        for r in rows:
            self._book(r)
            if not r["key"]:
                continue
            if not r["cached"]:
                self.cache.setdefault(r["key"], r)
            if r["key"].split("#")[0] in collided and r["genotype"]:  # rebuild KeyIndex's collision classes
                self.keys.key(from_json(r["genotype"]))
            if r["choices"] is not None:
                self._key_memo.setdefault(choice_key(r["choices"]), r["key"])
        observed = rundir.restore_strategy(self.dir, self.strategy) if self.strategy is not None else 0
        for r in rows[observed:]:
            self._feed(r)
        self._observed = len(rows)

    def flush(self, force: bool = False) -> None:
        """Write the parquet mirror, the ledger, the strategy's state and best.json (at most every
        :data:`FLUSH_EVERY_S` seconds unless ``force``)."""
        t = time.monotonic()
        if not force and t - self._last_flush < FLUSH_EVERY_S:
            return
        self._last_flush = t
        self._tick()
        self.table.write_parquet()
        self.ledger.save(self.dir / "ledger.json", self.budget)
        if self.strategy is not None:
            rundir.save_strategy(self.dir, self.strategy, self._observed)
        rundir.write_best(
            self.dir,
            ledger=self.ledger,
            stop_reason=self.stop_reason,
            best=self.best_row,
            rows=self.table.rows,
            cost=self.cost or ("macs" if self.profile else None),
            strategy=self.strategy,
        )

    # ---- accounting
    def _tick(self) -> None:
        self.ledger.elapsed_s = self._elapsed0 + (time.monotonic() - self._t0)

    def _book(self, row: dict[str, Any]) -> None:
        self.ledger.add(
            row["wall_s"] or 0.0, row["cpus"] or 0.0, row["gpus"] or 0.0, row["status"], row["cached"]
        )
        if (
            row["status"] in ("ok", "stopped")
            and row["score"] is not None
            and (self.best_row is None or row["score"] > self.best_row["score"])
        ):
            self.best_row = row

    def _feed(self, row: dict[str, Any]) -> None:
        if self.strategy is None or row["choices"] is None:
            return
        score = row["score"] if row["status"] in ("ok", "stopped") else None
        self.strategy.observe(row["choices"], score, row_costs(row))

    def _record(self, row: dict[str, Any]) -> None:
        row["session"] = self.session
        self.table.append(row)
        self._book(row)
        self._feed(row)
        self._observed = len(self.table.rows)
        if row["key"] and not row["cached"]:
            self.cache.setdefault(row["key"], row)
        self.flush()
        self.progress.update()

    # ---- candidates
    def key_of(self, genotype: Genotype, choices: Mapping[str, Any] | None) -> str:
        ck = choice_key(choices) if choices is not None else None
        if ck is not None and ck in self._key_memo:
            return self._key_memo[ck]
        key = self.keys.key(genotype)
        if ck is not None:
            self._key_memo[ck] = key
        return key

    def running_count(self, running: int) -> int:
        return running + sum(len(v) for v in self.waiting.values())

    def next_job(self, running: int = 0) -> Job | None:
        """The next trial to launch, or None when the search should launch no more (budget, exhausted grid,
        a strategy that only proposes evaluated candidates). Cached candidates are recorded on the way."""
        if not self._screened:
            raise RuntimeError("the run's pre-screen has not run: call Search.prescreen() first")
        self._tick()
        while self.stop_reason is None:
            in_flight = self.running_count(running)
            if self.budget and not self.budget.allows_launch(
                self.ledger, in_flight, self.config.gpus_per_trial, self.config.cpus_per_trial
            ):
                self.stop_reason = f"budget {self.budget.text} reached"
                break
            candidate = self._propose()
            if candidate is None:
                break
            if candidate.genotype is None:
                continue
            job = self._job(candidate)
            if self._launch(job, candidate.name):
                return job
        self.flush(force=True)
        return None

    def _propose(self) -> Candidate | None:
        """A seed point, else the strategy's proposal; None (``stop_reason`` set) when there is none left."""
        if self.seed_points:
            p = self.seed_points.pop(0)
            choices = self.space.encode(p.genotype) if self.space.contains(p.genotype) else None
            return Candidate(p.name, p.genotype, choices, p.source, p.known)
        if self.strategy is None:
            self.stop_reason = "every point was evaluated"
            return None
        choices = self.strategy.propose()
        if choices is None:
            self.stop_reason = "every point of the grid was proposed"
            return None
        try:
            return Candidate("", self.space.decode(choices), choices, "strategy")
        except (ValueError, TypeError, KeyError) as e:
            self._record(failed_proposal_row(self.next_id, choices, e))
            self.next_id += 1
            return Candidate("", None, choices, "strategy")

    def _job(self, c: Candidate) -> Job:
        assert c.genotype is not None
        arch = self.objective.lookup(self.space, c.choices, c.genotype)
        if arch is None and c.choices is not None and self._codec is not None:
            arch = self._codec.format(c.choices)
        job = Job(
            trial_id=self.next_id,
            key=self.key_of(c.genotype, c.choices),
            genotype=c.genotype.to_json(separators=(",", ":")),
            choices=dict(c.choices) if c.choices is not None else None,
            arch=arch,
            source=c.source,
            seed=self.config.seed * 100_003 + self.next_id,
            profile=self.profile,
            cpus=self.config.cpus_per_trial,
            gpus=self.config.gpus_per_trial,
            zero_cost=list(self.zc_measure),
            zc_batch=asdict(self.batch_spec),
            zc_seed=self.config.seed,
            zc_known=dict(c.known),
        )
        self.next_id += 1
        return job

    def _launch(self, job: Job, name: str) -> bool:
        """Whether ``job`` runs: a duplicate of an evaluated candidate is recorded from the cache, one of a
        candidate in flight waits for it."""
        if job.key in self.cache:
            self._record(cached_row(job, self.cache[job.key], name, now()))
            self.dup_streak += 1
            if self.dup_streak >= self.config.max_duplicates:
                self.stop_reason = (
                    f"the strategy proposed {self.dup_streak} evaluated candidates in a row (converged)"
                )
            return False
        if job.key in self.inflight:
            self.waiting.setdefault(job.key, []).append((job, name, now()))
            return False
        self.dup_streak = 0
        self.inflight[job.key] = job
        self._names[job.trial_id] = name
        self._started[job.trial_id] = now()
        return True

    # ---- results
    def complete(self, job: Job, result: Result) -> None:
        """Record a finished (or failed, or early-stopped) trial and any duplicates waiting for it."""
        self._tick()
        started = self._started.pop(job.trial_id, None)
        row = result_row(
            job, self._names.pop(job.trial_id, ""), result, now() if started is None else started
        )
        self._record(row)
        self.inflight.pop(job.key, None)
        for dup, dup_name, dup_started in self.waiting.pop(job.key, []):
            self._record(cached_row(dup, row, dup_name, dup_started))

    def abandon(self, job: Job, error: str) -> None:
        """A trial whose worker died: record it failed (its wall time is unknown: 0)."""
        self.complete(job, Result(status="failed", score=None, error=error, wall_s=0.0))

    def elapsed(self) -> float:
        self._tick()
        return self.ledger.elapsed_s

    def close(self) -> None:
        self._tick()
        self.flush(force=True)
        self.progress.close()

    def status_line(self, running: int) -> str:
        return status_line(self.name, self.ledger, self.budget, self.best_row, running)

    def summary(self) -> dict[str, Any]:
        led = self.ledger
        b = self.best_row
        return {
            "run": str(self.dir),
            "trials": led.trials,
            "failed": led.failed,
            "cached": led.cached,
            "best": None if b is None else {k: b[k] for k in ("trial_id", "score", "arch", "name", "key")},
            "budget": self.budget.describe(led) if self.budget else None,
            "gpu_hours": round(led.gpu_hours, 6),
            "cpu_hours": round(led.cpu_hours, 6),
            "elapsed_s": round(led.elapsed_s, 2),
            "stop_reason": self.stop_reason,
        }
