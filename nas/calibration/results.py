"""A calibration's results: per proxy, one score and cost per architecture, and the summary of how well
those scores rank like the ground truth; read and written as a calibration JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nas import proxies as P
from nas.calibration.halving import halving_report
from nas.core.errors import ConfigError
from nas.stats import (
    expected_pick_regret,
    finite_or_none,
    finite_or_worst,
    finite_round,
    rank_agreement,
    rankdata,
    top_region_spearman,
)

#: pool sizes of the pick regret in a calibration's summary (pools of n trained candidates, as a search
#: picks its best among what it trained)
PICK_POOLS = (20, 50, 100)


def _regret(scores: Sequence[float], truth: Sequence[float], pool: int) -> float | None:
    """The exact expected pick regret in pools of ``pool`` (None when the sample is smaller)."""
    return finite_round(expected_pick_regret(scores, truth, pool)) if len(truth) >= pool else None


@dataclass
class ProxyResult:
    """One proxy's scores and costs (CPU- and wall-seconds) per architecture, in the sample's order."""

    name: str
    kind: str  # "zero-cost", "training" or "ensemble"
    scores: list[float]
    cpu_s: list[float]
    wall_s: list[float]
    info: dict[str, Any] = field(default_factory=dict)

    def summary(self, truth: Sequence[float]) -> dict[str, Any]:
        """Rank agreement with ``truth`` (non-finite scores ranked worst; a statistic that is undefined,
        e.g. for a constant score, is ``None``) and the mean cost per candidate."""
        s = finite_or_worst(self.scores)
        n_bad = int(np.sum(~np.isfinite(np.asarray(self.scores, dtype=np.float64))))
        return {
            "proxy": self.name,
            "kind": self.kind,
            **rank_agreement(s, truth, top_fraction=0.1, min_n=2),
            "top_decile_spearman": finite_round(top_region_spearman(s, truth)),
            **{f"pick_regret_{n}": _regret(s, truth, n) for n in PICK_POOLS},
            "cpu_s_per_candidate": round(float(np.mean(self.cpu_s)), 3),
            "wall_s_per_candidate": round(float(np.mean(self.wall_s)), 3),
            "non_finite": n_bad,
            **({"info": self.info} if self.info else {}),
        }


@dataclass
class Calibration:
    """Every proxy's results over one seeded sample of a ground-truth table (``truth`` in ``archs``'
    order); ``settings`` records how it was measured (threads, device, versions)."""

    space: str
    truth_path: str
    target_column: str
    seed: int
    archs: list[str]
    truth: list[float]
    results: list[ProxyResult]
    settings: dict[str, Any]

    def summary(self) -> list[dict[str, Any]]:
        return [r.summary(self.truth) for r in self.results]

    def rung_curves(self) -> dict[str, list[ProxyResult]]:
        """Per-rung results (``calibrate(..., rungs=...)``) by training preset, in epoch order."""
        curves: dict[str, list[ProxyResult]] = {}
        for r in self.results:
            if "rung_of" in r.info:
                curves.setdefault(str(r.info["rung_of"]), []).append(r)
        return {k: sorted(v, key=lambda r: int(r.info["rung"])) for k, v in curves.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "space": self.space,
            "truth": self.truth_path,
            "target_column": self.target_column,
            "seed": self.seed,
            "n_archs": len(self.archs),
            "settings": self.settings,
            "summary": self.summary(),
            "archs": self.archs,
            "target": self.truth,
            "scores": {r.name: [finite_or_none(v) for v in r.scores] for r in self.results},
            "cpu_s": {r.name: [round(c, 4) for c in r.cpu_s] for r in self.results},
            "wall_s": {r.name: [round(c, 4) for c in r.wall_s] for r in self.results},
            "kinds": {r.name: r.kind for r in self.results},
            "info": {r.name: r.info for r in self.results if r.info},
            **({"successive_halving": halving_report(self)} if self.rung_curves() else {}),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Calibration:
        """Read back :meth:`to_dict` (a calibration JSON)."""
        results = []
        for name, scores in d["scores"].items():
            cpu = d["cpu_s"][name]
            results.append(
                ProxyResult(
                    name,
                    d.get("kinds", {}).get(name, _default_kind(name)),
                    [float("-inf") if v is None else float(v) for v in scores],
                    list(cpu),
                    list(d.get("wall_s", {}).get(name, cpu)),
                    info=d.get("info", {}).get(name, {}),
                )
            )
        return cls(
            d["space"], d["truth"], d["target_column"], d["seed"], list(d["archs"]), list(d["target"]),
            results, dict(d.get("settings", {})),
        )  # fmt: skip


def _default_kind(name: str) -> str:
    return "zero-cost" if name in P.PROXIES else "ensemble" if "+" in name else "training"


def load_calibration(path: str | Path) -> Calibration:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"calibration file {str(path)!r} does not exist")
    return Calibration.from_dict(json.loads(path.read_text()))


def merge_calibrations(cals: Sequence[Calibration]) -> Calibration:
    """One calibration with every proxy of ``cals`` (runs over the same architectures, e.g. run in
    parallel); a proxy present in several keeps its first run."""
    first = cals[0]
    for c in cals[1:]:
        if c.archs != first.archs or c.target_column != first.target_column:
            raise ValueError("calibrations to merge must cover the same architectures and target")
    seen: dict[str, ProxyResult] = {}
    for c in cals:
        for r in c.results:
            seen.setdefault(r.name, r)
    settings = dict(first.settings, merged=[c.settings for c in cals])
    return Calibration(
        first.space, first.truth_path, first.target_column, first.seed, first.archs, first.truth,
        list(seen.values()), settings,
    )  # fmt: skip


def parse_ensemble(spec: str, proxies: Sequence[str]) -> list[str]:
    """``"synflow+tiny"`` → ``["synflow", "tiny"]``; every member must be one of ``proxies``."""
    names = [n.strip() for n in spec.split("+")]
    if len(names) < 2 or not all(names):
        raise ConfigError("ensembles", f"{spec!r} must name two or more proxies joined by '+'")
    missing = [n for n in names if n not in proxies]
    if missing:
        raise ConfigError("ensembles", f"{spec!r}: {', '.join(map(repr, missing))} is not among the proxies")
    return names


def ensemble(name: str, members: Sequence[ProxyResult]) -> ProxyResult:
    """Mean of the members' rank-normalised scores (non-finite scores ranked worst); costs add up."""
    n = len(members[0].scores)
    ranks = np.mean([rankdata(finite_or_worst(m.scores)) / n for m in members], axis=0)
    return ProxyResult(
        name,
        "ensemble",
        [float(r) for r in ranks],
        [float(sum(c)) for c in zip(*(m.cpu_s for m in members))],
        [float(sum(w)) for w in zip(*(m.wall_s for m in members))],
        info={"ensemble": [m.name for m in members]},
    )
