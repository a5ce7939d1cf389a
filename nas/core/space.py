"""The search-space protocol: a vector of categorical choices ⇄ a genotype.

A space is a finite product of categorical dimensions (``choices()``), which Optuna, Ray Tune, grid
search and the RL controller all consume directly. ``decode`` and ``encode`` are exact inverses on
members; everything else (sampling, mutation, counting, enumeration) follows from them. A space may also
have its own text notation for a member (``parse_arch`` / ``format_arch``, e.g. the NB201 arch string);
:class:`nas.core.archcodec.ArchCodec` reads and writes tables through it.

The protocol lives in the core so the engine can name it; spaces themselves are plugins
(``search_spaces``), registered in :data:`nas.core.registry.SPACES`.
"""

from __future__ import annotations

import itertools
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from nas.core.genotype import Cell, Genotype
from nas.core.registry import SPACES

Choice = str | int | float | bool
Choices = dict[str, Choice]


class SearchSpace(ABC):
    """Subclasses implement ``choices``, ``decode`` and ``encode``; override ``size`` when the
    product of the option counts over-counts (constrained dimensions)."""

    name: str = "space"
    #: Members are trained as decoded, at their own input resolution and not shrunk to a fidelity
    #: preset's cells / width (a compound-scaling space: its members differ in exactly those).
    trains_as_built: bool = False

    @abstractmethod
    def choices(self) -> dict[str, tuple[Choice, ...]]:
        """Ordered categorical dimensions: name → options (JSON scalars)."""

    @abstractmethod
    def decode(self, choices: Mapping[str, Choice]) -> Genotype:
        """Choices → genotype; ``ValueError`` naming the field for a missing, unknown or bad choice."""

    @abstractmethod
    def encode(self, genotype: Genotype) -> Choices:
        """Genotype → choices; ``ValueError`` if the genotype is not a member of the space (encoders
        check by decoding the choices and comparing with ``anonymous``, so names do not matter)."""

    # Optional: a text notation for members (tables key their rows by it). A space that has one overrides
    # both methods; ``has_notation`` tells whether it did.
    def parse_arch(self, text: str) -> Choices:
        """The space's arch text → choices (``ValueError`` naming the problem for bad text)."""
        raise NotImplementedError(f"space {self.name!r} has no arch-string notation (parse_arch)")

    def format_arch(self, choices: Mapping[str, Choice]) -> str:
        """Choices → the space's arch text (the inverse of ``parse_arch``)."""
        raise NotImplementedError(f"space {self.name!r} has no arch-string notation (format_arch)")

    @property
    def has_notation(self) -> bool:
        """Whether this space overrides ``parse_arch`` and ``format_arch``."""
        cls = type(self)
        return cls.parse_arch is not SearchSpace.parse_arch and cls.format_arch is not SearchSpace.format_arch

    def check(self, choices: Mapping[str, Choice]) -> Choices:
        """Validate a choice dict against ``choices()`` (every field present, known, in range)."""
        dims = self.choices()
        unknown = sorted(set(choices) - set(dims))
        if unknown:
            raise ValueError(f"space {self.name!r}: unknown choice field(s) {', '.join(map(repr, unknown))}")
        out: Choices = {}
        for k, options in dims.items():
            if k not in choices:
                raise ValueError(f"space {self.name!r}: choice field {k!r} is missing")
            if choices[k] not in options:
                raise ValueError(
                    f"space {self.name!r}: choice field {k!r} = {choices[k]!r} is not one of {options}"
                )
            out[k] = choices[k]
        return out

    def contains(self, genotype: Genotype) -> bool:
        """Structural membership: ``encode`` succeeds (it verifies by decoding; names are ignored)."""
        try:
            self.encode(genotype)
        except ValueError:
            return False
        return True

    def layout_matches(self, genotype: Genotype) -> bool:
        """Whether ``genotype`` is a member *as it is*: ``decode(encode(genotype))`` equals it (names
        ignored). A cell space's ``encode`` reads only the cells, so a network whose cells are members
        but whose layout (number of cells, width, stem, data set) is not the space's encodes, and this
        is False."""
        try:
            choices = self.encode(genotype)
        except ValueError:
            return False
        return anonymous(self.decode(choices)) == anonymous(genotype)

    def sample(self, rng: random.Random) -> Genotype:
        return self.decode(self.sample_choices(rng))

    def sample_choices(self, rng: random.Random) -> Choices:
        return {k: rng.choice(options) for k, options in self.choices().items()}

    def mutate(self, genotype: Genotype, rng: random.Random) -> Genotype:
        """Change exactly one choice to a different value."""
        return self.decode(self.mutate_choices(self.encode(genotype), rng))

    def mutate_choices(self, choices: Mapping[str, Choice], rng: random.Random) -> Choices:
        dims = [(k, o) for k, o in self.choices().items() if len(o) > 1]
        if not dims:
            raise ValueError(f"space {self.name!r} has a single member: nothing to mutate")
        k, options = rng.choice(dims)
        out = dict(choices)
        out[k] = rng.choice([o for o in options if o != choices[k]])
        return out

    def neighbours(self, choices: Mapping[str, Choice]) -> list[Choices]:
        """Every member one change away from ``choices`` (one field set to another option), in field order:
        the neighbourhood a local search walks."""
        out = []
        for k, options in self.choices().items():
            out.extend({**choices, k: o} for o in options if o != choices[k])
        return out

    def size(self) -> int:
        return math.prod(len(o) for o in self.choices().values())

    def member_choices(self) -> list[Choices] | None:
        """The choices of every member when the space is a constrained part of the product of
        ``choices()`` (the grid strategy walks these instead of the product); None: every combination
        is a member."""
        return None

    def enumerate(self, limit: int = 1_000_000) -> Iterator[Genotype]:
        """Every member, in the order of ``itertools.product`` over ``choices()``."""
        if self.size() > limit:
            raise ValueError(f"space {self.name!r} has {self.size():,} members, more than limit={limit:,}")
        dims = self.choices()
        for values in itertools.product(*dims.values()):
            yield self.decode(dict(zip(dims, values)))

    def define_by_run(self, trial: Any) -> Choices:
        """Optuna define-by-run: one categorical suggestion per dimension."""
        return {k: trial.suggest_categorical(k, list(options)) for k, options in self.choices().items()}

    def describe(self) -> dict[str, Any]:
        dims = self.choices()
        return {"name": self.name, "size": self.size(), "dimensions": {k: list(v) for k, v in dims.items()}}


def anonymous(genotype: Genotype) -> Genotype:
    """``genotype`` with the network's and every cell's name blanked (``"_"``), for comparisons in which
    names do not matter (space membership is structural: a renamed member is still a member)."""
    if isinstance(genotype, Cell):
        return replace(genotype, name="_")
    return replace(
        genotype,
        name="_",
        stem=anonymous(genotype.stem),
        head=anonymous(genotype.head),
        stages=tuple(replace(s, cell=anonymous(s.cell)) for s in genotype.stages),
        aux=tuple(replace(a, head=anonymous(a.head)) for a in genotype.aux),
    )


def get_space(space: SearchSpace | str) -> SearchSpace:
    """A space, or the name of a registered one (made with its default options)."""
    if isinstance(space, str):
        return SPACES[space]()
    if not isinstance(space, SearchSpace):
        raise TypeError(f"space must be a SearchSpace or a registered name, got {type(space).__name__}")
    return space
