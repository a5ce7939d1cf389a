"""The points a search evaluates before (or beside) its strategy's proposals: ``seed_with`` points of the
space (fed to the strategy with their choices), outside ``baseline`` networks (never fed), a pre-screen's
best; and the candidate record the driver makes of each proposal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.core.errors import ConfigError, first_line
from nas.core.genotype import Genotype
from nas.core.resolve import resolve
from nas.core.space import Choices, SearchSpace
from nas.search.config import SearchConfig


@dataclass
class SeedPoint:
    """A candidate evaluated before the strategy's proposals: a zoo network or genotype file (``seed`` /
    ``baseline``) or a pre-screened candidate (``prescreen``, with its already measured proxy score)."""

    name: str
    genotype: Genotype
    source: str
    known: dict[str, float] = field(default_factory=dict)
    choices: Choices | None = None  # a point of the space (shown to the strategy); None: an outside baseline


@dataclass
class Candidate:
    name: str
    genotype: Genotype | None  # None: the space could not decode the strategy's proposal
    choices: Choices | None  # None: outside the space (never shown to the strategy)
    source: str
    known: dict[str, float] = field(default_factory=dict)
    parent: int | None = None  # the trial id of the point it was derived from (a mutation's parent)


def resolve_seed_points(specs: Sequence[str]) -> list[tuple[str, Genotype]]:
    """``resnet20,densenet_bc`` names or genotype JSON files → (name, genotype) pairs."""
    out = []
    for spec in specs:
        for name in (p.strip() for p in str(spec).split(",")):
            if name:
                out.append((Path(name).stem if name.endswith(".json") else name, resolve(name)))
    return out


class NoSpace(SearchSpace):
    """The 'space' of a baselines run: seed points only, nothing to propose."""

    name = ""

    def choices(self) -> dict[str, tuple]:
        return {}

    def decode(self, choices: Mapping[str, Any]) -> Genotype:
        raise ValueError("a baselines run has no search space")

    def encode(self, genotype: Genotype) -> Choices:
        raise ValueError("a baselines run has no search space")

    def size(self) -> int:
        return 0


def seed_points(config: SearchConfig, space: SearchSpace) -> list[SeedPoint]:
    """``config.seed_with`` as points of ``space`` — evaluated at the space's layout (a cell space encodes
    the cells) and shown to the strategy with their choices; a non-member is an error — then
    ``config.baseline``, evaluated as they are and never shown. A baselines run evaluates its points as
    they are."""
    if config.kind == "baselines":
        return [SeedPoint(n, g, "baseline") for n, g in resolve_seed_points(config.seed_with)]
    points = []
    for name, g in resolve_seed_points(config.seed_with):
        try:
            choices = space.encode(g)
            member = space.decode(choices)
        except (ValueError, TypeError, KeyError) as e:
            raise ConfigError(
                "seed_with",
                f"{name} is not a point of the {config.space} space ({first_line(e)}); it can be evaluated "
                "as an outside baseline that the strategy never sees",
                fixes=("baseline",),
            ) from None
        points.append(SeedPoint(name, member, "seed", choices=choices))
    return points + [SeedPoint(n, g, "baseline") for n, g in resolve_seed_points(config.baseline)]
