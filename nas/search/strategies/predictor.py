"""Predictor-guided evolution in the spirit of BANANAS (White et al. 2021) and NPENAS (Wei et al. 2022):
an ensemble of small neural networks learns score from architecture on the observed trials, and each
proposal is the best, by an acquisition function, of many mutations of the best points so far.

* Encoding: one-hot of every choice (for cell spaces the adjacency encoding: one slot per edge × op);
  ``encoding="pairs"`` adds one slot per pair of dimensions × pair of options (the ops on two edges
  together: the space-agnostic stand-in for BANANAS's path encoding, whose length-2 paths it contains).
* Ensemble (:class:`Surrogate`, also local search's ``order="predictor"``): ``ensemble`` MLPs (two
  hidden layers of ``hidden`` units) trained together as one batched network, full-batch Adam for
  ``epochs`` steps, on standardised scores; each member from its own random init (BANANAS's source of
  ensemble spread). Retrained after every ``refit`` new scores (BANANAS
  retrains once per batch of proposals), seeded from the run seed and the number of scores, so the same
  observations give the same proposals (a resumed run refits the same network).
* Candidates: ``candidates`` points, mutations (one or two changes) of the ``parents`` best observed points
  plus a few random ones, never one observed or pending.
* Acquisition: ``its`` (independent Thompson sampling: one draw from N(mean, std) per candidate, BANANAS's
  choice) or ``ucb`` (mean + ``beta`` · std).

The first ``init`` observations come from random proposals, or from what the run evaluated first (seed
points, a zero-cost pre-screen's best: the warm start).

Defaults, checked on NAS-Bench-201 CIFAR-10 at 100 evaluations (``benchmarks/bench_strategies.py``):
on tuning seeds 1000–1019 ``init`` 5 gave a mean regret of 0.007 against 0.023 for 10 (3: 0.014), but
on the report seeds 0–29 the order reversed (init 5: 0.047 ± 0.051, init 10: 0.031 ± 0.036): seed noise,
so ``init`` stays 10. UCB (0.063), 300 candidates (0.040), 20 parents (0.039), the pair encoding (0.058)
and adding the best point's whole neighbourhood to the candidates (0.027) did not help on the tuning
seeds, nor did refitting every 2 scores (0.008 at twice the cost of init 5's 0.007).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from nas.core.errors import ConfigError
from nas.core.space import SearchSpace
from nas.search.strategies.base import Choices, Strategy, choice_key, register_strategy
from nas.stats import is_finite


class Ensemble(torch.nn.Module):
    """``members`` independent MLPs D → H → H → 1, evaluated as batched matrix products."""

    def __init__(self, members: int, dim: int, hidden: int, gen: torch.Generator) -> None:
        super().__init__()
        shapes = [(dim, hidden), (hidden, hidden), (hidden, 1)]
        self.weights = torch.nn.ParameterList(
            torch.nn.Parameter(torch.randn(members, a, b, generator=gen) * math.sqrt(2.0 / a))
            for a, b in shapes
        )
        self.biases = torch.nn.ParameterList(
            torch.nn.Parameter(torch.zeros(members, 1, b)) for _, b in shapes
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (N, D) → predictions (members, N)."""
        h = x.unsqueeze(0).expand(len(self.weights[0]), -1, -1)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if i < len(self.weights) - 1:
                h = torch.relu(h)
        return h.squeeze(-1)


