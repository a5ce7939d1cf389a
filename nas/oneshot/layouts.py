"""How a cell space's choices map onto the edges of its supernet.

A supernet cell is the space's own cell with every searchable *slot* node (an op whose choice the space
varies) replaced by a set of *edges*: an edge reads one state of the cell and holds one candidate op per
option; the node a slot feeds (its *target*) sums the outputs of its active edges. A layout tells, for a
space, which stages are searchable (a *group* of cells sharing one set of choices: NB201's one cell, DARTS's
normal and reduction cells), what the edges are, and which edge and option each slot node of a decoded
member is (:meth:`SupernetLayout.slots`). The engine never imports the spaces: a layout reads the space's
choice fields and the genotypes ``decode`` returns, nothing else.

* ``nb201``: a slot per edge field ``e{i}_{j}`` (node ``e{i}_{j}`` → target ``n{i}``); the supernet edge
  *is* the slot, so a path activates all six edges, one candidate each.
* ``darts``: node ``k`` has an edge from every earlier state ``i < k`` (``n{k}_from{i}``, the DARTS
  supernet); a member's slot ``n{k}_0`` / ``n{k}_1`` reading state ``a`` with op ``o`` is edge
  ``n{k}_from{a}``'s candidate ``o``, so a path activates two edges per node.

NASNet is not covered: its combine (add / concat) and extra-concat choices change the fixed part of the
cell (adapters, concat widths), which a supernet of shared edges cannot hold without a second model format.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from nas.core.genotype import Stage
from nas.core.space import SearchSpace


@dataclass(frozen=True)
class EdgeSpec:
    """One supernet edge of a group: ``target`` node sums it; it reads state ``source`` of the cell."""

    key: str
    target: str
    source: str
    options: tuple[str, ...]


# A member's slots in one group: slot node name → (edge key, option).
Slots = dict[str, tuple[str, str]]


class SupernetLayout:
    """Base class: ``groups``, ``group_of``, ``edges``, ``slots`` and ``probes`` (see module docstring)."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.dims = space.choices()

    groups: tuple[str, ...] = ()

    def group_of(self, stage: Stage) -> str | None:
        """The group a stage's cell belongs to, or None for a fixed stage (stem blocks, reductions)."""
        raise NotImplementedError

    def edges(self, group: str) -> list[EdgeSpec]:
        """The group's edges, in the order their targets sum them."""
        raise NotImplementedError

    def slots(self, choices: Mapping[str, Any]) -> dict[str, Slots]:
        """Per group, each slot node of ``space.decode(choices)`` → (edge key, option)."""
        raise NotImplementedError

    def probes(self) -> list[dict[str, Any]]:
        """Members whose slots together cover every (edge, option) of every group: compiling them gives
        the supernet its candidate ops, built by the compiler exactly as a member's are."""
        raise NotImplementedError

    def discretize(self, weights: Mapping[str, torch.Tensor]) -> dict[str, Any]:
        """A member from per-group ``(edges, options)`` mixture weights (DARTS's discretisation rule)."""
        raise NotImplementedError

    def path(self, choices: Mapping[str, Any]) -> dict[str, dict[str, str]]:
        """Per group, the active edges of a member and the option each runs (inactive edges absent)."""
        out: dict[str, dict[str, str]] = {}
        for g, slots in self.slots(choices).items():
            active: dict[str, str] = {}
            for node, (edge, option) in slots.items():
                if edge in active:
                    raise ValueError(f"group {g!r}: slot {node!r} reuses edge {edge!r}")
                active[edge] = option
            out[g] = active
        return out


class NB201Layout(SupernetLayout):
    """NAS-Bench-201: one group (``cell``), six edges, every option on each."""

    groups = ("cell",)
    _FIELD = re.compile(r"e(\d+)_(\d+)")

    def __init__(self, space: SearchSpace) -> None:
        super().__init__(space)
        bad = [f for f in self.dims if not self._FIELD.fullmatch(f)]
        if bad:
            raise ValueError(f"space {space.name!r}: field {bad[0]!r} is not an NB201 edge field")

    def group_of(self, stage: Stage) -> str | None:
        names = {n.name for n in stage.cell.nodes}
        return "cell" if all(f in names for f in self.dims) else None

    def edges(self, group: str) -> list[EdgeSpec]:
        out = []
        for f, options in self.dims.items():
            m = self._FIELD.fullmatch(f)
            assert m is not None  # checked in __init__
            i, j = m.groups()
            src = "x" if j == "0" else f"n{j}"
            out.append(EdgeSpec(f, f"n{i}", src, tuple(map(str, options))))
        return out

    def slots(self, choices: Mapping[str, Any]) -> dict[str, Slots]:
        c = self.space.check(choices)
        return {"cell": {f: (f, str(c[f])) for f in self.dims}}

    def discretize(self, weights: Mapping[str, torch.Tensor]) -> dict[str, Any]:
        """The strongest option of every edge, ``none`` included (so a ``none``/skip collapse shows)."""
        w = weights["cell"]
        return self.space.check(
            {e.key: e.options[int(w[k].argmax())] for k, e in enumerate(self.edges("cell"))}
        )

    def probes(self) -> list[dict[str, Any]]:
        options = next(iter(self.dims.values()))
        return [{f: o for f in self.dims} for o in options]


