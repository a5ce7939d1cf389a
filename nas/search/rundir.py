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
trials.corrupt.csv  rows of trials.csv that did not parse on resume (line number, reason, original text),
                    moved here (fsynced) before the table was rewritten without them
*.corrupt.json      an unreadable ledger.json / strategy.json / config.json set aside when it was rebuilt
                    (ledger from the table, strategy by replaying the table, config from the flags)
==================  ====================================================================================

``config.json`` is written first, before any table (:func:`start_run`); every other file is appended
fsynced or replaced in one fsynced rename (:mod:`nas.search.durable`).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nas.core.errors import ConfigError, first_line
from nas.core.space import SearchSpace
from nas.search.budget import Ledger
from nas.search.config import SearchConfig
from nas.search.durable import StateFileError, read_json, set_aside, warn, write_json
from nas.search.strategies import Strategy
from nas.search.trials import now, pareto_front, search_rows

BEST_FIELDS = ("trial_id", "score", "key", "arch", "name", "params", "macs", "choices", "metrics", "source")


class IncompleteRun(StateFileError):
    """A run directory with a trials table but no readable ``config.json``: a run killed while it was being
    created (or whose configuration was damaged). Resuming it with the settings that created it completes
    it (:func:`complete_run`)."""


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
        if _incomplete(directory):
            raise ConfigError(
                "name",
                f"run directory {str(directory)!r} holds trials.csv but no config.json (a run killed while "
                "it was being created): resume it with the settings that created it to complete it, or "
                "delete it",
                fixes=("resume",),
            )
        raise ConfigError(
            "name", f"run directory {str(directory)!r} already exists (resume it, or choose another name)"
        )
    return directory


def _incomplete(directory: Path) -> bool:
    return (directory / "trials.csv").is_file() and not (directory / "config.json").is_file()


_CONFIG_FIX = "resume it with the settings that created it to rewrite config.json, or delete the directory"


def run_dir(path: str | Path) -> Path:
    """An existing run's directory (``ValueError`` if ``path`` is none, :class:`IncompleteRun` if it has a
    trials table but no ``config.json``)."""
    directory = Path(path)
    if not (directory / "config.json").is_file():
        if _incomplete(directory):
            raise IncompleteRun(
                directory / "config.json",
                "missing, but trials.csv is there (the run was killed while it was being created)",
                _CONFIG_FIX,
            )
        raise ValueError(f"{str(directory)!r} is not a run directory (no config.json)")
    return directory


def read_config(directory: str | Path) -> dict[str, Any]:
    """``config.json`` of the run in ``directory`` as data (:class:`IncompleteRun` if it does not parse)."""
    path = run_dir(directory) / "config.json"
    try:
        return read_json(path, _CONFIG_FIX)
    except StateFileError as e:
        raise IncompleteRun(path, e.problem, e.fix) from None


def load_config(directory: str | Path) -> SearchConfig:
    """The configuration a run was created with (to resume it)."""
    d = read_config(directory)
    try:
        return SearchConfig.from_dict(d)
    except (ValueError, TypeError) as e:
        path = Path(directory) / "config.json"
        raise IncompleteRun(path, f"not a valid run configuration ({first_line(e)})", _CONFIG_FIX) from None


#: ``{"pid": N}`` of the live driver of a run (``nas ls`` tells a running run from an interrupted one by it);
#: removed when the driver closes the run, left behind (with a dead pid) by a killed one
DRIVER_PID = "driver.pid"


def claim_run(directory: Path) -> None:
    """Mark ``directory`` as driven by this process (see :data:`DRIVER_PID`)."""
    write_json(directory / DRIVER_PID, {"pid": os.getpid(), "host": os.uname().nodename})


def release_run(directory: Path) -> None:
    """The driver is done with ``directory``: no live-driver mark (only this process's own mark)."""
    path = directory / DRIVER_PID
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def start_run(directory: Path, config: SearchConfig) -> None:
    """Create a new run's directory with its ``config.json`` first, before any table: a run killed at any
    moment of its creation is either an empty directory or a resumable run."""
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / "config.json").is_file():
        write_json(directory / "config.json", {**config.to_dict(), "name": directory.name, "sessions": []},
                   indent=1, default=str)  # fmt: skip


def complete_run(directory: Path, config: SearchConfig) -> None:
    """Give an :class:`IncompleteRun` the configuration ``config`` (the settings that created it, given
    again): a damaged ``config.json`` is kept aside, a fresh one written."""
    path = directory / "config.json"
    if path.exists():
        set_aside(path, f"{path}: rewritten from the settings given with the resumed run")
    else:
        warn(f"{path}: was missing; written from the settings given with the resumed run")
    start_run(directory, config)


# ------------------------------------------------------------------------------------------ sessions


