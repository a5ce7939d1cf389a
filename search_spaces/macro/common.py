"""Shared machinery of the macro spaces: option tables, typed checks, conditional fields, names.

A macro space is a product of categorical fields; a space may mark some fields *conditional*
(``active()``): a field that does not apply to a choice vector (ResNet's ``groups`` for a basic
block) is fixed to its neutral value, so every member has exactly one encoding. ``size``,
``enumerate``, ``sample``, ``mutate`` and ``define_by_run`` count and move over members only.

Names. ``decode`` names the network after the zoo entry whose genotype it equals (``resnet50``);
any other member is named ``<space>_<10 hex digits>``, a SHA-256 of the network's JSON with the name
left out, so the name is a function of the architecture alone. Membership (``contains``,
``encode``) is structural: the names of the genotype being encoded and of its cells are ignored
(:func:`search_spaces.base.anonymous`), so ``decode(encode(g)) == g`` holds for members that carry
the space's names (decoded ones, the zoo's) and equality up to names for renamed ones.

Encoding parses the genotype into choices and then rebuilds it from them: a genotype is a member
exactly when the rebuild equals it (up to the name), so ``encode`` never accepts a near miss.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from nas.core.genotype import SCHEMA_V1, Genotype, Network
from nas.core.registry import ARCHS
from search_spaces.base import Choice, Choices, SearchSpace, anonymous

Options = tuple[Choice, ...]


def option_list(field: str, values: Sequence[Choice] | Choice) -> Options:
    """A non-empty tuple of distinct JSON scalars for ``field`` (a scalar becomes a one-option field)."""
    vals = tuple(values) if isinstance(values, list | tuple | range) else (values,)
    if not vals:
        raise ValueError(f"option list for field {field!r} must not be empty")
    for v in vals:
        if not isinstance(v, bool | int | float | str):
            raise ValueError(f"option list for field {field!r}: {v!r} is not a JSON scalar")
    if len({(type(v) is bool, v) for v in vals}) != len(vals):
        raise ValueError(f"option list for field {field!r} repeats a value: {list(vals)}")
    return vals


def per_stage(field: str, values: Any, n: int) -> tuple[Options, ...]:
    """``n`` option lists from one list (shared by all stages) or a list of ``n`` lists."""
    if (
        isinstance(values, list | tuple)
        and values
        and all(isinstance(v, list | tuple | range) for v in values)
    ):
        if len(values) != n:
            raise ValueError(f"option {field!r} must give one list per stage ({n}), got {len(values)}")
        return tuple(option_list(f"{field}[{i}]", v) for i, v in enumerate(values))
    return (option_list(field, values),) * n


def _match(options_: Options, value: Any) -> tuple[bool, Choice | None]:
    """The option equal to ``value`` (bools only match bools), so 6.0 reads as the option 6."""
    for o in options_:
        if isinstance(o, bool) == isinstance(value, bool) and o == value:
            return True, o
    return False, None


def structure_hash(net: Network) -> str:
    """SHA-256 of the network's expanded JSON (the v1 document, sorted keys) with its name left out: the
    hash names generated members (``resnet_<hash>``), so it must not follow the file format."""
    doc = {"schema": SCHEMA_V1, "kind": "network", **net.replace(name="?").to_dict()}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def first_difference(a: Network, b: Network) -> str:
    """Where two networks first differ, in words (for 'not a member' errors)."""
    for f in ("input_size", "num_classes", "drop_path", "drop_path_schedule"):
        if getattr(a, f) != getattr(b, f):
            return f"field {f!r} is {getattr(b, f)!r}, the space has {getattr(a, f)!r}"
    if a.stem != b.stem:
        return "the stem differs"
    if len(a.stages) != len(b.stages):
        return f"it has {len(b.stages)} stages, the space builds {len(a.stages)}"
    for i, (x, y) in enumerate(zip(a.stages, b.stages)):
        if x != y:
            return f"stage {i} differs"
    if a.head != b.head:
        return "the head differs"
    return "the auxiliary heads differ"


class MacroSpace(SearchSpace):
    """A product of categorical fields with optional conditional fields.

    Subclasses set ``name`` and ``families`` (zoo families whose entries name equal decodes), fill
    ``self.dims`` in ``__init__`` and implement ``build`` (choices → network) and ``parse``
    (network → choices, best effort; ``encode`` verifies by rebuilding). Conditional spaces list
    their deciding fields in ``controllers`` and override ``active`` and ``neutral``.
    """

    families: tuple[str, ...] = ()
    controllers: tuple[str, ...] = ()  # fields that decide which other fields are active
    neutral: dict[str, Choice] = {}  # value an inactive field takes (if it is one of its options)

    def __init__(self, dims: dict[str, Options], overrides: Mapping[str, Sequence[Choice]] | None = None):
        dims = dict(dims)
        for k, v in (overrides or {}).items():
            if k not in dims:
                raise ValueError(f"space {self.name!r}: option override for unknown field {k!r}")
            dims[k] = option_list(k, v)
        self.dims: dict[str, Options] = dims
        self._known: dict[str, str] | None = None

    # -- to implement --------------------------------------------------------------------------
    @abstractmethod
    def build(self, c: Choices, name: str) -> Network:
        """Checked, canonical choices → network called ``name``."""

    @abstractmethod
    def parse(self, g: Network) -> dict[str, Any]:
        """Read the choices off a network (``ValueError``/``KeyError``/``IndexError`` if it has the
        wrong shape); values need not be options yet."""

    def active(self, c: Mapping[str, Choice]) -> set[str]:
        """Fields that apply, given (at least) the controllers' values."""
        return set(self.dims)

    # -- interface -----------------------------------------------------------------------------
    def choices(self) -> dict[str, Options]:
        return dict(self.dims)

    def fixed(self, field: str) -> Choice:
        """The value of ``field`` when it is inactive."""
        ok, v = _match(self.dims[field], self.neutral.get(field))
        return v if ok else self.dims[field][0]

    def check(self, choices: Mapping[str, Choice]) -> Choices:
        if not isinstance(choices, Mapping):
            raise ValueError(f"space {self.name!r}: choices must be a mapping, got {type(choices).__name__}")
        unknown = sorted(set(choices) - set(self.dims))
        if unknown:
            raise ValueError(f"space {self.name!r}: unknown choice field(s) {', '.join(map(repr, unknown))}")
        given: dict[str, Choice] = {}
        for k, v in choices.items():
            ok, o = _match(self.dims[k], v)
            if not ok:
                raise ValueError(
                    f"space {self.name!r}: choice field {k!r} = {v!r} is not one of {self.dims[k]}"
                )
            given[k] = o
        for k in self.controllers:
            if k not in given:
                raise ValueError(f"space {self.name!r}: choice field {k!r} is missing")
        act = self.active(given)
        out: Choices = {}
        for k in self.dims:
            if k in act:
                if k not in given:
                    raise ValueError(f"space {self.name!r}: choice field {k!r} is missing")
                out[k] = given[k]
            else:
                out[k] = self.fixed(k)  # inactive: neutral value, whatever was given
        return out

    def decode(self, choices: Mapping[str, Choice]) -> Network:
        net = self.build(self.check(choices), "?")
        key = structure_hash(net)
        return net.replace(name=self.known_names().get(key) or f"{self.name}_{key[:10]}")

    def encode(self, genotype: Genotype) -> Choices:
        if not isinstance(genotype, Network):
            raise ValueError(f"space {self.name!r} holds networks, got a {type(genotype).__name__}")
        where = f"network {genotype.name!r} is not a member of space {self.name!r}"
        try:
            raw = self.parse(genotype)
        except (KeyError, IndexError, ValueError, TypeError, AttributeError) as e:
            raise ValueError(f"{where}: {e}") from None
        try:
            c = self.check(raw)
            if raw != {k: c[k] for k in raw}:  # a parsed inactive field away from its neutral value
                bad = next(k for k in raw if raw[k] != c[k])
                raise ValueError(f"choice field {bad!r} = {raw[bad]!r} does not apply here")
            built = self.build(c, genotype.name)
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
        if anonymous(built) != anonymous(genotype):
            raise ValueError(f"{where}: {first_difference(anonymous(built), anonymous(genotype))}")
        return c

    def known_names(self) -> dict[str, str]:
        """Structure hash → zoo name, for the zoo families of this space (built once)."""
        if self._known is None:
            self._known = {}
            for name in ARCHS.list():
                if ARCHS.entry(name).meta.get("family") in self.families:
                    self._known.setdefault(structure_hash(ARCHS[name]()), name)
        return self._known

    # -- conditional-aware counting and moves ------------------------------------------------------
    def _controller_combos(self) -> Iterator[dict[str, Choice]]:
        for values in itertools.product(*(self.dims[k] for k in self.controllers)):
            yield dict(zip(self.controllers, values))

    def size(self) -> int:
        total = 0
        for combo in self._controller_combos():
            act = self.active(combo)
            total += math.prod(len(o) for k, o in self.dims.items() if k in act and k not in combo)
        return total

    def enumerate(self, limit: int = 1_000_000) -> Iterator[Network]:
        """Every member once (controllers outermost, then ``itertools.product`` in field order)."""
        if self.size() > limit:
            raise ValueError(f"space {self.name!r} has {self.size():,} members, more than limit={limit:,}")
        for combo in self._controller_combos():
            act = self.active(combo)
            free = [k for k in self.dims if k in act and k not in combo]
            for values in itertools.product(*(self.dims[k] for k in free)):
                yield self.decode({**combo, **dict(zip(free, values))})

    def sample_choices(self, rng: random.Random) -> Choices:
        """Each field uniformly at random; inactive fields then take their neutral value."""
        return self.check({k: rng.choice(o) for k, o in self.dims.items()})

    def mutate_choices(self, choices: Mapping[str, Choice], rng: random.Random) -> Choices:
        """A uniformly chosen neighbour (:meth:`neighbours`)."""
        moves = self.neighbours(choices)
        if not moves:
            raise ValueError(f"space {self.name!r} has a single member: nothing to mutate")
        return rng.choice(moves)

    def neighbours(self, choices: Mapping[str, Choice]) -> list[Choices]:
        """Members one field away, each a canonical encoding (so a controller only changes when that
        leaves no active field off its neutral value)."""
        c = self.check(choices)
        moves = []
        for k, opts in self.dims.items():
            for o in opts:
                if o != c[k] or isinstance(o, bool) != isinstance(c[k], bool):
                    new = {**c, k: o}
                    if self.check(new) == new:
                        moves.append(new)
        return moves

    def define_by_run(self, trial: Any) -> Choices:
        """Optuna define-by-run: a categorical suggestion per field that applies (controllers first)."""
        c: dict[str, Choice] = {k: trial.suggest_categorical(k, list(self.dims[k])) for k in self.controllers}
        act = self.active(c)
        for k, opts in self.dims.items():
            if k not in c and k in act:
                c[k] = trial.suggest_categorical(k, list(opts))
        return self.check(c)