class DartsLayout(SupernetLayout):
    """DARTS: groups ``normal`` and ``reduce``; node ``k`` has an edge from every state ``i < k``."""

    groups = ("normal", "reduce")
    _INPUTS = re.compile(r"(normal|reduce)_n(\d+)_inputs")

    def __init__(self, space: SearchSpace) -> None:
        super().__init__(space)
        nodes = sorted({int(m.group(2)) for f in self.dims if (m := self._INPUTS.fullmatch(f))})
        if not nodes or any(f"normal_n{k}_op0" not in self.dims for k in nodes):
            raise ValueError(
                f"space {space.name!r}: a DARTS supernet needs fields '<cell>_n<k>_inputs' and "
                "'<cell>_n<k>_op0' / '_op1' (distinct inputs, add only)"
            )
        self.nodes = nodes
        self.ops = tuple(map(str, self.dims[f"normal_n{nodes[0]}_op0"]))

    def group_of(self, stage: Stage) -> str | None:
        if stage.cell.inputs != ("h0", "h1"):
            return None
        return "normal" if stage.stride == 1 else "reduce"

    @staticmethod
    def _state(i: int) -> str:
        return f"pre{i}" if i < 2 else f"n{i}"

    def edges(self, group: str) -> list[EdgeSpec]:
        return [
            EdgeSpec(f"n{k}_from{i}", f"n{k}", self._state(i), self.ops) for k in self.nodes for i in range(k)
        ]

    def slots(self, choices: Mapping[str, Any]) -> dict[str, Slots]:
        c = self.space.check(choices)
        out: dict[str, Slots] = {}
        for g in self.groups:
            slots: Slots = {}
            for k in self.nodes:
                a, b = (int(v) for v in str(c[f"{g}_n{k}_inputs"]).split(","))
                slots[f"n{k}_0"] = (f"n{k}_from{a}", str(c[f"{g}_n{k}_op0"]))
                slots[f"n{k}_1"] = (f"n{k}_from{b}", str(c[f"{g}_n{k}_op1"]))
            out[g] = slots
        return out

    def discretize(self, weights: Mapping[str, torch.Tensor]) -> dict[str, Any]:
        """DARTS's rule: per node the two incoming edges whose strongest non-``none`` op weighs most (in
        that order), each with that op."""
        keep = [j for j, o in enumerate(self.ops) if o != "none"]
        if not keep:
            raise ValueError(f"space {self.space.name!r}: DARTS discretisation needs an op other than 'none'")
        out: dict[str, Any] = {}
        for g in self.groups:
            w = weights[g][:, keep]
            row = 0
            for k in self.nodes:
                best, arg = w[row : row + k].max(1)
                order = sorted(range(k), key=lambda i: -float(best[i]))[:2]
                out[f"{g}_n{k}_inputs"] = f"{order[0]},{order[1]}"
                for slot, i in enumerate(order):
                    out[f"{g}_n{k}_op{slot}"] = self.ops[keep[int(arg[i])]]
                row += k
        return self.space.check(out)

    def probes(self) -> list[dict[str, Any]]:
        # node k reads pairs (2d, 2d + 1) mod k: ceil(max k / 2) probes reach every input of every node
        rounds = math.ceil(max(self.nodes) / 2)
        out = []
        for o in self.ops:
            for d in range(rounds):
                c: dict[str, Any] = {}
                for g in self.groups:
                    for k in self.nodes:
                        a, b = (2 * d) % k, (2 * d + 1) % k
                        c[f"{g}_n{k}_inputs"] = f"{a},{b if b != a else (a + 1) % k}"
                        c[f"{g}_n{k}_op0"] = c[f"{g}_n{k}_op1"] = o
                out.append(c)
        return out


LAYOUTS: dict[str, type[SupernetLayout]] = {"nb201": NB201Layout, "darts": DartsLayout}


def layout_for(space: SearchSpace) -> SupernetLayout:
    """The supernet layout of ``space`` (``ValueError`` naming the spaces that have one)."""
    cls = LAYOUTS.get(space.name)
    if cls is None:
        raise ValueError(
            f"space {space.name!r} has no supernet layout (spaces with one: {', '.join(sorted(LAYOUTS))})"
        )
    return cls(space)
