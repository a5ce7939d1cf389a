"""The zero-cost objective: a trial's score is one zero-cost proxy's value of the untrained candidate."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from nas.core.space import SearchSpace
from nas.search.config import ZeroCostObjectiveConfig
from nas.search.objectives.base import Job, Objective, Report, RunContext, register_objective
from nas.search.zero_cost import BatchSpec, check_data, check_proxy, column, zero_cost_metrics


@register_objective
class ZeroCostObjective(Objective):
    """A trial builds the candidate (weights seeded by the run's seed, the same for every candidate) and
    scores it with one proxy on one minibatch (higher is better)."""

    kind = "zero-cost"

    @classmethod
    def from_config(
        cls, config: ZeroCostObjectiveConfig, space: SearchSpace, context: RunContext
    ) -> Objective:
        spec = BatchSpec(config.dataset, config.data, context.proxy_batch, context.seed)
        return cls(config.proxy, spec, seed=context.seed)

    def __init__(self, proxy: str, spec: BatchSpec | None, seed: int = 0) -> None:
        check_proxy(proxy, "objective.proxy")
        check_data([proxy], spec)
        self.proxy = proxy
        self.spec = spec
        self.seed = int(seed)

    def provides(self) -> set[str]:
        return {column(self.proxy)}

    def proxies(self) -> list[str]:
        return [self.proxy]

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
