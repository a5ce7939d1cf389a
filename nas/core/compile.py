"""The compiler: genotype → ``torch.nn.Module`` with a static forward.

Everything is decided at build time: topological order, input indices, when a state can be freed,
which ReLU may run in place, every shape (inferred on the ``meta`` device). ``forward`` is a loop over
stored indices, so the result works with ``torch.compile``, ``torch.jit.trace`` and ``torch.export``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nas.core import genotype as G
from nas.core.graph import check_structure, topological_nodes
from nas.core.meta import meta_call
from nas.core.registry import OPS
from nas.core.resolve import resolve

_PICK, _SUM, _CAT, _MUL = 0, 1, 2, 3
_COMBINE_CODE = {"sum": _SUM, "concat": _CAT, "mul": _MUL}
_WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


@dataclass(frozen=True)
class TensorInfo:
    """What the compiler knows about a state: per-sample shape, cumulative stride and depth so far."""

    shape: tuple[int, ...]
    factor: int = 1
    depth: int = 0
    fresh: bool = False  # produced by an op whose output may be overwritten in place by its only consumer

    @property
    def channels(self) -> int:
        return self.shape[0]


def _fmt(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape[1:])) if len(shape) > 1 else "flat"


def infer_shape(module: nn.Module, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The per-sample output shape of ``module`` for per-sample input ``shape`` (run on meta)."""
    return tuple(meta_call(module, (2, *shape)).shape[1:])


def _weighted_layers(module: nn.Module) -> int:
    return sum(isinstance(m, _WEIGHTED) for m in module.modules())


class CellModule(nn.Module):
    """A compiled cell. ``ops`` holds one module per present node, keyed by node name."""

    def __init__(
        self, name: str, ops: dict[str, nn.Module], plan: list[tuple], out: int, n_inputs: int
    ) -> None:
        super().__init__()
        self.name = name
        self.ops = nn.ModuleDict(ops)
        # per op: (input state indices, combine code, state indices to free after it, drop-path mask,
        # whether a sum may accumulate in place into its first input)
        self.plan = plan
        self.out = out
        self.n_inputs = n_inputs
        self.drop_path_rate = 0.0

    def _drop(self, x: torch.Tensor) -> torch.Tensor:
        keep = 1.0 - self.drop_path_rate
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask.div_(keep)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        s: list[Any] = list(inputs)
        dropping = self.training and self.drop_path_rate > 0.0
        for op, (idx, how, free, drop, acc) in zip(self.ops.values(), self.plan):
            if how == _PICK:
                x = s[idx[0]]
            elif how == _CAT:
                x = torch.cat([s[i] for i in idx], 1)
            else:
                parts = [self._drop(s[i]) if dropping and d else s[i] for i, d in zip(idx, drop)]
                x = parts[0]
                if acc:  # the first input is ours alone: accumulate into it, as `out += identity`
                    for p in parts[1:]:
                        x += p
                else:
                    for p in parts[1:]:
                        x = x + p if how == _SUM else x * p
            s.append(op(x))
            for j in free:
                s[j] = None
        return s[self.out]

    def extra_repr(self) -> str:
        return f"name={self.name!r}"


# A compiled node before indexing: (name, present input names, combine index, drop-path mask, accumulate).
_Step = tuple[str, tuple[str, ...], int, tuple[bool, ...], bool]


