"""The fault-injection objective: the synthetic objective with faults injected at given rates, for
exercising (and testing) how a search survives failing trials.

``--objective faulty:raise=0.1,nan=0.05,oom=0.05,hang=0.05,exit=0.05`` (plus ``hang_s=SECONDS``). Each
fault is decided from a hash of (run seed, candidate key) for the deterministic ones — ``raise`` (an
exception: an ``error``) and ``nan`` (a NaN score: an ``error``) — and of (run seed, candidate key, attempt)
for the transient ones — ``oom`` (``torch.OutOfMemoryError``), ``hang`` (sleeps ``hang_s`` seconds, past
``--trial-timeout``) and ``exit`` (the worker process exits) — so a retry of a transient fault can succeed
and a deterministic one fails the same way every time. The two groups are drawn independently: with
``raise=r, oom=o`` a fraction ``r + (1 - r) o`` of first attempts fails.

``exit`` under the inline executor: the trial runs in the driver's own process, so a real ``os._exit``
would end the search. It is simulated instead: the trial fails as if its worker had died
(:class:`~nas.search.objectives.base.WorkerDied`, transient), which is what a user of the Ray executor sees.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Any

import torch

from nas.core.space import SearchSpace
from nas.search.config import FAULTS, FaultyObjectiveConfig
from nas.search.objectives.base import Job, Objective, Report, RunContext, WorkerDied, register_objective
from nas.search.objectives.synthetic import SyntheticObjective

#: exit status of a worker killed by an injected ``exit`` fault
EXIT_CODE = 17


class InjectedFault(RuntimeError):
    """The deterministic error the ``raise`` fault raises."""


def _uniform(*parts: Any) -> float:
    h = hashlib.blake2b(json.dumps(parts).encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") / 2**64


def _pick(u: float, rates: dict[str, float], names: tuple[str, ...]) -> str | None:
    edge = 0.0
    for name in names:
        edge += rates.get(name, 0.0)
        if u < edge:
            return name
    return None


@register_objective
class FaultyObjective(Objective):
    kind = "faulty"

    @classmethod
    def from_config(cls, config: FaultyObjectiveConfig, space: SearchSpace, context: RunContext) -> Objective:
        return cls(
            config.rates, seed=context.seed, sleep=config.sleep, epochs=config.epochs, hang_s=config.hang_s
        )

    def __init__(
        self,
        rates: dict[str, float],
        seed: int = 0,
        sleep: float = 0.0,
        epochs: int = 0,
        hang_s: float = 3600.0,
    ) -> None:
        self.rates = dict(rates)
        self.seed = int(seed)
        self.hang_s = float(hang_s)
        self.inner = SyntheticObjective(sleep=sleep, epochs=epochs)
        self.reports_epochs = self.inner.reports_epochs
        self.driver_pid = os.getpid()  # a worker elsewhere really exits; the driver's own process must not

    def fault(self, job: Job) -> str | None:
        """The fault this attempt of ``job`` suffers (None: it runs as the synthetic objective)."""
        deterministic = _pick(_uniform("faulty", self.seed, job.key), self.rates, ("raise", "nan"))
        transient = ("oom", "hang", "exit")
        return deterministic or _pick(
            _uniform("faulty", self.seed, job.key, job.attempt), self.rates, transient
        )

    def evaluate(self, job: Job, report: Report) -> dict[str, Any]:
        fault = self.fault(job)
        if fault == "raise":
            raise InjectedFault(f"injected fault: trial {job.trial_id} raises")
        if fault == "oom":
            raise torch.OutOfMemoryError(f"CUDA out of memory (injected fault, attempt {job.attempt})")
        if fault == "exit":
            if os.getpid() == self.driver_pid:
                raise WorkerDied("the worker died (simulated: the inline executor runs trials in the driver)")
            os._exit(EXIT_CODE)
        if fault == "hang":
            time.sleep(self.hang_s)
        metrics = self.inner.evaluate(job, report)
        return {**metrics, "score": float("nan")} if fault == "nan" else metrics

    def config(self) -> dict[str, Any]:
        rates = {f: self.rates.get(f, 0.0) for f in FAULTS}
        return {**self.inner.config(), "kind": self.kind, "rates": rates, "hang_s": self.hang_s}
