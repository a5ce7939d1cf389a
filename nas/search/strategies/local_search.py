"""Local search (White, Nolen, Savani 2021, "Local search is state of the art for NAS benchmarks"):
walk the neighbourhood (``space.neighbours``: one field changed) of the best point so far.

Start: the best of ``init`` observed points — random proposals, or what the run evaluated first (seed
points, a zero-cost pre-screen's top candidates: the warm start). Then the current centre's neighbours are
proposed in random order; with ``move="first"`` the first neighbour that beats the centre becomes the
centre (first improvement), with ``move="best"`` the whole neighbourhood is evaluated and the best one
taken if it beats the centre. A centre none of whose neighbours beats it is a local optimum: the search
restarts from a random point (``restart="random"``, the default: the paper's choice, and the best on the
full NAS-Bench-201 CIFAR-10 table) or from the best observed point not yet used as a centre
(``restart="best"``). No point is proposed twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nas.core.errors import ConfigError
from nas.core.space import SearchSpace
from nas.search.strategies.base import Choices, Strategy, choice_key, register_strategy
from nas.stats import is_finite


@register_strategy
class LocalSearch(Strategy):
    """Best-so-far neighbourhood walk with restarts; ask/tell, asynchronous (proposals may be pending)."""

    name = "local"
    options = {"init": 20, "move": "first", "restart": "random"}  # tuned: benchmarks/results/strategies.json

    def __init__(self, space: SearchSpace, seed: int = 0, **options: Any) -> None:
        super().__init__(space, seed, **options)
        if self.opts["init"] < 1:
            raise ConfigError("strategy_options", "strategy 'local': init must be >= 1")
        for opt, allowed in (("move", ("first", "best")), ("restart", ("best", "random"))):
            if self.opts[opt] not in allowed:
                raise ConfigError(
                    "strategy_options", f"strategy 'local': {opt} must be one of {', '.join(allowed)}"
                )
        self.scores: dict[str, float | None] = {}  # choice key → score (None: failed) of every observation
        self.points: dict[str, Choices] = {}  # choice key → choices, observed or proposed
        self.pending: set[str] = set()
        self.centre: str | None = None
        self.queue: list[str] = []  # the centre's neighbours not yet proposed, in proposal order
        self.used: set[str] = set()  # points that have been centres
        self.start: str | None = None  # a random restart point, the centre once observed

    # ---- ask
    def propose(self) -> Choices | None:
        if self.centre is None and self.start is None:
            if len(self._finite()) < self.opts["init"]:
                self.last_parent = None
                return self._propose_new(self._random())
            self._take_centre(self._best_unused())
        while True:
            while self.queue:
                k = self.queue.pop(0)
                if k not in self.scores and k not in self.pending:
                    self.last_parent = self.points[self.centre] if self.centre is not None else None
                    return self._propose_new(self.points[k])
            if self.pending or self.start is not None or not self._advance():
                # results still to come (or nowhere to go): explore at random meanwhile
                self.last_parent = None
                return self._propose_new(self._random())

    def _propose_new(self, c: Choices | None) -> Choices | None:
        if c is None:
            return None
        k = choice_key(c)
        self.points[k] = dict(c)
        self.pending.add(k)
        return dict(c)

    def _random(self) -> Choices | None:
        """A uniformly random point not yet observed or pending (None once the space seems exhausted)."""
        for _ in range(1000):
            c = self.space.sample_choices(self.rng)
            k = choice_key(c)
            if k not in self.scores and k not in self.pending:
                return c
        return None

    # ---- the walk
    def _finite(self) -> dict[str, float]:
        return {k: v for k, v in self.scores.items() if v is not None}

    def _best_unused(self) -> str | None:
        cands = {k: v for k, v in self._finite().items() if k not in self.used}
        return max(cands, key=lambda k: cands[k]) if cands else None

    def _take_centre(self, key: str | None) -> None:
        self.centre = key
        self.queue = []
        if key is None:
            return
        self.used.add(key)
        nbrs = self.space.neighbours(self.points[key])
        self.rng.shuffle(nbrs)
        for c in nbrs:
            k = choice_key(c)
            self.points.setdefault(k, dict(c))
            if k not in self.scores:
                self.queue.append(k)

    def _advance(self) -> bool:
        """The centre's neighbourhood is evaluated: move to its best neighbour if that improves, else
        restart. False when there is nowhere to go but a random point."""
        if self.centre is not None:
            best = self._best_neighbour(self.centre)
            if best is not None:
                self._take_centre(best)
                return True
        if self.opts["restart"] == "best":
            nxt = self._best_unused()
            if nxt is not None:
                self._take_centre(nxt)
            return nxt is not None
        c = self._random()
        if c is None:
            return False
        self.centre, self.start = None, choice_key(c)  # it becomes the centre once observed
        self.points[self.start], self.queue = c, [self.start]
        return True

    def _best_neighbour(self, centre: str) -> str | None:
        """The best observed neighbour of ``centre`` that beats it and was no centre yet."""
        base = self.scores.get(centre)
        best, best_v = None, base
        for c in self.space.neighbours(self.points[centre]):
            k = choice_key(c)
            v = self.scores.get(k)
            if v is not None and k not in self.used and (best_v is None or v > best_v):
                best, best_v = k, v
        return best

    # ---- tell
    def observe(
        self, choices: Mapping[str, Any], score: float | None, costs: Mapping[str, float] | None = None
    ) -> None:
        k = choice_key(choices)
        self.pending.discard(k)
        self.points.setdefault(k, dict(choices))
        self.scores[k] = float(score) if is_finite(score) else None  # type: ignore[arg-type]
        if k == self.start:
            self.start = None
            if is_finite(score):
                self._take_centre(k)
            return
        if score is None or not is_finite(score) or self.centre is None:
            return
        centre_v = self.scores.get(self.centre)
        if (
            self.opts["move"] == "first"
            and centre_v is not None
            and score > centre_v
            and k in self._nbr_keys()
        ):
            self._take_centre(k)

    def _nbr_keys(self) -> set[str]:
        assert self.centre is not None
        return {choice_key(c) for c in self.space.neighbours(self.points[self.centre])}

    def forget_pending(self) -> None:
        self.pending.clear()

    # ---- state
    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "observed": [[self.points[k], v] for k, v in self.scores.items()],
            "centre": None if self.centre is None else self.points[self.centre],
            "queue": [self.points[k] for k in self.queue],
            "used": [self.points[k] for k in self.used],
            "pending": [self.points[k] for k in self.pending],
            "start": None if self.start is None else self.points[self.start],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.scores, self.points = {}, {}
        for c, v in state["observed"]:
            k = choice_key(c)
            self.points[k], self.scores[k] = dict(c), v
        for field in ("queue", "used", "pending", "start"):
            value = state.get(field)
            for c in [value] if isinstance(value, dict) else value or []:
                self.points.setdefault(choice_key(c), dict(c))
        self.queue = [choice_key(c) for c in state.get("queue", [])]
        self.used = {choice_key(c) for c in state.get("used", [])}
        self.pending = {choice_key(c) for c in state.get("pending", [])}
        start = state.get("start")
        self.start = None if start is None else choice_key(start)
        centre = state.get("centre")
        self.centre = None if centre is None else choice_key(centre)
        if self.centre is not None:
            self.points.setdefault(self.centre, dict(centre))
