"""networkx views of genotypes: structural validation, canonical (isomorphism-invariant) keys, dedup.

Used at validation, search and drawing time only; compiled modules never touch networkx.
"""

from __future__ import annotations

import hashlib
import json
import warnings

import networkx as nx

from nas.core.genotype import Cell, Genotype, Network


def node_label(cell: Cell, name: str) -> str:
    """The label used for isomorphism: everything about a node except its name and input order."""
    if name in cell.inputs:
        return f"input:{cell.inputs.index(name)}"
    n = cell.node(name)
    label = json.dumps([n.op, n.combine, n.channels, n.stride, n.attrs, n.drop_path])
    return label + ("|out" if name == cell.output else "")


def to_networkx(cell: Cell) -> nx.DiGraph:
    """A DiGraph with one vertex per cell input and node (attribute ``label``; nodes also carry ``op``)."""
    g = nx.DiGraph()
    for name in cell.inputs:
        g.add_node(name, label=node_label(cell, name), op="input")
    for n in cell.nodes:
        g.add_node(n.name, label=node_label(cell, n.name), op=n.op)
    for n in cell.nodes:
        for i in n.inputs:
            g.add_edge(i, n.name)
    return g


def check_structure(cell: Cell) -> None:
    """Raise ``ValueError`` naming the cell, node and field for any structural defect."""
    where = f"cell {cell.name!r}"
    seen: set[str] = set()
    for name in cell.inputs:
        if name in seen:
            raise ValueError(f"{where}: field 'inputs' repeats {name!r}")
        seen.add(name)
    for n in cell.nodes:
        if n.name in seen:
            raise ValueError(f"{where}: node {n.name!r}: field 'name' is used twice")
        seen.add(n.name)
    for n in cell.nodes:
        for i in n.inputs:
            if i not in seen:
                raise ValueError(
                    f"{where}: node {n.name!r}: field 'inputs' refers to {i!r}, which does not exist"
                )
    if cell.output not in seen or cell.output in cell.inputs:
        raise ValueError(
            f"{where}: field 'output' refers to {cell.output!r}, which is not a node of the cell"
        )
    g = to_networkx(cell)
    reachable = set().union(*(nx.descendants(g, i) | {i} for i in cell.inputs))
    for n in cell.nodes:
        if n.name not in reachable:
            raise ValueError(
                f"{where}: node {n.name!r} is unreachable from the cell inputs {list(cell.inputs)}"
            )
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        cycle = None
    if cycle:
        path = " -> ".join([e[0] for e in cycle] + [cycle[0][0]])
        raise ValueError(f"{where}: node {cycle[0][0]!r}: field 'inputs' forms a cycle {path}")
    feeds_output = nx.ancestors(g, cell.output) | {cell.output}
    for n in cell.nodes:
        if n.name not in feeds_output:
            raise ValueError(
                f"{where}: node {n.name!r} is dangling: its result never reaches output {cell.output!r}"
            )


def topological_nodes(cell: Cell) -> list[str]:
    """Node names in a topological order that keeps the written order wherever it is already valid."""
    g = to_networkx(cell)
    order = {n.name: k for k, n in enumerate(cell.nodes)}
    return [v for v in nx.lexicographical_topological_sort(g, key=lambda v: order.get(v, -1)) if v in order]


def cell_hash(cell: Cell) -> str:
    """Weisfeiler–Lehman hash: equal for isomorphic cells (rarely equal for different ones)."""
    g = to_networkx(cell)
    with warnings.catch_warnings():  # networkx >= 3.5 notes that directed hashes changed; we need one version
        warnings.simplefilter("ignore", UserWarning)
        return nx.weisfeiler_lehman_graph_hash(
            g, node_attr="label", iterations=max(3, len(g)), digest_size=16
        )


def cells_isomorphic(a: Cell, b: Cell) -> bool:
    return nx.is_isomorphic(to_networkx(a), to_networkx(b), node_match=lambda x, y: x["label"] == y["label"])


def _network_parts(net: Network) -> list:
    return [
        cell_hash(net.stem),
        [[cell_hash(s.cell), s.repeats, s.width, s.stride] for s in net.stages],
        cell_hash(net.head),
        [[a.after, cell_hash(a.head)] for a in net.aux],
        list(net.input_size),
        net.num_classes,
        net.drop_path,
        net.drop_path_schedule,
    ]


def canonical_key(genotype: Genotype) -> str:
    """A hash equal for isomorphic genotypes (cells compared up to node renaming and reordering)."""
    if isinstance(genotype, Cell):
        return cell_hash(genotype)
    blob = json.dumps(_network_parts(genotype)).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


def _same(a: Genotype, b: Genotype) -> bool:
    if isinstance(a, Cell) and isinstance(b, Cell):
        return cells_isomorphic(a, b)
    if isinstance(a, Network) and isinstance(b, Network):
        pairs = [(a.stem, b.stem), (a.head, b.head)] + [(x.cell, y.cell) for x, y in zip(a.stages, b.stages)]
        return _network_parts(a) == _network_parts(b) and all(cells_isomorphic(x, y) for x, y in pairs)
    return False


class KeyIndex:
    """Exact deduplication: the WL hash, disambiguated by an isomorphism check on collision.

    ``index.key(g)`` returns ``"<hash>"`` for the first isomorphism class seen with that hash and
    ``"<hash>#k"`` for the k-th distinct class that collides with it.
    """

    def __init__(self) -> None:
        self._classes: dict[str, list[Genotype]] = {}

    def key(self, genotype: Genotype) -> str:
        h = canonical_key(genotype)
        reps = self._classes.setdefault(h, [])
        for k, rep in enumerate(reps):
            if rep == genotype or _same(rep, genotype):
                return h if k == 0 else f"{h}#{k}"
        reps.append(genotype)
        return h if len(reps) == 1 else f"{h}#{len(reps) - 1}"

    def __len__(self) -> int:
        return sum(len(v) for v in self._classes.values())
