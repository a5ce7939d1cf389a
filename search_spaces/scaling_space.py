"""Compound scaling as search spaces over one base network (``nas scale`` runs them with the grid
strategy, so they are ordinary search runs: run directory, budget, resume, trials table).

``scale``       α, β, γ on a grid, restricted to ``|α·β²·γ² − target| ≤ tolerance``; a member is the base
                scaled at φ = 1 (depth α, width β, resolution γ), named ``<base>_a1.2_b1.1_g1.15``
``scale-list``  named scalings of the base: ``members={"phi2": [depth, width, resolution], …}`` (a φ
                family, or compound against single-dimension scaling at equal MACs)

``base``: a zoo name, a genotype file or a genotype as JSON data. Members are trained as built (at their own
resolution, not shrunk to a preset's cells / width): they differ in exactly those. Several choices may give
one network (rounding: ``ceil(3·1.1) = ceil(3·1.2)``); the run trains it once and copies its score.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from nas.core.errors import ConfigError
from nas.core.genotype import Genotype, Network, from_json
from nas.core.registry import register_space
from nas.core.resolve import resolve
from nas.core.space import Choice, Choices, SearchSpace, anonymous
from nas.tools.compound import COEFFICIENTS, grid
from nas.tools.scale import scale

_ARCH = re.compile(r"a([0-9.]+)_b([0-9.]+)_g([0-9.]+)")


def base_network(base: str | Mapping[str, Any] | Network) -> Network:
    """The base of a scaling space: a zoo name, a genotype file or a genotype's JSON data."""
    if isinstance(base, Mapping):
        net = from_json(json.dumps(dict(base)))
    else:
        net = resolve(base)
    if not isinstance(net, Network):
        raise ConfigError("base", f"must be a network, not a single cell ({net.name!r})")
    return net


class _Scaled(SearchSpace):
    """A space of scalings of ``base``: subclasses give ``_points`` (the members' choices) and
    ``_scaling(choices)`` (depth, width, resolution, name)."""

    trains_as_built = True
    _points: list[Choices]

    def __init__(self, base: str | Mapping[str, Any] | Network) -> None:
        self.base = base_network(base)
        self._memo: dict[tuple, Network] = {}

    def _scaling(self, c: Choices) -> tuple[float, float, float | int, str]:
        raise NotImplementedError

    def check(self, choices: Mapping[str, Choice]) -> Choices:
        c = super().check(choices)
        if c not in self._points:
            raise ValueError(f"space {self.name!r}: {c} is outside the constrained grid")
        return c

    def decode(self, choices: Mapping[str, Choice]) -> Network:
        c = self.check(choices)
        key = tuple(c.values())
        if key not in self._memo:
            d, w, r, name = self._scaling(c)
            self._memo[key] = scale(self.base, depth=d, width=w, resolution=r, name=name)
        return self._memo[key]

    def encode(self, genotype: Genotype) -> Choices:
        """The member's choices: read off its name when it kept it, else the first member that decodes to
        the same network (rounding may give several)."""
        if not isinstance(genotype, Network):
            raise ValueError(f"space {self.name!r} holds networks, got a {type(genotype).__name__}")
        target = anonymous(genotype)
        named = [c for c in self._points if self._scaling(c)[3] == genotype.name]
        for c in named + [c for c in self._points if c not in named]:
            if anonymous(self.decode(c)) == target:
                return dict(c)
        raise ValueError(f"network {genotype.name!r} is not a member of space {self.name!r}")

    def member_choices(self) -> list[Choices]:
        return [dict(c) for c in self._points]

    def size(self) -> int:
        return len(self._points)

    def enumerate(self, limit: int = 1_000_000) -> Iterator[Network]:
        if self.size() > limit:
            raise ValueError(f"space {self.name!r} has {self.size():,} members, more than limit={limit:,}")
        for c in self._points:
            yield self.decode(c)

    def sample_choices(self, rng: random.Random) -> Choices:
        return dict(rng.choice(self._points))

    def neighbours(self, choices: Mapping[str, Choice]) -> list[Choices]:
        return [dict(c) for c in self._points if c != dict(choices)]

    def mutate_choices(self, choices: Mapping[str, Choice], rng: random.Random) -> Choices:
        others = [c for c in self._points if c != dict(choices)]
        if not others:
            raise ValueError(f"space {self.name!r} has a single member: nothing to mutate")
        return dict(rng.choice(others))


