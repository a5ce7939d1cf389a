"""The driver of a search run: propose a candidate → ship it as a :class:`~nas.search.objectives.Job` →
record its result. Executors (:mod:`nas.search.executor`) call :meth:`Search.next_job` and
:meth:`Search.complete`; everything else (the budget, deduplication, the strategy's feedback, the run
directory) happens here.

Deduplication: a candidate whose canonical genotype key (``nas.core.graph.KeyIndex``) was already evaluated
is not trained again; its row copies the earlier result with ``cached = True`` and ``cached_from`` set,
costs nothing, is still shown to the strategy (which is then asked again) and is no evaluation: a
``trials`` budget counts evaluations, the ledger proposals, duplicates and evaluations. A trial that
failed transiently is retried (:mod:`nas.search.retries`); the strategy sees a candidate once, with its
final outcome.

Resume: the strategy's state is saved after every recorded trial (less often only where saving would cost
more than 5% of the run: :data:`SAVE_RATIO`); a resumed run reloads the table, rebuilds
the ledger, the cache and the retries from it, and replays to the strategy the rows recorded after its
saved state *as they happened*: each of the strategy's own proposals is proposed again (the same RNG draws)
before it is observed. An inline run resumed after a kill therefore continues with exactly the trials the
uninterrupted run would have run; under Ray, whose trials finish out of order, a replayed proposal that
differs ends the re-proposing and the rest is observed only (:mod:`nas.search.replay`).
"""

from __future__ import annotations

import random
import shutil
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from nas.core.archcodec import ArchCodec
from nas.core.errors import ConfigError
from nas.core.genotype import Genotype, from_json
from nas.core.graph import KeyIndex
from nas.core.registry import SPACES
from nas.core.space import Choices, SearchSpace
from nas.search import rundir
from nas.search.breaker import FailureBreaker
from nas.search.budget import Budget, Ledger
from nas.search.config import SearchConfig
from nas.search.objectives import FAILED, Job, Objective, Result, RunContext, make_objective
from nas.search.prescreen import Prescreened, read_prescreen, run_prescreen, write_prescreen
from nas.search.progress import Progress, status_line
from nas.search.replay import repropose
from nas.search.retries import RETRY, RetryBook
from nas.search.seeds import Candidate, NoSpace, SeedPoint, seed_points
from nas.search.selection import Selection
from nas.search.strategies import Strategy, choice_key, make_strategy
from nas.search.trials import (
    SELECT,
    TrialsTable,
    cached_row,
    failed_proposal_row,
    now,
    result_row,
    row_costs,
)
from nas.search.zero_cost import BatchSpec, column, parse_names

