"""The strategy interface, its option checking, RNG-state helpers and the registry of strategies.

Every strategy has the same small interface::

    s = make_strategy("evolution", space, seed=0, population=20)
    choices = s.propose()             # a dict {dimension: option}, or None when exhausted (grid)
    s.observe(choices, score, costs)  # score: higher is better, None for a failed trial
    state = s.state_dict()            # JSON-serialisable; s.load_state_dict(state) restores it

``observe`` also accepts points the strategy did not propose (seeded baselines, cached results,
trials replayed after a resume). All randomness comes from the strategy's own ``random.Random``
/ ``torch.Generator`` / Optuna sampler seeded from ``seed``, so the same seed and the same observed
scores give the same sequence of proposals.

What a driver needs to know about a strategy beyond ask/tell is on the strategy itself:
:attr:`Strategy.cost_metric` (the cost every observation must carry, if any) and
:meth:`Strategy.executor_options` (option defaults that follow the executor, e.g. Optuna's backend).
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from typing import Any, TypeVar

from nas.core.errors import ConfigError
from nas.core.registry import Registry
from nas.core.space import SearchSpace

Choices = dict[str, Any]


def choice_key(choices: Mapping[str, Any]) -> str:
    """A stable string for a choice dict (dict keys in the space's dimension order)."""
    return json.dumps(dict(choices), separators=(",", ":"))


def rng_state(rng: random.Random) -> list:
    """``rng``'s state as JSON-able lists."""
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def set_rng_state(rng: random.Random, state: list) -> None:
    """Restore a state written by :func:`rng_state`."""
    rng.setstate((state[0], tuple(state[1]), state[2]))


class Strategy:
    """Base class: subclasses implement ``propose`` and usually ``observe``."""

    name = "base"
    options: dict[str, Any] = {}
    #: the point the last proposal was derived from (a mutation's parent), or None (a fresh sample); the
    #: driver records its trial id in the child's row. Strategies that mutate set it in ``propose``.
    last_parent: Choices | None = None

    def __init__(self, space: SearchSpace, seed: int = 0, **options: Any) -> None:
        self.space = space
        self.seed = int(seed)
        self.dims: dict[str, tuple] = {k: tuple(v) for k, v in space.choices().items()}
        self.rng = random.Random(self.seed)
        self.opts = self._check_options(options)

    @classmethod
    def executor_options(cls, executor: str) -> dict[str, Any]:
        """Option defaults that depend on the executor running the trials (explicit options win)."""
        return {}

    @property
    def cost_metric(self) -> str | None:
        """The cost metric (``macs``, ``params`` or an objective's metric) every observation must carry for
        this strategy to work, or None when it needs none."""
        return None

    def _check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            known = ", ".join(sorted(self.options)) or "none"
            raise ConfigError(
                "strategy_options",
                f"strategy {self.name!r}: unknown option(s) {', '.join(map(repr, unknown))} "
                f"(options: {known})",
            )
        out = dict(self.options)
        for k, v in options.items():
            default = self.options[k]
            try:
                if isinstance(default, bool):
                    out[k] = v if isinstance(v, bool) else str(v).lower() in ("1", "true", "yes", "on")
                elif isinstance(default, int) and not isinstance(v, bool):
                    out[k] = int(v)
                elif isinstance(default, float):
                    out[k] = float(v)
                else:
                    out[k] = v
            except (TypeError, ValueError):
                raise ConfigError(
                    "strategy_options", f"strategy {self.name!r}: option {k!r} = {v!r} is not a valid value"
                ) from None
        return out

    # ask / tell
    def propose(self) -> Choices | None:
        raise NotImplementedError

    def observe(
        self, choices: Mapping[str, Any], score: float | None, costs: Mapping[str, float] | None = None
    ) -> None:
        """Record a result; ``score`` None (or not finite) means the trial failed."""

    def forget_pending(self) -> None:
        """Drop proposals that will never be observed (called after a resume)."""

    # state
    def state_dict(self) -> dict[str, Any]:
        return {"strategy": self.name, "seed": self.seed, "options": self.opts, "rng": rng_state(self.rng)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("strategy") != self.name:
            raise ValueError(f"strategy state is for {state.get('strategy')!r}, not {self.name!r}")
        set_rng_state(self.rng, state["rng"])

    def summary(self) -> dict[str, Any]:
        """Extra facts for best.json (e.g. a Pareto front)."""
        return {}


STRATEGIES: Registry[type[Strategy]] = Registry("strategy")

S = TypeVar("S", bound=Strategy)


def register_strategy(cls: type[S]) -> type[S]:
    """Class decorator: make ``cls`` available to :func:`make_strategy` under ``cls.name`` (a second
    strategy of the same name raises)."""
    STRATEGIES.add(cls.name, cls)
    return cls


def make_strategy(
    name: str, space: SearchSpace, seed: int = 0, *, executor: str | None = None, **options: Any
) -> Strategy:
    """The strategy ``name`` over ``space``; with ``executor``, its executor-dependent option defaults."""
    if name not in STRATEGIES:
        raise ConfigError("strategy", f"unknown strategy {name!r} (choose from {', '.join(STRATEGIES)})")
    cls = STRATEGIES[name]
    if executor is not None:
        options = {**cls.executor_options(executor), **options}
    return cls(space, seed=seed, **options)
