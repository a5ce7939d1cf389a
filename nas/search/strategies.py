"""Search strategies as ask/tell objects over a space's categorical choices.

Every strategy has the same small interface::

    s = make_strategy("evolution", space, seed=0, population=20)
    choices = s.propose()             # a dict {dimension: option}, or None when exhausted (grid)
    s.observe(choices, score, costs)  # score: higher is better, None for a failed trial
    state = s.state_dict()            # JSON-serialisable; s.load_state_dict(state) restores it

``observe`` also accepts points the strategy did not propose (seeded baselines, cached results,
trials replayed after ``--resume``). All randomness comes from the strategy's own ``random.Random``
/ ``torch.Generator`` / Optuna sampler seeded from ``seed``, so the same seed and the same observed
scores give the same sequence of proposals.

==========  =========================================================================================
random      uniform over the product of the choices
grid        every member in ``itertools.product`` order (``shuffle=true`` for a seeded random order)
evolution   regularized (aging) evolution, Real et al. 2019: population ``P``, tournament of ``S``,
            mutate the best (``space.mutate_choices``), remove the oldest
rl          REINFORCE with an LSTM controller (Zoph & Le 2017, ENAS: Pham et al. 2018) emitting the
            choices autoregressively; EMA baseline, entropy bonus, batched updates, optional
            MnasNet-style cost penalty ``reward = score × (cost / target) ^ -penalty``
tpe         Optuna's TPE sampler through ``space.define_by_run`` (ask/tell inline; Ray Tune's
            ``OptunaSearch`` with the same define-by-run function under the Ray executor)
nsga2       Optuna's NSGA-II, two objectives: maximise the score, minimise the cost (MACs or params)
==========  =========================================================================================
"""

from __future__ import annotations

import json
import math
import random
from collections import deque
from collections.abc import Mapping
from typing import Any

Choices = dict[str, Any]


def choice_key(choices: Mapping[str, Any]) -> str:
    """A stable string for a choice dict (dict keys in the space's dimension order)."""
    return json.dumps(dict(choices), separators=(",", ":"))


def _rng_state(rng: random.Random) -> list:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def _set_rng_state(rng: random.Random, state: list) -> None:
    rng.setstate((state[0], tuple(state[1]), state[2]))