@register_space("scale", description="compound scaling: alpha, beta, gamma at phi=1, a*b^2*g^2 ~ 2")
class CompoundGridSpace(_Scaled):
    """α (depth), β (width), γ (resolution) at φ = 1 on a grid of ``step`` over each coefficient's
    ``[low, high]`` (a number: fixed), restricted to ``|α·β²·γ² − target| ≤ tolerance``."""

    name = "scale"

    def __init__(
        self,
        base: str | Mapping[str, Any] | Network = "resnet20",
        alpha: float | Sequence[float] = (1.0, 1.4),
        beta: float | Sequence[float] = (1.0, 1.4),
        gamma: float | Sequence[float] = (1.0, 1.4),
        step: float = 0.05,
        target: float = 2.0,
        tolerance: float = 0.1,
    ) -> None:
        super().__init__(base)
        points = grid(alpha, beta, gamma, step=step, target=target, tolerance=tolerance)
        # resolution-major: a training run reloads its data when the resolution changes
        points.sort(key=lambda p: (p[2], p[0], p[1]))
        self._points = [dict(zip(COEFFICIENTS, p)) for p in points]
        self._dims = {k: tuple(sorted({c[k] for c in self._points})) for k in COEFFICIENTS}
        for dimension, k in zip(("depth", "width", "resolution"), COEFFICIENTS):
            if max(self._dims[k]) > 1:  # an unscalable base fails here, naming the dimension
                scale(self.base, **{dimension: max(self._dims[k])})

    def choices(self) -> dict[str, tuple[Choice, ...]]:
        return dict(self._dims)

    def _scaling(self, c: Choices) -> tuple[float, float, float | int, str]:
        a, b, g = (float(c[k]) for k in COEFFICIENTS)
        return a, b, g, f"{self.base.name}_{self.format_arch(c)}"

    def format_arch(self, choices: Mapping[str, Choice]) -> str:
        return "a{:g}_b{:g}_g{:g}".format(*(float(choices[k]) for k in COEFFICIENTS))  # type: ignore[arg-type]

    def parse_arch(self, text: str) -> Choices:
        m = _ARCH.fullmatch(text.strip())
        if m is None:
            raise ValueError(f"space 'scale': arch {text!r} is not of the form a1.2_b1.1_g1.15")
        return dict(zip(COEFFICIENTS, map(float, m.groups())))


@register_space("scale-list", description="named [depth, width, resolution] scalings of a base network")
class ScaledFamilySpace(_Scaled):
    """Named scalings of ``base``: ``members`` maps a name to ``[depth, width, resolution]``
    multipliers (all three multipliers, also an integer resolution), in the order given; without
    ``members`` the space holds the base alone (``base: [1, 1, 1]``), so it can be listed and shown."""

    name = "scale-list"

    def __init__(
        self,
        base: str | Mapping[str, Any] | Network = "resnet20",
        members: Mapping[str, Sequence[float]] | None = None,
    ) -> None:
        super().__init__(base)
        if members is None:
            members = {"base": (1.0, 1.0, 1.0)}
        if not members:
            raise ConfigError("members", "give at least one NAME: [depth, width, resolution]")
        self.members: dict[str, tuple[float, float, float]] = {}
        for k, v in members.items():
            if not (isinstance(v, Sequence) and len(v) == 3):
                raise ConfigError("members", f"{k!r} must be [depth, width, resolution], got {v!r}")
            self.members[str(k)] = (float(v[0]), float(v[1]), float(v[2]))  # 1 is ×1, not 1 pixel
        self._points = [{"member": k} for k in self.members]

    def choices(self) -> dict[str, tuple[Choice, ...]]:
        return {"member": tuple(self.members)}

    def _scaling(self, c: Choices) -> tuple[float, float, float | int, str]:
        d, w, r = self.members[str(c["member"])]
        return d, w, r, f"{self.base.name}_{c['member']}"

    def format_arch(self, choices: Mapping[str, Choice]) -> str:
        return str(choices["member"])

    def parse_arch(self, text: str) -> Choices:
        return {"member": text.strip()}


__all__ = ["CompoundGridSpace", "ScaledFamilySpace", "base_network"]
