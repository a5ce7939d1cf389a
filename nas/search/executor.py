"""Executors: run a :class:`~nas.search.driver.Search`'s trials inline or through Ray Tune.

``inline``
    A loop in this process (one trial at a time): for cheap objectives — tables, zero-cost scores.

``ray``
    Ray Tune. A thin ``ray.tune.search.Searcher`` (:func:`_searcher_class`) asks the search for the next
    job (strategy proposal, dedup, budget) and hands every finished trial back to it. Trials run the
    function trainable :func:`_trainable` with ``--cpus-per-trial`` / ``--gpus-per-trial`` (fractional)
    resources, at most ``--concurrency`` at once, optionally under ASHA (``--early-stop asha``, on the
    per-epoch proxy score). Without ``--address`` a local Ray is started (and shut down
    afterwards); ``--address HOST:PORT`` or ``auto`` joins a running cluster and spreads trials over its
    nodes.

Per-trial overhead through Tune is kept low by reusing actors (``reuse_actors=True``), a function
trainable, no checkpoints, Tune's own per-trial loggers switched off (the run's trials table is the
record) and ``verbose=0``; see ``benchmarks/bench_search_overhead.py``.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

from nas.core.errors import ConfigError
from nas.search.driver import Search
from nas.search.objectives import Job, Objective, Result, run_job
from nas.search.raylocal import connected, session_logs

_TUNE_ENV = {
    # no per-trial CSV/JSON/TensorBoard files: the run's trials.csv is the record
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "TUNE_DISABLE_STRICT_METRIC_CHECKING": "1",  # failed trials report no score
    "RAY_AIR_NEW_OUTPUT": "0",  # the legacy reporter is silent at verbose=0 (the new one still prints a box)
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "1000",
}


class ExecutorLost(RuntimeError):
    """The executor itself failed (the Ray node the search ran on died): the run directory holds every
    finished trial and ``--resume`` continues it. The message is one line naming the resume command."""


def execute(search: Search) -> None:
    """Run ``search``'s trials with the executor its config names."""
    if search.config.executor == "inline":
        run_inline(search)
    elif search.config.executor == "ray":
        run_ray(search)
    else:
        raise ConfigError("executor", f"unknown {search.config.executor!r} (choose from ray, inline)")


# ------------------------------------------------------------------------------------------- inline


def run_inline(search: Search) -> None:
    objective = search.objective
    while True:
        job = search.next_job(running=0)
        if job is None:
            break
        search.progress.update(running=1)
        result = run_job(objective, job, timeout=search.config.trial_timeout)
        search.complete(job, result)
        search.progress.update(running=0)


# ---------------------------------------------------------------------------------------------- ray


def _trainable(
    config: dict[str, Any], objective: Objective | None = None, timeout: float | None = None
) -> None:
    """Tune function trainable: one job, interim reports per epoch, one final report."""
    import ray  # heavy: imported only when the Ray executor runs
    from ray import tune  # heavy: imported only when the Ray executor runs

    assert objective is not None  # tune.with_parameters supplies it
    job = Job(**config["job"])
    try:
        node = ray.get_runtime_context().get_node_id()
    except Exception:  # noqa: BLE001
        node = ""

    def report(metrics: dict[str, Any]) -> None:
        score = metrics.get("score", metrics.get("val_acc"))
        out = {
            "epoch": int(metrics.get("epoch", 0)),
            "wall_s": float(metrics.get("wall_s", 0.0)),
            "node_id": node,
            "final": False,
        }
        if isinstance(score, int | float) and math.isfinite(score):
            out["score"] = float(score)
        tune.report(out)

    result = run_job(
        objective,
        job,
        report=report if objective.reports_epochs else None,
        node_id=node,
        under_tune=True,
        timeout=timeout,
    )
    final = {
        "final": True,
        "epoch": max(1, result.epochs),
        "wall_s": result.wall_s,
        "node_id": node,
        "nas_result": json.dumps(result.to_dict(), default=str),
    }
    if result.score is not None:
        final["score"] = result.score
    tune.report(final)


def _searcher_class() -> type:
    from ray.tune.search import Searcher  # heavy: imported only when the Ray executor runs

    class NasSearcher(Searcher):
        """Tune ``Searcher`` adapter: Tune asks for configs, the search proposes (and dedups, and budgets)."""

        def __init__(self, search: Search) -> None:
            super().__init__(metric="score", mode="max")
            self.search = search
            self.jobs: dict[str, Job] = {}
            self.done = False

        def suggest(self, trial_id: str) -> dict | str | None:
            if self.done:
                return Searcher.FINISHED
            job = self.search.next_job(running=len(self.jobs))
            if job is None and not self.search.finished:
                return None  # a selection rung waits for its trials in flight: Tune asks again
            if job is None:
                self.done = True
                self.search.progress.update(running=len(self.jobs), force=True)
                return Searcher.FINISHED
            self.jobs[trial_id] = job
            self.search.progress.update(running=len(self.jobs))
            return {"job": job.to_dict()}

        def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
            job = self.jobs.pop(trial_id, None)
            if job is None:
                return
            r = _result_from_tune(result, error)
            self.search.complete(job, r)
            self.search.progress.update(running=len(self.jobs))

        # Our own files hold the state (strategy.json, trials.csv): keep Tune's checkpoints trivial, and keep
        # the search (tables, strategy, streams) out of the Tuner pickle Tune writes to its experiment dir.
        def __getstate__(self) -> dict:
            return {k: v for k, v in self.__dict__.items() if k not in ("search", "jobs")}

        def save(self, checkpoint_path: str) -> None:
            self.search.flush(force=True)

        def restore(self, checkpoint_path: str) -> None:
            pass

        def get_state(self) -> dict:
            return {}

        def set_state(self, state: dict) -> None:
            pass

        def save_to_dir(self, checkpoint_dir: str, session_str: str = "default") -> None:
            self.search.flush()

    return NasSearcher