class Surrogate:
    """The ensemble regressor of score from choices: the encoding, the fit and the prediction, shared by
    :class:`PredictorGuided` and predictor-guided local search (:mod:`.local_search`).

    :meth:`fit` trains a fresh ensemble with weights seeded from ``seed`` and the number of scores it
    learns from: a pure function of the observations, so a resumed run refits the same network. The last
    fit is kept while that number stays the same (callers pass growing prefixes of one history)."""

    #: the options it reads, with their defaults (also the predictor strategy's)
    options: dict[str, Any] = {"ensemble": 5, "hidden": 32, "epochs": 100, "lr": 0.01, "encoding": "onehot"}

    def __init__(self, dims: Mapping[str, tuple], seed: int, **options: Any) -> None:
        self.opts = {**self.options, **{k: v for k, v in options.items() if k in self.options}}
        self.seed = int(seed)
        self.index = {k: {choice_key({"v": v}): i for i, v in enumerate(o)} for k, o in dims.items()}
        # string options (op names) are looked up directly: choice_key's JSON was most of encode's time
        self.by_name = {
            k: {v: i for i, v in enumerate(o)} for k, o in dims.items() if all(isinstance(v, str) for v in o)
        }
        self.width = sum(len(v) for v in self.index.values())
        if self.opts["encoding"] == "pairs":
            sizes = [len(v) for v in dims.values()]
            self.width += sum(a * b for i, a in enumerate(sizes) for b in sizes[i + 1 :])
        self._net: tuple[int, Ensemble] | None = None  # (scores it learnt from, the ensemble)

    def _pick(self, k: str, v: Any) -> int | None:
        """The index of option ``v`` of dimension ``k`` (None: not one of its options)."""
        names = self.by_name.get(k)
        if names is not None:
            return names.get(v) if isinstance(v, str) else None
        return self.index[k].get(choice_key({"v": v}))

    def encode(self, points: list[Mapping[str, Any]]) -> torch.Tensor:
        """One-hot of each dimension's option; with ``pairs``, then one-hot of each pair's two options."""
        sizes = [len(v) for v in self.index.values()]
        rows: list[int] = []
        cols: list[int] = []
        for i, c in enumerate(points):
            picks = [self._pick(k, c.get(k)) for k in self.index]
            base = 0
            for a, n in zip(picks, sizes):
                if a is not None:
                    rows.append(i)
                    cols.append(base + a)
                base += n
            if self.opts["encoding"] != "pairs":
                continue
            for u in range(len(sizes)):
                for v in range(u + 1, len(sizes)):
                    if picks[u] is not None and picks[v] is not None:
                        rows.append(i)
                        cols.append(base + picks[u] * sizes[v] + picks[v])
                    base += sizes[u] * sizes[v]
        x = torch.zeros(len(points), self.width)
        x[rows, cols] = 1.0  # one indexed write: per-element tensor writes dominated the proposal time
        return x

    def generator(self, salt: int, n: int) -> torch.Generator:
        """A generator seeded from the run seed, ``n`` and ``salt`` (not hash(): str hashes differ between
        processes)."""
        return torch.Generator().manual_seed((self.seed * 1_000_003 + n) * 8 + salt)

    def fit(self, data: Sequence[tuple[Choices, float]]) -> Ensemble:
        """The ensemble trained on ``data`` (choices, score): full-batch Adam on standardised scores."""
        o, n = self.opts, len(data)
        if self._net is not None and self._net[0] == n:
            return self._net[1]
        x = self.encode([c for c, _ in data])
        y = torch.tensor([s for _, s in data], dtype=torch.float32)
        y = (y - y.mean()) / (y.std() + 1e-8) if len(y) > 1 else y * 0
        net = Ensemble(o["ensemble"], x.shape[1], o["hidden"], self.generator(1, n))
        with torch.enable_grad():
            opt = torch.optim.Adam(net.parameters(), lr=o["lr"], fused=True)
            for _ in range(o["epochs"]):
                loss = ((net(x) - y) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
        self._net = (n, net)
        return net

    def predict(
        self, data: Sequence[tuple[Choices, float]], points: list[Choices]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The mean and spread of the ensemble fitted on ``data`` for ``points``, in units of the scores'
        std."""
        net = self.fit(data)
        with torch.no_grad():
            pred = net(self.encode(points)).double()
        return pred.mean(0), pred.std(0)

    def forget(self) -> None:
        """Drop the kept fit (after a resume: the history it was fitted on may differ)."""
        self._net = None


@register_strategy
class PredictorGuided(Strategy):
    """BANANAS-style: a neural-predictor ensemble picks, among mutations of the best, what to try next."""

    name = "bananas"
    options = {
        "init": 10,
        **{k: Surrogate.options[k] for k in ("ensemble", "hidden", "epochs")},
        "refit": 5,
        "lr": Surrogate.options["lr"],
        "candidates": 100,
        "parents": 10,
        "acquisition": "its",
        "beta": 0.5,
        "encoding": Surrogate.options["encoding"],
    }

    def __init__(self, space: SearchSpace, seed: int = 0, **options: Any) -> None:
        super().__init__(space, seed, **options)
        o = self.opts
        for k in ("init", "ensemble", "hidden", "epochs", "refit", "candidates", "parents"):
            if o[k] < 1:
                raise ConfigError("strategy_options", f"strategy 'bananas': {k} must be >= 1")
        if o["acquisition"] not in ("its", "ucb"):
            raise ConfigError("strategy_options", "strategy 'bananas': acquisition must be its or ucb")
        if o["encoding"] not in ("onehot", "pairs"):
            raise ConfigError("strategy_options", "strategy 'bananas': encoding must be onehot or pairs")
        self.surrogate = Surrogate(self.dims, self.seed, **o)
        self.history: list[tuple[Choices, float | None]] = []
        self.seen: set[str] = set()
        self.pending: set[str] = set()

    def encode(self, points: list[Mapping[str, Any]]) -> torch.Tensor:
        """The surrogate's encoding of ``points`` (:meth:`Surrogate.encode`)."""
        return self.surrogate.encode(points)

    # ---- ask
    def propose(self) -> Choices | None:
        self.last_parent = None
        ok = [(c, s) for c, s in self.history if s is not None]
        if len(ok) < self.opts["init"]:
            return self._mark(self._random())
        cands, parents = self._candidates(ok)
        if not cands:
            return self._mark(self._random())
        # BANANAS trains once per batch of proposals: on the first init, init + refit, ... scores
        n = self.opts["init"] + (len(ok) - self.opts["init"]) // self.opts["refit"] * self.opts["refit"]
        mean, std = self.surrogate.predict(ok[:n], cands)  # type: ignore[arg-type]
        if self.opts["acquisition"] == "its":
            draw = torch.randn(len(cands), generator=self.surrogate.generator(2, len(self.history))).double()
            acq = mean + std * draw
        else:
            acq = mean + self.opts["beta"] * std
        pick = int(torch.argmax(acq))
        self.last_parent = parents[pick]
        return self._mark(cands[pick])

    def _mark(self, c: Choices | None) -> Choices | None:
        if c is not None:
            self.pending.add(choice_key(c))
        return c

    def _new(self, c: Mapping[str, Any]) -> bool:
        k = choice_key(c)
        return k not in self.seen and k not in self.pending

    def _random(self) -> Choices | None:
        for _ in range(1000):
            c = self.space.sample_choices(self.rng)
            if self._new(c):
                return c
        return None

    def _candidates(
        self, ok: list[tuple[Choices, float | None]]
    ) -> tuple[list[Choices], list[Choices | None]]:
        """New candidate points and the parent each was mutated from (None: a random one)."""
        o = self.opts
        parents = [c for c, _ in sorted(ok, key=lambda cs: -cs[1])[: o["parents"]]]  # type: ignore[operator]
        out: dict[str, tuple[Choices, Choices | None]] = {}
        for i in range(o["candidates"] * 4):  # bounded: a nearly exhausted neighbourhood yields fewer
            if len(out) >= o["candidates"]:
                break
            parent: Choices | None = None
            if i % 10 == 9:
                c = self.space.sample_choices(self.rng)
            else:
                parent = parents[i % len(parents)]
                c = self.space.mutate_choices(parent, self.rng)
                if self.rng.random() < 0.5:
                    c = self.space.mutate_choices(c, self.rng)
            if self._new(c):
                out.setdefault(choice_key(c), (c, parent))
        return [c for c, _ in out.values()], [p for _, p in out.values()]

    # ---- tell
    def observe(
        self, choices: Mapping[str, Any], score: float | None, costs: Mapping[str, float] | None = None
    ) -> None:
        k = choice_key(choices)
        self.pending.discard(k)
        self.seen.add(k)
        self.history.append((dict(choices), float(score) if is_finite(score) else None))  # type: ignore[arg-type]

    def forget_pending(self) -> None:
        self.pending.clear()

    # ---- state
    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "history": [[c, s] for c, s in self.history],
            "pending": sorted(self.pending),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.history = [(dict(c), s) for c, s in state["history"]]
        self.seen = {choice_key(c) for c, _ in self.history}
        self.pending = set(state.get("pending", []))
        self.surrogate.forget()
