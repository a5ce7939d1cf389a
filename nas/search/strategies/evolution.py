"""Regularized (aging) evolution, Real et al. 2019: population ``P``, tournament of ``S``, mutate the best
(``space.mutate_choices``), remove the oldest."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from nas.core.errors import ConfigError
from nas.core.space import SearchSpace
from nas.search.strategies.base import Choices, Strategy, choice_key, register_strategy
from nas.stats import is_finite


@register_strategy
class RegularizedEvolution(Strategy):
    """Aging evolution (Real et al. 2019, Algorithm 1), asynchronous: the first ``population`` proposals are
    random; afterwards each proposal samples ``sample`` members uniformly, mutates the best one, and each
    observation joins the population and retires the oldest member. Failed trials never join."""

    name = "evolution"
    options = {"population": 20, "sample": 5}

    def __init__(self, space: SearchSpace, seed: int = 0, **options: Any) -> None:
        super().__init__(space, seed, **options)
        if self.opts["population"] < 2 or not 1 <= self.opts["sample"] <= self.opts["population"]:
            raise ConfigError(
                "strategy_options", "strategy 'evolution': need population >= 2 and 1 <= sample <= population"
            )
        self.population: deque[tuple[Choices, float]] = deque()
        self.outstanding: dict[str, int] = {}  # random proposals of the initial phase not yet observed
        self.history = 0

    def propose(self) -> Choices:
        P, S = self.opts["population"], self.opts["sample"]
        if len(self.population) + sum(self.outstanding.values()) < P or not self.population:
            c = {k: self.rng.choice(v) for k, v in self.dims.items()}
            ck = choice_key(c)
            self.outstanding[ck] = self.outstanding.get(ck, 0) + 1
            self.last_parent = None
            return c
        members = list(self.population)
        sample = self.rng.sample(members, min(S, len(members)))
        parent = max(sample, key=lambda m: m[1])[0]
        self.last_parent = parent
        return self.space.mutate_choices(parent, self.rng)

    def observe(
        self, choices: Mapping[str, Any], score: float | None, costs: Mapping[str, float] | None = None
    ) -> None:
        ck = choice_key(choices)
        if ck in self.outstanding:
            self.outstanding[ck] -= 1
            if not self.outstanding[ck]:
                del self.outstanding[ck]
        if not is_finite(score):
            return
        self.history += 1
        self.population.append((dict(choices), float(score)))
        while len(self.population) > self.opts["population"]:
            self.population.popleft()

    def forget_pending(self) -> None:
        self.outstanding.clear()

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "population": [[c, s] for c, s in self.population],
            "outstanding": dict(self.outstanding),
            "history": self.history,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.population = deque((dict(c), float(s)) for c, s in state["population"])
        self.outstanding = {k: int(v) for k, v in state.get("outstanding", {}).items()}
        self.history = int(state.get("history", len(self.population)))