def _result_from_tune(result: dict | None, error: bool) -> Result:
    if result and isinstance(result.get("nas_result"), str):
        return Result.from_dict(json.loads(result["nas_result"]))
    if (
        result and not error and result.get("score") is not None
    ):  # stopped early (ASHA) after an interim report
        return Result(
            status="ok",
            score=float(result["score"]),
            wall_s=float(result.get("wall_s", 0.0)),
            node_id=str(result.get("node_id", "")),
            epochs=int(result.get("epoch", 0)),
            final=False,
        )
    wall = float(result.get("wall_s", 0.0)) if result else 0.0  # 0: the driver charges since launch
    return Result(
        status="transient",
        score=None,
        wall_s=wall,
        node_id=str((result or {}).get("node_id", "")),
        error="WorkerDied: the trial's worker process or node was lost (see ray/ logs in the run directory)",
    )


def _trial_name(trial: Any) -> str:
    job = (trial.config or {}).get("job") or {}
    return f"trial_{job.get('trial_id', trial.trial_id)}"


def _concurrency(search: Search) -> int:
    import ray  # heavy: imported only when the Ray executor runs

    cfg = search.config
    if cfg.concurrency:  # >= 1: SearchConfig checked it
        return int(cfg.concurrency)
    res = ray.cluster_resources()
    n = math.inf
    if cfg.cpus_per_trial > 0:
        n = min(n, res.get("CPU", 1.0) // cfg.cpus_per_trial)
    if cfg.gpus_per_trial > 0:
        n = min(n, res.get("GPU", 0.0) // cfg.gpus_per_trial)
    if n == math.inf:
        n = res.get("CPU", 1.0)
    if n < 1:
        raise ValueError(
            f"no node can hold a trial with {cfg.cpus_per_trial} CPUs and {cfg.gpus_per_trial} GPUs "
            f"(cluster: {res.get('CPU', 0):g} CPUs, {res.get('GPU', 0):g} GPUs)"
        )
    return int(n)


def _check_fits(search: Search) -> None:
    """Fail fast when the trials ask for more than any node has (Tune would wait forever)."""
    import ray  # heavy: imported only when the Ray executor runs

    cfg = search.config
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        r = node.get("Resources", {})
        if r.get("CPU", 0) >= cfg.cpus_per_trial and r.get("GPU", 0) >= cfg.gpus_per_trial:
            return
    raise ValueError(
        f"no Ray node has {cfg.cpus_per_trial:g} CPUs and {cfg.gpus_per_trial:g} GPUs for one trial"
    )


def run_ray(search: Search) -> None:
    for k, v in _TUNE_ENV.items():
        os.environ.setdefault(k, v)
    from ray import tune  # heavy: imported only when the Ray executor runs

    cfg = search.config
    with connected(search):
        _check_fits(search)
        concurrency = _concurrency(search)
        os.environ["TUNE_MAX_PENDING_TRIALS_PG"] = str(max(1, concurrency))
        resources = {"cpu": cfg.cpus_per_trial, "gpu": cfg.gpus_per_trial}
        trainable = tune.with_resources(
            tune.with_parameters(_trainable, objective=search.objective, timeout=cfg.trial_timeout), resources
        )
        scheduler = None
        if cfg.early_stop == "asha":
            from ray.tune.schedulers import ASHAScheduler  # heavy: imported only when the Ray executor runs

            a = dict(cfg.asha)
            scheduler = ASHAScheduler(
                time_attr="epoch",
                metric="score",
                mode="max",
                max_t=int(a.get("max_t") or getattr(search.objective, "epochs", None) or 100),
                grace_period=int(a.get("grace_period", 1)),
                reduction_factor=float(a.get("reduction_factor", 3)),
                stop_last_trials=False,  # a trial reaching max_t finishes and sends its final result
            )
        searcher = _searcher_class()(search)
        storage = (search.dir / "ray").resolve()
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                search_alg=searcher,
                trial_name_creator=_trial_name,
                trial_dirname_creator=_trial_name,
                scheduler=scheduler,
                num_samples=-1,
                max_concurrent_trials=concurrency,
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(
                name=f"session-{search.session}",
                storage_path=str(storage),
                verbose=0,
                log_to_file=False,
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1, checkpoint_at_end=False),
                failure_config=tune.FailureConfig(max_failures=0, fail_fast=False),
            ),
        )
        search.progress.update(running=0, force=True)
        _fit(search, tuner)
        # Trials Tune stopped without a result (an interrupt) are not recorded: --resume runs them again.
        if not searcher.done and not search.finished:
            search.stop_reason = "interrupted"


def _fit(search: Search, tuner: Any) -> None:
    """``tuner.fit()``; Ray's own failure (a lost node, a dead GCS) becomes :class:`ExecutorLost`."""
    try:
        tuner.fit()
    except (KeyboardInterrupt, ConfigError):
        raise
    except Exception as e:  # noqa: BLE001 - anything Ray raises here is the executor's failure, not a trial's
        what = " ".join(f"{type(e).__name__}: {e}".split())[:200]
        raise ExecutorLost(
            f"the Ray executor failed ({what}); every finished trial is in {search.dir} "
            f"(Ray's logs: {session_logs(search)}); continue with `nas search --resume {search.dir}`"
        ) from None
