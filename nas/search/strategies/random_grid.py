"""Uninformed strategies: uniform random sampling and grid enumeration.

==========  =========================================================================================
random      uniform over the product of the choices
grid        every member in ``itertools.product`` order (``shuffle=true`` for a seeded random order), or
            an explicit list of points (``points=FILE.json``), or a constrained space's members
==========  =========================================================================================
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nas.core.errors import ConfigError
from nas.core.space import SearchSpace
from nas.search.strategies.base import Choices, Strategy, choice_key, register_strategy


@register_strategy
class RandomSearch(Strategy):
    name = "random"

    def propose(self) -> Choices:
        return {k: self.rng.choice(v) for k, v in self.dims.items()}


@register_strategy
class GridSearch(Strategy):
    """Mixed-radix enumeration of the product (no materialisation), optionally in a seeded random order
    (spaces up to ``10^7`` members), or over an explicit list of points (``points=FILE.json``, a JSON list of
    choice dicts)."""

    name = "grid"
    options = {"shuffle": False, "points": ""}

    def __init__(self, space: SearchSpace, seed: int = 0, **options: Any) -> None:
        super().__init__(space, seed, **options)
        self.index = 0
        self._observed: set[str] = set()
        self._points: list[Choices] | None = None
        if self.opts["points"]:
            path = Path(self.opts["points"])
            if not path.is_file():
                raise ConfigError(
                    "strategy_options", f"strategy 'grid': points file {str(path)!r} does not exist"
                )
            pts = json.loads(path.read_text())
            if not isinstance(pts, list):
                raise ConfigError(
                    "strategy_options",
                    f"strategy 'grid': points file {str(path)!r} must hold a JSON list of choice dicts",
                )
            self._points = [space.check(p) for p in pts]
        else:
            self._points = space.member_choices()  # a constrained space: its members, not the product
        self.total = (
            len(self._points) if self._points is not None else math.prod(len(v) for v in self.dims.values())
        )
        self._perm: list[int] | None = None
        if self.opts["shuffle"]:
            if self.total > 10_000_000:
                raise ConfigError(
                    "strategy_options",
                    f"strategy 'grid': shuffle needs a space of at most 10^7 members, not {self.total:,}",
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
        """The next point not observed yet: after a resume, the trials finished after the last saved
        state are replayed to ``observe`` and not proposed again (nor seed points of the space)."""
        while self.index < self.total:
            i = self._perm[self.index] if self._perm is not None else self.index
            self.index += 1
            choices = self._at(i)
            if choice_key(choices) not in self._observed:
                return choices
        return None

    def observe(
        self, choices: Mapping[str, Any], score: float | None, costs: Mapping[str, float] | None = None
    ) -> None:
        self._observed.add(choice_key(choices))

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "index": self.index}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.index = int(state["index"])
