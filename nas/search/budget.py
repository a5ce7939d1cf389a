"""Search budgets and the device-hour ledger.

A budget string is one or more comma-separated limits; the search stops launching trials as soon as
any of them would be exceeded:

* device-hours: ``100gpuh``, ``2cpuh``, ``0.5gpuh`` — the sum over trials of wall time × devices held
  (``--gpus-per-trial 0.5`` counts half a GPU; failed trials count; cached trials cost nothing);
* wall time of the search: ``90s``, ``30m``, ``2h``, ``1d`` (summed over ``--resume`` sessions);
* a trial count: ``500trials`` — evaluations: trials that ran (failed ones and retries included); a
  proposal answered from the cache (a duplicate of an evaluated candidate) is not counted.

A new trial is launched only when it is expected to fit: the cost of the trials still running and of the
next one is estimated from the mean cost of the trials finished so far.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nas.core.errors import ConfigError
from nas.search.durable import write_json

_NUM = r"(\d+(?:\.\d*)?|\.\d+)"
_PATTERNS = [
    (re.compile(rf"^{_NUM}\s*(gpuh|cpuh)$"), "device"),
    (re.compile(rf"^{_NUM}\s*(s|m|h|d)$"), "wall"),
    (re.compile(r"^(\d+)\s*(trials?)$"), "trials"),
]
_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_HELP = (
    "expected device-hours ('100gpuh', '2cpuh'), wall time ('90s', '30m', '2h') "
    "or a trial count ('500trials')"
)


@dataclass(frozen=True)
class Limit:
    kind: str  # "gpuh" | "cpuh" | "wall" | "trials"
    amount: float  # hours for gpuh/cpuh, seconds for wall, a count for trials
    text: str

    def used(self, ledger: Ledger) -> float:
        return {
            "gpuh": ledger.gpu_hours,
            "cpuh": ledger.cpu_hours,
            "wall": ledger.elapsed_s,
            "trials": float(ledger.evaluations),
        }[self.kind]

    def fraction(self, ledger: Ledger) -> float:
        return self.used(ledger) / self.amount

    def describe(self, ledger: Ledger) -> str:
        u = self.used(ledger)
        if self.kind == "trials":
            return f"{int(u)}/{int(self.amount)} trials"
        if self.kind == "wall":
            return f"{_fmt_s(u)}/{_fmt_s(self.amount)}"
        return f"{u:.3g}/{self.amount:g} {self.kind}"


def _amount_text(kind: str, amount: float) -> str:
    if kind == "trials":
        return f"{int(amount)}trials"
    if kind == "wall":
        return f"{amount:.4g}s"
    return f"{amount:.4g}{kind}"


def _fmt_s(s: float) -> str:
    if s < 120:
        return f"{s:.0f}s"
    if s < 7200:
        return f"{s / 60:.1f}m"
    return f"{s / 3600:.2f}h"


@dataclass(frozen=True)
class Budget:
    limits: tuple[Limit, ...]
    text: str

    @classmethod
    def parse(cls, text: str) -> Budget:
        if not isinstance(text, str) or not text.strip():
            raise ConfigError("budget", f"bad budget {text!r}: {_HELP}")
        limits = []
        for part in text.split(","):
            p = part.strip().lower()
            found = [(m, k) for pattern, k in _PATTERNS if (m := pattern.match(p))]
            if not found:
                raise ConfigError("budget", f"bad budget {part.strip()!r}: {_HELP}")
            m, kind = found[0]
            value, unit = float(m.group(1)), m.group(2)
            if not math.isfinite(value) or value <= 0:
                raise ConfigError("budget", f"bad budget {part.strip()!r}: the amount must be positive")
            if kind == "device":
                limits.append(Limit(unit, value, p))
            elif kind == "wall":
                limits.append(Limit("wall", value * _SECONDS[unit], p))
            else:
                limits.append(Limit("trials", value, p))
        kinds = [lim.kind for lim in limits]
        if len(set(kinds)) != len(kinds):
            raise ConfigError("budget", f"bad budget {text!r}: each kind of limit may appear once")
        return cls(tuple(limits), ",".join(lim.text for lim in limits))

    def kind(self, name: str) -> Limit | None:
        return next((lim for lim in self.limits if lim.kind == name), None)

    def check_resources(self, cpus_per_trial: float, gpus_per_trial: float) -> None:
        """A device-hour budget must count a device the trials actually hold."""
        if self.kind("gpuh") and gpus_per_trial <= 0:
            raise ConfigError(
                "gpus_per_trial",
                f"budget {self.text!r} counts GPU-hours but trials hold no GPU (gpus_per_trial 0); "
                "use a 'cpuh' or wall-time budget, or give trials a GPU",
            )
        if self.kind("cpuh") and cpus_per_trial <= 0:
            raise ConfigError(
                "cpus_per_trial", f"budget {self.text!r} counts CPU-hours but trials hold no CPU"
            )

    def allows_launch(self, ledger: Ledger, running: int, gpus: float, cpus: float) -> bool:
        """Would launching one more trial (with ``running`` trials still in flight) stay in budget?"""
        for lim in self.limits:
            if lim.kind == "trials":
                if ledger.evaluations + running + 1 > lim.amount:
                    return False
            elif lim.kind == "wall":
                est = ledger.mean_trial_wall()
                if ledger.elapsed_s >= lim.amount or (
                    est is not None and ledger.elapsed_s + est > lim.amount
                ):
                    return False
            else:
                per = gpus if lim.kind == "gpuh" else cpus
                used = lim.used(ledger)
                est_wall = ledger.mean_trial_wall()
                est = 0.0 if est_wall is None else est_wall * per / 3600.0
                if used >= lim.amount or used + (running + 1) * est > lim.amount:
                    return False
        return True

    def scaled(self, share: float) -> Budget:
        """Every limit at ``share`` of its amount (a trial count rounded down, at least 1): the search
        phase's part of a budget whose rest is held for the selection."""
        limits = []
        for lim in self.limits:
            amount = max(1.0, math.floor(lim.amount * share)) if lim.kind == "trials" else lim.amount * share
            limits.append(Limit(lim.kind, amount, _amount_text(lim.kind, amount)))
        return Budget(tuple(limits), ",".join(lim.text for lim in limits))

    def fits(self, ledger: Ledger, walls: Sequence[float], cpus: float, gpus: float) -> bool:
        """Would trials of ``walls`` seconds each (they may run side by side) stay within every limit?"""
        for lim in self.limits:
            if lim.kind == "trials":
                need = float(len(walls))
            elif lim.kind == "wall":
                need = max(walls, default=0.0)
            else:
                need = sum(walls) * (gpus if lim.kind == "gpuh" else cpus) / 3600.0
            if lim.used(ledger) + need > lim.amount:
                return False
        return True

    def exhausted_by(self, ledger: Ledger) -> str | None:
        for lim in self.limits:
            if lim.fraction(ledger) >= 1.0:
                return lim.text
        return None

    def describe(self, ledger: Ledger) -> str:
        return ", ".join(lim.describe(ledger) for lim in self.limits)


