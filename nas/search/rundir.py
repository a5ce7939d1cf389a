"""A run directory, ``runs/<name>/``, and the files that describe the run (the trials table is
:mod:`nas.search.trials`):

==================  ====================================================================================
config.json         the full configuration (space, strategy, objective, budget, executor, seed, …) and
                    one entry per session
trials.csv          one row per trial, appended as each trial finishes (the source of truth on resume)
trials.parquet      the same table, rewritten at most every few seconds and at the end
best.json           the best trial (genotype, choices, metrics) and, with a cost metric, the Pareto front
prescreen.csv       with a pre-screen: every screened candidate's proxy score, best first, and the
                    screening's CPU time (charged to the budget)
strategy.json       the strategy's state (population, controller weights, Optuna trials, RNG) and how many
                    trials of the table it has seen
ledger.json         device-hours, trial counts and wall time spent, against the budget
ray/                Ray Tune's experiment directories (one per session) under the Ray executor
==================  ====================================================================================
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nas.core.errors import ConfigError
from nas.core.space import SearchSpace
from nas.search.budget import Ledger
from nas.search.config import SearchConfig
from nas.search.strategies import Strategy
from nas.search.trials import now, pareto_front

BEST_FIELDS = ("trial_id", "score", "key", "arch", "name", "params", "macs", "choices", "metrics", "source")


def write_json(path: Path, obj: Any, **dumps: Any) -> None:
    """Replace ``path`` with ``obj`` as JSON in one rename (a kill never leaves half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, **dumps) + "\n")
    tmp.replace(path)


# ------------------------------------------------------------------------------------ the directory


def default_name(config: SearchConfig) -> str:
    """``SPACE-STRATEGY-TIME-PID`` for a search; ``baselines-DATASET-PRESET`` for baselines."""
    if config.kind == "baselines":
        obj = config.objective
        return f"baselines-{getattr(obj, 'dataset', obj.kind)}-{getattr(obj, 'preset', '')}".rstrip("-")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    what = config.strategy or "baselines"
    return f"{config.space}-{what}-{stamp}-{os.getpid() % 1000:03d}"


def new_run_dir(config: SearchConfig) -> Path:
    """``runs_dir/name`` for a new run (``ConfigError`` if it holds files already)."""
    name = config.name or default_name(config)
    if "/" in name or name in (".", ".."):
        raise ConfigError("name", f"must be a plain directory name (runs_dir is the parent), got {name!r}")
    directory = Path(config.runs_dir) / name
    if directory.exists() and any(directory.iterdir()):
        raise ConfigError(
            "name", f"run directory {str(directory)!r} already exists (resume it, or choose another name)"
        )
    return directory


def run_dir(path: str | Path) -> Path:
    """An existing run's directory (``ValueError`` if ``path`` is none)."""
    directory = Path(path)
    if not (directory / "config.json").is_file():
        raise ValueError(f"{str(directory)!r} is not a run directory (no config.json)")
    return directory


def load_config(directory: str | Path) -> SearchConfig:
    """The configuration a run was created with (to resume it)."""
    return SearchConfig.from_dict(json.loads((run_dir(directory) / "config.json").read_text()))


# ------------------------------------------------------------------------------------------ sessions


def previous_sessions(directory: Path) -> tuple[float, int]:
    """(wall time of the sessions so far, number of the next session) of a run being resumed."""
    prior, session = 0.0, 1
    lp = directory / "ledger.json"
    if lp.exists():
        d = json.loads(lp.read_text())
        prior = float(d.get("elapsed_s", 0.0))
        session = int(d.get("sessions", 1)) + 1
    try:  # a session killed before its first trial wrote no ledger, but it is in config.json
        previous = json.loads((directory / "config.json").read_text()).get("sessions", [])
        session = max([session, *(int(x["session"]) + 1 for x in previous)])
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError):
        pass
    return prior, session


