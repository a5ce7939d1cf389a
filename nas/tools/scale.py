"""Compound scaling (EfficientNet, Tan & Le 2019) of any network genotype: depth, width, resolution.

:func:`scale` reads nothing but the genotype, so it serves every stage-table network (ResNets, MBConv,
VGG, DenseNet) and every cell network (the N of an N@F layout is its stage repeats, F its widths):

* **depth** ``d``: every stage's repeats become ``ceil(repeats·d)``, except a single cell that changes the
  resolution (a reduction cell, a DenseNet transition, a VGG pool), which a second copy would shrink
  again. Auxiliary heads stay after the same stage, at the nearest repeat.
* **width** ``w``: every stage width and every absolute channel count inside a cell (stem, stage cells
  such as DenseNet's growth, head, auxiliary heads) becomes ``make_divisible(c·w)``: a multiple of 8
  never more than 10 % below ``c·w`` (torchvision's ``_make_divisible``); relative specs (``"C*0.25"``,
  ``"Cin*6"``, ``"K"``) follow by themselves. Two rules keep a network's own ratios, as its builder
  would: a head count that is a multiple of the last stage width stays that multiple of the scaled
  width (EfficientNet's 1×1 head conv is ``4 ×`` the last width, torchvision
  ``lastconv_output_channels``), and a stage after a stage that grows its own channels (a dense block:
  no width, more channels out than in) keeps its width's ratio to its input channels, floored (DenseNet's
  compression), whatever depth and width did to the block. ``w = 1`` leaves every width as written.
* **resolution**: a float multiplies the input height and width (rounded to the nearest pixel), an int
  sets them in pixels. A network whose parameters depend on the input size (a head that flattens a
  spatial map without adaptive pooling) cannot be rescaled.

Multipliers below 1 shrink (MobileNet's α < 1, the proxies' small networks); only a grid search over
α, β, γ restricts them to ≥ 1. A dimension that the network cannot follow raises ``ValueError`` naming it.

The EfficientNet B-table (:data:`EFFICIENTNET`) is data here and read by the zoo;
``scale(efficientnet_b0, preset="b4")`` is the zoo's ``efficientnet_b4``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import NamedTuple

import torch

from nas.core.compile import TensorInfo, compile_cell, compile_network
from nas.core.genotype import AuxHead, Cell, Network, Stage
from nas.core.resolve import resolve

DIVISOR = 8
_BN_DEFAULT = (1e-5, 0.1)


class CompoundScale(NamedTuple):
    """One member of a compound-scaled family: width and depth multipliers, the input resolution (of
    the member; its ratio to B0's is what :func:`scale` applies), the classifier dropout and the
    BatchNorm eps / momentum its released weights were trained with."""

    width_mult: float
    depth_mult: float
    resolution: int
    dropout: float
    bn_eps: float = _BN_DEFAULT[0]
    bn_momentum: float = _BN_DEFAULT[1]


# The released EfficientNet family as torchvision's efficientnet_b0…b7 builders use it (not exactly
# α^φ = 1.2^φ etc.: B7 is (2.0, 3.1, 600)). B5–B7 use BatchNorm2d(eps=1e-3, momentum=0.01), the TF settings.
EFFICIENTNET: dict[str, CompoundScale] = {
    "b0": CompoundScale(1.0, 1.0, 224, 0.2),
    "b1": CompoundScale(1.0, 1.1, 240, 0.2),
    "b2": CompoundScale(1.1, 1.2, 260, 0.3),
    "b3": CompoundScale(1.2, 1.4, 300, 0.3),
    "b4": CompoundScale(1.4, 1.8, 380, 0.4),
    "b5": CompoundScale(1.6, 2.2, 456, 0.4, 1e-3, 0.01),
    "b6": CompoundScale(1.8, 2.6, 528, 0.5, 1e-3, 0.01),
    "b7": CompoundScale(2.0, 3.1, 600, 0.5, 1e-3, 0.01),
}


def make_divisible(v: float, divisor: int = DIVISOR, min_value: int | None = None) -> int:
    """Round ``v`` to the nearest multiple of ``divisor`` (at least ``min_value``, default
    ``divisor``), never going down by more than 10% (the TF-slim / torchvision rule)."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def scale_width(channels: int, width_mult: float, divisor: int = DIVISOR) -> int:
    """``channels·width_mult`` made divisible (torchvision's ``adjust_channels``)."""
    return make_divisible(channels * width_mult, divisor)


def scale_depth(layers: int, depth_mult: float) -> int:
    """``ceil(layers·depth_mult)`` (torchvision's ``adjust_depth``); a product within 1e-9 of an integer
    counts as that integer, so float noise in ``α^φ`` does not add a layer."""
    return max(1, math.ceil(layers * depth_mult - 1e-9))


def depth_fixed(stage: Stage) -> bool:
    """A single cell that changes the resolution: repeating it would shrink the maps again."""
    return stage.repeats == 1 and stage.stride != 1


def remap_aux(net: Network, repeats: Sequence[int]) -> tuple[AuxHead, ...]:
    """``net``'s auxiliary heads for new stage ``repeats``: each stays after the same stage, at the
    same repeat or the stage's last one."""
    starts_old = [sum(s.repeats for s in net.stages[:i]) for i in range(len(net.stages))]
    starts_new = [sum(repeats[:i]) for i in range(len(repeats))]
    aux = []
    for a in net.aux:
        si = max(i for i, st in enumerate(starts_old) if st <= a.after)
        rep = min(a.after - starts_old[si], repeats[si] - 1)
        aux.append(AuxHead(starts_new[si] + rep, a.head))
    return tuple(aux)


# ------------------------------------------------------------------------------------------ the transform


def scale(
    network: Network | str | Path,
    *,
    depth: float = 1.0,
    width: float = 1.0,
    resolution: float | int = 1.0,
    preset: str | None = None,
    name: str | None = None,
) -> Network:
    """``network`` (a genotype, zoo name or genotype path) scaled by ``depth``, ``width`` and
    ``resolution`` (a float: a multiplier; an int: pixels), see the module docstring.

    ``preset`` names a row of :data:`EFFICIENTNET` (``"b0"``…``"b7"``), relative to B0: its width and
    depth multipliers, its resolution's ratio to B0's 224, its dropout for the head's dropout ops and,
    where it is not PyTorch's default, its BatchNorm eps / momentum for every BN. The result is named
    ``name``, or the base's name with ``_b0`` replaced by the preset (``efficientnet_b4``) or with the
    changed multipliers appended (``resnet50_d2_w1.5_r320``).
    """
    net = resolve(network)
    if not isinstance(net, Network):
        raise TypeError("scale() takes a network genotype, not a single cell")
    row = _preset(preset, depth, width, resolution)
    if row is not None:
        b0 = EFFICIENTNET["b0"].resolution
        depth, width, resolution = row.depth_mult, row.width_mult, row.resolution / b0
    _check_multiplier("depth", depth)
    _check_multiplier("width", width)
    _check_resolution(resolution)
    followers = _follower_ratios(net) if (depth != 1 or width != 1) else {}
    steps: list[tuple[str, Callable[[Network], Network]]] = []
    if depth != 1:
        steps.append(("depth", partial(_scale_depth, d=depth)))
    if width != 1 or (followers and depth != 1):
        steps.append(("width", partial(_scale_widths, w=width, followers=followers)))
    out, params = _structural(net, steps)
    if isinstance(resolution, int) or resolution != 1.0:
        out = _scale_resolution(out, resolution, params)
    if row is not None:
        out = _apply_preset_extras(out, row)
    return out.replace(name=name or _scaled_name(net, out, preset, depth, width))


def _preset(preset: str | None, depth: float, width: float, resolution: float | int) -> CompoundScale | None:
    if preset is None:
        return None
    if preset not in EFFICIENTNET:
        raise ValueError(f"preset must be one of {', '.join(EFFICIENTNET)}, got {preset!r}")
    if (depth, width, resolution) != (1.0, 1.0, 1.0) or isinstance(resolution, int):
        raise ValueError("preset sets depth, width and resolution itself: give either preset or multipliers")
    return EFFICIENTNET[preset]


def _positive(value: object) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return number and math.isfinite(value) and value > 0  # type: ignore[arg-type, operator]


def _check_multiplier(field: str, value: float) -> None:
    if not _positive(value):
        raise ValueError(f"{field} must be a positive finite multiplier, got {value!r}")


def _check_resolution(value: float | int) -> None:
    if not _positive(value):
        raise ValueError(
            f"resolution must be a positive multiplier (float) or size in pixels (int), got {value!r}"
        )


def _cannot(net: Network, dimension: str, why: object) -> ValueError:
    return ValueError(f"cannot scale {net.name!r} along {dimension}: {why}")


def _structural(
    net: Network, steps: Sequence[tuple[str, Callable[[Network], Network]]]
) -> tuple[Network, int | None]:
    """The depth and width ``steps`` applied to ``net`` and the result's parameter count, from one
    compile on the meta device (``None`` without steps); a failure names the dimension that caused it."""
    out = net
    for dimension, step in steps:
        try:
            out = step(out)
        except ValueError as e:
            raise _cannot(net, dimension, e) from None
    if not steps:
        return out, None
    try:
        return out, _params(out)
    except ValueError as e:
        blame = steps[-1][0]
        if len(steps) > 1:  # both changed: does the first alone break it?
            try:
                _params(steps[0][1](net))
            except ValueError:
                blame = steps[0][0]
        raise _cannot(net, blame, e) from None


def _params(net: Network) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in compile_network(net).parameters())


