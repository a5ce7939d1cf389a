"""NASNet and DARTS cell search spaces (and the machinery the ENAS micro space shares with them).

All three are *DARTS-format* spaces: a network of normal and reduction cells (the layouts of
``search_spaces.zoo.nas_cells.darts_network``) whose two cell types are searched. A cell preprocesses its
inputs h[i-2], h[i-1] to C channels (states 0 and 1), then builds ``blocks`` nodes: node ``j + 2`` applies
two ops to two earlier states and combines the results; some states are concatenated into the output.

* **nasnet** (Zoph et al. 2018): B = 5 blocks; each block picks two inputs among the cell inputs and the
  earlier blocks (the same one twice is allowed), two ops from the 13-op list ``NASNET_OPS`` and a combine
  (``add`` or ``concat``). The output concatenates the *unused* states (cell inputs included; in a
  reduction cell an unused input is first reduced by a factorized reduction, as in NASNet's code).
  NASNet-A (``nasnet_a_cifar`` etc.) needs ``concat_extra=NASNET_A_CONCAT_EXTRA``: NASNet's released
  code concatenates fixed extra states (see ``search_spaces.zoo.nas_cells``); AmoebaNet-A is a member of
  the plain space (C = 36).

  size = S², S = ∏_{j=0}^{B-1} (j+2)² · |ops|² · |combines|   (per cell type; B = 5, 13 ops, 2 combines:
  S = 720² · 13¹⁰ · 2⁵, size ≈ 5.2·10³⁶).

* **darts** (Liu et al. 2019): the 8 DARTS primitives ``DARTS_OPS`` (``none`` included), 4 nodes, each
  with two *distinct* inputs in order (a DARTS node keeps its two strongest incoming edges, one per
  predecessor; the row order is part of the genotype), sum; the output concatenates all intermediate
  nodes.

  size = S², S = ∏_{j=0}^{N-1} (j+2)(j+1) · |ops|²   (N = 4 nodes, 8 ops: S = 2880 · 8⁸, size ≈ 2.3·10²¹;
  without ``none`` and with unordered pairs this is NAS-Bench-301's ≈ 10¹⁸).

Choice fields, per cell type ``t`` in (normal, reduce) and node ``k = j + 2``: ``{t}_n{k}_in0`` /
``{t}_n{k}_in1`` (state indices; darts: one field ``{t}_n{k}_inputs`` = ``"a,b"``), ``{t}_n{k}_op0`` /
``{t}_n{k}_op1`` and, with more than one combine, ``{t}_n{k}_combine``.

Layout options (all spaces): ``layers``, ``C``, ``dataset`` ("cifar"/"imagenet"), ``num_classes``,
``auxiliary``, ``drop_path`` — passed to ``darts_network`` — and ``ops``/``blocks`` (``nodes`` for darts) to
shrink the space. ``decode`` names a member after the zoo entry it equals (``nasnet_a_cifar``, ...);
membership (``contains``/``encode``) ignores names.

A ``concat`` block makes a state of 2C channels; an op that cannot change the channel count (pool,
identity) reads such a state through a ReLU-1×1 conv-BN adapter (``n{k}_{i}_adj``), as NASNet does.
NASNet's "3×3 dilated conv" is DARTS's dilated separable conv, its separable convs are DARTS's stacked
pair (as in the zoo).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

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
# NASNet-A's extra concatenated states (normal, reduction): see search_spaces.zoo.nas_cells.NASNET.
NASNET_A_CONCAT_EXTRA: tuple[tuple[int, ...], tuple[int, ...]] = ((0,), (3,))

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


def read_darts_format_cell(cell: Cell, blocks: int) -> tuple[list[tuple[str, int]], list[str]]:
    """A DARTS-format cell → its ``(op, input)`` rows and combines (``ValueError`` when it is not one)."""
    nodes = {n.name: n for n in cell.nodes}
    index = {"pre0": 0, "pre1": 1} | {f"n{j + 2}": j + 2 for j in range(blocks)}
    rows: list[tuple[str, int]] = []
    combines: list[str] = []
    for j in range(blocks):
        for k in (0, 1):
            node = nodes.get(f"n{j + 2}_{k}")
            if node is None:
                raise ValueError(
                    f"cell {cell.name!r} is not a {blocks}-block DARTS-format cell: no node 'n{j + 2}_{k}'"
                )
            op = _REVERSE.get((node.op, node.attrs))
            if op is None:
                raise ValueError(
                    f"cell {cell.name!r}: node {node.name!r}: op {node.op!r} {dict(node.attrs)} is unknown"
                )
            src = node.inputs[0]
            if src.endswith("_adj") and src in nodes:
                src = nodes[src].inputs[0]
            if src not in index:
                raise ValueError(
                    f"cell {cell.name!r}: node {node.name!r} reads {src!r}, which is not a state"
                )
            rows.append((op, index[src]))
        sum_node = nodes.get(f"n{j + 2}")
        if sum_node is None:
            raise ValueError(f"cell {cell.name!r} is not a DARTS-format cell: no node 'n{j + 2}'")
        combines.append("concat" if sum_node.combine == "concat" else "add")
    return rows, combines


def network_diff(a: Network, b: Network) -> str:
    """The first top-level field in which two networks differ (names ignored), for error messages."""
    a, b = anonymous(a), anonymous(b)
    for f in ("stem", "head", "input_size", "num_classes", "drop_path", "drop_path_schedule", "aux"):
        if getattr(a, f) != getattr(b, f):
            return f
    if len(a.stages) != len(b.stages):
        return f"stages (count {len(a.stages)} vs {len(b.stages)})"
    for i, (x, y) in enumerate(zip(a.stages, b.stages)):
        if x != y:
            what = "cell" if x.cell != y.cell else "repeats/width/stride"
            return f"stage {i} {what}"
    return ""


class CellPairSpace(SearchSpace):
    """A DARTS-format space: normal and reduction cells searched, network layout fixed by options.

    ``concat``: ``"loose"`` (unused states, cell inputs included) or ``"all"`` (every intermediate node);
    ``concat_extra``: states always concatenated, per cell type; ``distinct_inputs``: a node's two inputs
    differ (one ``inputs`` field of ordered pairs); ``final_conv``: ReLU-1×1 conv-BN after the concat.
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
        concat_extra: Sequence[Sequence[int]] = ((), ()),
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
        extra = tuple(tuple(sorted(set(e))) for e in concat_extra)
        if len(extra) != 2 or any(not 0 <= i < blocks + 2 for e in extra for i in e):
            raise ValueError(
                f"{where}: option 'concat_extra' must be two lists (normal, reduce) of states "
                f"in [0, {blocks + 2})"
            )
        if dataset not in ("cifar", "imagenet"):
            raise ValueError(f"{where}: option 'dataset' must be 'cifar' or 'imagenet', got {dataset!r}")
        self.ops = tuple(ops)
        self.blocks = blocks
        self.combines = tuple(combines)
        self.distinct_inputs = distinct_inputs
        self.concat = concat
        self.concat_extra = extra
        self.final_conv = final_conv
        self.layout = {
            "layers": layers,
            "C": C,
            "dataset": dataset,
            "num_classes": num_classes,
            "auxiliary": auxiliary,
            "drop_path": drop_path,
        }
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
        return dims

    def choices(self) -> dict[str, tuple[Choice, ...]]:
        return dict(self._dims)

    def cell_size(self) -> int:
        """Members per cell type (closed form; ``size() == cell_size() ** 2``)."""
        s = 1
        for j in range(self.blocks):
            pairs = (j + 2) * (j + 1) if self.distinct_inputs else (j + 2) ** 2
            s *= pairs * len(self.ops) ** 2 * len(self.combines)
        return s

    # -- choices ⇄ rows ----------------------------------------------------------------------------

    def rows(self, choices: Mapping[str, Choice]) -> dict[str, tuple[list[tuple[str, int]], list[str]]]:
        """Checked choices → per cell type ``(rows, combines)``."""
        c = self.check(choices)
        out = {}
        for t in CELL_TYPES:
            rows, combines = [], []
            for j in range(self.blocks):
                k = j + 2
                if self.distinct_inputs:
                    a, b = (int(v) for v in str(c[f"{t}_n{k}_inputs"]).split(","))
                else:
                    a, b = int(c[f"{t}_n{k}_in0"]), int(c[f"{t}_n{k}_in1"])
                rows += [(str(c[f"{t}_n{k}_op0"]), a), (str(c[f"{t}_n{k}_op1"]), b)]
                combines.append(str(c[f"{t}_n{k}_combine"]) if len(self.combines) > 1 else self.combines[0])
            out[t] = (rows, combines)
        return out

    def choices_from_rows(
        self,
        normal: Sequence[tuple[str, int]],
        reduce: Sequence[tuple[str, int]],
        normal_combines: Sequence[str] | None = None,
        reduce_combines: Sequence[str] | None = None,
    ) -> Choices:
        """DARTS-style ``(op, input)`` rows (two per node) → checked choices; ``ValueError`` naming the
        field for a wrong number of rows, an unknown op or an input out of range."""
        out: dict[str, Choice] = {}
        for t, rows, combines in (("normal", normal, normal_combines), ("reduce", reduce, reduce_combines)):
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
        return self.check(out)

    def choices_from_genotype(self, genotype: DartsGenotype) -> Choices:
        """A zoo-style ``DartsGenotype`` → choices (its concat lists are implied by the space)."""
        return self.choices_from_rows(genotype.normal, genotype.reduce)

    # -- decode / encode ---------------------------------------------------------------------------

    def concat_list(self, t: str, rows: Sequence[tuple[str, int]]) -> tuple[int, ...]:
        n = self.blocks + 2
        if self.concat == "all":
            states = set(range(2, n))
        else:
            read = {src for _, src in rows}
            states = {i for i in range(n) if i not in read}
        return tuple(sorted(states | set(self.concat_extra[CELL_TYPES.index(t)])))

    def _zoo_name(self, rows: dict, concats: dict) -> tuple[str | None, str | None]:
        """(genotype key, layout name) of the zoo entry these cells and this layout reproduce, if any."""
        if self.final_conv or any(c != "add" for _, combines in rows.values() for c in combines):
            return None, None
        g = DartsGenotype(
            tuple(rows["normal"][0]), concats["normal"], tuple(rows["reduce"][0]), concats["reduce"]
        )
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

    def decode(self, choices: Mapping[str, Choice]) -> Network:
        rows = self.rows(choices)
        concats = {t: self.concat_list(t, rows[t][0]) for t in CELL_TYPES}
        key, layout = self._zoo_name(rows, concats)
        prefix = key or self.name
        cells = {
            t: darts_format_cell(
                f"{prefix}_{t}", rows[t][0], rows[t][1], concats[t], t == "reduce", final_conv=self.final_conv
            )
            for t in CELL_TYPES
        }
        return cell_space_network(layout or self.name, cells["normal"], cells["reduce"], **self.layout)

    def encode(self, genotype: Genotype) -> Choices:
        if not isinstance(genotype, Network):
            raise ValueError(f"space {self.name!r}: a member is a network genotype, got a cell")
        found: dict[str, Cell] = {}
        for s in genotype.stages:
            if s.cell.inputs == ("h0", "h1"):
                t = "normal" if s.stride == 1 else "reduce"
                if found.setdefault(t, s.cell) != s.cell:
                    raise ValueError(
                        f"space {self.name!r}: network {genotype.name!r} has two different {t} cells"
                    )
        for t in CELL_TYPES:
            if t not in found:
                raise ValueError(f"space {self.name!r}: network {genotype.name!r} has no {t} cell")
        read = {t: read_darts_format_cell(found[t], self.blocks) for t in CELL_TYPES}
        choices = self.choices_from_rows(
            read["normal"][0], read["reduce"][0], read["normal"][1], read["reduce"][1]
        )
        decoded = self.decode(choices)
        if anonymous(decoded) != anonymous(genotype):
            raise ValueError(
                f"space {self.name!r}: network {genotype.name!r} is not a member: its "
                f"{network_diff(decoded, genotype)} differs from what its cells decode to in this space"
            )
        return choices