def previous_sessions(directory: Path, rows: Sequence[Mapping[str, Any]] = ()) -> tuple[float, int]:
    """(wall time of the sessions so far, number of the next session) of a run being resumed. An
    unreadable ``ledger.json`` is set aside and its wall time estimated from the table ``rows`` (the source
    of truth; the driver rebuilds every other count from it)."""
    prior, session = 0.0, 1
    lp = directory / "ledger.json"
    if lp.exists():
        try:
            d = read_json(lp)
            prior = float(d.get("elapsed_s", 0.0))
            session = int(d.get("sessions", 1)) + 1
        except (StateFileError, TypeError, ValueError) as e:
            prior = _table_wall(rows)
            problem = getattr(e, "problem", first_line(e))
            set_aside(
                lp,
                f"{lp}: {problem} — rebuilt from trials.csv, the earlier sessions' wall time estimated "
                f"from its timestamps ({prior:.1f}s)",
            )
    try:  # a session killed before its first trial wrote no ledger, but it is in config.json
        previous = json.loads((directory / "config.json").read_text()).get("sessions", [])
        session = max([session, *(int(x["session"]) + 1 for x in previous)])
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        pass
    return prior, session


def _table_wall(rows: Sequence[Mapping[str, Any]]) -> float:
    """Σ over sessions of (last finish − first start) of the session's rows."""
    spans: dict[Any, tuple[float, float]] = {}
    for r in rows:
        a, b = r.get("started_at"), r.get("finished_at")
        if a is None or b is None:
            continue
        lo, hi = spans.get(r.get("session"), (a, b))
        spans[r.get("session")] = (min(lo, a), max(hi, b))
    return sum(hi - lo for lo, hi in spans.values())


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


def restore_strategy(directory: Path, strategy: Strategy, removed: Sequence[int] = ()) -> int:
    """Load ``strategy.json`` into ``strategy``; returns how many rows of the table it had observed, less
    those of them since ``removed`` from the table (``TrialsTable.removed``: corrupt rows moved aside). An
    unreadable file is set aside and 0 returned: the strategy is rebuilt by replaying the whole table
    (its observations are restored; its random state restarts from the seed)."""
    path = directory / "strategy.json"
    if not path.exists():
        return 0
    try:
        st = read_json(path)
        if not isinstance(st.get("state"), dict) or not isinstance(st.get("observed", 0), int):
            raise StateFileError(path, "has no 'state' object and 'observed' count")
        if st["state"].get("strategy", strategy.name) != strategy.name:
            raise StateFileError(path, f"holds the state of strategy {st['state'].get('strategy')!r}")
    except StateFileError as e:
        set_aside(path, f"{path}: {e.problem} — strategy {strategy.name} rebuilt by replaying trials.csv")
        return 0
    try:
        strategy.load_state_dict(st["state"])
    except (KeyError, TypeError, ValueError) as e:
        raise StateFileError(
            path, f"not a valid state of strategy {strategy.name} ({first_line(e)})",
            "delete it: the strategy is then rebuilt by replaying trials.csv",
        ) from None  # fmt: skip
    strategy.forget_pending()
    observed = int(st.get("observed", 0))
    return observed - sum(1 for p in removed if p < observed)


def write_best(
    directory: Path,
    *,
    ledger: Ledger,
    stop_reason: str | None,
    best: Mapping[str, Any] | None,
    rows: Sequence[Mapping[str, Any]],
    cost: str | None,
    strategy: Strategy | None,
    selection: Mapping[str, Any] | None = None,
) -> None:
    """``best.json``: counts, the best trial (the selection's pick once it is made, with its evidence),
    the Pareto front over ``cost`` (of the search's own trials) and the strategy's summary."""
    d: dict[str, Any] = {
        "run": directory.name,
        "trials": ledger.trials,
        "evaluations": ledger.evaluations,
        "duplicates": ledger.duplicates,
        "failed": ledger.failed,
        "cached": ledger.cached,
        "stop_reason": stop_reason,
    }
    if best is not None:
        d["best"] = {k: best.get(k) for k in BEST_FIELDS}
        d["best"]["genotype"] = json.loads(best["genotype"]) if best.get("genotype") else None
        if selection is not None:
            d["best"]["picked_at"] = selection["pick_fidelity"]
    if selection is not None:
        d["selection"] = dict(selection)
    if cost:
        d["pareto_front"] = {
            "objectives": ["score (max)", f"{cost} (min)"],
            "points": pareto_front(search_rows(rows), cost),
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
    best = read_json(path, "resuming the run rewrites it from trials.csv").get("best") or {}
    if not best.get("genotype"):
        raise ValueError(f"run {str(directory)!r} has no best genotype (no trial of it succeeded yet)")
    return dict(best["genotype"])