def _scale_depth(net: Network, d: float) -> Network:
    if all(depth_fixed(s) for s in net.stages):
        raise ValueError("no stage can repeat its cell (every stage is one resolution-changing cell)")
    repeats = [s.repeats if depth_fixed(s) else scale_depth(s.repeats, d) for s in net.stages]
    stages = tuple(dataclasses.replace(s, repeats=r) for s, r in zip(net.stages, repeats))
    return net.replace(stages=stages, aux=remap_aux(net, repeats))


# ------------------------------------------------------------------------------------------------ width


def _walk(net: Network, followers: dict[int, float] | None = None) -> tuple[Network, list[int]]:
    """Compile ``net`` cell by cell on the meta device, as :func:`compile_network` does, giving each
    stage in ``followers`` its ratio times the channels reaching it; returns the network with those
    widths and the channels out of the stem and out of every stage walked (all of them without
    ``followers``, else up to the last follower)."""
    followers = followers or {}
    stop = max(followers, default=len(net.stages) - 1)
    stages = list(net.stages)
    with torch.device("meta"):
        _, t = compile_cell(net.stem, [TensorInfo(net.input_size, 1, 0)], num_classes=net.num_classes)
        states, channels = [t], [t.channels]
        for i, st in enumerate(stages[: stop + 1]):
            if i in followers:
                st = stages[i] = dataclasses.replace(
                    st, width=max(1, math.floor(followers[i] * t.channels + 1e-9))
                )
            for r in range(st.repeats):
                k, n_in = len(states) - 1, len(st.cell.inputs)
                ins = [states[max(0, k + 1 - n_in + j)] for j in range(n_in)]
                stride = st.stride if r == 0 else 1
                _, t = compile_cell(st.cell, ins, width=st.width, stride=stride, num_classes=net.num_classes)
                states.append(t)
            channels.append(t.channels)
    return net.replace(stages=tuple(stages)), channels


