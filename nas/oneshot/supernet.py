"""A weight-sharing supernet compiled from a search space: every candidate op of every edge built once.

:class:`Supernet` is the space's own compiled network (``nas.core.compile`` of a member) whose searchable
cells are :class:`SuperCell` s. A super cell keeps the member cell's fixed nodes (preprocessing, the sums,
the output concat) and, per edge of the space's layout (:mod:`nas.oneshot.layouts`), one module per
option, taken from compiled *probe* members, so each candidate is exactly the module ``nas.build`` makes
for that op at that place: there is no second ops table. The forward is a loop over precomputed indices.

What runs is set before the forward:

* :meth:`Supernet.set_path` — a member's ``choices`` (single path; the same outputs as ``nas.build`` of
  ``space.decode(choices)`` with :meth:`Supernet.subnet_state` loaded into it);
* :meth:`Supernet.set_mixture` — per group a ``(edges, options)`` weight tensor (DARTS: a softmax of the
  architecture parameters), optionally with the options to run per edge (GDAS: the sampled one).

A sub-network's genotype is ``space.decode(choices)``, an ordinary :class:`nas.Network`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from nas.core import genotype as G
from nas.core.compile import CellModule, NetworkModule, compile_network
from nas.core.graph import topological_nodes
from nas.core.registry import SPACES
from nas.core.space import SearchSpace, get_space
from nas.oneshot.layouts import EdgeSpec, SupernetLayout, layout_for

_FIXED, _MIXED = 0, 1
_SUM, _CAT = "sum", "concat"
# Per edge: (option indices to run, weights over all options or None for unweighted).
Active = tuple[tuple[int, ...], torch.Tensor | None]
# Per searchable cell instance (stage, repeat): edge key → option → module.
Candidates = dict[tuple[int, int], dict[str, dict[str, nn.Module]]]


def _no_inplace(module: nn.Module) -> None:
    # An edge's input is read by every candidate (and by other edges): nothing may overwrite it.
    for m in module.modules():
        if isinstance(getattr(m, "inplace", None), bool):
            m.inplace = False


class SuperCell(nn.Module):
    """One searchable cell instance: the member cell's fixed nodes (``fixed``) and per edge one module per
    option (``cands[edge][option]``); ``active`` (set by the supernet) says what runs."""

    def __init__(
        self, cell: G.Cell, ref: CellModule, edges: Sequence[EdgeSpec], cands: dict[str, dict[str, nn.Module]]
    ) -> None:
        super().__init__()
        self.name = cell.name
        self.n_inputs = len(cell.inputs)
        self.drop_path_rate = 0.0  # set by NetworkModule.set_drop_path; a supernet drops no paths
        self.edge_specs = list(edges)
        self.cands = nn.ModuleDict({e.key: nn.ModuleDict(cands[e.key]) for e in edges})
        targets = {e.target for e in edges}
        slots = {i for n in cell.nodes if n.name in targets for i in n.inputs}
        index = {n: k for k, n in enumerate(cell.inputs)}
        fixed: dict[str, nn.Module] = {}
        self.plan: list[tuple[int, Any, str]] = []
        for name in topological_nodes(cell):
            if name in slots:
                continue
            node = cell.node(name)
            if name in targets:
                ins = [(j, index[e.source]) for j, e in enumerate(edges) if e.target == name]
                self.plan.append((_MIXED, tuple(ins), _SUM))
            else:
                if any(i not in index for i in node.inputs):
                    raise ValueError(f"cell {cell.name!r}: node {name!r} reads a slot outside its targets")
                if node.combine == "mul" and len(node.inputs) > 1:
                    raise ValueError(
                        f"cell {cell.name!r}: node {name!r}: a supernet cell sums or concatenates"
                    )
                self.plan.append((_FIXED, tuple(index[i] for i in node.inputs), node.combine))
            fixed[name] = ref.ops[name]
            index[name] = len(index)
        self.fixed = nn.ModuleDict(fixed)
        self.out = index[cell.output]
        self._fixed = list(self.fixed.values())
        self._cands = [list(self.cands[e.key].values()) for e in edges]
        self.active: list[Active] = [((), None)] * len(edges)
        _no_inplace(self)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        s: list[torch.Tensor] = list(inputs)
        for module, (kind, idx, how) in zip(self._fixed, self.plan):
            if kind == _FIXED:
                if len(idx) == 1:
                    x = s[idx[0]]
                elif how == _CAT:
                    x = torch.cat([s[i] for i in idx], 1)
                else:
                    x = s[idx[0]]
                    for i in idx[1:]:
                        x = x + s[i]
            else:
                x = self._mixed(idx, s)
            s.append(module(x))
        return s[self.out]

    def _mixed(self, edges: tuple[tuple[int, int], ...], s: list[torch.Tensor]) -> torch.Tensor:
        total: torch.Tensor | None = None
        for e, src in edges:
            run, w = self.active[e]
            for j in run:
                y = self._cands[e][j](s[src])
                if w is not None:
                    y = y * w[j]
                total = y if total is None else total + y
        if total is None:
            raise RuntimeError(f"cell {self.name!r}: a node has no active edge (set a path or a mixture)")
        return total


class Supernet(nn.Module):
    """The supernet of ``space`` (a :class:`SearchSpace` or a registered name with ``options``).

    ``net`` is a compiled member whose searchable cells are :class:`SuperCell` s, so stem, reductions and
    head are the member's own modules; ``edges[group]`` lists each group's edges (the rows of a mixture).
    """

    def __init__(self, space: SearchSpace | str, **options: Any) -> None:
        super().__init__()
        if isinstance(space, str) and options:
            space = SPACES[space](**options)
        self.space = get_space(space)
        self.layout: SupernetLayout = layout_for(self.space)
        self.edges = {g: self.layout.edges(g) for g in self.layout.groups}
        probes = self.layout.probes()
        ref_geno = self.space.decode(probes[0])
        self.genotype_layout = ref_geno  # the member whose fixed parts the supernet keeps
        self.net: NetworkModule = compile_network(ref_geno)
        self.cells: list[tuple[int, int, str]] = [
            (si, r, g)
            for si, st in enumerate(ref_geno.stages)
            if (g := self.layout.group_of(st)) is not None
            for r in range(st.repeats)
        ]
        if not self.cells:
            raise ValueError(f"space {self.space.name!r}: no stage of its network is searchable")
        cands = self._candidates(probes)
        for si, r, g in self.cells:
            cell = ref_geno.stages[si].cell
            ref = self.net.stages[si][r]
            assert isinstance(ref, CellModule)
            self.net.stages[si][r] = SuperCell(cell, ref, self.edges[g], cands[(si, r)])
        _no_inplace(self.net)

    def _candidates(self, probes: list[dict[str, Any]]) -> Candidates:
        """Per cell instance, edge → option → module, plucked from compiled probe members."""
        found: Candidates = {(si, r): {e.key: {} for e in self.edges[g]} for si, r, g in self.cells}
        for probe in probes:
            slots = self.layout.slots(probe)
            net = compile_network(self.space.decode(probe))
            for si, r, g in self.cells:
                cell = net.stages[si][r]
                assert isinstance(cell, CellModule)
                for node, (edge, option) in slots[g].items():
                    found[(si, r)][edge].setdefault(option, cell.ops[node])
        for si, r, g in self.cells:
            for e in self.edges[g]:
                have = found[(si, r)][e.key]
                missing = [o for o in e.options if o not in have]
                if missing:
                    raise ValueError(f"space {self.space.name!r}: no probe builds {e.key}/{missing[0]}")
                found[(si, r)][e.key] = {o: have[o] for o in e.options}  # option order
        return found

    def super_cells(self, group: str | None = None) -> list[SuperCell]:
        """The searchable cell instances (of one group, or all), in network order."""
        out = []
        for si, r, g in self.cells:
            if group is None or g == group:
                cell = self.net.stages[si][r]
                assert isinstance(cell, SuperCell)
                out.append(cell)
        return out

    def forward(self, x: torch.Tensor) -> Any:
        return self.net(x)

    # -- what runs ---------------------------------------------------------------------------------

    def set_path(self, choices: Mapping[str, Any]) -> None:
        """Run the single path of member ``choices`` (unweighted: exactly the member's forward)."""
        path = self.layout.path(choices)
        for g, edges in self.edges.items():
            active: list[Active] = []
            for e in edges:
                option = path[g].get(e.key)
                active.append(((e.options.index(option),) if option is not None else (), None))
            for cell in self.super_cells(g):
                cell.active = active

    def set_mixture(
        self, weights: Mapping[str, torch.Tensor], run: Mapping[str, Sequence[Sequence[int]]] | None = None
    ) -> None:
        """Per group, ``weights[group][edge, option]`` scale each candidate's output; ``run[group][edge]``
        (default: every option) lists the options computed (GDAS: the sampled one, weight 1 forward)."""
        for g, edges in self.edges.items():
            w = weights[g]
            if tuple(w.shape) != (len(edges), len(edges[0].options)):
                raise ValueError(
                    f"mixture for group {g!r} must have shape ({len(edges)}, {len(edges[0].options)}), "
                    f"got {tuple(w.shape)}"
                )
            every = tuple(range(w.shape[1]))
            rows = run[g] if run is not None else [every] * len(edges)
            active = [(tuple(int(j) for j in rows[k]), w[k]) for k in range(len(edges))]
            for cell in self.super_cells(g):
                cell.active = active

    # -- sub-networks ------------------------------------------------------------------------------

    def genotype_of(self, choices: Mapping[str, Any]) -> G.Network:
        """The member's genotype: the space's own decode (an ordinary network genotype)."""
        net = self.space.decode(choices)
        assert isinstance(net, G.Network)
        return net

    def subnet_state(self, choices: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """The state dict of ``nas.build(self.genotype_of(choices))`` holding the supernet's weights (copies),
        keyed as the member's own; loads into it with ``strict=True``."""
        member = compile_network(self.genotype_of(choices))
        slots = self.layout.slots(choices)
        groups = {(si, r): g for si, r, g in self.cells}
        ours = self.net.state_dict()
        out: dict[str, torch.Tensor] = {}
        for key in member.state_dict():
            src = self._map_key(key, groups, slots)
            if src not in ours:
                raise ValueError(f"supernet has no weight {src!r} for member weight {key!r}")
            out[key] = ours[src].detach().clone()
        return out

    @staticmethod
    def _map_key(key: str, groups: dict[tuple[int, int], str], slots: dict[str, dict]) -> str:
        parts = key.split(".")
        if parts[0] != "stages" or len(parts) < 5 or parts[3] != "ops":
            return key
        si, r, node = int(parts[1]), int(parts[2]), parts[4]
        g = groups.get((si, r))
        if g is None:
            return key
        rest = ".".join(parts[5:])
        if node in slots[g]:
            edge, option = slots[g][node]
            return f"stages.{si}.{r}.cands.{edge}.{option}.{rest}"
        return f"stages.{si}.{r}.fixed.{node}.{rest}"

    def subnet(self, choices: Mapping[str, Any]) -> NetworkModule:
        """``nas.build`` of the member with the supernet's weights (an independent copy)."""
        member = compile_network(self.genotype_of(choices))
        member.load_state_dict(self.subnet_state(choices), strict=True)
        return member.to(next(self.parameters()).device)
