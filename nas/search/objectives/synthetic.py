"""The synthetic objective: a deterministic pseudo-accuracy of the choices, for benchmarking the framework."""

from __future__ import annotations

import hashlib
import json
import random
import time
from typing import Any

from nas.core.space import SearchSpace
from nas.search.config import SyntheticObjectiveConfig
from nas.search.objectives.base import Job, Objective, Report, RunContext, register_objective


@register_objective
class SyntheticObjective(Objective):
    """A deterministic, smooth pseudo-accuracy of the choices (no data, no training): each (dimension,
    option) pair adds a fixed pseudo-random amount, so one mutation changes the score a little. For
    benchmarking the framework and the strategies. ``sleep`` seconds per trial simulate work; with
    ``epochs`` > 0 the trial reports a learning curve that rises to the score (for ASHA); ``noise`` > 0
    adds Gaussian noise of that σ drawn from the trial's seed (a proxy's seed noise, for the selection)."""

    kind = "synthetic"

    @classmethod
    def from_config(
        cls, config: SyntheticObjectiveConfig, space: SearchSpace, context: RunContext
    ) -> Objective:
        return cls(sleep=config.sleep, epochs=config.epochs, noise=config.noise)

    def __init__(self, seed: int = 0, sleep: float = 0.0, epochs: int = 0, noise: float = 0.0) -> None:
        self.seed = int(seed)
        self.noise = float(noise)
        self.sleep = float(sleep)
        self.epochs = int(epochs)
        self.reports_epochs = self.epochs > 0

    def _u(self, *parts: Any) -> float:
        h = hashlib.blake2b(json.dumps([self.seed, *parts]).encode(), digest_size=8).digest()
        return int.from_bytes(h, "little") / 2**64

    def score(self, job: Job) -> float:
        if job.choices is None:
            return 50.0 + 40.0 * self._u("key", job.key)
        items = sorted(job.choices.items())
        return 50.0 + 40.0 * sum(self._u(k, v) for k, v in items) / max(1, len(items))

    def evaluate(self, job: Job, report: Report) -> dict[str, Any]:
        final = self.score(job)
        if self.noise:
            final += self.noise * random.Random(f"noise:{self.seed}:{job.seed}").gauss(0.0, 1.0)
        for e in range(1, self.epochs + 1):
            if self.sleep:
                time.sleep(self.sleep / self.epochs)
            report({"epoch": e, "score": final - (final - 10.0) * 0.5**e})
        if self.sleep and not self.epochs:
            time.sleep(self.sleep)
        return {"score": final}

    def config(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "seed": self.seed,
            "sleep": self.sleep,
            "epochs": self.epochs,
            **({"noise": self.noise} if self.noise else {}),
        }
