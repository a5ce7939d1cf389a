"""ENAS search spaces (Pham et al. 2018): micro (cells) and macro (a whole 12-layer network).

**enas** (micro): DARTS-format normal and reduction cells (see ``search_spaces.darts_spaces``) of B = 5
nodes; each node sums two ops of ``ENAS_OPS`` (ENAS op ids 0-4: sep 3×3, sep 5×5, avg pool 3×3, max pool
3×3, identity) applied to two earlier states (the same one twice allowed); the loose ends (unused states,
cell inputs included) are concatenated, as in ENAS's final models (``_fixed_combine``): the zoo's ENAS
cells (``enas_cifar``, ``enas_imagenet``) are members. ``final_conv=True`` is ENAS's search-time child
(``micro_child._enas_layer``), which brings the concat back to C channels by a ReLU-1×1 conv-BN. As in
every cell space, membership reads the cells only; the layout defaults to ENAS's CIFAR-10 final model.

  size = S², S = ∏_{j=0}^{B-1} (j+2)² · |ops|² = 720² · 5¹⁰ (B = 5), size = (720 · 5⁵)⁴ ≈ 2.6·10²⁵.

**enas_macro**: the macro space, ``layers`` (12) layers after a 3×3 conv-BN stem; layer ``k`` applies
one op of ``ENAS_MACRO_OPS`` (ENAS op ids 0-5: conv 3×3, sep 3×3, conv 5×5, sep 5×5, avg pool, max pool)
to layer ``k-1`` and may add skip connections from every earlier state (the stem and layers 0 … k-2).
Written after ENAS's search-time ``general_child._enas_layer`` (whole channels):

* conv k×k: 1×1 conv-BN-ReLU, k×k conv-BN-ReLU; sep k×k: 1×1 conv-BN-ReLU, depthwise k×k, pointwise 1×1,
  BN, ReLU; pool: 1×1 conv-BN-ReLU, 3×3 pool (stride 1, "same");
* layers k > 0: the op's output plus the skip-connected states, then BN;
* after layers ``L//3 - 1`` and ``2L//3 - 1`` every state is halved in resolution by a factorized reduction
  to twice the width (as ENAS's final models; nodes are only made for states that are read later).

The whole body is one cell (input: the stem); the head is global average pool, [dropout,] linear (no
bias). This is the space as ENAS searches it, not a port of its final-model code (``_fixed_layer``
concatenates the skips and adds a 1×1 conv): the released 24-layer arc at C = 96 has 19.8 M parameters
here, the paper reports 21.3 M.

  size = |ops|^L · 2^(L(L-1)/2) = 6¹² · 2⁶⁶ ≈ 1.6·10²⁹ (the paper's count).

Choice fields: ``l{k}_op`` and ``l{k}_from_stem`` / ``l{k}_from_l{i}`` (0/1). :func:`macro_arc_choices`
reads ENAS's ``fixed_arc`` strings (``ENAS_MACRO_ARC`` is the released 24-layer CIFAR-10 architecture,
4 ops).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cells import CellWriter
from nas.core.genotype import Cell, Genotype, Network, Stage, chain
from nas.core.registry import register_space
from search_spaces.base import Choice, Choices, SearchSpace, anonymous
from search_spaces.darts_spaces import CellPairSpace

ENAS_OPS: tuple[str, ...] = ("sep_conv_3x3", "sep_conv_5x5", "avg_pool_3x3", "max_pool_3x3", "skip_connect")
ENAS_MACRO_OPS: tuple[str, ...] = (
    "conv_3x3",
    "sep_conv_3x3",
    "conv_5x5",
    "sep_conv_5x5",
    "avg_pool_3x3",
    "max_pool_3x3",
)

# ENAS repository, scripts/cifar10_macro_final.sh: the released macro architecture (24 layers, 4 ops).
ENAS_MACRO_ARC = " ".join(
    [
        "0",
        "3 0",
        "0 1 0",
        "2 0 0 1",
        "2 0 0 0 0",
        "3 1 1 0 1 0",
        "2 0 0 0 0 0 1",
        "2 0 1 1 0 1 1 1",
        "1 0 1 1 1 0 1 0 1",
        "0 0 0 0 0 0 0 0 0 0",
        "2 0 0 0 0 0 1 0 0 0 0",
        "0 1 0 0 1 1 0 0 0 0 1 1",
        "2 0 1 0 0 0 0 0 1 0 1 1 0",
        "1 0 0 1 0 0 0 1 1 1 0 1 0 1",
        "0 1 1 0 1 0 1 0 0 0 0 0 1 0 0",
        "2 0 0 1 0 0 0 0 0 0 0 1 0 1 0 1",
        "2 0 1 0 0 0 1 0 0 1 1 1 1 0 0 1 0",
        "2 0 0 0 0 1 0 1 0 1 0 0 1 0 1 0 0 1",
        "3 0 1 1 0 1 0 0 0 0 0 1 0 1 0 1 0 0 0",
        "3 0 1 1 0 0 0 0 0 0 0 0 0 1 1 0 0 0 0 1",
        "0 1 0 0 1 0 1 1 0 0 0 1 0 0 0 0 0 1 1 0 0",
        "3 0 1 0 1 1 0 0 1 0 1 1 0 1 1 0 1 0 0 1 0 0",
        "0 1 0 1 0 1 0 0 0 0 0 0 0 0 1 0 1 0 0 1 0 0 0",
        "0 1 1 0 0 0 1 1 1 0 1 0 0 0 1 0 1 0 0 1 1 0 0 0",
    ]
)


@register_space("enas", description="ENAS micro cells: B=5, 5 ops, sum, loose ends concatenated (Pham 2018)")
def enas(
    *,
    ops: Sequence[str] = ENAS_OPS,
    blocks: int = 5,
    final_conv: bool = False,
    layers: int = 17,
    C: int = 36,
    **layout: Any,
) -> CellPairSpace:
    """The ENAS micro space (ENAS CIFAR-10 final layout by default: 15 normal + 2 reduction cells, C = 36)."""
    return CellPairSpace(
        "enas", ops=ops, blocks=blocks, concat="loose", final_conv=final_conv, layers=layers, C=C, **layout
    )


# --- macro ------------------------------------------------------------------------------------------


def _source_field(k: int, src: int) -> str:
    """Choice field of the skip connection into layer ``k`` from state ``src`` (0 = stem, i + 1 = layer i)."""
    return f"l{k}_from_stem" if src == 0 else f"l{k}_from_l{src - 1}"


class EnasMacroSpace(SearchSpace):
    """ENAS macro space (see the module docstring). Options: ``layers`` (12), ``C`` (out filters, 24 as
    ENAS's search), ``ops`` (a prefix-free subset of ``ENAS_MACRO_OPS``), ``num_classes`` (10),
    ``input_size`` (32), ``dropout`` (0: none)."""

    name = "enas_macro"

    def __init__(
        self,
        *,
        layers: int = 12,
        C: int = 24,
        ops: Sequence[str] = ENAS_MACRO_OPS,
        num_classes: int = 10,
        input_size: int = 32,
        dropout: float = 0.0,
    ) -> None:
        if isinstance(layers, bool) or not isinstance(layers, int) or layers < 1:
            raise ValueError(f"space 'enas_macro': option 'layers' must be a positive int, got {layers!r}")
        unknown = [o for o in ops if o not in ENAS_MACRO_OPS]
        if not ops or unknown or len(set(ops)) != len(ops):
            raise ValueError(f"space 'enas_macro': option 'ops' must list distinct ops of {ENAS_MACRO_OPS}")
        self.layers, self.C, self.ops = layers, C, tuple(ops)
        self.num_classes, self.input_size, self.dropout = num_classes, input_size, dropout
        self.pool_layers = (layers // 3 - 1, 2 * (layers // 3) - 1)

    def choices(self) -> dict[str, tuple[Choice, ...]]:
        dims: dict[str, tuple[Choice, ...]] = {}
        for k in range(self.layers):
            dims[f"l{k}_op"] = self.ops
            for src in range(k):
                dims[_source_field(k, src)] = (0, 1)
        return dims

    def decode(self, choices: Mapping[str, Choice]) -> Network:
        c = self.check(choices)
        return Network(
            "enas_macro",
            chain("enas_macro_stem", [("conv", {"channels": self.C, "kernel": 3}), ("bn",)]),
            (Stage(self._body(c), 1, self.C, 1),),
            self._head(),
            (3, self.input_size, self.input_size),
            self.num_classes,
        )

    def _head(self) -> Cell:
        """Global average pool, [dropout,] linear without bias (ENAS's ``fc`` is a bare matmul)."""
        rows: list[tuple] = [("adaptive_avgpool", {"size": 1}), ("flatten",)]
        if self.dropout:
            rows.append(("dropout", {"p": self.dropout}))
        rows.append(("linear", {"channels": "K", "bias": False}))
        return chain("enas_macro_head", rows)

    def _body(self, c: Mapping[str, Choice]) -> Cell:
        w = CellWriter()
        states: list[list[str]] = [["x"]]  # per state: its versions at successive pool levels
        level = 0

        def read(src: int) -> str:
            versions = states[src]
            while len(versions) <= level:  # materialize the factorized reductions it has missed
                at = self.pool_layers[len(versions) - 1]
                versions.append(
                    w.add(
                        f"p{at}_{'stem' if src == 0 else f'l{src - 1}'}",
                        "skip",
                        versions[-1],
                        channels=f"C*{2 ** len(versions)}",
                        stride=2,
                        project="factorized",
                    )
                )
            return versions[level]

        for k in range(self.layers):
            width = f"C*{2**level}" if level else "C"
            op = str(c[f"l{k}_op"])
            p = f"l{k}_"
            x = w.conv_bn_act(f"{p}in_", read(k), width, 1)
            if op.startswith("conv_"):
                x = w.conv_bn_act(p, x, width, int(op[-1]))
            elif op.startswith("sep_conv_"):
                x = w.add(f"{p}dw", "conv", x, kernel=int(op[-1]), groups="in")
                x = w.conv_bn_act(p, x, width, 1)
            else:
                kind = op.split("_")[0]
                attrs = {"count_include_pad": False} if kind == "avg" else {}
                x = w.add(f"{p}pool", f"{kind}pool", x, kernel=3, padding=1, **attrs)
            if k > 0:
                skips = [read(src) for src in range(k) if c[_source_field(k, src)] == 1]
                x = w.add(f"{p}sum", "identity", [*skips, x])
                x = w.add(f"{p}out_bn", "bn", x)
            states.append([x] * (level + 1))
            if k in self.pool_layers and k != self.layers - 1:
                level += 1
        return w.cell("enas_macro_body", read(self.layers))

    def encode(self, genotype: Genotype) -> Choices:
        if not isinstance(genotype, Network) or len(genotype.stages) != 1:
            raise ValueError("space 'enas_macro': a member is a network with one body stage")
        nodes = {n.name: n for n in genotype.stages[0].cell.nodes}
        origin: dict[str, int] = {"x": 0}  # node name → state (0 = stem, i + 1 = layer i)
        for name in nodes:  # factorized reductions are named p{pool layer}_{stem | l{i}}
            if name.startswith("p") and "_" in name:
                src = name.split("_", 1)[1]
                origin[name] = 0 if src == "stem" else int(src[1:]) + 1 if src[1:].isdigit() else -1
        out: dict[str, Choice] = {}
        for k in range(self.layers):
            p = f"l{k}_"
            if f"{p}pool" in nodes:
                op, last = f"{nodes[f'{p}pool'].op[:3]}_pool_3x3", f"{p}pool"
            elif f"{p}dw" in nodes:
                kernel = nodes[f"{p}dw"].kwargs.get("kernel")
                op, last = f"sep_conv_{kernel}x{kernel}", f"{p}act"
            elif f"{p}conv" in nodes:
                kernel = nodes[f"{p}conv"].kwargs.get("kernel")
                op, last = f"conv_{kernel}x{kernel}", f"{p}act"
            else:
                raise ValueError(f"space 'enas_macro': network {genotype.name!r} has no layer {k}")
            out[f"l{k}_op"] = op
            if k > 0:
                total = nodes.get(f"{p}sum")
                if total is None:
                    raise ValueError(f"space 'enas_macro': network {genotype.name!r}: layer {k} has no sum")
                skipped = {origin.get(i, -1) for i in total.inputs[:-1]}
                for src in range(k):
                    out[_source_field(k, src)] = int(src in skipped)
                last = f"{p}out_bn"
            origin[last] = k + 1
        choices = self.check(out)
        if anonymous(self.decode(choices)) != anonymous(genotype):
            raise ValueError(f"space 'enas_macro': network {genotype.name!r} is not a member of this layout")
        return choices


def macro_arc_choices(arc: str, layers: int | None = None, ops: Sequence[str] = ENAS_MACRO_OPS) -> Choices:
    """An ENAS macro ``fixed_arc`` string (per layer: op id, then one 0/1 per earlier state) → choices."""
    tokens = [int(t) for t in arc.split()]
    out: Choices = {}
    pos, k = 0, 0
    while pos < len(tokens):
        if pos + 1 + k > len(tokens):
            raise ValueError(f"ENAS arc: layer {k} needs {1 + k} numbers, only {len(tokens) - pos} left")
        op = tokens[pos]
        if not 0 <= op < len(ops):
            raise ValueError(f"ENAS arc: field 'l{k}_op': op id {op} out of range [0, {len(ops)})")
        out[f"l{k}_op"] = ops[op]
        for src in range(k):
            out[_source_field(k, src)] = tokens[pos + 1 + src]
        pos += 1 + k
        k += 1
    if layers is not None and k != layers:
        raise ValueError(f"ENAS arc: expected {layers} layers, got {k}")
    return out


def macro_arc(choices: Mapping[str, Choice], ops: Sequence[str] = ENAS_MACRO_OPS) -> str:
    """Choices → an ENAS ``fixed_arc`` string (inverse of :func:`macro_arc_choices`)."""
    tokens, k = [], 0
    while f"l{k}_op" in choices:
        tokens.append(str(list(ops).index(choices[f"l{k}_op"])))
        tokens += [str(int(choices[_source_field(k, src)])) for src in range(k)]
        k += 1
    return " ".join(tokens)


@register_space(
    "enas_macro", description="ENAS macro network: 12 layers, 6 ops, skips from any earlier layer (Pham 2018)"
)
def enas_macro(**options: Any) -> EnasMacroSpace:
    return EnasMacroSpace(**options)