def write_config(
    directory: Path,
    config: SearchConfig,
    *,
    session: int,
    objective: Mapping[str, Any],
    space: SearchSpace,
    profile: bool,
    cost: str | None,
) -> None:
    """``config.json``: the configuration, what the objective reported about itself, the space, and one
    entry per session (this one added or replaced)."""
    path = directory / "config.json"
    sessions = []
    if path.exists():
        try:
            sessions = json.loads(path.read_text()).get("sessions", [])
        except (json.JSONDecodeError, OSError):
            sessions = []
    sessions = [s for s in sessions if s.get("session") != session]
    sessions.append(
        {
            "session": session,
            "started_at": now(),
            "budget": config.budget,
            "executor": config.executor,
            "address": config.address,
            "argv": sys.argv[1:],
        }
    )
    d = {
        **config.to_dict(),
        "name": directory.name,
        "objective": {**config.objective.to_dict(), **objective},
        "space_description": {
            "name": getattr(space, "name", config.space),
            "size": _safe_size(space),
            "dimensions": {k: list(v) for k, v in space.choices().items()},
        },
        "profile": profile,
        "cost": cost,
        "sessions": sessions,
        "versions": _versions(),
    }
    write_json(path, d, indent=1, default=str)


def _safe_size(space: SearchSpace) -> int | None:
    try:
        return int(space.size())
    except Exception:  # noqa: BLE001 - a space too large or odd to count is still searchable
        return None


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for mod in ("torch", "ray", "optuna", "nas"):
        m = sys.modules.get(mod)
        if m is not None:
            out[mod] = getattr(m, "__version__", "?")
    return out


# -------------------------------------------------------------------------------- strategy and best


def save_strategy(directory: Path, strategy: Strategy, observed: int) -> None:
    """``strategy.json``: the strategy's state after it observed the first ``observed`` rows."""
    write_json(
        directory / "strategy.json",
        {"strategy": strategy.name, "observed": observed, "state": strategy.state_dict()},
    )


def restore_strategy(directory: Path, strategy: Strategy) -> int:
    """Load ``strategy.json`` into ``strategy``; returns how many rows of the table it had observed."""
    path = directory / "strategy.json"
    if not path.exists():
        return 0
    st = json.loads(path.read_text())
    strategy.load_state_dict(st["state"])
    strategy.forget_pending()
    return int(st.get("observed", 0))


def write_best(
    directory: Path,
    *,
    ledger: Ledger,
    stop_reason: str | None,
    best: Mapping[str, Any] | None,
    rows: Sequence[Mapping[str, Any]],
    cost: str | None,
    strategy: Strategy | None,
) -> None:
    """``best.json``: counts, the best trial, the Pareto front over ``cost`` and the strategy's summary."""
    d: dict[str, Any] = {
        "run": directory.name,
        "trials": ledger.trials,
        "failed": ledger.failed,
        "cached": ledger.cached,
        "stop_reason": stop_reason,
    }
    if best is not None:
        d["best"] = {k: best.get(k) for k in BEST_FIELDS}
        d["best"]["genotype"] = json.loads(best["genotype"]) if best.get("genotype") else None
    if cost:
        d["pareto_front"] = {
            "objectives": ["score (max)", f"{cost} (min)"],
            "points": pareto_front(rows, cost),
        }
    if strategy is not None:
        d.update(strategy.summary())
    write_json(directory / "best.json", d, indent=1, default=str)


def best_genotype(directory: str | Path) -> dict[str, Any]:
    """The best trial's genotype (as JSON data) of the run in ``directory``; ``ValueError`` naming the
    path when it has no ``best.json`` or no successful trial."""
    path = Path(directory) / "best.json"
    if not path.is_file():
        raise ValueError(f"{str(directory)!r} has no best.json: not a search run directory")
    best = json.loads(path.read_text()).get("best") or {}
    if not best.get("genotype"):
        raise ValueError(f"run {str(directory)!r} has no best genotype (no trial of it succeeded yet)")
    return dict(best["genotype"])