@dataclass
class Ledger:
    """Σ wall time × devices held, over every trial of a run (all sessions)."""

    gpu_hours: float = 0.0
    cpu_hours: float = 0.0
    trials: int = 0  # rows recorded, i.e. proposals: run, failed, stopped or cached
    launched: int = 0  # trials that actually ran (not cached): the evaluations
    failed: int = 0
    cached: int = 0
    trial_wall_s: float = 0.0  # Σ wall time of the trials that ran
    elapsed_s: float = 0.0  # wall time of the search itself, over sessions
    sessions: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, wall_s: float, cpus: float, gpus: float, status: str, cached: bool) -> tuple[float, float]:
        """Book one trial; returns its (gpu_hours, cpu_hours)."""
        self.trials += 1
        if status == "failed":
            self.failed += 1
        if cached:
            self.cached += 1
            return 0.0, 0.0
        self.launched += 1
        wall_s = max(0.0, float(wall_s))
        self.trial_wall_s += wall_s
        g, c = wall_s * gpus / 3600.0, wall_s * cpus / 3600.0
        self.gpu_hours += g
        self.cpu_hours += c
        return g, c

    def charge_cpu(self, cpu_s: float, what: str) -> None:
        """Book CPU time spent outside trials (a zero-cost pre-screen on the driver) as CPU-hours."""
        self.cpu_hours += max(0.0, float(cpu_s)) / 3600.0
        self.extra[f"{what}_cpu_s"] = self.extra.get(f"{what}_cpu_s", 0.0) + float(cpu_s)

    @property
    def proposals(self) -> int:
        """Candidates proposed (seed points and the strategy's), evaluated or answered from the cache."""
        return self.trials

    @property
    def duplicates(self) -> int:
        """Proposals of an already evaluated candidate, answered from the cache at no cost."""
        return self.cached

    @property
    def evaluations(self) -> int:
        """Trials that ran the objective (what a ``trials`` budget counts)."""
        return self.launched

    def mean_trial_wall(self) -> float | None:
        return self.trial_wall_s / self.launched if self.launched else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Ledger:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def save(self, path: Path, budget: Budget | None) -> None:
        d = {"budget": budget.text if budget else None, **self.to_dict()}
        d.update(proposals=self.proposals, duplicates=self.duplicates, evaluations=self.evaluations)
        if budget:
            d["used"] = {lim.text: lim.used(self) for lim in budget.limits}
        write_json(path, d, indent=1)
