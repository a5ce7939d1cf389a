"""More hand-designed blocks as cells of primitive ops: the pre-activation bottleneck (He et al.
2016, "Identity mappings"), the squeeze-excitation bottleneck (Hu et al. 2018, SE-ResNet) and the
Xception blocks (Chollet 2017).

As in :mod:`cells.blocks`, ``"C"`` is the stage width and ``"Cin"`` the block's input channels.
Nodes are written in the order the reference implementations call their layers, so that
:func:`nas.transfer` pairs them.
"""

from __future__ import annotations

from cells.blocks import CellWriter
from nas.core.genotype import Cell, Channels


def _strides(stride_at: str) -> tuple[int | str, int | str]:
    """Where a bottleneck puts its stride: on the first 1×1 (original Caffe / Torch code) or the 3×3
    (fb.resnet.torch and torchvision, "v1.5")."""
    if stride_at not in ("1x1", "3x3"):
        raise ValueError(f"stride_at must be '1x1' or '3x3', got {stride_at!r}")
    return ("cell", 1) if stride_at == "1x1" else (1, "cell")


def se_gate(
    w: CellWriter,
    x: str,
    squeeze: Channels,
    channels: Channels = "C",
    *,
    prefix: str = "se_",
    act: str = "relu",
    gate: str = "sigmoid",
) -> str:
    """Squeeze-excitation on ``x`` (which has ``channels`` channels): global average pool → 1×1 conv
    (bias) to ``squeeze`` channels → ``act`` → 1×1 conv (bias) back → ``gate``, multiplied with ``x``."""
    g = w.add(f"{prefix}pool", "adaptive_avgpool", x, size=1)
    g = w.add(f"{prefix}fc1", "conv", g, channels=squeeze, kernel=1, bias=True)
    g = w.add(f"{prefix}act", act, g)
    g = w.add(f"{prefix}fc2", "conv", g, channels=channels, kernel=1, bias=True)
    g = w.add(f"{prefix}gate", gate, g)
    return w.add(f"{prefix}scale", "identity", [x, g], combine="mul")


def se_bottleneck(
    name: str = "se_bottleneck",
    *,
    width: float = 0.25,
    groups: int = 1,
    reduction: int = 16,
    stride_at: str = "1x1",
) -> Cell:
    """SE-ResNet bottleneck: 1×1 → 3×3 → 1×1 conv-BN(-ReLU), squeeze-excitation (reduction
    ``reduction``) after the last BN, then add the shortcut (1×1 conv-BN when the shape changes), ReLU.
    The default stride placement (``stride_at="1x1"``) and the layer order are those of the authors'
    released Caffe models (and of Cadene's ``pretrainedmodels`` port of them)."""
    s1, s2 = _strides(stride_at)
    w = CellWriter()
    inner = f"C*{width:g}"
    y = w.conv_bn_act("c1_", "x", inner, 1, stride=s1)
    y = w.conv_bn_act("c2_", y, inner, 3, stride=s2, groups=groups)
    y = w.conv_bn_act("c3_", y, "C", 1, act=None)
    s = w.add("shortcut", "skip", "x", channels="C", stride="cell")  # called before the gate, as there
    y = se_gate(w, y, f"C/{reduction}")
    out = w.add("relu", "relu", [y, s])
    return w.cell(name, out)


def preact_bottleneck(
    name: str = "preact_bottleneck", *, width: float = 0.25, stride_at: str = "3x3"
) -> Cell:
    """Pre-activation bottleneck (He et al. 2016, "Identity mappings"): BN-ReLU-1×1 conv, BN-ReLU-3×3
    conv, BN-ReLU-1×1 conv to C; the shortcut is the identity, or a bare 1×1 conv (the ``skip`` op's
    ``project="conv"``) when the shape changes; no activation after the add. As in
    :func:`cells.preact.preact_block`, the shortcut reads the block input ``x`` (He et al.'s code
    projects the pre-activated input; a cell cannot switch its shortcut's input on whether it
    projects). Parameters are the same either way."""
    s1, s2 = _strides(stride_at)
    w = CellWriter()
    inner = f"C*{width:g}"
    p = w.add("bn1", "bn", "x")
    p = w.add("relu1", "relu", p)
    y = w.add("conv1", "conv", p, channels=inner, kernel=1, stride=s1)
    y = w.add("bn2", "bn", y)
    y = w.add("relu2", "relu", y)
    y = w.add("conv2", "conv", y, channels=inner, kernel=3, stride=s2)
    y = w.add("bn3", "bn", y)
    y = w.add("relu3", "relu", y)
    y = w.add("conv3", "conv", y, channels="C", kernel=1)
    s = w.add("shortcut", "skip", "x", channels="C", stride="cell", project="conv")
    out = w.add("add", "identity", [y, s])
    return w.cell(name, out)


def separable(w: CellWriter, prefix: str, x: str, channels: Channels, kernel: int = 3) -> str:
    """Xception's separable convolution: depthwise k×k then pointwise 1×1 (no bias), then BN."""
    x = w.add(f"{prefix}dw", "conv", x, kernel=kernel, groups="in")
    x = w.add(f"{prefix}pw", "conv", x, channels=channels, kernel=1)
    return w.add(f"{prefix}bn", "bn", x)


def xception_block(
    name: str, reps: int, *, start_with_relu: bool = True, grow_first: bool = True, pool: bool = True
) -> Cell:
    """Xception residual block: ``reps`` × (ReLU, separable conv, BN) (no ReLU first when
    ``start_with_relu`` is false), widening to C on the first separable conv (``grow_first``) or the
    last; with ``pool``, a 3×3 max-pool carries the cell's stride. Shortcut: identity, or 1×1 conv-BN
    (with the stride) when the shape changes; added without a following activation."""
    w = CellWriter()
    y = "x"
    for i in range(reps):
        if i or start_with_relu:
            y = w.add(f"relu{i}", "relu", y)
        y = separable(w, f"sep{i}_", y, "C" if grow_first or i == reps - 1 else None)
    if pool:
        y = w.add("pool", "maxpool", y, stride="cell", kernel=3, padding=1)
    s = w.add("shortcut", "skip", "x", channels="C", stride="cell")
    out = w.add("add", "identity", [y, s])
    return w.cell(name, out)


def xception_tail(name: str = "xception_tail", hidden: int = 1536) -> Cell:
    """The end of Xception's exit flow: separable conv to ``hidden``, BN, ReLU, separable conv to C,
    BN, ReLU."""
    w = CellWriter()
    y = separable(w, "sep0_", "x", hidden)
    y = w.add("relu0", "relu", y)
    y = separable(w, "sep1_", y, "C")
    y = w.add("relu1", "relu", y)
    return w.cell(name, y)
