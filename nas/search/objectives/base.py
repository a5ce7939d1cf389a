"""The objective interface, the trial as shipped to a worker (:class:`Job`) and its outcome
(:class:`Result`), and :func:`run_job`, which runs one trial without ever letting it stop the search.

An objective is a small picklable object with two halves:

* driver side, ``lookup(space, choices, genotype)`` returns the table key of a candidate (the NB201 arch
  string for tables; ``None`` for objectives that train the genotype itself);
* worker side, ``evaluate(job, report)`` returns a metrics dict with ``"score"`` (higher is better; for
  training the validation accuracy plus the preset's size term, see ``Preset.score``) and may call
  ``report({"epoch": k, "score": s})`` after each epoch (ASHA early stopping reads these).

Each kind is made from its :class:`~nas.search.config.ObjectiveConfig` by :func:`make_objective`
(the kinds register themselves in :data:`OBJECTIVES`).

:func:`run_job` wraps ``evaluate``: it times the trial, records where it ran, measures params and MACs
when asked, and turns a failure into a result instead of letting it stop the search: an exception or a
NaN score is an ``error`` (deterministic: the same candidate would fail again), an out-of-memory error, a
:class:`TrialTimeout` or a :class:`WorkerDied` is ``transient`` (the driver retries it).
"""

from __future__ import annotations

import math
import os
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import torch

from nas.core.genotype import Genotype, from_json
from nas.core.registry import Registry
from nas.core.space import SearchSpace
from nas.search.config import ObjectiveConfig
from nas.search.zero_cost import BatchSpec, column, zero_cost_metrics
from nas.tools.describe import describe

Report = Callable[[dict[str, Any]], None]


@dataclass
class Job:
    """One trial as shipped to a worker (plain data: picklable, JSON-able)."""

    trial_id: int
    key: str
    genotype: str  # genotype JSON
    choices: dict[str, Any] | None = None
    arch: str | None = None  # table key (e.g. the NB201 arch string)
    source: str = "strategy"  # strategy | seed | baseline
    seed: int = 0
    profile: bool = False  # measure params and MACs
    cpus: float = 1.0
    gpus: float = 0.0
    zero_cost: list[str] = field(default_factory=list)  # proxies recorded as zc_<name> metrics
    zc_batch: dict[str, Any] | None = None  # nas.search.zero_cost.BatchSpec fields
    zc_seed: int = 0  # weight seed of the zero-cost scores (one for the whole run: comparable)
    zc_known: dict[str, float] = field(default_factory=dict)  # zc_<name> already measured (pre-screen)
    attempt: int = 0  # earlier transient failures of this candidate (0: the first try)
    parent: int | None = None  # trial id of the point the strategy derived it from (a mutation's parent)
    fidelity: dict[str, Any] | None = None  # {"preset": NAME}: evaluate at another preset (the selection)
    select: dict[str, Any] | None = None  # a selection re-evaluation: {"rung": R, "fidelity": NAME}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunContext:
    """What an objective may take from the run besides its own config: the run's seed and the size of the
    zero-cost proxies' minibatch."""

    seed: int = 0
    proxy_batch: int = 64


class Objective:
    kind = "base"
    #: the objective trains for several epochs and reports after each (ASHA can act on it)
    reports_epochs = False

    @classmethod
    def from_config(cls, config: Any, space: SearchSpace, context: RunContext) -> Objective:
        """The objective of ``config`` (an :class:`~nas.search.config.ObjectiveConfig` of this kind)."""
        raise NotImplementedError(f"objective {cls.kind!r} is not made from a config")

    def lookup(self, space: SearchSpace, choices: Mapping[str, Any] | None, genotype: Genotype) -> str | None:
        return None

    def evaluate(self, job: Job, report: Report) -> dict[str, Any]:
        raise NotImplementedError

    def prepare(self) -> None:
        """Resolve, download if needed and verify what every trial needs (the data set) once, in the
        driver, before any pre-screen or trial: ``ValueError`` when it is unusable."""

    def profile_shape(self) -> tuple[int | None, int | None]:
        """(input size, classes) at which params and MACs are measured (None: the genotype's)."""
        return None, None

    def provides(self) -> set[str]:
        """Metrics every successful trial reports besides ``score``."""
        return set()

    def proxies(self) -> list[str]:
        """Zero-cost proxies whose ``zc_<proxy>`` metric every successful trial reports."""
        return []

    def candidate_pool(self, space: SearchSpace) -> list[dict[str, Any]] | None:
        """The only candidates this objective can score (a table's rows, as choices), or None: any member."""
        return None

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind}


OBJECTIVES: Registry[type[Objective]] = Registry("objective")

ObjectiveT = TypeVar("ObjectiveT", bound=Objective)


def register_objective(cls: type[ObjectiveT]) -> type[ObjectiveT]:
    """Class decorator: :func:`make_objective` makes configs of kind ``cls.kind`` with ``cls``."""
    OBJECTIVES.add(cls.kind, cls)
    return cls


def make_objective(
    config: ObjectiveConfig | str, space: SearchSpace, context: RunContext | None = None, **fields: Any
) -> Objective:
    """The objective of ``config`` — or of kind ``config`` with ``fields`` (``make_objective("train",
    space, preset="rank")``) — for ``space``."""
    if isinstance(config, str):
        config = ObjectiveConfig.from_dict({**fields, "kind": config})
    return OBJECTIVES[config.kind].from_config(config, space, context or RunContext())


