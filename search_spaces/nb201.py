"""NAS-Bench-201 (Dong & Yang, ICLR 2020): a 4-node cell, 6 edges, 5 ops → 5⁶ = 15,625 members.

The cell is a DAG on nodes 0 (the cell input) … 3 (the output); every edge ``j → i`` (``j < i``) carries one
op of ``none`` / ``skip_connect`` / ``nor_conv_1x1`` / ``nor_conv_3x3`` / ``avg_pool_3x3`` and node ``i`` is
the sum of its incoming edges. The benchmark writes a cell as the arch string

    ``|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|``

(node 1, node 2, node 3; ``op~j`` is the edge from node ``j``), which :func:`from_arch_string` /
:func:`to_arch_string` read and write exactly.

Genotype: edge ``j → i`` is the node ``e{i}_{j}`` (``zero`` / ``skip`` / ``relu_conv_bn`` k=1 or 3 /
``pool`` avg, all to the stage width ``C``), node ``i`` is the ``identity`` sum ``n{i}``; nodes are written
in arch-string order, which is also the order in which NAS-Bench-201's ``InferCell`` runs its edges.

Network (NAS-Bench-201 ``TinyNetwork``, C = 16, N = 5): 3×3 conv to C + BN; three stages of N cells at
widths C, 2C, 4C, separated by a ResNet basic block of stride 2 (``ResNetBasicblock``: ReLU-conv3×3/2-BN,
ReLU-conv3×3-BN, shortcut = 2×2 average pool + 1×1 conv, sum; no final ReLU) written as a cell of
primitive ops; BN, ReLU, global average pool, linear.

Isomorphism classes: :func:`pruned_cell` drops ``none`` edges and every node that is not on a path from
the input to the output (an all-dead cell is ``None``, one class); :func:`isomorphism_classes` groups the
15,625 cells by ``nas.core.graph.KeyIndex`` on the pruned cells. See ``tests/test_space_nb201.py``
for the count
and how it relates to the 6,466 "unique" architectures the benchmark reports.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Mapping, Sequence

from cells import CellWriter
from nas.core.genotype import Cell, Genotype, Network, Stage, chain
from nas.core.graph import KeyIndex
from nas.core.registry import register_space
from search_spaces.base import Choice, Choices, SearchSpace

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
# (to, from) in arch-string order; the choice field of edge j → i is "e{i}_{j}".
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
FIELDS: tuple[str, ...] = tuple(f"e{i}_{j}" for i, j in EDGES)

# NAS-Bench-201 op name → (registered op, attrs).
EDGE_OPS: dict[str, tuple[str, dict]] = {
    "none": ("zero", {}),
    "skip_connect": ("skip", {}),
    "nor_conv_1x1": ("relu_conv_bn", {"kernel": 1}),
    "nor_conv_3x3": ("relu_conv_bn", {"kernel": 3}),
    "avg_pool_3x3": ("pool", {"kind": "avg"}),
}
_REVERSE = {(op, tuple(sorted(attrs.items()))): name for name, (op, attrs) in EDGE_OPS.items()}


# --- arch strings -----------------------------------------------------------------------------------


def parse_arch_string(arch: str) -> Choices:
    """``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` → choices ``{"e1_0": op, "e2_0": op, …}``."""
    if not isinstance(arch, str):
        raise TypeError(f"NB201 arch string must be a str, got {type(arch).__name__}")
    groups = arch.split("+")
    if len(groups) != 3:
        raise ValueError(f"NB201 arch string {arch!r}: expected 3 nodes separated by '+', got {len(groups)}")
    out: Choices = {}
    for i, group in enumerate(groups, start=1):
        if len(group) < 2 or group[0] != "|" or group[-1] != "|":
            raise ValueError(f"NB201 arch string {arch!r}: node {i} {group!r} must be written |op~j|…|")
        entries = group[1:-1].split("|")
        if len(entries) != i:
            raise ValueError(f"NB201 arch string {arch!r}: node {i} must have {i} edges, got {len(entries)}")
        for j, entry in enumerate(entries):
            op, sep, src = entry.partition("~")
            if not sep or src != str(j):
                raise ValueError(
                    f"NB201 arch string {arch!r}: node {i} edge {j} must be written 'op~{j}', got {entry!r}"
                )
            if op not in OPS:
                raise ValueError(f"NB201 arch string {arch!r}: field 'e{i}_{j}': unknown op {op!r}")
            out[f"e{i}_{j}"] = op
    return out


def arch_string(choices: Mapping[str, Choice]) -> str:
    """Choices → the arch string (inverse of :func:`parse_arch_string`)."""
    nodes = []
    for i in (1, 2, 3):
        nodes.append("|" + "|".join(f"{choices[f'e{i}_{j}']}~{j}" for j in range(i)) + "|")
    return "+".join(nodes)


def from_arch_string(arch: str, **layout) -> Network:
    """The NAS-Bench-201 network of an arch string (``layout``: see :class:`NB201Space`)."""
    return NB201Space(**layout).decode(parse_arch_string(arch))


def to_arch_string(genotype: Genotype) -> str:
    """The arch string of an NB201 network (or of its cell)."""
    cell = genotype if isinstance(genotype, Cell) else _find_cell(genotype)
    return arch_string(_read_cell(cell))


# --- genotypes --------------------------------------------------------------------------------------


def cell(choices: Mapping[str, Choice], name: str = "nb201_cell") -> Cell:
    """The NB201 cell of a choice dict (one op per edge field)."""
    w = CellWriter()
    for i in (1, 2, 3):
        edges = []
        for j in range(i):
            op, attrs = EDGE_OPS[choices[f"e{i}_{j}"]]
            edges.append(w.add(f"e{i}_{j}", op, "x" if j == 0 else f"n{j}", channels="C", **attrs))
        w.add(f"n{i}", "identity", edges)
    return w.cell(name, "n3")


@functools.cache
def residual_block(name: str = "nb201_resblock") -> Cell:
    """NAS-Bench-201 ``ResNetBasicblock`` (stride = the stage's): ReLU-conv3×3-BN (strided), ReLU-conv3×3-BN;
    shortcut 2×2 average pool (strided) + 1×1 conv (no BN); sum, no final activation."""
    w = CellWriter()
    a = w.add("a_relu", "relu", "x")
    a = w.add("a_conv", "conv", a, channels="C", stride="cell", kernel=3)
    a = w.add("a_bn", "bn", a)
    b = w.add("b_relu", "relu", a)
    b = w.add("b_conv", "conv", b, channels="C", kernel=3)
    b = w.add("b_bn", "bn", b)
    d = w.add("down_pool", "avgpool", "x", stride="cell", kernel=2)
    d = w.add("down_conv", "conv", d, channels="C", kernel=1)
    out = w.add("add", "identity", [d, b])
    return w.cell(name, out)


def network(
    nb_cell: Cell,
    *,
    C: int = 16,
    N: int = 5,
    num_classes: int = 10,
    input_size: int = 32,
    name: str = "nb201",
) -> Network:
    """NAS-Bench-201 ``TinyNetwork`` around ``nb_cell`` (see the module docstring)."""
    stem, head = _stem(C), _head()
    block = residual_block()
    stages = (
        Stage(nb_cell, N, C, 1),
        Stage(block, 1, 2 * C, 2),
        Stage(nb_cell, N, 2 * C, 1),
        Stage(block, 1, 4 * C, 2),
        Stage(nb_cell, N, 4 * C, 1),
    )
    return Network(name, stem, stages, head, (3, input_size, input_size), num_classes)


@functools.cache
def _stem(C: int) -> Cell:
    return chain("nb201_stem", [("conv", {"channels": C, "kernel": 3}), ("bn",)])


@functools.cache
def _head() -> Cell:
    return chain(
        "nb201_head",
        [("bn",), ("relu",), ("adaptive_avgpool", {"size": 1}), ("flatten",), ("linear", {"channels": "K"})],
    )


def _read_cell(c: Cell) -> Choices:
    """An NB201 cell → its choices (``ValueError`` when it is not one)."""
    nodes = {n.name: n for n in c.nodes}
    out: Choices = {}
    for field in FIELDS:
        node = nodes.get(field)
        if node is None:
            raise ValueError(f"cell {c.name!r} is not an NB201 cell: it has no edge node {field!r}")
        op = _REVERSE.get((node.op, node.attrs))
        if op is None:
            raise ValueError(
                f"cell {c.name!r}: field {field!r}: op {node.op!r} {dict(node.attrs)} is not an NB201 op"
            )
        out[field] = op
    return out


def _find_cell(net: Network) -> Cell:
    if not isinstance(net, Network) or not net.stages:
        raise ValueError("an NB201 genotype is a network whose first stage repeats the NB201 cell")
    return net.stages[0].cell


# --- isomorphism classes ----------------------------------------------------------------------------


def live_edges(choices: Mapping[str, Choice]) -> dict[tuple[int, int], str]:
    """The edges ``(i, j)`` (to, from) that survive pruning: not ``none``, and both ends on a path from
    the input (node 0) to the output (node 3). Empty when no such path exists."""
    edges = {(i, j): choices[f"e{i}_{j}"] for i, j in EDGES if choices[f"e{i}_{j}"] != "none"}
    fwd = {0}
    for i in (1, 2, 3):
        if any((i, j) in edges for j in fwd):
            fwd.add(i)
    back = {3}
    for j in (2, 1, 0):
        if any((i, j) in edges for i in back):
            back.add(j)
    live = fwd & back
    if 3 not in live:
        return {}
    return {(i, j): op for (i, j), op in edges.items() if i in live and j in live}


def pruned_cell(choices: Mapping[str, Choice] | str, name: str = "nb201_pruned") -> Cell | None:
    """The cell with ``none`` edges and dead nodes removed (``None``: no input→output path at all).
    Accepts choices or an arch string."""
    if isinstance(choices, str):
        choices = parse_arch_string(choices)
    edges = live_edges(choices)
    if not edges:
        return None
    w = CellWriter()
    for i in (1, 2, 3):
        ins = []
        for j in range(i):
            if (i, j) in edges:
                op, attrs = EDGE_OPS[edges[(i, j)]]
                ins.append(w.add(f"e{i}_{j}", op, "x" if j == 0 else f"n{j}", channels="C", **attrs))
        if ins:
            w.add(f"n{i}", "identity", ins)
    return w.cell(name, "n3")


def isomorphism_classes(archs: Iterable[str] | None = None) -> dict[str, list[str]]:
    """Group arch strings (default: all 15,625) into isomorphism classes of their pruned cells.

    Returns ``{class key: [arch strings]}``; the all-dead cells form the class ``"dead"``. Cells with equal
    live edges are grouped first, so ``KeyIndex`` (WL hash + exact isomorphism check on collision) only
    sees each distinct pruned cell once.
    """
    if archs is None:
        archs = (arch_string(dict(zip(FIELDS, ops))) for ops in itertools.product(OPS, repeat=len(FIELDS)))
    by_edges: dict[tuple, list[str]] = {}
    for a in archs:
        key = tuple(sorted(live_edges(parse_arch_string(a)).items()))
        by_edges.setdefault(key, []).append(a)
    index = KeyIndex()
    classes: dict[str, list[str]] = {}
    for edges, members in by_edges.items():
        if not edges:
            k = "dead"
        else:
            k = index.key(pruned_cell(members[0]))
        classes.setdefault(k, []).extend(members)
    return classes


# --- the space --------------------------------------------------------------------------------------


class NB201Space(SearchSpace):
    """NAS-Bench-201: one op per edge, ``size() = len(ops) ** 6`` (15,625).

    Layout options: ``C`` (16), ``N`` cells per stage (5), ``num_classes`` (10), ``input_size`` (32);
    ``ops`` restricts the op list (for small enumerations).
    """

    name = "nb201"

    def __init__(
        self,
        *,
        C: int = 16,
        N: int = 5,
        num_classes: int = 10,
        input_size: int = 32,
        ops: Sequence[str] = OPS,
    ) -> None:
        unknown = [o for o in ops if o not in OPS]
        if unknown or not ops:
            raise ValueError(
                f"space 'nb201': option 'ops' must be a non-empty subset of {OPS}, got {list(ops)}"
            )
        self.ops = tuple(ops)
        self.layout = {"C": C, "N": N, "num_classes": num_classes, "input_size": input_size}

    def choices(self) -> dict[str, tuple[Choice, ...]]:
        return {f: self.ops for f in FIELDS}

    def decode(self, choices: Mapping[str, Choice]) -> Network:
        return network(cell(self.check(choices)), **self.layout)

    def encode(self, genotype: Genotype) -> Choices:
        """The choices of ``genotype``'s NB201 cell; its layout (C, N, classes, input size) is not compared,
        as in the other cell spaces (``layout_matches`` does)."""
        return self.check(_read_cell(_find_cell(genotype)))

    def parse_arch(self, text: str) -> Choices:
        return self.check(parse_arch_string(text))

    def format_arch(self, choices: Mapping[str, Choice]) -> str:
        return arch_string(choices)

    def arch_string(self, genotype: Genotype) -> str:
        """A member genotype → its arch string."""
        return arch_string(self.encode(genotype))


@register_space("nb201", description="NAS-Bench-201 cell: 6 edges x 5 ops (15,625), TinyNetwork C=16 N=5")
def nb201(**options) -> NB201Space:
    return NB201Space(**options)
