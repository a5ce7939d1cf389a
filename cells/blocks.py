"""Hand-designed blocks written as cells of primitive ops (so a search can change their inside).

Each builder returns a :class:`nas.Cell`. Channel specs: ``"C"`` is the stage width, ``"Cin"`` the
block's input channels (see :func:`nas.core.genotype.parse_channels`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nas.core.genotype import Cell, Channels, Node


class CellWriter:
    """Accumulates nodes; each ``add`` returns the new node's name so branches read naturally."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []

    def add(
        self,
        name: str,
        op: str,
        inputs: str | Sequence[str],
        *,
        channels: Channels = None,
        stride: int | str = 1,
        combine: str = "sum",
        drop_path: bool = False,
        **attrs: Any,
    ) -> str:
        ins = (inputs,) if isinstance(inputs, str) else tuple(inputs)
        self.nodes.append(Node(name, op, ins, combine, channels, stride, attrs, drop_path))
        return name

    def conv_bn_act(
        self,
        prefix: str,
        x: str | Sequence[str],
        channels: Channels,
        kernel: int | Sequence[int] = 3,
        *,
        act: str | None = "relu",
        stride: int | str = 1,
        bn_eps: float = 1e-5,
        bn_momentum: float = 0.1,
        combine: str = "sum",
        **conv_attrs: Any,
    ) -> str:
        """conv → bn → act, named ``<prefix>conv``, ``<prefix>bn``, ``<prefix>act``."""
        x = self.add(
            f"{prefix}conv",
            "conv",
            x,
            channels=channels,
            stride=stride,
            combine=combine,
            kernel=_k(kernel),
            **conv_attrs,
        )
        bn: dict[str, Any] = {} if bn_eps == 1e-5 else {"eps": bn_eps}
        if bn_momentum != 0.1:
            bn["momentum"] = bn_momentum
        x = self.add(f"{prefix}bn", "bn", x, **bn)
        return self.add(f"{prefix}act", act, x) if act else x

    def cell(self, name: str, output: str, inputs: Sequence[str] = ("x",)) -> Cell:
        return Cell(name, tuple(self.nodes), output, tuple(inputs))


def _k(kernel: int | Sequence[int]) -> int | list[int]:
    return kernel if isinstance(kernel, int) else list(kernel)


def basic_block(name: str = "basic", project: str = "conv_bn") -> Cell:
    """ResNet basic block: two 3×3 conv-BN, a shortcut that projects (``project``, see the ``skip``
    op) when the shape changes, add, ReLU."""
    w = CellWriter()
    y = w.conv_bn_act("c1_", "x", "C", 3, stride="cell")
    y = w.conv_bn_act("c2_", y, "C", 3, act=None)
    s = w.add("shortcut", "skip", "x", channels="C", stride="cell", project=project)
    out = w.add("relu", "relu", [y, s])
    return w.cell(name, out)


def bottleneck(name: str = "bottleneck", width: float = 0.25, groups: int = 1) -> Cell:
    """ResNet v1.5 bottleneck (stride on the 3×3): 1×1 to ``width·C``, grouped 3×3, 1×1 to C."""
    w = CellWriter()
    inner = f"C*{width:g}"
    y = w.conv_bn_act("c1_", "x", inner, 1)
    y = w.conv_bn_act("c2_", y, inner, 3, stride="cell", groups=groups)
    y = w.conv_bn_act("c3_", y, "C", 1, act=None)
    s = w.add("shortcut", "skip", "x", channels="C", stride="cell")
    out = w.add("relu", "relu", [y, s])
    return w.cell(name, out)


def dense_layer(growth: int, bn_size: int = 4, name: str = "dense_layer") -> Cell:
    """DenseNet-BC layer: BN-ReLU-1×1 conv (bn_size·k) - BN-ReLU-3×3 conv (k); output concat(x, new)."""
    w = CellWriter()
    y = w.add("norm1", "bn", "x")
    y = w.add("relu1", "relu", y)
    y = w.add("conv1", "conv", y, channels=bn_size * growth, kernel=1)
    y = w.add("norm2", "bn", y)
    y = w.add("relu2", "relu", y)
    y = w.add("conv2", "conv", y, channels=growth, kernel=3)
    out = w.add("concat", "identity", ["x", y], combine="concat")
    return w.cell(name, out)


def dense_transition(name: str = "transition") -> Cell:
    """DenseNet transition: BN-ReLU-1×1 conv to the stage width, 2×2 average pool (stride = cell's)."""
    w = CellWriter()
    y = w.add("norm", "bn", "x")
    y = w.add("relu", "relu", y)
    y = w.add("conv", "conv", y, channels="C", kernel=1)
    out = w.add("pool", "avgpool", y, stride="cell", kernel=2)
    return w.cell(name, out)