FLUSH_EVERY_S = 2.0
#: the strategy's state is saved after a trial unless the last save took more than 1/SAVE_RATIO of the time
#: since it (a large state, cheap trials): saving costs at most ~5% of the run. Resume is exact either way
#: (the rows after the saved state are re-proposed), a staler state only makes the replay longer.
SAVE_RATIO = 20.0


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
                config.strategy, self.space, seed=config.seed, executor=config.executor,
                **config.strategy_options,
            )  # fmt: skip
        self.cost = self.strategy.cost_metric if self.strategy else None
        if objective is None:
            context = RunContext(seed=config.seed, proxy_batch=config.proxy_batch)
            objective = make_objective(config.objective_for_run(), self.space, context)
        self.objective = objective
        self.profile = self._decide_profile()
        self._setup_selection()
        self.seed_points = seed_points(config, self.space)
        codec = None if isinstance(self.space, NoSpace) else ArchCodec(self.space)
        self._codec = codec if codec is not None and codec.native else None  # arch strings in the table
        self._setup_zero_cost()

        created = not directory.exists()
        rundir.start_run(directory, config)  # config.json first: a kill never leaves a table without it
        try:  # data first: an unusable data set stops the run before a pre-screen or any trial
            self.objective.prepare()
        except BaseException:
            if created and not resume:  # leave nothing behind: the same command works once data is fixed
                shutil.rmtree(directory, ignore_errors=True)
            raise
        rundir.claim_run(directory)
        self.table = TrialsTable(directory, extra=[column(n) for n in self.zc_columns])
        self.keys = KeyIndex()
        self._key_memo: dict[str, str] = {}
        self.cache: dict[str, dict[str, Any]] = {}
        self.inflight: dict[str, Job] = {}
        self.retries = RetryBook(config.max_retries)
        self.retry_queue: list[tuple[Job, str]] = []  # transient failures to launch again, before proposals
        self.waiting: dict[str, list[tuple[Job, str, float]]] = {}
        self.ledger = Ledger()
        self.best_row: dict[str, Any] | None = None
        self.stop_reason: str | None = None
        self.breaker = FailureBreaker(config.max_failures)  # fresh each session: a fix gets K more tries
        self.broken: str | None = None  # why the breaker stopped the run
        self.dup_streak = 0
        self._names: dict[int, str] = {}
        self._started: dict[int, float] = {}
        self._last_flush = 0.0
        self._saved_at, self._save_s = 0.0, 0.0
        self._observed = 0
        self.session = 1
        self._elapsed0 = 0.0
        self.next_id = max((r["trial_id"] for r in self.table.rows), default=-1) + 1
        if resume:
            self._elapsed0, self.session = rundir.previous_sessions(directory, self.table.rows)
            self._replay()
        self._t0 = time.monotonic()
        self.ledger.sessions = self.session
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

    def _setup_selection(self) -> None:
        c, plan = self.config, self.config.selection_plan
        base = getattr(c.objective, "preset", None) or c.objective.kind
        self.selection = None if plan is None else Selection(plan, base, self.cost, c.max_retries)
        # the search phase stops at its share of the budget; the rest is the selection's reserve
        self.search_budget = self.budget.scaled(1 - plan.reserve) if plan and self.budget else self.budget
        self.selecting: dict[int, tuple[str, int]] = {}  # selection trials in flight: id → (key, rung)
        self.rung_sizes: dict[int, int] = {}  # rung index → survivors it evaluates (what fit the budget)
        self.search_done = self.finished = False  # the search phase / the run launch no more trials
        self.pick: dict[str, Any] | None = None  # the selection's evidence (best.json)

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
            c = self.config
            rng, threads = random.Random(f"prescreen:{c.seed}"), max(1, int(c.cpus_per_trial))
            result = run_prescreen(
                self.space, plan.proxy, plan.n, rng, batch=self.batch_spec, seed=self.config.seed,
                pool=self.objective.candidate_pool(self.space), threads=threads,
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
                f"prescreen#{r['rank']}",
                self.space.decode(r["choices"]),
                "prescreen",
                {col: r["score"]},
                choices=r["choices"],
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
        """Rebuild the ledger, the dedup cache, the key index, the retries and the strategy from a resumed
        run's table."""
        rows = self.table.rows
        collided = {r["key"].split("#")[0] for r in rows if "#" in (r["key"] or "")}
        final = []
        for r in rows:
            self._book(r)
            final.append(r["source"] == SELECT or not self.retries.book(r))
            self.dup_streak = self.dup_streak + 1 if r["cached"] else 0 if r["key"] else self.dup_streak
            if not r["key"]:
                continue
            if not r["cached"] and r["status"] != "transient" and r["source"] != SELECT:
                self.cache.setdefault(r["key"], r)
            if r["key"].split("#")[0] in collided and r["genotype"]:  # rebuild KeyIndex's collision classes
                self.keys.key(from_json(r["genotype"]))
            if r["choices"] is not None:
                self._key_memo.setdefault(choice_key(r["choices"]), r["key"])
        strategy, removed = self.strategy, self.table.removed
        observed = rundir.restore_strategy(self.dir, strategy, removed) if strategy is not None else 0
        repropose(strategy, rows[observed:], final[observed:], self._feed)
        self._observed = len(rows)
        self.next_id = max((r["trial_id"] for r in rows), default=-1) + 1
        for r in self.retries.pending():
            candidate = Candidate(r["name"] or "", from_json(r["genotype"]), r["choices"], RETRY)
            candidate.parent = r.get("parent")
            job = self._job(candidate)
            self._queue_retry(job, r["name"] or "")

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
        self._save_strategy(force=True)
        rundir.write_best(
            self.dir,
            ledger=self.ledger,
            stop_reason=self.stop_reason,
            best=self.best_row,
            rows=self.table.rows,
            cost=self.cost or ("macs" if self.profile else None),
            strategy=self.strategy,
            selection=self.pick,
        )

    def _save_strategy(self, force: bool = False) -> None:
        """``strategy.json`` after a recorded trial (see :data:`SAVE_RATIO`)."""
        t = time.monotonic()
        if self.strategy is None or (not force and t - self._saved_at < SAVE_RATIO * self._save_s):
            return
        rundir.save_strategy(self.dir, self.strategy, self._observed)
        self._saved_at = time.monotonic()
        self._save_s = self._saved_at - t

    # ---- accounting
    def _tick(self) -> None:
        self.ledger.elapsed_s = self._elapsed0 + (time.monotonic() - self._t0)

    def _book(self, row: dict[str, Any]) -> None:
        status = "failed" if row["status"] in FAILED else row["status"]  # the ledger counts both kinds
        self.ledger.add(row["wall_s"] or 0.0, row["cpus"] or 0.0, row["gpus"] or 0.0, status, row["cached"])
        if (
            row["status"] in ("ok", "stopped")
            and row["source"] != SELECT  # a score at another fidelity or seed: the selection's
            and row["score"] is not None
            and (self.best_row is None or row["score"] > self.best_row["score"])
        ):
            self.best_row = row

    def _feed(self, row: dict[str, Any]) -> None:
        if self.strategy is None or row["choices"] is None or row["source"] == SELECT:
            return
        score = row["score"] if row["status"] in ("ok", "stopped") else None
        self.strategy.observe(row["choices"], score, row_costs(row))

    def _record(self, row: dict[str, Any]) -> bool:
        """Append ``row``, book it, show it to the strategy when it is final, and save the strategy's state;
        True when the row is a transient failure to retry."""
        row["session"] = self.session
        retry = row["source"] != SELECT and self.retries.book(row)
        if self.retries.gave_up(row):
            row["error"] = (
                f"{row['error']} (gave up after {self.config.max_retries + 1} attempts; --resume retries)"
            )
        self.table.append(row)
        self._book(row)
        tripped = self.breaker.observe(row)
        if tripped and self.broken is None:
            self.broken = self.stop_reason = tripped
        if not retry:
            self._feed(row)
        self._observed = len(self.table.rows)
        self._save_strategy()
        if row["key"] and not row["cached"] and row["status"] != "transient" and row["source"] != SELECT:
            self.cache.setdefault(row["key"], row)
        self.flush()
        self.progress.update()
        return retry

    # ---- candidates
    def key_of(self, genotype: Genotype, choices: Mapping[str, Any] | None) -> str:
        ck = choice_key(choices) if choices is not None else None
        if ck is not None and ck in self._key_memo:
            return self._key_memo[ck]
        key = self.keys.key(genotype)
        if ck is not None:
            self._key_memo[ck] = key
        return key

    def next_job(self, running: int = 0) -> Job | None:
        """The next trial to launch, or None: when :attr:`finished`, the run launches no more (budget,
        exhausted grid, a strategy that only proposes evaluated candidates, the selection done); else a
        selection rung waits for its trials in flight. Cached candidates are recorded on the way."""
        if not self._screened:
            raise RuntimeError("the run's pre-screen has not run: call Search.prescreen() first")
        self._tick()
        job = None if self.search_done else self._next_search_job(running)
        if job is None:
            self.search_done = True
            job = self._next_selection_job(running)
        if job is None and self.finished:
            self.flush(force=True)
        return job

    def _next_search_job(self, running: int) -> Job | None:
        budget = self.search_budget
        while self.stop_reason is None:
            # duplicates waiting for a candidate in flight cost nothing and are no evaluation: not counted
            if budget and not budget.allows_launch(
                self.ledger, running, self.config.gpus_per_trial, self.config.cpus_per_trial
            ):
                share = "" if budget is self.budget else " (the search's share; the rest is the selection's)"
                self.stop_reason = f"budget {budget.text} reached{share}"
                break
            if self._rung_needs_the_rest(running):
                self.stop_reason = f"budget: the rest of {self.budget.text} is the selection's first rung"
                break
            if self.retry_queue:
                return self._start(*self.retry_queue.pop(0))
            candidate = self._propose()
            if candidate is None:
                break
            if candidate.genotype is None:
                continue
            job = self._job(candidate)
            if self._launch(job, candidate.name):
                return job
        return None

    # ---- the selection
    def _rung_needs_the_rest(self, running: int) -> bool:
        """Would one more search trial (and those running, at the mean trial wall) leave too little budget
        for the selection's first rung at its smallest size? (A fixed reserve misses slow finalists.)"""
        if self.selection is None or not self.budget:
            return False
        rows, c = self.table.rows, self.config
        rung = self.selection.first_rung_walls(rows, getattr(c.objective, "train_overrides", {}))
        walls = [float(r["wall_s"] or 0.0) for r in self.selection.search_trials(rows).values()]
        if not rung or not walls:
            return False
        trials = [sum(walls) / len(walls)] * (running + 1)
        return not self.budget.fits(self.ledger, rung + trials, c.cpus_per_trial, c.gpus_per_trial)

    def _next_selection_job(self, running: int) -> Job | None:
        """The selection's next re-evaluation (:mod:`nas.search.selection`); None while its rung waits
        for trials in flight, or, with :attr:`finished` set, when the pick is made."""
        if self.selection is None or self.broken is not None or self.finished:
            self.finished = True
            return None
        if running > len(self.selecting):
            return None  # the search's last trials still run: the entrants are not known yet
        rows, c = self.table.rows, self.config
        progress = self.selection.progress(rows, list(self.selecting.values()), self.rung_sizes)
        if progress.done:
            return self._picked(progress, "done")
        if not progress.needs:
            return None  # the rung's last trials are running
        index = progress.needs[0][1]
        if index not in self.rung_sizes and not progress.started:  # a new rung: the best that fit the rest
            size = self.selection.rung_size(rows, progress, self.budget, self.ledger, c)
            if size is None:
                return self._picked(progress, f"the budget's reserve does not fit rung {index + 1}")
            self.rung_sizes[index] = size
            return self._next_selection_job(running)
        if self.budget and self.budget.exhausted_by(self.ledger):
            return None if running else self._picked(progress, f"the budget ran out in rung {index + 1}")
        need = self.selection.next_need(rows, progress)
        job = need.job(self.next_id, c.seed * 100_003 + self.next_id, c.cpus_per_trial, c.gpus_per_trial)
        self.next_id += 1
        self.selecting[job.trial_id] = (job.key, need.index)
        return self._start(replace(job, profile=self.profile), need.row["name"] or "")

    def _picked(self, progress: Any, status: str) -> None:
        """Make the pick: ``best.json``'s best is now the selection's choice, with its evidence."""
        assert self.selection is not None
        self.pick = self.selection.evidence(self.table.rows, progress, status)
        if (key := self.selection.pick(progress)) is not None:
            self.best_row = dict(self.selection.search_trials(self.table.rows)[key])
        where = ("" if status == "done" else f"{status}; ") + f"picked at {self.pick['pick_fidelity']}"
        self.stop_reason = f"{self.stop_reason or 'search done'}; selection: {where}"
        self.finished = True

    def _propose(self) -> Candidate | None:
        """A seed point, else the strategy's proposal; None (``stop_reason`` set) when there is none left."""
        if self.seed_points:
            p = self.seed_points.pop(0)
            return Candidate(p.name, p.genotype, p.choices, p.source, p.known)
        if self.strategy is None:
            self.stop_reason = "every point was evaluated"
            return None
        choices = self.strategy.propose()
        if choices is None:
            self.stop_reason = "every point of the grid was proposed"
            return None
        parent = self._trial_of(self.strategy.last_parent)
        try:
            return Candidate("", self.space.decode(choices), choices, "strategy", parent=parent)
        except (ValueError, TypeError, KeyError) as e:
            self._record(failed_proposal_row(self.next_id, choices, e))
            self.next_id += 1
            return Candidate("", None, choices, "strategy")

    def _trial_of(self, choices: Choices | None) -> int | None:
        """The trial id of the evaluation of ``choices`` (a proposal's parent), None when unknown."""
        if choices is None:
            return None
        row = self.cache.get(self._key_memo.get(choice_key(choices), ""))
        return None if row is None else row["trial_id"]

    def _job(self, c: Candidate) -> Job:
        assert c.genotype is not None
        arch = self.objective.lookup(self.space, c.choices, c.genotype)
        if arch is None and c.choices is not None and self._codec is not None:
            arch = self._codec.format(c.choices)
        key = self.key_of(c.genotype, c.choices)
        job = Job(
            trial_id=self.next_id,
            key=key,
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
            attempt=self.retries.attempt(key),
            parent=c.parent,
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
                    f"the strategy proposed {self.dup_streak} evaluated candidates in a row: it has "
                    f"converged or the space is exhausted ({len(self.cache)} distinct candidates evaluated)"
                )
            return False
        if job.key in self.inflight:
            self.waiting.setdefault(job.key, []).append((job, name, now()))
            return False
        self.inflight[job.key] = job
        self._start(job, name)
        return True

    def _start(self, job: Job, name: str) -> Job:
        self.dup_streak = 0
        self._names[job.trial_id] = name
        self._started[job.trial_id] = now()
        return job

    def _queue_retry(self, job: Job, name: str, now_: bool = False) -> None:
        """Launch ``job`` (a retry of a transient failure) before the next proposal (``now_``: before the
        other retries too); duplicates of its candidate keep waiting for it."""
        self.inflight[job.key] = job
        self.retry_queue.insert(0 if now_ else len(self.retry_queue), (job, name))

    # ---- results
    def complete(self, job: Job, result: Result) -> None:
        """Record a finished (or failed, or early-stopped) trial; retry a transient failure, else record
        the duplicates waiting for it. A failure that reports no wall time (its worker died) is charged
        the time since its launch."""
        self._tick()
        started = self._started.pop(job.trial_id, None)
        started = now() if started is None else started
        if result.status != "ok" and result.wall_s <= 0:
            result = replace(result, wall_s=max(0.0, now() - started))
        name = self._names.pop(job.trial_id, "")
        row = result_row(job, name, result, started)
        if self.selecting.pop(job.trial_id, None) is not None:
            self._record(row)  # the selection re-issues an evaluation that failed transiently
            return
        if self._record(row):
            retry = replace(job, trial_id=self.next_id, source=RETRY, attempt=self.retries.attempt(job.key))
            self.next_id += 1
            self._queue_retry(
                replace(retry, seed=self.config.seed * 100_003 + retry.trial_id), name, now_=True
            )
            return
        self.inflight.pop(job.key, None)
        for dup, dup_name, dup_started in self.waiting.pop(job.key, []):
            self._record(cached_row(dup, row, dup_name, dup_started))

    def abandon(self, job: Job, error: str) -> None:
        """A trial whose worker died: a transient failure, charged the time since its launch."""
        self.complete(job, Result(status="transient", score=None, error=f"WorkerDied: {error}", wall_s=0.0))

    def elapsed(self) -> float:
        self._tick()
        return self.ledger.elapsed_s

    def close(self) -> None:
        self._tick()
        self.flush(force=True)
        self.progress.close()
        rundir.release_run(self.dir)

    def status_line(self, running: int) -> str:
        return status_line(self.name, self.ledger, self.budget, self.best_row, running)

    def summary(self) -> dict[str, Any]:
        led = self.ledger
        b = self.best_row
        return {
            "run": str(self.dir),
            "trials": led.trials,
            "proposals": led.proposals,
            "evaluations": led.evaluations,
            "duplicates": led.duplicates,
            "failed": led.failed,
            "cached": led.cached,
            "best": None if b is None else {k: b[k] for k in ("trial_id", "score", "arch", "name", "key")},
            "budget": self.budget.describe(led) if self.budget else None,
            "gpu_hours": round(led.gpu_hours, 6),
            "cpu_hours": round(led.cpu_hours, 6),
            "elapsed_s": round(led.elapsed_s, 2),
            "stop_reason": self.stop_reason,
            "pick": self.pick and {k: self.pick[k] for k in ("pick", "pick_fidelity", "status")},
        }
