"""Optuna's samplers behind the ask/tell interface: TPE (one objective) and NSGA-II (score and cost).

==========  =========================================================================================
tpe         Optuna's TPE sampler through ``space.define_by_run`` (ask/tell inline; Ray Tune's
            ``OptunaSearch`` with the same define-by-run function under the Ray executor)
nsga2       Optuna's NSGA-II, two objectives: maximise the score, minimise the cost (MACs or params)
==========  =========================================================================================
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from nas.core.errors import ConfigError
from nas.core.space import SearchSpace
from nas.search.strategies.base import Choices, Strategy, choice_key, register_strategy
from nas.stats import is_finite


class OptunaStrategy(Strategy):
    """TPE or NSGA-II through Optuna's ask/tell with ``space.define_by_run``.

    ``backend="optuna"`` (inline executor) drives an Optuna study directly; ``backend="ray"`` (Ray
    executor) asks Ray Tune's ``OptunaSearch`` built with the same define-by-run function and the same
    sampler, so both paths share one study. The state is the study's finished trials (parameters,
    values, system attributes: NSGA-II generations survive) plus the sampler's random state.
    """

    name = "tpe"
    options = {"startup": 10, "multivariate": True, "population": 30, "cost": "macs", "backend": "optuna"}

    def __init__(self, space: SearchSpace, seed: int = 0, **options: Any) -> None:
        super().__init__(space, seed, **options)
        import optuna  # optional dependency: only these two strategies need it

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        if self.opts["backend"] not in ("optuna", "ray"):
            raise ConfigError(
                "strategy_options", f"strategy {self.name!r}: option 'backend' must be 'optuna' or 'ray'"
            )
        self.distributions = {
            k: optuna.distributions.CategoricalDistribution(list(v)) for k, v in self.dims.items()
        }
        self._pending: dict[str, list[Any]] = {}
        self._n = 0
        self._make_study()

    @classmethod
    def executor_options(cls, executor: str) -> dict[str, Any]:
        # Ray Tune asks its own OptunaSearch (sharing the study); inline, the study is asked directly
        return {"backend": "ray" if executor == "ray" else "optuna"}

    @property
    def multi(self) -> bool:
        return self.name == "nsga2"

    @property
    def cost_metric(self) -> str | None:
        return self.opts["cost"] if self.multi else None

    def _sampler(self) -> Any:
        s = self.optuna.samplers
        if self.multi:
            return s.NSGAIISampler(population_size=self.opts["population"], seed=self.seed)
        return s.TPESampler(
            n_startup_trials=self.opts["startup"],
            multivariate=self.opts["multivariate"],
            constant_liar=True,
            seed=self.seed,
        )

    def _make_study(self) -> None:
        self.sampler = self._sampler()
        directions = ["maximize", "minimize"] if self.multi else ["maximize"]
        if self.opts["backend"] == "ray":
            from ray.tune.search.optuna import OptunaSearch  # optional dependency: the Ray executor's

            self.tune_searcher = OptunaSearch(
                space=self._define_by_run,
                metric=["score", "cost"] if self.multi else "score",
                mode=["max", "min"] if self.multi else "max",
                sampler=self.sampler,
            )
            self.study = self.tune_searcher._ot_study
        else:
            self.tune_searcher = None
            self.study = self.optuna.create_study(directions=directions, sampler=self.sampler)

    def _define_by_run(self, trial: Any) -> None:
        self.space.define_by_run(trial)
        return None

    def propose(self) -> Choices:
        self._n += 1
        if self.tune_searcher is not None:
            tid = f"nas-{self._n}"
            params = self.tune_searcher.suggest(tid)
            handle: Any = tid
        else:
            handle = self.study.ask()
            params = self.space.define_by_run(handle)
        c = {k: params[k] for k in self.dims}
        self._pending.setdefault(choice_key(c), []).append(handle)
        return c

    def _values(self, score: float | None, costs: Mapping[str, float] | None) -> list[float] | None:
        if not is_finite(score):
            return None
        if not self.multi:
            return [float(score)]
        cost = (costs or {}).get(self.opts["cost"])
        if cost is None or not math.isfinite(cost):
            return None
        return [float(score), float(cost)]

    def observe(
        self, choices: Mapping[str, Any], score: float | None, costs: Mapping[str, float] | None = None
    ) -> None:
        values = self._values(score, costs)
        TrialState = self.optuna.trial.TrialState
        handles = self._pending.get(choice_key(choices))
        if handles:
            handle = handles.pop(0)
            if not handles:
                del self._pending[choice_key(choices)]
            if self.tune_searcher is not None:
                result = None
                if values is not None:
                    result = {"score": values[0]}
                    if self.multi:
                        result["cost"] = values[1]
                # OptunaSearch tells a result-less trial as PRUNED unless error=True (FAIL)
                self.tune_searcher.on_trial_complete(handle, result, error=values is None and self.multi)
            elif values is None:
                self.study.tell(handle, state=self._failed_state())
            else:
                self.study.tell(handle, values if self.multi else values[0])
            return
        try:
            params = {k: choices[k] for k in self.dims}
        except KeyError:
            return
        self.study.add_trial(
            self.optuna.trial.create_trial(
                params=params,
                distributions=self.distributions,
                values=values,
                state=TrialState.COMPLETE if values is not None else self._failed_state(),
            )
        )

    def _failed_state(self) -> Any:
        """A failed trial (raised, NaN, out of memory, not in the table) is told to TPE as PRUNED, which TPE
        ranks below every finished trial (so it learns to avoid such regions; FAIL trials it would ignore and
        keep proposing). NSGA-II only ranks finished trials: FAIL."""
        TrialState = self.optuna.trial.TrialState
        return TrialState.FAIL if self.multi else TrialState.PRUNED

    def forget_pending(self) -> None:
        self._pending.clear()

    def _rng_objects(self) -> list[tuple[str, Any]]:
        out = []
        for owner_name, owner in (
            ("sampler", self.sampler),
            ("random", getattr(self.sampler, "_random_sampler", None)),
        ):
            lazy = getattr(owner, "_rng", None) if owner is not None else None
            if lazy is not None and hasattr(lazy, "rng"):
                out.append((owner_name, lazy))
        return out

    def state_dict(self) -> dict[str, Any]:
        TrialState = self.optuna.trial.TrialState
        trials = []
        for t in self.study.get_trials(deepcopy=False):
            if t.state not in (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED):
                continue
            trials.append(
                {
                    "params": t.params,
                    "values": t.values,
                    "state": t.state.name,
                    "system_attrs": {k: v for k, v in t.system_attrs.items() if _jsonable(v)},
                }
            )
        rngs = {}
        for name, lazy in self._rng_objects():
            st = lazy.rng.get_state()
            rngs[name] = [st[0], [int(x) for x in st[1]], int(st[2]), int(st[3]), float(st[4])]
        return {**super().state_dict(), "trials": trials, "sampler_rng": rngs, "asked": self._n}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self._make_study()
        TrialState = self.optuna.trial.TrialState
        for t in state["trials"]:
            ok = t["state"] == "COMPLETE"
            self.study.add_trial(
                self.optuna.trial.create_trial(
                    params=t["params"],
                    distributions=self.distributions,
                    values=t["values"] if ok else None,
                    state=getattr(TrialState, t["state"]),
                    system_attrs=t.get("system_attrs") or {},
                )
            )
        for name, lazy in self._rng_objects():
            st = state.get("sampler_rng", {}).get(name)
            if st is not None:
                lazy.rng.set_state((st[0], np.array(st[1], dtype=np.uint32), st[2], st[3], st[4]))
        self._n = int(state.get("asked", len(state["trials"])))
        self._pending.clear()

    def summary(self) -> dict[str, Any]:
        if not self.multi:
            return {}
        front = [
            {"params": t.params, "score": t.values[0], self.opts["cost"]: t.values[1]}
            for t in self.study.best_trials
        ]
        return {"optuna_pareto_front": front}


def _jsonable(v: Any) -> bool:
    try:
        json.dumps(v)
        return True
    except (TypeError, ValueError):
        return False


@register_strategy
class TPE(OptunaStrategy):
    name = "tpe"
    options = {"startup": 10, "multivariate": True, "backend": "optuna"}


@register_strategy
class NSGA2(OptunaStrategy):
    name = "nsga2"
    options = {"population": 30, "cost": "macs", "backend": "optuna"}