def _follower_ratios(net: Network) -> dict[int, float]:
    """Stage index → width / input channels, for each stage with a width right after a stage that grows
    its own channels (no width, more channels out than in: a dense block before its transition)."""
    if all(s.width is not None for s in net.stages):
        return {}
    _, ch = _walk(net)  # ch[i]: channels into stage i (out of the stem or stage i - 1)
    return {
        i: s.width / ch[i]
        for i, s in enumerate(net.stages)
        if i and s.width is not None and net.stages[i - 1].width is None and ch[i] > ch[i - 1]
    }


def _channels(cell: Cell, f: Callable[[int], int]) -> Cell:
    """``cell`` with every absolute channel count ``c`` replaced by ``f(c)``."""
    nodes = tuple(
        dataclasses.replace(n, channels=f(n.channels))
        if isinstance(n.channels, int) and not isinstance(n.channels, bool)
        else n
        for n in cell.nodes
    )
    return dataclasses.replace(cell, nodes=nodes)


def _has_absolute(cell: Cell) -> bool:
    return any(isinstance(n.channels, int) and not isinstance(n.channels, bool) for n in cell.nodes)


def _scale_widths(net: Network, w: float, followers: dict[int, float]) -> Network:
    """Stage widths and absolute channel counts times ``w`` (see the module docstring); the stages in
    ``followers`` get their ratio times their new input channels."""
    if not any(s.width is not None for s in net.stages) and not any(_has_absolute(c) for c in net.cells()):
        raise ValueError("it has no stage width and no absolute channel count to scale")
    if w == 1:
        sw: Callable[[int], int] = int
    else:
        sw = partial(scale_width, width_mult=w)
    ref = next((s.width for s in reversed(net.stages) if s.width is not None), None)
    new_ref = sw(ref) if ref is not None else None

    def head_width(c: int) -> int:  # a multiple of the last stage width stays that multiple
        return c // ref * new_ref if ref is not None and new_ref is not None and c % ref == 0 else sw(c)

    stages = tuple(
        Stage(_channels(s.cell, sw), s.repeats, None if s.width is None else sw(s.width), s.stride)
        for s in net.stages
    )
    out = net.replace(
        stem=_channels(net.stem, sw),
        stages=stages,
        head=_channels(net.head, head_width),
        aux=tuple(AuxHead(a.after, _channels(a.head, sw)) for a in net.aux),
    )
    return _walk(out, followers)[0] if followers else out