class Strategy:
    """Base class: subclasses implement ``propose`` and usually ``observe``."""

    name = "base"
    #: multi-objective strategies need a cost metric (MACs or params) with every observation
    needs_cost = False
    options: dict[str, Any] = {}

    def __init__(self, space: Any, seed: int = 0, **options: Any) -> None:
        self.space = space
        self.seed = int(seed)
        self.dims: dict[str, tuple] = {k: tuple(v) for k, v in space.choices().items()}
        self.rng = random.Random(self.seed)
        self.opts = self._check_options(options)

    def _check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            known = ", ".join(sorted(self.options)) or "none"
            raise ValueError(
                f"strategy {self.name!r}: unknown option(s) {', '.join(map(repr, unknown))} "
                f"(options: {known})"
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
                raise ValueError(
                    f"strategy {self.name!r}: option {k!r} = {v!r} is not a valid value"
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
        """Drop proposals that will never be observed (called after ``--resume``)."""

    # state
    def state_dict(self) -> dict[str, Any]:
        return {"strategy": self.name, "seed": self.seed, "options": self.opts, "rng": _rng_state(self.rng)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("strategy") != self.name:
            raise ValueError(f"strategy state is for {state.get('strategy')!r}, not {self.name!r}")
        _set_rng_state(self.rng, state["rng"])

    def summary(self) -> dict[str, Any]:
        """Extra facts for best.json (e.g. a Pareto front)."""
        return {}


def _finite(score: float | None) -> bool:
    return score is not None and isinstance(score, int | float) and math.isfinite(score)


class RandomSearch(Strategy):
    name = "random"

    def propose(self) -> Choices:
        return {k: self.rng.choice(v) for k, v in self.dims.items()}


class GridSearch(Strategy):
    """Mixed-radix enumeration of the product (no materialisation), optionally in a seeded random order
    (spaces up to ``10^7`` members), or over an explicit list of points (``points=FILE.json``, a JSON list of
    choice dicts)."""

    name = "grid"
    options = {"shuffle": False, "points": ""}

    def __init__(self, space: Any, seed: int = 0, **options: Any) -> None:
        super().__init__(space, seed, **options)
        self.index = 0
        self._points: list[Choices] | None = None
        if self.opts["points"]:
            from pathlib import Path

            path = Path(self.opts["points"])
            if not path.is_file():
                raise ValueError(f"strategy 'grid': points file {str(path)!r} does not exist")
            pts = json.loads(path.read_text())
            if not isinstance(pts, list):
                raise ValueError(
                    f"strategy 'grid': points file {str(path)!r} must hold a JSON list of choice dicts"
                )
            self._points = [space.check(p) for p in pts]
        self.total = (
            len(self._points) if self._points is not None else math.prod(len(v) for v in self.dims.values())
        )
        self._perm: list[int] | None = None
        if self.opts["shuffle"]:
            if self.total > 10_000_000:
                raise ValueError(
                    f"strategy 'grid': shuffle needs a space of at most 10^7 members, not {self.total:,}"
                )
            self._perm = list(range(self.total))
            random.Random(self.seed).shuffle(self._perm)

    def _at(self, i: int) -> Choices:
        if self._points is not None:
            return dict(self._points[i])
        out: Choices = {}
        radices = [len(v) for v in self.dims.values()]
        digits = []
        for r in reversed(radices):
            i, d = divmod(i, r)
            digits.append(d)
        for (k, options), d in zip(self.dims.items(), reversed(digits)):
            out[k] = options[d]
        return out

    def propose(self) -> Choices | None:
        if self.index >= self.total:
            return None
        i = self._perm[self.index] if self._perm is not None else self.index
        self.index += 1
        return self._at(i)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "index": self.index}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.index = int(state["index"])


class RegularizedEvolution(Strategy):
    """Aging evolution (Real et al. 2019, Algorithm 1), asynchronous: the first ``population`` proposals are
    random; afterwards each proposal samples ``sample`` members uniformly, mutates the best one, and each
    observation joins the population and retires the oldest member. Failed trials never join."""

    name = "evolution"
    options = {"population": 20, "sample": 5}

    def __init__(self, space: Any, seed: int = 0, **options: Any) -> None:
        super().__init__(space, seed, **options)
        if self.opts["population"] < 2 or not 1 <= self.opts["sample"] <= self.opts["population"]:
            raise ValueError("strategy 'evolution': need population >= 2 and 1 <= sample <= population")
        self.population: deque[tuple[Choices, float]] = deque()
        self.outstanding: dict[str, int] = {}  # random proposals of the initial phase not yet observed
        self.history = 0

    def propose(self) -> Choices:
        P, S = self.opts["population"], self.opts["sample"]
        if len(self.population) + sum(self.outstanding.values()) < P or not self.population:
            c = {k: self.rng.choice(v) for k, v in self.dims.items()}
            ck = choice_key(c)
            self.outstanding[ck] = self.outstanding.get(ck, 0) + 1
            return c
        members = list(self.population)
        sample = self.rng.sample(members, min(S, len(members)))
        parent = max(sample, key=lambda m: m[1])[0]
        return self.space.mutate_choices(parent, self.rng)

    def observe(
        self, choices: Mapping[str, Any], score: float | None, costs: Mapping[str, float] | None = None
    ) -> None:
        ck = choice_key(choices)
        if ck in self.outstanding:
            self.outstanding[ck] -= 1
            if not self.outstanding[ck]:
                del self.outstanding[ck]
        if not _finite(score):
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


# ----------------------------------------------------------------------------------------------------------
# REINFORCE controller


class _OneThread:
    """Run the controller's tiny tensor ops on one thread: on a busy machine, intra-op threads only add
    contention (50 proposals + updates: ~5 s with 2 threads under load vs 0.3 s with 1)."""

    def __enter__(self) -> None:
        import torch

        self.n = torch.get_num_threads()
        if self.n != 1:
            torch.set_num_threads(1)

    def __exit__(self, *exc: Any) -> None:
        import torch

        if self.n != 1:
            torch.set_num_threads(self.n)


def _tensor_to_json(obj: Any) -> Any:
    import torch

    if isinstance(obj, torch.Tensor):
        return {"__tensor__": obj.detach().cpu().tolist(), "dtype": str(obj.dtype).replace("torch.", "")}
    if isinstance(obj, Mapping):
        return {str(k): _tensor_to_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_tensor_to_json(v) for v in obj]
    return obj


def _json_to_tensor(obj: Any) -> Any:
    import torch

    if isinstance(obj, Mapping):
        if "__tensor__" in obj:
            return torch.tensor(obj["__tensor__"], dtype=getattr(torch, obj["dtype"]))
        return {k: _json_to_tensor(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json_to_tensor(v) for v in obj]
    return obj


class ReinforceController(Strategy):
    """An LSTM that emits one categorical decision per dimension of the space (Zoph & Le 2017; ENAS).

    Step ``t`` feeds the embedding of decision ``t-1`` (a learned start vector at ``t=0``) to an
    ``LSTMCell`` and samples dimension ``t`` from ``tanh_c · tanh(W_t h_t / temperature)`` (ENAS's logit
    squashing). Every ``batch`` observations the controller takes one Adam step on
    ``-mean(A · log π(choices)) - entropy · mean(H)`` where the advantage ``A = (R - b) / σ`` uses an EMA
    baseline ``b`` and the running standard deviation ``σ`` of the rewards (so the step size does not
    depend on the metric's units). Log-probabilities are recomputed under the current policy at update
    time (observations of points the controller did not propose, e.g. seeded baselines, are used the same
    way). With ``penalty > 0`` the reward is ``score × (cost / cost_target) ^ -penalty`` (MnasNet's soft
    constraint; ``cost_target`` defaults to the median cost seen so far).
    """

    name = "rl"
    options = {
        "hidden": 64,
        "lr": 0.02,
        "batch": 5,
        "entropy": 0.01,
        "baseline_decay": 0.9,
        "temperature": 5.0,
        "tanh_c": 2.5,
        "penalty": 0.0,
        "cost": "macs",
        "cost_target": 0.0,
    }

    def __init__(self, space: Any, seed: int = 0, **options: Any) -> None:
        super().__init__(space, seed, **options)
        import torch
        from torch import nn

        self.torch = torch
        self.gen = torch.Generator().manual_seed(self.seed)
        h = self.opts["hidden"]
        sizes = [len(v) for v in self.dims.values()]
        self.net = nn.ModuleDict(
            {
                "lstm": nn.LSTMCell(h, h),
                "start": nn.Embedding(1, h),
                "emb": nn.ModuleList(nn.Embedding(n, h) for n in sizes),
                "heads": nn.ModuleList(nn.Linear(h, n) for n in sizes),
            }
        )
        with torch.no_grad():
            for p in self.net.parameters():
                p.uniform_(-0.1, 0.1, generator=self.gen)
        self.adam_m = [torch.zeros_like(p) for p in self.net.parameters()]
        self.adam_v = [torch.zeros_like(p) for p in self.net.parameters()]
        self.baseline: float | None = None
        self.reward_var: float | None = None
        self.buffer: list[tuple[Choices, float]] = []
        self.costs_seen: list[float] = []
        self.updates = 0

    def _logits(self, h: Any, t: int) -> Any:
        logits = self.net["heads"][t](h) / self.opts["temperature"]
        return self.opts["tanh_c"] * self.torch.tanh(logits)

    def _run(self, actions: list[list[int]] | None = None, n: int = 1) -> tuple[Any, Any, list[list[int]]]:
        """Sample ``n`` sequences (``actions`` None) or score given ones: (log π, entropy, actions)."""
        torch = self.torch
        if actions is not None:
            n = len(actions)
        h = self.net["lstm"].hidden_size
        x = self.net["start"].weight.expand(n, h)
        state = (torch.zeros(n, h), torch.zeros(n, h))
        logp = torch.zeros(n)
        ent = torch.zeros(n)
        out: list[list[int]] = [[] for _ in range(n)]
        for t in range(len(self.dims)):
            state = self.net["lstm"](x, state)
            logits = self._logits(state[0], t)
            log_probs = torch.log_softmax(logits, dim=-1)
            if actions is None:
                a = torch.multinomial(log_probs.exp(), 1, generator=self.gen).squeeze(1)
            else:
                a = torch.tensor([row[t] for row in actions])
            logp = logp + log_probs.gather(1, a[:, None]).squeeze(1)
            ent = ent - (log_probs.exp() * log_probs).sum(-1)
            for i, ai in enumerate(a.tolist()):
                out[i].append(ai)
            x = self.net["emb"][t](a)
        return logp, ent, out

    def propose(self) -> Choices:
        with self.torch.no_grad(), _OneThread():
            _, _, acts = self._run(n=1)
        return {k: options[i] for (k, options), i in zip(self.dims.items(), acts[0])}

    def _reward(self, score: float, costs: Mapping[str, float] | None) -> float:
        w = self.opts["penalty"]
        if not w:
            return float(score)
        cost = (costs or {}).get(self.opts["cost"])
        if cost is None or not math.isfinite(cost) or cost <= 0:
            return float(score)
        self.costs_seen.append(float(cost))
        target = self.opts["cost_target"] or sorted(self.costs_seen)[len(self.costs_seen) // 2]
        return float(score) * (cost / target) ** (-w)

    def observe(
        self, choices: Mapping[str, Any], score: float | None, costs: Mapping[str, float] | None = None
    ) -> None:
        if not _finite(score):
            return
        r = self._reward(score, costs)
        self.buffer.append((dict(choices), r))
        if len(self.buffer) >= self.opts["batch"]:
            with _OneThread():
                self._update()

    def _update(self) -> None:
        torch = self.torch
        d = self.opts["baseline_decay"]
        advs = []
        for _, r in self.buffer:
            if self.baseline is None:
                self.baseline, self.reward_var = r, 0.0
            adv = r - self.baseline
            self.reward_var = d * self.reward_var + (1 - d) * adv * adv
            advs.append(adv / (math.sqrt(self.reward_var) + 1e-8) if self.reward_var > 0 else 0.0)
            self.baseline = d * self.baseline + (1 - d) * r
        index = {k: {o: i for i, o in enumerate(v)} for k, v in self.dims.items()}
        actions = [[index[k][c[k]] for k in self.dims] for c, _ in self.buffer]
        logp, ent, _ = self._run(actions)
        adv_t = torch.tensor(advs, dtype=logp.dtype)
        loss = -(adv_t * logp).mean() - self.opts["entropy"] * ent.mean()
        params = list(self.net.parameters())
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        self.updates += 1
        self._adam(params, grads)
        self.buffer.clear()

    def _adam(self, params: list[Any], grads: tuple[Any, ...], b1: float = 0.9, b2: float = 0.999) -> None:
        """Adam (Kingma & Ba 2015), written out so its state is two plain tensors per parameter (and
        ``torch.optim`` — whose import pulls in ``torch._dynamo`` — stays unloaded)."""
        lr, t = self.opts["lr"], self.updates
        with self.torch.no_grad():
            for p, g, m, v in zip(params, grads, self.adam_m, self.adam_v):
                if g is None:
                    continue
                m.mul_(b1).add_(g, alpha=1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                denom = (v / (1 - b2**t)).sqrt_().add_(1e-8)
                p.addcdiv_(m, denom, value=-lr / (1 - b1**t))

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "generator": self.gen.get_state().tolist(),
            "weights": _tensor_to_json(self.net.state_dict()),
            "adam": _tensor_to_json({"m": self.adam_m, "v": self.adam_v}),
            "baseline": self.baseline,
            "reward_var": self.reward_var,
            "buffer": [[c, r] for c, r in self.buffer],
            "costs_seen": self.costs_seen,
            "updates": self.updates,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        torch = self.torch
        self.gen.set_state(torch.tensor(state["generator"], dtype=torch.uint8))
        self.net.load_state_dict(_json_to_tensor(state["weights"]))
        adam = _json_to_tensor(state["adam"])
        self.adam_m, self.adam_v = adam["m"], adam["v"]
        self.baseline = state["baseline"]
        self.reward_var = state["reward_var"]
        self.buffer = [(dict(c), float(r)) for c, r in state["buffer"]]
        self.costs_seen = [float(c) for c in state.get("costs_seen", [])]
        self.updates = int(state["updates"])

    def probabilities(self) -> dict[str, dict[str, float]]:
        """Greedy-path marginals (diagnostics): per dimension, option probabilities after argmax prefixes."""
        torch = self.torch
        with torch.no_grad():
            h = self.net["lstm"].hidden_size
            x = self.net["start"].weight
            state = (torch.zeros(1, h), torch.zeros(1, h))
            out = {}
            for t, (k, options) in enumerate(self.dims.items()):
                state = self.net["lstm"](x, state)
                p = torch.softmax(self._logits(state[0], t), -1)[0]
                out[k] = {str(o): round(float(pi), 4) for o, pi in zip(options, p)}
                x = self.net["emb"][t](p.argmax()[None])
        return out


# ----------------------------------------------------------------------------------------------------------
# Optuna samplers


class OptunaStrategy(Strategy):
    """TPE or NSGA-II through Optuna's ask/tell with ``space.define_by_run``.

    ``backend="optuna"`` (inline executor) drives an Optuna study directly; ``backend="ray"`` (Ray
    executor) asks Ray Tune's ``OptunaSearch`` built with the same define-by-run function and the same
    sampler, so both paths share one study. The state is the study's finished trials (parameters,
    values, system attributes: NSGA-II generations survive) plus the sampler's random state.
    """

    name = "tpe"
    options = {"startup": 10, "multivariate": True, "population": 30, "cost": "macs", "backend": "optuna"}

    def __init__(self, space: Any, seed: int = 0, **options: Any) -> None:
        super().__init__(space, seed, **options)
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        if self.opts["backend"] not in ("optuna", "ray"):
            raise ValueError(f"strategy {self.name!r}: option 'backend' must be 'optuna' or 'ray'")
        self.distributions = {
            k: optuna.distributions.CategoricalDistribution(list(v)) for k, v in self.dims.items()
        }
        self._pending: dict[str, list[Any]] = {}
        self._n = 0
        self._make_study()

    @property
    def multi(self) -> bool:
        return self.name == "nsga2"

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
            from ray.tune.search.optuna import OptunaSearch

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
        if not _finite(score):
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
        import numpy as np

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


class TPE(OptunaStrategy):
    name = "tpe"
    options = {"startup": 10, "multivariate": True, "backend": "optuna"}


class NSGA2(OptunaStrategy):
    name = "nsga2"
    needs_cost = True
    options = {"population": 30, "cost": "macs", "backend": "optuna"}


STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (RandomSearch, GridSearch, RegularizedEvolution, ReinforceController, TPE, NSGA2)
}


def make_strategy(name: str, space: Any, seed: int = 0, **options: Any) -> Strategy:
    try:
        cls = STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r} (choose from {', '.join(STRATEGIES)})") from None
    return cls(space, seed=seed, **options)


def cost_metric(strategy: Strategy) -> str | None:
    """The cost metric a strategy needs with each observation (None if it needs none)."""
    if strategy.needs_cost:
        return strategy.opts["cost"]
    if isinstance(strategy, ReinforceController) and strategy.opts["penalty"]:
        return strategy.opts["cost"]
    return None


__all__ = [
    "NSGA2",
    "STRATEGIES",
    "TPE",
    "Choices",
    "GridSearch",
    "OptunaStrategy",
    "RandomSearch",
    "RegularizedEvolution",
    "ReinforceController",
    "Strategy",
    "choice_key",
    "cost_metric",
    "make_strategy",
]