# ------------------------------------------------------------------------------------------- running


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_oom(e: BaseException) -> bool:
    if isinstance(e, MemoryError | torch.OutOfMemoryError):
        return True
    return "out of memory" in str(e).lower()


class TransientError(Exception):
    """A failure of the trial's circumstances, not of the candidate: a retry may succeed."""


class TrialTimeout(TransientError):
    """The trial ran past ``SearchConfig.trial_timeout``."""


class WorkerDied(TransientError):
    """The process running the trial died (or, inline, an objective simulates that)."""


#: statuses of a trial that did not succeed; "failed" is the one of tables written before the two kinds
FAILED = ("error", "transient", "failed")


def failure(e: BaseException) -> tuple[str, str]:
    """(status, one-line error) of a trial that raised ``e``."""
    if isinstance(e, TransientError):
        return "transient", _one_line(f"{type(e).__name__}: {e}")
    if _is_oom(e):
        return "transient", _one_line(f"out of memory: {type(e).__name__}: {e}")
    return "error", _one_line(f"{type(e).__name__}: {e}")


@contextmanager
def _alarm(seconds: float | None) -> Iterator[None]:
    """Raise :class:`TrialTimeout` in this (main) thread after ``seconds`` (SIGALRM interrupts a sleep or
    a Python loop; a long C call ends first)."""
    if not seconds:
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise TrialTimeout(f"the trial ran past its {seconds:g} s timeout")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def call_with_timeout(fn: Callable[[], Any], seconds: float | None) -> Any:
    """``fn()``, or :class:`TrialTimeout` after ``seconds``. In the main thread a SIGALRM interrupts it;
    elsewhere (a Ray worker's trainable thread) it runs in a daemon thread that is abandoned on timeout."""
    if not seconds or threading.current_thread() is threading.main_thread():
        with _alarm(seconds):
            return fn()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = e

    worker = threading.Thread(target=target, name="nas-trial", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TrialTimeout(f"the trial ran past its {seconds:g} s timeout (its thread was abandoned)")
    if "error" in box:
        raise box["error"]
    return box.get("value")


@dataclass
class Result:
    status: str  # ok | error | transient | stopped
    score: float | None
    metrics: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0
    error: str = ""
    node_id: str = ""
    host: str = ""
    epochs: int = 0
    final: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Result:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def _profile(genotype_json: str, objective: Objective) -> dict[str, Any]:
    g = from_json(genotype_json)
    size, classes = objective.profile_shape()
    d = describe(g, input_size=size, num_classes=classes)
    return {"params": int(d["params"]), "macs": int(d["macs"])}


def _zero_cost(job: Job, metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The trial's ``zc_<proxy>`` columns; a proxy that fails leaves its column empty (the trial stands)."""
    known = {**job.zc_known, **{k: v for k, v in metrics.items() if k.startswith("zc_")}}
    todo = [n for n in job.zero_cost if column(n) not in known]
    out: dict[str, Any] = dict(known)
    if todo:
        spec = BatchSpec(**job.zc_batch) if job.zc_batch else None
        try:
            out.update(zero_cost_metrics(job.genotype, todo, spec, job.zc_seed))
        except Exception as e:  # noqa: BLE001 - a proxy's failure must not discard a trained result
            out["zc_error"] = _one_line(f"{type(e).__name__}: {e}")
    return out


def run_job(
    objective: Objective,
    job: Job,
    report: Report | None = None,
    node_id: str = "",
    under_tune: bool = False,
    timeout: float | None = None,
) -> Result:
    """Evaluate one job; never raises for a failing trial (the result says ``error`` or ``transient``).

    ``under_tune``: Ray Tune stops a trial (ASHA) by raising ``SystemExit`` from its next report; that one
    is let through so the trial ends at once. ``timeout``: seconds before the trial fails with
    :class:`TrialTimeout` (see :func:`call_with_timeout`)."""
    host = socket.gethostname()
    t0 = time.perf_counter()
    epochs = 0

    def on_epoch(metrics: dict[str, Any]) -> None:
        nonlocal epochs
        epochs = int(metrics.get("epoch", epochs + 1))
        if report is not None:
            report({**metrics, "wall_s": time.perf_counter() - t0})

    try:
        metrics = dict(call_with_timeout(lambda: objective.evaluate(job, on_epoch), timeout))
        score = metrics.get("score")
        if score is None or not isinstance(score, int | float) or not math.isfinite(float(score)):
            raise FloatingPointError(f"objective returned a non-finite score ({score!r})")
        if job.profile and not {"params", "macs"} <= set(metrics):
            metrics.update(_profile(job.genotype, objective))
        if job.zero_cost:
            metrics.update(_zero_cost(job, metrics))
        status, error, score = "ok", "", float(score)
    except KeyboardInterrupt:
        raise
    except SystemExit:
        if under_tune:
            raise
        status, error = failure(RuntimeError("the objective called sys.exit()"))
        score, metrics = None, {}
    except BaseException as e:  # noqa: BLE001 - a failing trial must not stop the search
        (status, error), score, metrics = failure(e), None, {}
        if os.environ.get("NAS_TRIAL_TRACEBACK"):
            traceback.print_exc()
    return Result(
        status=status,
        score=score,
        metrics=metrics,
        wall_s=time.perf_counter() - t0,
        error=error,
        node_id=node_id or f"local:{host}",
        host=host,
        epochs=epochs,
    )
