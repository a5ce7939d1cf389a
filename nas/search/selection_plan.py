"""What ``--select`` asks for: the selection stage's plan (:mod:`nas.search.selection` runs it).

Kept apart from the stage so that :mod:`nas.search.config` can validate a plan without the trials table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nas.core.errors import ConfigError
from nas.train.presets import PRESETS, get_preset

#: what ``--select`` means when it is not given, for a training objective (tuned: CALIBRATION.md)
DEFAULT_SELECT = "top=3,eta=3,reserve=0.45,rungs=confirm"
OFF = ("off", "none", "no")


@dataclass(frozen=True)
class Rung:
    """Every survivor evaluated ``seeds`` times in all at ``preset`` (None: the search's fidelity)."""

    seeds: int
    preset: str | None = None

    @property
    def fidelity(self) -> str:
        """The fidelity's name in rows (``""``: the search's own)."""
        return self.preset or ""

    def label(self, base: str) -> str:
        return f"{self.preset or base}×{self.seeds}"


@dataclass(frozen=True)
class SelectionPlan:
    """``top`` candidates enter; each rung keeps ``ceil(n / eta)``; ``reserve`` of every budget limit is
    held back from the search phase for the selection."""

    top: int = 3
    eta: float = 3.0
    reserve: float = 0.45
    rungs: tuple[Rung, ...] = (Rung(1, "confirm"),)

    @classmethod
    def parse(cls, text: str, base_preset: str | None = None) -> SelectionPlan | None:
        """``"off"`` → None; ``"on"`` → the defaults; else ``key=value`` pairs over :data:`DEFAULT_SELECT`
        (``top=8,rungs=3+small:1``; a rung is ``SEEDS`` at the search's preset or ``PRESET[:SEEDS]``)."""
        t = (text or "").strip().lower()
        if t in OFF:
            return None
        values = dict(_pairs(DEFAULT_SELECT))
        if t not in ("", "on", "default"):
            values.update(_pairs(t))
        try:
            top, eta, reserve = int(values["top"]), float(values["eta"]), float(values["reserve"])
        except ValueError:
            raise ConfigError("select", f"top, eta and reserve must be numbers, got {text!r}") from None
        plan = cls(top, eta, reserve, tuple(_rung(r, base_preset) for r in values["rungs"].split("+")))
        plan.check()
        return plan

    def check(self) -> None:
        if self.top < 2:
            raise ConfigError("select", f"top={self.top}: at least 2 candidates must enter a selection")
        if not (math.isfinite(self.eta) and self.eta > 1):
            raise ConfigError("select", f"eta={self.eta:g} must be > 1 (the share each rung drops)")
        if not 0 <= self.reserve < 1:
            raise ConfigError("select", f"reserve={self.reserve:g} must be a share of the budget in [0, 1)")
        if not self.rungs:
            raise ConfigError("select", "needs at least one rung")

    @property
    def text(self) -> str:
        rungs = "+".join(f"{r.preset}:{r.seeds}" if r.preset else str(r.seeds) for r in self.rungs)
        return f"top={self.top},eta={self.eta:g},reserve={self.reserve:g},rungs={rungs}"


def _pairs(text: str) -> list[tuple[str, str]]:
    out = []
    for part in (p.strip() for p in text.split(",")):
        name, eq, value = part.partition("=")
        if not eq or name.strip() not in ("top", "eta", "reserve", "rungs") or not value.strip():
            raise ConfigError(
                "select", f"expected top=N, eta=E, reserve=F or rungs=R+R…, got {part!r} ('off' turns it off)"
            )
        out.append((name.strip(), value.strip()))
    return out


def _rung(token: str, base_preset: str | None) -> Rung:
    name, _, seeds = token.strip().rpartition(":") if ":" in token else ("", "", token.strip())
    if not name and not seeds.isdigit():  # a bare preset name: one seed
        name, seeds = seeds, "1"
    if not seeds.isdigit() or int(seeds) < 1:
        raise ConfigError("select", f"rung {token!r}: the seeds must be a count >= 1 (e.g. 3 or small:2)")
    if name and name not in PRESETS:
        raise ConfigError(
            "select", f"rung {token!r}: unknown preset {name!r}; choose one of {', '.join(PRESETS)}"
        )
    if name and not get_preset(name).val_size:
        raise ConfigError("select", f"rung {token!r}: preset {name!r} has no validation split to rank on")
    return Rung(int(seeds), None if name == base_preset else name or None)


def cost_ratio(preset: str, base: str, base_overrides: Mapping[str, Any]) -> float:
    """A trial's cost at ``preset`` relative to one at the search's preset, before either was measured:
    epochs × training images × cells × width^1.5. Measured on 50 NB201 architectures (``small`` vs
    ``rank``, CALIBRATION.md): 11.9× on average (7.7–16.1×), 12–16× for the ten best; this says 15.1×, so
    a rung is rather expected to cost too much than to overrun the budget."""

    def work(p: Any) -> float:
        cells, width = float(p.cells or 20), float(p.width or 36)
        return float(p.epochs) * float(p.train_subset or 50_000) * cells * width**1.5

    return work(get_preset(preset)) / work(get_preset(base, **base_overrides))


__all__ = ["DEFAULT_SELECT", "Rung", "SelectionPlan", "cost_ratio"]
