"""Compound scaling's coefficients (EfficientNet, Tan & Le 2019): the α, β, γ grid under the constraint
α·β²·γ² ≈ 2, the family ``(α^φ, β^φ, γ^φ)`` and single-dimension baselines at equal MACs.

Depth scales by α^φ, width by β^φ, resolution by γ^φ; MACs grow by about (α·β²·γ²)^φ, so the
constraint makes each step of φ about double them. :func:`nas.tools.scale.scale` applies the
multipliers to a genotype; this module only chooses them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from nas.core.errors import ConfigError
from nas.core.genotype import Network, from_json
from nas.core.resolve import resolve
from nas.tools.describe import describe
from nas.tools.scale import scale

COEFFICIENTS = ("alpha", "beta", "gamma")
DIMENSIONS = ("depth", "width", "resolution")  # what α, β and γ scale


def check_coefficient(field: str, value: float) -> float:
    """A compound-scaling coefficient: a finite number ≥ 1 (``ConfigError`` naming ``field``); below 1
    the family would shrink along that dimension as φ grows."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(field, f"must be a number >= 1, got {value!r}")
    if value < 1:
        raise ConfigError(field, f"must be >= 1 (a compound-scaling coefficient), got {value:g}")
    return float(value)


def multipliers(alpha: float, beta: float, gamma: float, phi: float) -> tuple[float, float, float]:
    """(depth, width, resolution) multipliers ``(α^φ, β^φ, γ^φ)`` of family member ``phi``."""
    a, b, g = (check_coefficient(k, v) for k, v in zip(COEFFICIENTS, (alpha, beta, gamma)))
    if not (isinstance(phi, int | float) and math.isfinite(phi) and phi >= 0) or isinstance(phi, bool):
        raise ConfigError("phi", f"must be a number >= 0, got {phi!r}")
    return a**phi, b**phi, g**phi


def flops_ratio(alpha: float, beta: float, gamma: float) -> float:
    """α·β²·γ²: how much MACs grow per step of φ (ideally, without rounding)."""
    return alpha * beta * beta * gamma * gamma


def axis(field: str, span: float | Sequence[float], step: float) -> tuple[float, ...]:
    """The values of one coefficient: ``[low, high]`` every ``step`` (a number: that value alone)."""
    lo, hi = (span, span) if isinstance(span, int | float) else tuple(span)  # type: ignore[misc]
    lo, hi = check_coefficient(field, lo), check_coefficient(field, hi)
    if hi < lo:
        raise ConfigError(field, f"range {lo:g}..{hi:g} is empty (high < low)")
    n = math.floor((hi - lo) / step + 1e-9)
    return tuple(round(lo + i * step, 6) for i in range(n + 1))


def grid(
    alpha: float | Sequence[float] = (1.0, 1.4),
    beta: float | Sequence[float] = (1.0, 1.4),
    gamma: float | Sequence[float] = (1.0, 1.4),
    *,
    step: float = 0.05,
    target: float = 2.0,
    tolerance: float = 0.1,
) -> list[tuple[float, float, float]]:
    """Every (α, β, γ) of the grid with ``|α·β²·γ² − target| ≤ tolerance``, in (α, β, γ) order.
    ``ConfigError`` naming ``tolerance`` when none is left, naming a coefficient below 1."""
    if not (isinstance(step, int | float) and step > 0):
        raise ConfigError("step", f"must be > 0, got {step!r}")
    if not (isinstance(target, int | float) and target >= 1):
        raise ConfigError("target", f"must be >= 1 (the MACs growth per step of phi), got {target!r}")
    if not (isinstance(tolerance, int | float) and tolerance >= 0):
        raise ConfigError("tolerance", f"must be >= 0, got {tolerance!r}")
    axes = [axis(k, v, step) for k, v in zip(COEFFICIENTS, (alpha, beta, gamma))]
    every = [(a, b, g) for a in axes[0] for b in axes[1] for g in axes[2]]
    points = [p for p in every if abs(flops_ratio(*p) - target) <= tolerance + 1e-9]
    if not points:
        near = min(every, key=lambda p: abs(flops_ratio(*p) - target))
        raise ConfigError(
            "tolerance",
            f"{tolerance:g} leaves no grid point with alpha*beta^2*gamma^2 within it of {target:g} "
            f"(the closest: {flops_ratio(*near):.3f} at alpha, beta, gamma = {near[0]:g}, {near[1]:g}, "
            f"{near[2]:g})",
        )
    return points


def equal_macs(network: Network | str, dimension: str, macs: int, *, tol: float = 1e-3) -> float:
    """The multiplier ≥ 1 along ``dimension`` alone whose network's MACs (``nas.describe``) come closest
    to ``macs``: bisection on the measured MACs, which rounding makes a step function of the multiplier
    (ceil of repeats, multiples of 8 channels, whole pixels), so the closer of the two steps around it."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"dimension must be one of {', '.join(DIMENSIONS)}, got {dimension!r}")
    net = resolve(network)
    if not isinstance(net, Network):
        raise TypeError("equal_macs() takes a network genotype, not a single cell")
    memo: dict[float, int] = {}
    by_net: dict[str, int] = {}  # rounding maps many multipliers to one network: measure it once

    def at(x: float) -> int:
        if x not in memo:
            text = scale(net, **{dimension: x}, name="_").to_json()
            if text not in by_net:
                by_net[text] = int(describe(from_json(text))["macs"])
            memo[x] = by_net[text]
        return memo[x]

    lo, hi = 1.0, 2.0
    if at(lo) >= macs:
        return lo
    while at(hi) < macs:
        lo, hi = hi, 2 * hi
        if hi > 64:
            raise ValueError(f"cannot reach {macs:,} MACs scaling {net.name!r} along {dimension} alone")
    while hi - lo > tol:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if at(mid) < macs else (lo, mid)
    # 4 decimals, rounded away from the step between them (steps are far wider than 1e-4)
    return min((math.ceil(hi * 1e4) / 1e4, math.floor(lo * 1e4) / 1e4), key=lambda x: abs(at(x) - macs))


__all__ = [
    "COEFFICIENTS",
    "DIMENSIONS",
    "axis",
    "check_coefficient",
    "equal_macs",
    "flops_ratio",
    "grid",
    "multipliers",
]