def compile_cell(
    cell: G.Cell,
    inputs: Sequence[TensorInfo],
    *,
    width: int | None = None,
    stride: int = 1,
    num_classes: int = 1000,
) -> tuple[CellModule, TensorInfo]:
    """Build one instance of ``cell`` for inputs of the given shapes; returns it and its output's info."""
    check_structure(cell)
    where = f"cell {cell.name!r}"
    if len(inputs) != len(cell.inputs):
        raise ValueError(
            f"{where}: field 'inputs' names {len(cell.inputs)} inputs, but {len(inputs)} are given"
        )
    consumers: dict[str, int] = {}
    for n in cell.nodes:
        for i in n.inputs:
            consumers[i] = consumers.get(i, 0) + 1
    consumers[cell.output] = consumers.get(cell.output, 0) + 1

    # Cell inputs are shared with the outside (the next cells, aux heads): never overwrite them in place.
    info: dict[str, TensorInfo | None] = {n: replace(t, fresh=False) for n, t in zip(cell.inputs, inputs)}
    ops: dict[str, nn.Module] = {}
    steps: list[_Step] = []
    for name in topological_nodes(cell):
        node = cell.node(name)
        present = [i for i in node.inputs if info[i] is not None]
        built = None
        if present:
            ins = [t for i in present if (t := info[i]) is not None]
            at = f"{where}: node {name!r}"
            built = _build_node(
                cell, node, present, ins, consumers, inputs[-1], width, stride, num_classes, at
            )
        if built is None:  # no input left, or an op that is absent for these shapes
            info[name] = None
            continue
        ops[name], info[name], step = built
        steps.append(step)

    out = info[cell.output]
    if out is None:
        raise ValueError(
            f"{where}: field 'output': node {cell.output!r} is absent (all its inputs were pruned)"
        )
    plan, out_index = _plan(cell, steps)
    return CellModule(cell.name, ops, plan, out_index, len(cell.inputs)), out


def _build_node(
    cell: G.Cell,
    node: G.Node,
    present: list[str],
    ins: list[TensorInfo],
    consumers: dict[str, int],
    ref: TensorInfo,
    width: int | None,
    stride: int,
    num_classes: int,
    at: str,
) -> tuple[nn.Module, TensorInfo, _Step] | None:
    """One node's module, output info and step, from its present inputs (``None``: the op is absent)."""
    shape = _combine(node, present, ins, at)
    factor = max(t.factor for t in ins)
    entry = OPS.entry(node.op)
    c_in = shape[-1] if entry.meta.get("last_dim") else shape[0]  # nn.Linear / nn.LayerNorm: last dim
    c_out = G.resolve_channels(node.channels, C=width, Cin=ref.channels, inp=c_in, K=num_classes)
    node_stride = _resolve_stride(node.stride, stride, factor, ref.factor, at)
    kwargs = node.kwargs
    single = len(present) == 1
    if entry.meta.get("inplace"):
        # In place only on a tensor nobody else reads: a fresh sum/concat, or a fresh op output
        # whose only consumer is this node.
        kwargs["inplace"] = (not single) or (ins[0].fresh and consumers.get(present[0], 0) == 1)
    try:
        module = entry.obj(c_in, c_out, node_stride, **kwargs)
    except (TypeError, ValueError, RuntimeError) as e:  # RuntimeError: torch refusing a size
        raise ValueError(f"{at}: op {node.op!r}: {e}") from None
    if module is None:  # e.g. a residual that only exists when shapes match
        return None
    if not isinstance(module, nn.Module):
        raise TypeError(f"{at}: op {node.op!r} built a {type(module).__name__}, not an nn.Module")
    try:
        out_shape = infer_shape(module, shape)
    except RuntimeError as e:
        raise ValueError(f"{at}: op {node.op!r} cannot take input of shape {shape}: {e}") from None
    fresh = bool(entry.meta.get("fresh", False)) or (not single and node.combine != "mul")
    # A multiplicative gate (squeeze-excitation) modulates features without deepening them.
    gate = node.combine == "mul"
    depth = (min if gate else max)(t.depth for t in ins) + _weighted_layers(module)
    drop = tuple(node.drop_path and len(present) > 1 and not _is_identity(cell, i) for i in present)
    acc = node.combine == "sum" and not single and ins[0].fresh and consumers.get(present[0], 0) == 1
    step = (node.name, tuple(present), G.COMBINES.index(node.combine), drop, acc)
    return module, TensorInfo(out_shape, factor * node_stride, depth, fresh), step


