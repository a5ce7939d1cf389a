"""NASNet and DARTS cell search spaces (and the machinery the ENAS micro space shares with them).

All three are *DARTS-format* spaces: a network of normal and reduction cells (the layouts of
``search_spaces.zoo.nas_cells.darts_network``) whose two cell types are searched. A cell preprocesses its
inputs h[i-2], h[i-1] to C channels (states 0 and 1), then builds ``blocks`` nodes: node ``j + 2`` applies
two ops to two earlier states and combines the results; some states are concatenated into the output.

Membership is a property of the cells: the choices describe the two cells; the layout (``layers``,
``C``, ``dataset``, ``num_classes``, ``auxiliary``, ``drop_path``) is a space option whose default is the
family's published CIFAR layout. ``encode`` reads a network's normal and reduction cells and ignores its
layout (so AmoebaNet-A at C = 36 encodes in the nasnet space at C = 32) and raises ``ValueError`` naming
the op, edge or concat that is outside; ``decode`` builds the space's layout; ``layout_matches`` tells
whether that is the network's (then ``decode(encode(g)) == g``, names included).

* **nasnet** (Zoph et al. 2018): B = 5 blocks; each picks two inputs among the cell inputs and earlier
  blocks (the same twice allowed), two of the 13 ops ``NASNET_OPS`` and a combine (``add``/``concat``).
  The output concatenates the *unused* states (in a reduction cell a cell input is first reduced by a
  factorized reduction, as in NASNet's code) and each used state ``i`` whose ``{t}_concat_extra_{i}``
  is 1: NASNet's code concatenates a fixed mask of states (``used_hiddenstates``), which for NASNet-A
  adds h[i-2] to the normal cell and node 3 to the reduction cell. The bit of a state no node reads does
  not apply (``check`` sets it to 0: one encoding per member). ``extra_concat=False``: the paper's
  space (unused states only). NASNet-A and AmoebaNet-A are members.

  size = S², S = (|ops|² · |combines|)^B · Σ_inputs 2^|states read|  (B = 5, 13 ops, 2 combines:
  ≈ 3.3·10³⁹; without the extra bits S = 720² · 13¹⁰ · 2⁵, ≈ 5.2·10³⁶).

* **darts** (Liu et al. 2019): the 8 DARTS primitives ``DARTS_OPS`` (``none`` included), 4 nodes, each
  with two *distinct* inputs in order (a DARTS node keeps its two strongest incoming edges, one per
  predecessor; the row order is part of the genotype), sum; the output concatenates all intermediate
  nodes. DARTS-V1 and V2 are members. size = S², S = ∏_{j<N} (j+2)(j+1) · |ops|²  (N = 4, 8 ops:
  S = 2880 · 8⁸, ≈ 2.3·10²¹; without ``none`` and with unordered pairs: NAS-Bench-301's ≈ 10¹⁸).

Choice fields, per cell type ``t`` in (normal, reduce) and node ``k = j + 2``: ``{t}_n{k}_in0`` /
``{t}_n{k}_in1`` (state indices; darts: one field ``{t}_n{k}_inputs`` = ``"a,b"``), ``{t}_n{k}_op0`` /
``{t}_n{k}_op1``, with more than one combine ``{t}_n{k}_combine``, and (nasnet) ``{t}_concat_extra_{i}``,
i = 0 … B. Options ``ops``/``blocks`` (``nodes`` for darts) shrink the space. ``decode`` names a member
after the zoo entry it equals (``nasnet_a_cifar``), its cells after the zoo genotype (``amoebanet_a_normal``).

A ``concat`` block makes a state of 2C channels; an op that cannot change the channel count (pool,
identity) reads such a state through a ReLU-1×1 conv-BN adapter (``n{k}_{i}_adj``), as NASNet does.
NASNet's "3×3 dilated conv" is DARTS's dilated separable conv, its separable convs are DARTS's stacked
pair (as in the zoo).
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

from cells import CellWriter
from cells.blocks import _DARTS_OPS
from nas.core.genotype import Cell, Genotype, Network
from nas.core.registry import register_space
from search_spaces.base import Choice, Choices, SearchSpace, anonymous
from search_spaces.zoo.nas_cells import GENOTYPES, LAYOUTS, DartsGenotype, darts_network

# NASNet's 13 ops (Zoph et al. 2018, §3), in the paper's order.
NASNET_OPS: tuple[str, ...] = (
    "skip_connect",  # identity
    "conv_1x3_3x1",
    "conv_7x1_1x7",
    "dil_conv_3x3",
    "avg_pool_3x3",
    "max_pool_3x3",
    "max_pool_5x5",
    "max_pool_7x7",
    "conv_1x1",
    "conv_3x3",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "sep_conv_7x7",
)
# DARTS PRIMITIVES (cnn/genotypes.py), in DARTS's order.
DARTS_OPS: tuple[str, ...] = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)

# Op name → (registered op, attrs): DARTS's table plus NASNet's extra ops.
EDGE_OPS: dict[str, tuple[str, dict[str, Any]]] = {
    **_DARTS_OPS,
    "conv_1x3_3x1": ("conv_7x1_1x7", {"kernel": 3}),
    "max_pool_5x5": ("pool", {"kind": "max", "kernel": 5}),
    "max_pool_7x7": ("pool", {"kind": "max", "kernel": 7}),
    "conv_1x1": ("relu_conv_bn", {"kernel": 1}),
    "conv_3x3": ("relu_conv_bn", {"kernel": 3}),
}
_REVERSE = {(op, tuple(sorted(attrs.items()))): name for name, (op, attrs) in EDGE_OPS.items()}
_SAME_CHANNELS = ("pool", "skip")  # ops that cannot change the channel count
COMBINES = ("add", "concat")
CELL_TYPES = ("normal", "reduce")

# A valid DARTS genotype whose cells darts_network builds and cell_space_network then replaces.
_PLACEHOLDER = DartsGenotype(
    (("skip_connect", 1), ("skip_connect", 1)), (2,), (("max_pool_3x3", 1),) * 2, (2,)
)


def darts_format_cell(
    name: str,
    rows: Sequence[tuple[str, int]],
    combines: Sequence[str],
    concat: Sequence[int],
    reduction: bool,
    *,
    final_conv: bool = False,
) -> Cell:
    """A DARTS-format cell with per-node combines (``add``/``concat``), any op of ``EDGE_OPS``, cell
    inputs allowed in ``concat`` and an optional ReLU-1×1 conv-BN after the output concat (ENAS).

    With ``add`` everywhere, DARTS ops only, intermediate states in ``concat`` and no final conv this is
    exactly ``cells.blocks.darts_cell`` (the tests check it on the zoo's genotypes).
    """
    if len(rows) != 2 * len(combines):
        raise ValueError(f"cell {name!r}: field 'rows' must hold two (op, input) pairs per node")
    w = CellWriter()
    states = [
        w.add("pre0", "preprocess", "h0", channels="C", stride="auto"),
        w.add("pre1", "preprocess", "h1", channels="C"),
    ]
    wide = [False, False]  # a concat node has 2C channels
    for j, how in enumerate(combines):
        ins = []
        for k, (op_name, src) in enumerate(rows[2 * j : 2 * j + 2]):
            if op_name not in EDGE_OPS:
                raise ValueError(f"cell {name!r}: node {j + 2}: unknown op {op_name!r}")
            if not 0 <= src < len(states):
                raise ValueError(
                    f"cell {name!r}: node {j + 2}: input index {src} out of range [0, {len(states)})"
                )
            op, attrs = EDGE_OPS[op_name]
            x = states[src]
            if wide[src] and op in _SAME_CHANNELS:
                x = w.add(f"n{j + 2}_{k}_adj", "relu_conv_bn", x, channels="C", kernel=1)
            stride = "cell" if reduction and src < 2 else 1
            ins.append(w.add(f"n{j + 2}_{k}", op, x, channels="C", stride=stride, **attrs))
        if how == "add":
            states.append(w.add(f"n{j + 2}", "identity", ins, drop_path=True))
        elif how == "concat":
            states.append(w.add(f"n{j + 2}", "identity", ins, combine="concat"))
        else:
            raise ValueError(f"cell {name!r}: node {j + 2}: combine must be one of {COMBINES}, got {how!r}")
        wide.append(how == "concat")
    outs = []
    for i in concat:
        s = states[i]
        if i < 2 and reduction:  # an unused cell input is at twice the output's resolution
            s = w.add(f"pre{i}_reduce", "skip", s, channels="C", stride="cell", project="factorized")
        outs.append(s)
    out = w.add("out", "identity", outs, combine="concat")
    if final_conv:
        out = w.add("final", "relu_conv_bn", out, channels="C", kernel=1)
    return w.cell(name, out, inputs=("h0", "h1"))


class CellRows(NamedTuple):
    """What a DARTS-format cell is made of: ``(op, input)`` rows (two per node), per-node combines, the
    states its output concatenates (sorted) and whether a ReLU-1×1 conv-BN follows the concat (ENAS)."""

    rows: list[tuple[str, int]]
    combines: list[str]
    concat: tuple[int, ...]
    final_conv: bool


def read_darts_format_cell(cell: Cell) -> CellRows:
    """A DARTS-format cell (nodes ``n2 … n{B+1}``) → its :class:`CellRows`; ``ValueError`` naming the
    node when it is not one."""
    nodes = {n.name: n for n in cell.nodes}
    blocks = sum(re.fullmatch(r"n\d+", name) is not None for name in nodes)
    index = {"pre0": 0, "pre1": 1, "pre0_reduce": 0, "pre1_reduce": 1} | {
        f"n{k}": k for k in range(2, blocks + 2)
    }
    rows: list[tuple[str, int]] = []
    combines: list[str] = []
    for k in range(2, blocks + 2):
        for e in (0, 1):
            node = nodes.get(f"n{k}_{e}")
            if node is None or f"n{k}" not in nodes:
                raise ValueError(
                    f"cell {cell.name!r} is not a DARTS-format cell: no node 'n{k}_{e}' or 'n{k}'"
                )
            op = _REVERSE.get((node.op, node.attrs))
            if op is None:
                raise ValueError(
                    f"cell {cell.name!r}: node {node.name!r}: op {node.op!r} {dict(node.attrs)} is unknown"
                )
            src = node.inputs[0]
            if src.endswith("_adj") and src in nodes:
                src = nodes[src].inputs[0]
            if index.get(src, k) >= k:
                raise ValueError(
                    f"cell {cell.name!r}: node {node.name!r} reads {src!r}, not an earlier state"
                )
            rows.append((op, index[src]))
        combines.append("concat" if nodes[f"n{k}"].combine == "concat" else "add")
    final = cell.output == "final" and nodes["final"].op == "relu_conv_bn"
    out = nodes.get(nodes["final"].inputs[0] if final else cell.output)
    if out is None or out.op != "identity" or any(src not in index for src in out.inputs):
        raise ValueError(
            f"cell {cell.name!r} is not a DARTS-format cell: its output is not a concat of states"
        )
    return CellRows(rows, combines, tuple(sorted(index[src] for src in out.inputs)), final)


def cell_diff(ours: Cell, theirs: Cell) -> str:
    """Where ``theirs`` first differs from ``ours`` (the cell a space makes), in words."""
    mine, other = {n.name: n for n in ours.nodes}, {n.name: n for n in theirs.nodes}
    for name in [*mine, *(k for k in other if k not in mine)]:
        a, b = mine.get(name), other.get(name)
        if a is None or b is None:
            return f"the space's cell {'has' if b is None else 'has no'} a node {name!r}"
        if a != b:
            attrs = f"{b.op} {dict(b.attrs)} on {list(b.inputs)}"
            return f"node {name!r} is {attrs}, the space's {a.op} {dict(a.attrs)} on {list(a.inputs)}"
    return "the order of its nodes or its inputs differ"


def _extra(t: str, i: int) -> str:
    """Choice field: also concatenate state ``i`` of cell type ``t``, which a node reads."""
    return f"{t}_concat_extra_{i}"


class CellPairSpace(SearchSpace):
    """A DARTS-format space: normal and reduction cells searched, network layout fixed by options.

    ``concat``: ``"loose"`` (unused states, cell inputs included) or ``"all"`` (every intermediate node);
    ``extra_concat`` (loose only): a 0/1 field per state ``0 … blocks`` to concatenate it although a node
    reads it; ``distinct_inputs``: a node's two inputs differ (one ``inputs`` field of ordered pairs);
    ``final_conv``: ReLU-1×1 conv-BN after the concat.
    """

    def __init__(
        self,
        name: str,
        *,
        ops: Sequence[str],
        blocks: int,
        combines: Sequence[str] = ("add",),
        distinct_inputs: bool = False,
        concat: str = "loose",
        extra_concat: bool = False,
        final_conv: bool = False,
        layers: int = 20,
        C: int = 36,
        dataset: str = "cifar",
        num_classes: int | None = None,
        auxiliary: bool = False,
        drop_path: float | None = None,
    ) -> None:
        self.name = name
        where = f"space {name!r}"
        unknown = [o for o in ops if o not in EDGE_OPS]
        if not ops or unknown or len(set(ops)) != len(ops):
            raise ValueError(
                f"{where}: option 'ops' must list distinct ops of {sorted(EDGE_OPS)}, got {list(ops)}"
            )
        if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 1:
            raise ValueError(f"{where}: option 'blocks' must be a positive int, got {blocks!r}")
        if not combines or any(c not in COMBINES for c in combines) or len(set(combines)) != len(combines):
            raise ValueError(f"{where}: option 'combines' must list distinct values of {COMBINES}")
        if concat not in ("loose", "all"):
            raise ValueError(f"{where}: option 'concat' must be 'loose' or 'all', got {concat!r}")
        if not isinstance(extra_concat, bool) or (extra_concat and concat != "loose"):
            raise ValueError(f"{where}: option 'extra_concat' must be a bool, true only with concat 'loose'")
        if dataset not in ("cifar", "imagenet"):
            raise ValueError(f"{where}: option 'dataset' must be 'cifar' or 'imagenet', got {dataset!r}")
        self.ops = tuple(ops)
        self.blocks = blocks
        self.combines = tuple(combines)
        self.distinct_inputs = distinct_inputs
        self.concat = concat
        self.extra_concat = extra_concat
        self.final_conv = final_conv
        self.layout = {"layers": layers, "C": C, "dataset": dataset, "num_classes": num_classes}
        self.layout |= {"auxiliary": auxiliary, "drop_path": drop_path}
        self._dims = self._make_dims()

    # -- dimensions --------------------------------------------------------------------------------

    def _make_dims(self) -> dict[str, tuple[Choice, ...]]:
        dims: dict[str, tuple[Choice, ...]] = {}
        for t in CELL_TYPES:
            for j in range(self.blocks):
                k = j + 2
                if self.distinct_inputs:
                    dims[f"{t}_n{k}_inputs"] = tuple(f"{a},{b}" for a in range(k) for b in range(k) if a != b)
                else:
                    dims[f"{t}_n{k}_in0"] = tuple(range(k))
                    dims[f"{t}_n{k}_in1"] = tuple(range(k))
                dims[f"{t}_n{k}_op0"] = self.ops
                dims[f"{t}_n{k}_op1"] = self.ops
                if len(self.combines) > 1:
                    dims[f"{t}_n{k}_combine"] = self.combines
            if self.extra_concat:  # the last node is never read: no field for it
                dims.update({_extra(t, i): (0, 1) for i in range(self.blocks + 1)})
        return dims

    def choices(self) -> dict[str, tuple[Choice, ...]]:
        return dict(self._dims)

    def cell_size(self) -> int:
        """Members per cell type (``size() == cell_size() ** 2``): the input choices counted by the set of
        states they read, each read state doubling them with an extra-concat field."""
        by_read: dict[frozenset[int], int] = {frozenset(): 1}
        for k in range(2, self.blocks + 2):
            nxt: dict[frozenset[int], int] = {}
            for read, n in by_read.items():
                for a, b in itertools.product(range(k), repeat=2):
                    if not (self.distinct_inputs and a == b):
                        nxt[read | {a, b}] = nxt.get(read | {a, b}, 0) + n
            by_read = nxt
        inputs = sum(n * (2 ** len(read) if self.extra_concat else 1) for read, n in by_read.items())
        return (len(self.ops) ** 2 * len(self.combines)) ** self.blocks * inputs

    def size(self) -> int:
        return self.cell_size() ** 2

    # -- choices ⇄ cells ---------------------------------------------------------------------------

    def _inputs(self, c: Mapping[str, Choice], t: str, k: int) -> tuple[int, int]:
        if self.distinct_inputs:
            a, b = (int(v) for v in str(c[f"{t}_n{k}_inputs"]).split(","))
            return a, b
        return int(c[f"{t}_n{k}_in0"]), int(c[f"{t}_n{k}_in1"])

    def _read(self, c: Mapping[str, Choice], t: str) -> set[int]:
        return {i for j in range(self.blocks) for i in self._inputs(c, t, j + 2)}

    def check(self, choices: Mapping[str, Choice]) -> Choices:
        """Every field present and one of its options; the extra-concat bit of a state no node reads
        does not apply and is set to 0 (so a member has one encoding)."""
        c = super().check(choices)
        if self.extra_concat:
            for t in CELL_TYPES:
                read = self._read(c, t)
                c.update({_extra(t, i): 0 for i in range(self.blocks + 1) if i not in read})
        return c

    def rows(
        self, choices: Mapping[str, Choice]
    ) -> dict[str, tuple[list[tuple[str, int]], list[str], tuple[int, ...]]]:
        """Checked choices → per cell type ``(rows, combines, concat)``."""
        c = self.check(choices)
        out = {}
        for t in CELL_TYPES:
            rows, combines = [], []
            for j in range(self.blocks):
                k = j + 2
                a, b = self._inputs(c, t, k)
                rows += [(str(c[f"{t}_n{k}_op0"]), a), (str(c[f"{t}_n{k}_op1"]), b)]
                combines.append(str(c[f"{t}_n{k}_combine"]) if len(self.combines) > 1 else self.combines[0])
            extra = {i for i in range(self.blocks + 1) if c.get(_extra(t, i)) == 1}
            out[t] = (rows, combines, self.concat_list(rows, extra))
        return out

    def concat_list(self, rows: Sequence[tuple[str, int]], extra: set[int] | None = None) -> tuple[int, ...]:
        """The states a cell of these rows concatenates (``extra``: used states concatenated too)."""
        n = self.blocks + 2
        if self.concat == "all":
            return tuple(range(2, n))
        read = {src for _, src in rows}
        return tuple(sorted({i for i in range(n) if i not in read} | (extra or set())))

    def _concat_fields(self, t: str, rows: Sequence[tuple[str, int]], concat: Sequence[int]) -> Choices:
        """A cell's concat list → its extra-concat fields; ``ValueError`` when the space cannot make it."""
        where = f"space {self.name!r}: the {t} cell"
        got, n = set(concat), self.blocks + 2
        if not got <= set(range(n)):
            raise ValueError(f"{where} concatenates states {sorted(got)}, outside [0, {n})")
        if self.concat == "all":
            if got != set(range(2, n)):
                raise ValueError(
                    f"{where} concatenates states {sorted(got)}; this space concatenates every "
                    f"intermediate node {list(range(2, n))}"
                )
            return {}
        read = {src for _, src in rows}
        dead = set(range(n)) - read - got
        if dead:
            raise ValueError(f"{where}: state(s) {sorted(dead)} are neither read nor concatenated")
        extra = got & read
        if extra and not self.extra_concat:
            raise ValueError(
                f"{where} also concatenates state(s) {sorted(extra)}, which nodes read; this space "
                f"concatenates only the unused states (option extra_concat)"
            )
        return {_extra(t, i): int(i in extra) for i in range(self.blocks + 1)} if self.extra_concat else {}

    def choices_from_rows(
        self,
        normal: Sequence[tuple[str, int]],
        reduce: Sequence[tuple[str, int]],
        normal_combines: Sequence[str] | None = None,
        reduce_combines: Sequence[str] | None = None,
        concats: Sequence[Sequence[int]] | None = None,
    ) -> Choices:
        """DARTS-style ``(op, input)`` rows (two per node) → checked choices; ``ValueError`` naming the
        field for a wrong number of rows, an op outside the space or an input out of range (or repeated,
        with distinct inputs), or a concat list (``concats``: normal, reduce; default: the space's own
        for these rows) the space cannot make."""
        out: dict[str, Choice] = {}
        spec = (("normal", normal, normal_combines), ("reduce", reduce, reduce_combines))
        for i, (t, rows, combines) in enumerate(spec):
            if len(rows) != 2 * self.blocks:
                raise ValueError(
                    f"space {self.name!r}: field {t!r} must hold {2 * self.blocks} (op, input) rows "
                    f"({self.blocks} blocks × 2), got {len(rows)}"
                )
            combines = list(combines) if combines is not None else [self.combines[0]] * self.blocks
            if len(combines) != self.blocks:
                raise ValueError(f"space {self.name!r}: field '{t}_combines' must hold {self.blocks} values")
            for j in range(self.blocks):
                k = j + 2
                (op0, a), (op1, b) = rows[2 * j], rows[2 * j + 1]
                if self.distinct_inputs:
                    out[f"{t}_n{k}_inputs"] = f"{a},{b}"
                else:
                    out[f"{t}_n{k}_in0"], out[f"{t}_n{k}_in1"] = a, b
                out[f"{t}_n{k}_op0"], out[f"{t}_n{k}_op1"] = op0, op1
                if len(self.combines) > 1:
                    out[f"{t}_n{k}_combine"] = combines[j]
            if concats is not None:
                out.update(self._concat_fields(t, rows, concats[i]))
            elif self.extra_concat:
                out.update({_extra(t, s): 0 for s in range(self.blocks + 1)})
        return self.check(out)

    def choices_from_genotype(self, genotype: DartsGenotype) -> Choices:
        """A zoo-style ``DartsGenotype`` (rows and concat lists) → choices."""
        return self.choices_from_rows(
            genotype.normal, genotype.reduce, concats=(genotype.normal_concat, genotype.reduce_concat)
        )

    # -- decode / encode ---------------------------------------------------------------------------

    def _zoo_name(self, specs: dict) -> tuple[str | None, str | None]:
        """(genotype key, layout name) of the zoo entry these cells and this layout reproduce, if any."""
        if self.final_conv or any(c != "add" for _, combines, _ in specs.values() for c in combines):
            return None, None
        (nr, _, nc), (rr, _, rc) = specs["normal"], specs["reduce"]
        g = DartsGenotype(tuple(nr), nc, tuple(rr), rc)
        key = next((k for k, v in GENOTYPES.items() if v == g), None)
        if key is None:
            return None, None
        lay = self.layout
        if lay["num_classes"] is not None or lay["auxiliary"] or lay["drop_path"] is not None:
            return key, None
        layout = next(
            (n for n, v in LAYOUTS.items() if v == (key, lay["dataset"], lay["layers"], lay["C"])), None
        )
        return key, layout

    def _cells(self, specs: dict) -> dict[str, Cell]:
        prefix = self._zoo_name(specs)[0] or self.name
        return {
            t: darts_format_cell(
                f"{prefix}_{t}", rows, combines, concat, t == "reduce", final_conv=self.final_conv
            )
            for t, (rows, combines, concat) in specs.items()
        }

    def decode(self, choices: Mapping[str, Choice]) -> Network:
        specs = self.rows(choices)
        cells = self._cells(specs)
        layout = self._zoo_name(specs)[1]
        return cell_space_network(layout or self.name, cells["normal"], cells["reduce"], **self.layout)

    def encode(self, genotype: Genotype) -> Choices:
        """The choices of a network's normal and reduction cells (its layout is ignored); ``ValueError``
        naming the op, edge or concat when the cells are not members."""
        found = network_cells(self.name, genotype)
        where = f"space {self.name!r}: network {genotype.name!r} is not a member"
        try:
            read = {t: read_darts_format_cell(found[t]) for t in CELL_TYPES}
            for t, r in read.items():
                if len(r.combines) != self.blocks:
                    raise ValueError(f"its {t} cell has {len(r.combines)} nodes, the space's {self.blocks}")
                if r.final_conv != self.final_conv:
                    raise ValueError(
                        f"its {t} cell {'has a' if r.final_conv else 'has no'} 1×1 conv after the concat "
                        f"(space option final_conv={self.final_conv})"
                    )
            n, r = read["normal"], read["reduce"]
            choices = self.choices_from_rows(n.rows, r.rows, n.combines, r.combines, (n.concat, r.concat))
        except ValueError as e:
            raise ValueError(f"{where}: {str(e).removeprefix(f'space {self.name!r}: ')}") from None
        ours = self._cells(self.rows(choices))
        for t in CELL_TYPES:
            if anonymous(ours[t]) != anonymous(found[t]):
                raise ValueError(f"{where}: its {t} cell differs: {cell_diff(ours[t], found[t])}")
        return choices

    # -- moves over members only -------------------------------------------------------------------

    def _moves(self, choices: Mapping[str, Choice]) -> dict[str, list[Choices]]:
        """Per field, the members one change of that field away (each canonical: an input change that
        leaves a state unread also clears its extra-concat bit; a bit that does not apply is no move)."""
        c = self.check(choices)
        moves: dict[str, list[Choices]] = {}
        for k, options in self._dims.items():
            for o in options:
                if o != c[k]:
                    new = self.check({**c, k: o})
                    if new != c:
                        moves.setdefault(k, []).append(new)
        return moves

    def neighbours(self, choices: Mapping[str, Choice]) -> list[Choices]:
        return [m for ms in self._moves(choices).values() for m in ms]

    def mutate_choices(self, choices: Mapping[str, Choice], rng: random.Random) -> Choices:
        """A field uniformly, then one of its moves uniformly (the base class's draw on spaces without
        extra-concat fields)."""
        moves = self._moves(choices)
        if not moves:
            raise ValueError(f"space {self.name!r} has a single member: nothing to mutate")
        return rng.choice(moves[rng.choice(list(moves))])

    def sample_choices(self, rng: random.Random) -> Choices:
        return self.check(super().sample_choices(rng))

    def define_by_run(self, trial: Any) -> Choices:
        return self.check(super().define_by_run(trial))

    def enumerate(self, limit: int = 1_000_000) -> Iterator[Genotype]:
        """Every member once (the product in field order, skipping non-canonical vectors)."""
        if self.size() > limit:
            raise ValueError(f"space {self.name!r} has {self.size():,} members, more than limit={limit:,}")
        dims = self._dims
        for values in itertools.product(*dims.values()):
            c = dict(zip(dims, values))
            if self.check(c) == c:
                yield self.decode(c)


def network_cells(space: str, genotype: Genotype) -> dict[str, Cell]:
    """The normal (stride 1) and reduction (stride 2) DARTS-format cells of a network (cells reading
    ``h0, h1``); ``ValueError`` for a cell, a network without one of them or with two different ones."""
    if not isinstance(genotype, Network):
        raise ValueError(f"space {space!r}: a member is a network genotype, got a cell")
    found: dict[str, Cell] = {}
    for s in genotype.stages:
        if s.cell.inputs == ("h0", "h1"):
            t = "normal" if s.stride == 1 else "reduce"
            if found.setdefault(t, s.cell) != s.cell:
                raise ValueError(f"space {space!r}: network {genotype.name!r} has two different {t} cells")
    for t in CELL_TYPES:
        if t not in found:
            raise ValueError(f"space {space!r}: network {genotype.name!r} has no {t} cell")
    return found


def cell_space_network(name: str, normal: Cell, reduce: Cell, **layout: Any) -> Network:
    """``darts_network``'s layout (stems, reduction positions, aux head, head, drop path) around the
    given normal and reduction cells."""
    net = darts_network(name, _PLACEHOLDER, **layout)
    swap = {f"{name}_normal": normal, f"{name}_reduce": reduce}
    stages = tuple(replace(s, cell=swap.get(s.cell.name, s.cell)) for s in net.stages)
    return net.replace(stages=stages)


@register_space(
    "nasnet",
    description="NASNet cells: B=5 blocks, 13 ops, add/concat, unused + chosen used states concatenated "
    "(Zoph 2018)",
)
def nasnet(
    *,
    ops: Sequence[str] = NASNET_OPS,
    blocks: int = 5,
    combines: Sequence[str] = COMBINES,
    extra_concat: bool = True,
    layers: int = 20,
    C: int = 32,
    **layout: Any,
) -> CellPairSpace:
    """The NASNet space (NASNet-A CIFAR layout by default: 20 cells at C = 32, i.e. N = 6 @ 768)."""
    opts = {"ops": ops, "blocks": blocks, "combines": combines, "extra_concat": extra_concat}
    return CellPairSpace("nasnet", concat="loose", layers=layers, C=C, **opts, **layout)


@register_space(
    "darts", description="DARTS cells: 4 nodes, 2 distinct inputs each, 8 ops, concat all (Liu 2019)"
)
def darts(
    *, ops: Sequence[str] = DARTS_OPS, nodes: int = 4, layers: int = 20, C: int = 36, **layout: Any
) -> CellPairSpace:
    """The DARTS space (DARTS CIFAR evaluation layout by default: 20 cells at C = 36)."""
    if nodes < 1:
        raise ValueError(f"space 'darts': option 'nodes' must be a positive int, got {nodes!r}")
    return CellPairSpace(
        "darts", ops=ops, blocks=nodes, distinct_inputs=True, concat="all", layers=layers, C=C, **layout
    )
