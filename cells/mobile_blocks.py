"""Blocks of the mobile families beyond :func:`cells.blocks.mbconv`, as cells of primitive ops, and the
one builder (:func:`mobile_block`) that the mobile zoo entries and the ``mbconv`` space share, so the
space's cells carry the zoo's names.

``fused_mbconv`` is EfficientNetV2's Fused-MBConv (Tan & Le 2021): the 1×1 expansion and the
depthwise k×k of an MBConv fused into one full k×k conv, faster on accelerators in the early,
high-resolution stages. Squeeze-excitation comes in two styles: ``"efficientnet"`` (squeeze width
``Cin/4``, the block's activation inside, sigmoid gate) and ``"mobilenet_v3"`` (squeeze width
``make_divisible(hidden // 4, 8)``, ReLU inside, hardsigmoid gate).
"""

from __future__ import annotations

from cells.blocks import CellWriter, mbconv
from cells.extra_blocks import se_gate
from nas.core.genotype import Cell, Channels, resolve_channels
from nas.tools.scale import make_divisible

BLOCKS = ("mbconv", "fused")
SE_STYLES = ("efficientnet", "mobilenet_v3")


def fused_mbconv(
    name: str,
    expand: float,
    kernel: int,
    *,
    act: str = "silu",
    bn_eps: float = 1e-5,
    bn_momentum: float = 0.1,
    drop_path: bool = True,
    squeeze: Channels = None,
    se_act: str = "silu",
    se_gate_op: str = "sigmoid",
) -> Cell:
    """Fused-MBConv as torchvision builds it: k×k conv (stride = cell's) to ``expand·Cin`` -BN-act →
    1×1 project to C -BN; with ``expand`` 1 the k×k conv maps straight to C (-BN-act, no project).
    ``squeeze`` channels (none: no SE) put squeeze-excitation after the k×k conv (the paper's
    Figure 2; torchvision's V2 uses none). Residual add with stochastic depth when shapes allow."""
    w = CellWriter()
    bn = {"bn_eps": bn_eps, "bn_momentum": bn_momentum}
    hidden = f"Cin*{expand:g}" if expand != 1 else "C"
    x = w.conv_bn_act("fused_", "x", hidden, kernel, act=act, stride="cell", **bn)
    if squeeze is not None:
        x = se_gate(w, x, squeeze, hidden, act=se_act, gate=se_gate_op)
    if expand != 1:
        x = w.conv_bn_act("project_", x, "C", 1, act=None, **bn)
    s = w.add("residual", "skip", "x", channels="C", stride="cell", project="none")
    out = w.add("add", "identity", [x, s], drop_path=drop_path)
    return w.cell(name, out)


def block_name(block: str, expand: float, kernel: int, se: bool, act: str, drop_path: bool) -> str:
    """The zoo's cell names: ``mbconv{e}_k{k}`` for SiLU MBConv (EfficientNet; SE and drop-path on by
    default), ``inverted_residual_e{e}`` for ReLU6 (MobileNet-v2; ``_k{k}`` for k ≠ 3; both off),
    ``mbconv{e}_k{k}_{act}`` for other activations (MobileNetV3, MNASNet; both off),
    ``fused_mbconv{e}_k{k}`` for Fused-MBConv (EfficientNetV2; SE off, drop-path on); ``_se``/``_nose``
    and ``_sd``/``_nosd`` mark departures from the default, ``_{act}`` a fused block's non-SiLU act."""
    if block not in BLOCKS:
        raise ValueError(f"field 'block' must be one of {BLOCKS}, got {block!r}")
    suffix = "" if act == "silu" else f"_{act}"
    if block == "fused":
        name, se_default, sd_default = f"fused_mbconv{expand:g}_k{kernel}{suffix}", False, True
    elif act == "relu6":
        name = f"inverted_residual_e{expand:g}" + ("" if kernel == 3 else f"_k{kernel}")
        se_default = sd_default = False
    else:
        name = f"mbconv{expand:g}_k{kernel}{suffix}"
        se_default = sd_default = act == "silu"
    if se != se_default:
        name += "_se" if se else "_nose"
    if drop_path != sd_default:
        name += "_sd" if drop_path else "_nosd"
    return name


def v3_squeeze(hidden: int) -> int:
    """MobileNetV3's squeeze width for ``hidden`` channels (torchvision's ``InvertedResidual``)."""
    return make_divisible(hidden // 4, 8)


def mobile_block(
    block: str,
    expand: float,
    kernel: int,
    *,
    se: bool,
    act: str,
    drop_path: bool,
    se_style: str = "efficientnet",
    cin: int | None = None,
    width: int | None = None,
    bn_eps: float = 1e-5,
    bn_momentum: float = 0.1,
) -> Cell:
    """A named MBConv or Fused-MBConv cell. The ``"mobilenet_v3"`` SE style needs the block's input
    channels ``cin`` (and, for a fused block without expansion, its ``width``) to round the squeeze
    width; so a stage of such cells repeats its first block's squeeze width."""
    if se_style not in SE_STYLES:
        raise ValueError(f"field 'se_style' must be one of {SE_STYLES}, got {se_style!r}")
    name = block_name(block, expand, kernel, se, act, drop_path)
    bn = {"bn_eps": bn_eps, "bn_momentum": bn_momentum}
    squeeze: Channels = None
    se_act, gate = act, "sigmoid"
    if se and se_style == "mobilenet_v3":
        if cin is None or (block == "fused" and expand == 1 and width is None):
            raise ValueError("the mobilenet_v3 SE style needs the block's input channels 'cin' (and 'width')")
        spec = "C" if block == "fused" and expand == 1 else f"Cin*{expand:g}"  # as the cell's conv reads it
        hidden = resolve_channels(spec, C=width, Cin=cin, inp=cin, K=0)
        squeeze, se_act, gate = v3_squeeze(hidden), "relu", "hardsigmoid"
    elif se:
        squeeze = "Cin*0.25"
    if block == "fused":
        return fused_mbconv(
            name,
            expand,
            kernel,
            act=act,
            drop_path=drop_path,
            squeeze=squeeze,
            se_act=se_act,
            se_gate_op=gate,
            **bn,
        )
    if squeeze is None:
        return mbconv(name, expand, kernel, se=None, act=act, drop_path=drop_path, **bn)
    fixed = squeeze if isinstance(squeeze, int) else None
    return mbconv(
        name, expand, kernel, act=act, drop_path=drop_path, se_act=se_act, se_gate=gate, squeeze=fixed, **bn
    )