def inception_module(
    name: str,
    c1: int,
    c3r: int,
    c3: int,
    c5r: int,
    c5: int,
    pool_proj: int,
    *,
    k5: int = 3,
    bn_eps: float = 1e-3,
) -> Cell:
    """GoogLeNet Inception module: 1×1 | 1×1→3×3 | 1×1→k5×k5 | 3×3 max-pool→1×1, concatenated.
    (torchvision's GoogLeNet uses 3×3 in the "5×5" branch: ``k5=3``.)"""
    w = CellWriter()
    b1 = w.conv_bn_act("b1_", "x", c1, 1, bn_eps=bn_eps)
    b2 = w.conv_bn_act("b2a_", "x", c3r, 1, bn_eps=bn_eps)
    b2 = w.conv_bn_act("b2b_", b2, c3, 3, bn_eps=bn_eps)
    b3 = w.conv_bn_act("b3a_", "x", c5r, 1, bn_eps=bn_eps)
    b3 = w.conv_bn_act("b3b_", b3, c5, k5, bn_eps=bn_eps)
    b4 = w.add("b4_pool", "maxpool", "x", kernel=3, padding=1, ceil_mode=True)
    b4 = w.conv_bn_act("b4_", b4, pool_proj, 1, bn_eps=bn_eps)
    out = w.add("concat", "identity", [b1, b2, b3, b4], combine="concat")
    return w.cell(name, out)


def mbconv(
    name: str,
    expand: float,
    kernel: int,
    *,
    se: float | None = 0.25,
    act: str = "silu",
    bn_eps: float = 1e-5,
    bn_momentum: float = 0.1,
    drop_path: bool = True,
    se_act: str = "silu",
    se_gate: str = "sigmoid",
    squeeze: int | None = None,
) -> Cell:
    """Inverted residual (MobileNet-v2 / EfficientNet MBConv): [1×1 expand] → depthwise k×k (stride =
    cell's) → [squeeze-excitation, squeeze width ``se·Cin``, or ``squeeze`` channels (MobileNet-v3
    rounds them), gated by ``se_gate``] → 1×1 project, BN; residual add with stochastic depth when
    shapes allow (``skip`` with ``project="none"`` vanishes otherwise)."""
    w = CellWriter()
    bn = {"bn_eps": bn_eps, "bn_momentum": bn_momentum}
    x = "x"
    hidden = f"Cin*{expand:g}"
    if expand != 1:
        x = w.conv_bn_act("expand_", x, hidden, 1, act=act, **bn)
    x = w.conv_bn_act("dw_", x, None, kernel, act=act, stride="cell", groups="in", **bn)
    project_in: str | list[str] = x
    combine = "sum"
    if se:
        g = w.add("se_pool", "adaptive_avgpool", x, size=1)
        g = w.add("se_fc1", "conv", g, channels=squeeze or f"Cin*{se:g}", kernel=1, bias=True)
        g = w.add("se_act", se_act, g)
        g = w.add("se_fc2", "conv", g, channels=hidden, kernel=1, bias=True)
        g = w.add("se_gate", se_gate, g)
        project_in, combine = [g, x], "mul"
    y = w.conv_bn_act("project_", project_in, "C", 1, act=None, combine=combine, **bn)
    s = w.add("residual", "skip", "x", channels="C", stride="cell", project="none")
    out = w.add("add", "identity", [y, s], drop_path=drop_path)
    return w.cell(name, out)


# DARTS genotype rows: (op, input) pairs, two per intermediate node; inputs 0/1 are h[i-2]/h[i-1].
DartsRows = Sequence[tuple[str, int]]

_DARTS_OPS: dict[str, tuple[str, dict[str, Any]]] = {
    "none": ("zero", {}),
    "skip_connect": ("skip", {"project": "factorized"}),
    "max_pool_3x3": ("pool", {"kind": "max"}),
    "avg_pool_3x3": ("pool", {"kind": "avg"}),
    "sep_conv_3x3": ("sep_conv", {"kernel": 3}),
    "sep_conv_5x5": ("sep_conv", {"kernel": 5}),
    "sep_conv_7x7": ("sep_conv", {"kernel": 7}),
    "dil_conv_3x3": ("dil_conv", {"kernel": 3}),
    "dil_conv_5x5": ("dil_conv", {"kernel": 5}),
    "conv_7x1_1x7": ("conv_7x1_1x7", {}),
}


def darts_cell(name: str, rows: DartsRows, concat: Sequence[int], reduction: bool) -> Cell:
    """A DARTS-format cell: preprocess both inputs to C (factorized when h[i-2] is at twice the
    resolution), then nodes ``2 + j`` = sum of two ops, output = concat of ``concat`` states."""
    w = CellWriter()
    states = [
        w.add("pre0", "preprocess", "h0", channels="C", stride="auto"),
        w.add("pre1", "preprocess", "h1", channels="C"),
    ]
    if len(rows) % 2:
        raise ValueError(f"cell {name!r}: field 'rows' must hold two (op, input) pairs per node")
    for j in range(len(rows) // 2):
        ins = []
        for k, (op_name, src) in enumerate(rows[2 * j : 2 * j + 2]):
            if op_name not in _DARTS_OPS:
                raise ValueError(f"cell {name!r}: node {j}: unknown op {op_name!r}")
            if not 0 <= src < len(states):
                raise ValueError(
                    f"cell {name!r}: node {j}: input index {src} out of range [0, {len(states)})"
                )
            op, attrs = _DARTS_OPS[op_name]
            stride = "cell" if reduction and src < 2 else 1
            ins.append(w.add(f"n{j + 2}_{k}", op, states[src], channels="C", stride=stride, **attrs))
        states.append(w.add(f"n{j + 2}", "identity", ins, drop_path=True))
    out = w.add("out", "identity", [states[i] for i in concat], combine="concat")
    return w.cell(name, out, inputs=("h0", "h1"))