def _plan(cell: G.Cell, steps: list[_Step]) -> tuple[list[tuple], int]:
    """The runtime plan (state indices per op, combine code, states to free after it, drop mask,
    accumulate) and the output's state index."""
    index = {n: k for k, n in enumerate(cell.inputs)}
    for k, (name, *_rest) in enumerate(steps):
        index[name] = len(cell.inputs) + k
    last_use: dict[int, int] = {}
    for k, (_, present, *_rest) in enumerate(steps):
        for i in present:
            last_use[index[i]] = k
    plan = []
    for k, (_name, present, comb, drop, acc) in enumerate(steps):
        code = _PICK if len(present) == 1 else _COMBINE_CODE[G.COMBINES[comb]]
        free = tuple(j for j, last in last_use.items() if last == k and j != index[cell.output])
        plan.append((tuple(index[i] for i in present), code, free, drop, acc))
    return plan, index[cell.output]


def _is_identity(cell: G.Cell, name: str) -> bool:
    if name in cell.inputs:
        return True
    return bool(OPS.entry(cell.node(name).op).meta.get("identity", False))


def _combine(node: G.Node, names: list[str], ins: list[TensorInfo], at: str) -> tuple[int, ...]:
    first = ins[0].shape
    if len(ins) == 1:
        return first
    ranks = {len(t.shape) for t in ins}
    if len(ranks) != 1:
        raise ValueError(f"{at}: field 'inputs' mixes flat and spatial tensors at {node.combine!r}")
    if node.combine == "concat":
        for n, t in zip(names, ins):
            if t.shape[1:] != first[1:]:
                raise ValueError(
                    f"{at}: spatial/stride mismatch at concat: input {n!r} is {_fmt(t.shape)}, "
                    f"input {names[0]!r} is {_fmt(first)}"
                )
        return (sum(t.channels for t in ins), *first[1:])
    if node.combine == "mul":  # broadcasting product, e.g. a squeeze-excitation gate (C,1,1) × features
        shape = tuple(max(d) for d in zip(*(t.shape for t in ins)))
        for n, t in zip(names, ins):
            if any(a != b and a != 1 for a, b in zip(t.shape, shape)):
                raise ValueError(
                    f"{at}: shape mismatch at mul: input {n!r} has shape {t.shape}, expected {shape}"
                )
        return shape
    for n, t in zip(names, ins):
        if t.channels != first[0]:
            raise ValueError(
                f"{at}: channel mismatch at sum: input {n!r} has {t.channels} channels, "
                f"input {names[0]!r} has {first[0]}"
            )
        if t.shape[1:] != first[1:]:
            raise ValueError(
                f"{at}: spatial/stride mismatch at sum: input {n!r} is {_fmt(t.shape)} (stride {t.factor}), "
                f"input {names[0]!r} is {_fmt(first)} (stride {ins[0].factor})"
            )
    return first


def _resolve_stride(stride: int | str, cell_stride: int, factor: int, ref_factor: int, at: str) -> int:
    if stride == "cell":
        return cell_stride
    if stride == "auto":
        if ref_factor % factor:
            raise ValueError(
                f"{at}: field 'stride' is 'auto' but stride {factor} does not divide {ref_factor}"
            )
        return ref_factor // factor
    return int(stride)