# ------------------------------------------------------------------------------------ resolution, presets


def _scale_resolution(net: Network, r: float | int, params: int | None) -> Network:
    """``net`` at the new input size; its parameter count (``params`` if known) must not change."""
    c, h, w = net.input_size
    size = (c, r, r) if isinstance(r, int) else (c, max(1, round(h * r)), max(1, round(w * r)))
    out = net.replace(input_size=size)
    before = _params(net) if params is None else params
    try:
        after = _params(out)
    except ValueError as e:
        raise _cannot(net, "resolution", e) from None
    if after != before:
        raise _cannot(
            net,
            "resolution",
            f"its parameter count depends on the input size ({before:,} at {h}×{w}, {after:,} at "
            f"{size[1]}×{size[2]}: a head that flattens a spatial map without adaptive pooling)",
        )
    return out


def _set_attrs(cell: Cell, op: str, **attrs: float) -> Cell:
    nodes = tuple(
        dataclasses.replace(n, attrs={**n.kwargs, **attrs}) if n.op == op else n for n in cell.nodes
    )
    return dataclasses.replace(cell, nodes=nodes)


def _apply_preset_extras(net: Network, row: CompoundScale) -> Network:
    """The preset's head dropout and, where it is not PyTorch's default, its BatchNorm settings."""
    out = net.replace(head=_set_attrs(net.head, "dropout", p=row.dropout))
    if (row.bn_eps, row.bn_momentum) == _BN_DEFAULT:
        return out

    def bn(cell: Cell) -> Cell:
        return _set_attrs(cell, "bn", eps=row.bn_eps, momentum=row.bn_momentum)

    return out.replace(
        stem=bn(out.stem),
        stages=tuple(dataclasses.replace(s, cell=bn(s.cell)) for s in out.stages),
        head=bn(out.head),
        aux=tuple(AuxHead(a.after, bn(a.head)) for a in out.aux),
    )


def _scaled_name(base: Network, out: Network, preset: str | None, depth: float, width: float) -> str:
    if preset is not None:
        return f"{base.name[:-3]}_{preset}" if base.name.endswith("_b0") else f"{base.name}_{preset}"
    parts = [f"d{depth:g}"] if depth != 1 else []
    parts += [f"w{width:g}"] if width != 1 else []
    _, h, w = out.input_size
    if out.input_size != base.input_size:
        parts.append(f"r{h}" if h == w else f"r{h}x{w}")
    return "_".join([base.name, *parts])


__all__ = [
    "EFFICIENTNET",
    "CompoundScale",
    "depth_fixed",
    "make_divisible",
    "remap_aux",
    "scale",
    "scale_depth",
    "scale_width",
]