def cell_space_network(name: str, normal: Cell, reduce: Cell, **layout: Any) -> Network:
    """``darts_network``'s layout (stems, reduction positions, aux head, head, drop path) around the
    given normal and reduction cells."""
    net = darts_network(name, _PLACEHOLDER, **layout)
    swap = {f"{name}_normal": normal, f"{name}_reduce": reduce}
    stages = tuple(replace(s, cell=swap.get(s.cell.name, s.cell)) for s in net.stages)
    return net.replace(stages=stages)


@register_space(
    "nasnet", description="NASNet cells: B=5 blocks, 13 ops, add/concat, loose ends concatenated (Zoph 2018)"
)
def nasnet(
    *,
    ops: Sequence[str] = NASNET_OPS,
    blocks: int = 5,
    combines: Sequence[str] = COMBINES,
    concat_extra: Sequence[Sequence[int]] = ((), ()),
    layers: int = 20,
    C: int = 32,
    **layout: Any,
) -> CellPairSpace:
    """The NASNet space (NASNet-A CIFAR layout by default: 20 cells at C = 32, i.e. N = 6 @ 768)."""
    return CellPairSpace(
        "nasnet",
        ops=ops,
        blocks=blocks,
        combines=combines,
        concat="loose",
        concat_extra=concat_extra,
        layers=layers,
        C=C,
        **layout,
    )


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