class NetworkModule(nn.Module):
    """A compiled network: ``head(cells(stem(x)))``; cell ``k`` reads the last ``n_k`` states."""

    def __init__(
        self,
        genotype: G.Network,
        stem: CellModule,
        stages: list[list[CellModule]],
        head: CellModule,
        aux: list[CellModule],
        depth: int,
    ) -> None:
        super().__init__()
        self.genotype = genotype
        self.num_classes = genotype.num_classes
        self.depth = depth
        self.stem = stem
        self.stages = nn.ModuleList(nn.ModuleList(s) for s in stages)
        self.head = head
        self.aux = nn.ModuleList(aux)
        # states: 0 = stem output, k + 1 = output of cell k. Precompute what each cell reads and frees.
        n = genotype.num_cells
        self.cell_inputs: list[tuple[int, ...]] = []
        k = 0
        for stage in stages:
            for cell in stage:
                self.cell_inputs.append(
                    tuple(max(0, k + 1 - cell.n_inputs + j) for j in range(cell.n_inputs))
                )
                k += 1
        last_use = {n: n}  # the last cell's output feeds the head: never freed
        for k, idx in enumerate(self.cell_inputs):
            for i in idx:
                last_use[i] = max(last_use.get(i, -1), k)
        self.aux_after = {a.after: j for j, a in enumerate(genotype.aux)}  # aux reads before frees
        self.cell_free = [tuple(i for i, last in last_use.items() if last == k) for k in range(n)]
        self.set_drop_path(genotype.drop_path)

    def set_drop_path(self, rate: float) -> None:
        """Set the drop-path (stochastic depth) rate, spread over cells by the genotype's schedule."""
        cells = [c for stage in self.stages for c in stage]
        for k, c in enumerate(cells):
            linear = self.genotype.drop_path_schedule == "linear"
            c.drop_path_rate = rate * k / len(cells) if linear else rate

    def forward(self, x: torch.Tensor) -> Any:
        s: list[Any] = [self.stem(x)]
        aux_out: list[torch.Tensor] = []
        use_aux = self.training and len(self.aux) > 0
        k = 0
        for stage in self.stages:
            for cell in stage:
                s.append(cell(*[s[i] for i in self.cell_inputs[k]]))
                if use_aux and k in self.aux_after:
                    aux_out.append(self.aux[self.aux_after[k]](s[k + 1]))
                for j in self.cell_free[k]:
                    s[j] = None
                k += 1
        logits = self.head(s[-1])
        return (logits, *aux_out) if use_aux else logits


def compile_network(net: G.Network) -> NetworkModule:
    image = TensorInfo(net.input_size, 1, 0)
    stem, t = compile_cell(net.stem, [image], num_classes=net.num_classes)
    states = [t]
    stages: list[list[CellModule]] = []
    aux: dict[int, CellModule] = {}
    for si, st in enumerate(net.stages):
        built = []
        for r in range(st.repeats):
            n_in = len(st.cell.inputs)
            k = len(states) - 1
            ins = [states[max(0, k + 1 - n_in + j)] for j in range(n_in)]
            try:
                cell, t = compile_cell(
                    st.cell,
                    ins,
                    width=st.width,
                    stride=st.stride if r == 0 else 1,
                    num_classes=net.num_classes,
                )
            except ValueError as e:
                raise ValueError(f"network {net.name!r}: stage {si} repeat {r}: {e}") from None
            built.append(cell)
            states.append(t)
        stages.append(built)
    for a in net.aux:
        aux[a.after], _ = compile_cell(a.head, [states[a.after + 1]], num_classes=net.num_classes)
    head, t = compile_cell(net.head, [states[-1]], num_classes=net.num_classes)
    if t.shape != (net.num_classes,):
        raise ValueError(
            f"network {net.name!r}: field 'head' must produce ({net.num_classes},) logits, produces {t.shape}"
        )
    return NetworkModule(net, stem, stages, head, [aux[a.after] for a in net.aux], t.depth)


def build(
    arch: G.Network | str | Path,
    num_classes: int | None = None,
    input_size: Sequence[int] | int | None = None,
    **overrides: Any,
) -> NetworkModule:
    """Compile a network genotype (or a zoo name, or a genotype JSON path) into an ``nn.Module``.

    ``num_classes`` and ``input_size`` (an int sets height and width) override the genotype's, as do
    other ``Network`` fields given as keywords (``drop_path=0.2``). Pretrained weights are the weights
    layer's business: :func:`nas.build` (``nas.weights.pretrained.build``) takes ``weights=``.
    """
    net = resolve(arch)
    if not isinstance(net, G.Network):
        raise TypeError("build() takes a network genotype; compile a single cell with compile_cell()")
    if num_classes is not None:
        overrides["num_classes"] = num_classes
    if input_size is not None:
        hw = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
        overrides["input_size"] = (net.input_size[0], *hw) if len(hw) == 2 else hw
    if overrides:
        net = net.replace(**overrides)
    return compile_network(net)


def validate(arch: G.Genotype | str | Path) -> G.Genotype:
    """Check a genotype completely (structure, ops, shapes) without allocating weights."""
    g = resolve(arch)
    with torch.device("meta"):
        if isinstance(g, G.Network):
            compile_network(g)
        else:
            check_structure(g)
            for n in g.nodes:
                OPS.entry(n.op)
    return g
