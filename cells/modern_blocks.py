"""Blocks of RegNet, ShuffleNetV2, SqueezeNet and ConvNeXt as cells of primitive ops.

Node order is torchvision's call order (weights transfer by dataflow position): RegNet's projection
shortcut runs before the bottleneck, ShuffleNetV2's down-sampling branch 1 before branch 2.
"""

from __future__ import annotations

from cells.blocks import CellWriter
from cells.extra_blocks import se_gate
from nas.core.genotype import Cell


def regnet_block(name: str, groups: int, bottleneck: float = 1.0, se: float | None = None) -> Cell:
    """RegNet's residual bottleneck (X; Y with ``se``): [1×1 conv-BN shortcut when the shape changes],
    1×1 to ``b·C`` -BN-ReLU, 3×3 (stride = cell's, ``groups`` groups) -BN-ReLU, [SE squeezing to
    ``se·Cin``], 1×1 to C -BN, add, ReLU."""
    w = CellWriter()
    inner = f"C*{bottleneck:g}"
    s = w.add("shortcut", "skip", "x", channels="C", stride="cell")
    y = w.conv_bn_act("a_", "x", inner, 1)
    y = w.conv_bn_act("b_", y, inner, 3, stride="cell", groups=groups)
    if se:
        y = se_gate(w, y, f"Cin*{se:g}", inner)
    y = w.conv_bn_act("c_", y, "C", 1, act=None)
    out = w.add("relu", "relu", [y, s])
    return w.cell(name, out)


def shuffle_down_unit(name: str = "shuffle_down") -> Cell:
    """ShuffleNetV2 down-sampling unit: branch 1 (depthwise 3×3 (stride = cell's) -BN, 1×1 -BN-ReLU)
    and branch 2 (1×1 -BN-ReLU, depthwise 3×3 -BN, 1×1 -BN-ReLU), each C/2 wide, concatenated and
    channel-shuffled in 2 groups."""
    w = CellWriter()
    a = w.conv_bn_act("b1_dw_", "x", None, 3, act=None, stride="cell", groups="in")
    a = w.conv_bn_act("b1_pw_", a, "C/2", 1)
    b = _shuffle_branch(w, "x")
    out = w.add("shuffle", "channel_shuffle", [a, b], combine="concat", groups=2)
    return w.cell(name, out)


def shuffle_unit(name: str = "shuffle_unit") -> Cell:
    """ShuffleNetV2 basic unit: split the channels in halves, branch 2 on the second, concatenate
    with the first, channel shuffle in 2 groups."""
    w = CellWriter()
    a = w.add("split0", "channel_split", "x", channels="Cin/2", parts=2, index=0)
    b = w.add("split1", "channel_split", "x", channels="Cin/2", parts=2, index=1)
    b = _shuffle_branch(w, b)
    out = w.add("shuffle", "channel_shuffle", [a, b], combine="concat", groups=2)
    return w.cell(name, out)


def _shuffle_branch(w: CellWriter, x: str) -> str:
    y = w.conv_bn_act("b2_pw1_", x, "C/2", 1)
    y = w.conv_bn_act("b2_dw_", y, None, 3, act=None, stride="cell", groups="in")
    return w.conv_bn_act("b2_pw2_", y, None, 1)


def fire(name: str = "fire") -> Cell:
    """SqueezeNet fire module: 1×1 squeeze to C/8 -ReLU, then 1×1 and 3×3 expands to C/2 each -ReLU,
    concatenated (convs with bias, no BN)."""
    w = CellWriter()
    s = w.add("squeeze", "conv", "x", channels="C/8", kernel=1, bias=True)
    s = w.add("squeeze_act", "relu", s)
    e1 = w.add("expand1x1", "conv", s, channels="C/2", kernel=1, bias=True)
    e1 = w.add("expand1x1_act", "relu", e1)
    e3 = w.add("expand3x3", "conv", s, channels="C/2", kernel=3, bias=True)
    e3 = w.add("expand3x3_act", "relu", e3)
    out = w.add("concat", "identity", [e1, e3], combine="concat")
    return w.cell(name, out)


def convnext_block(name: str = "convnext_block", *, downsample: bool = False, eps: float = 1e-6) -> Cell:
    """ConvNeXt block in torchvision's op order: depthwise 7×7 (bias), permute to channels-last,
    LayerNorm, Linear to 4C, GELU, Linear to C, permute back, layer scale (1e-6), stochastic depth,
    residual add. With ``downsample`` the cell first applies the stage transition (LayerNorm over
    channels, 2×2 conv with the cell's stride) and the block reads its output."""
    w = CellWriter()
    x = "x"
    if downsample:
        x = w.add("down_norm", "layer_norm2d", x, eps=eps)
        x = w.add("down_conv", "conv", x, channels="C", stride="cell", kernel=2, padding=0, bias=True)
        x = w.add("down_out", "identity", x)  # the residual input: an identity, so drop-path spares it
    y = w.add("dwconv", "conv", x, kernel=7, groups="in", bias=True)
    y = w.add("to_last", "permute", y, dims=[0, 2, 3, 1])
    y = w.add("norm", "layer_norm", y, eps=eps)
    y = w.add("pw1", "linear", y, channels="C*4")
    y = w.add("act", "gelu", y)
    y = w.add("pw2", "linear", y, channels="C")
    y = w.add("to_first", "permute", y, dims=[0, 3, 1, 2])
    y = w.add("scale", "layer_scale", y, init=1e-6)
    out = w.add("add", "identity", [y, x], drop_path=True)
    return w.cell(name, out)
