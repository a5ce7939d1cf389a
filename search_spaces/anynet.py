"""RegNet's quantized linear design space (Radosavovic et al. 2020) as a transform of configuration.

A RegNet is six numbers (:class:`RegNetParams`: depth, w0, wa, wm, group width, bottleneck ratio,
plus SE on/off). :func:`regnet_stages` turns them into AnyNet stage rows (:class:`AnyStage`: width,
depth, group width, bottleneck ratio, stride) before any genotype is built, as compound scaling turns
EfficientNet-B0's rows into B1–B7's (:mod:`search_spaces.scaling`): block ``j`` gets the continuous
width ``w0 + wa·j``, quantized in log space to ``w0·wm^round(log(u_j / w0) / log wm)`` and to a
multiple of 8; runs of equal widths are the stages; each stage's width and group width are then made
compatible (``make_divisible``). The arithmetic is torchvision's ``BlockParams.from_init_params``,
in float32 as there (torch tensors), so every rounding falls the same way.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import torch

from nas.core.errors import ConfigError
from nas.tools.scale import make_divisible

QUANT = 8  # block widths are multiples of 8
STRIDE = 2  # every AnyNet stage halves the resolution


class RegNetParams(NamedTuple):
    """The RegNet parametrization: ``depth`` blocks in all, initial width ``w0``, slope ``wa``, log-space
    step ``wm``, ``group_width`` channels per group of the 3×3 conv, ``bottleneck`` ratio of the inner
    width, ``se`` squeeze-excitation ratio (of the block input) or ``None`` (RegNetX)."""

    depth: int
    w0: int
    wa: float
    wm: float
    group_width: int
    bottleneck: float = 1.0
    se: float | None = None


class AnyStage(NamedTuple):
    """One AnyNet stage: ``depth`` residual bottleneck blocks ``width`` wide, the first with ``stride``;
    the 3×3 conv has groups of ``group_width`` channels over ``width·bottleneck`` inner channels."""

    width: int
    depth: int
    group_width: int
    bottleneck: float
    stride: int = STRIDE

    @property
    def groups(self) -> int:
        return round(self.width * self.bottleneck) // self.group_width


def check_params(p: RegNetParams) -> None:
    """``ConfigError`` naming the field of an invalid parametrization (torchvision's own rule)."""
    if isinstance(p.depth, bool) or not isinstance(p.depth, int) or p.depth < 1:
        raise ConfigError("depth", f"must be a positive int, got {p.depth!r}")
    if isinstance(p.w0, bool) or not isinstance(p.w0, int) or p.w0 <= 0 or p.w0 % QUANT:
        raise ConfigError("w0", f"must be a positive multiple of {QUANT}, got {p.w0!r}")
    if p.wa < 0:
        raise ConfigError("wa", f"must be >= 0, got {p.wa!r}")
    if p.wm <= 1:
        raise ConfigError("wm", f"must be > 1, got {p.wm!r}")
    if isinstance(p.group_width, bool) or not isinstance(p.group_width, int) or p.group_width < 1:
        raise ConfigError("group_width", f"must be a positive int, got {p.group_width!r}")
    if not p.bottleneck > 0:
        raise ConfigError("bottleneck", f"must be positive, got {p.bottleneck!r}")


@lru_cache(maxsize=4096)
def block_widths(depth: int, w0: int, wa: float, wm: float) -> tuple[int, ...]:
    """The quantized width of every block (float32 on the CPU, as torchvision computes it, whatever
    the default device: genotypes are built under ``torch.device("meta")`` too)."""
    cont = torch.arange(depth, device="cpu") * wa + w0
    capacity = torch.round(torch.log(cont / w0) / math.log(wm))
    return tuple((torch.round(torch.divide(w0 * torch.pow(wm, capacity), QUANT)) * QUANT).int().tolist())


def regnet_stages(p: RegNetParams) -> list[AnyStage]:
    """The stage rows of a RegNet: runs of equal block widths, widths and group widths made compatible
    (the inner width a multiple of the group width, which never exceeds it)."""
    check_params(p)
    widths = block_widths(p.depth, p.w0, p.wa, p.wm)
    runs: list[list[int]] = []
    for w in widths:
        if runs and runs[-1][0] == w:
            runs[-1][1] += 1
        else:
            runs.append([w, 1])
    rows = []
    for w, d in runs:
        inner = int(w * p.bottleneck)
        gw = min(p.group_width, inner)
        width = int(make_divisible(inner, gw) / p.bottleneck)
        rows.append(AnyStage(width, d, gw, p.bottleneck))
    return rows


__all__ = ["AnyStage", "RegNetParams", "block_widths", "check_params", "regnet_stages"]
