"""``nas ls``: one line per run directory — status, space, strategy, trials, best score, budget used.

Status:

* ``running``: a live driver holds the run: the pid in its ``driver.pid`` (written by the driver, removed
  when it closes the run) is alive.
* ``finished``: ``best.json`` holds a normal stop reason (budget reached, every point evaluated, grid
  exhausted, the strategy converged).
* ``failed``: the circuit breaker stopped it (trials kept failing with the same error).
* ``interrupted``: anything else — killed, Ctrl-C, a lost node: ``nas search --resume DIR`` continues it.
* ``corrupt (FILE)``: a file needed for the line does not parse; the other runs are listed as usual.

Only ``config.json``, ``best.json``, ``ledger.json`` (and the line count of ``trials.csv`` when there is no
``best.json`` yet) are read, so listing many large runs stays fast. A directory without ``config.json`` and
``trials.csv`` is not a run and is skipped.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nas.report.load import read_state
from nas.search.budget import Budget, Ledger
from nas.search.durable import StateFileError
from nas.search.rundir import DRIVER_PID

_FINISHED = ("every point was evaluated", "every point of the grid was proposed")
_BREAKER = "trials in a row failed with the same error"
STATUSES = ("running", "finished", "interrupted", "failed", "corrupt")


@dataclass(frozen=True)
class RunLine:
    """One run's line; ``corrupt`` names the unreadable file when ``status`` is ``"corrupt"``."""

    name: str
    path: str
    status: str
    space: str | None = None
    strategy: str | None = None
    trials: int | None = None
    best: float | None = None
    budget: str | None = None
    stop_reason: str | None = None
    corrupt: str | None = None

    @property
    def shown_status(self) -> str:
        return f"corrupt ({self.corrupt})" if self.status == "corrupt" else self.status

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def status_of(stop_reason: str | None, live: bool) -> str:
    """``running`` / ``finished`` / ``failed`` / ``interrupted`` from ``best.json``'s stop reason."""
    if live:
        return "running"
    reason = stop_reason or ""
    if _BREAKER in reason:
        return "failed"
    if (reason.startswith("budget ") and reason.endswith(" reached")) or reason in _FINISHED:
        return "finished"
    if reason.endswith("(converged)") or "evaluated candidates in a row" in reason:
        return "finished"
    return "interrupted"


def is_run_dir(directory: Path) -> bool:
    return directory.is_dir() and (
        (directory / "config.json").is_file() or (directory / "trials.csv").is_file()
    )


def list_runs(root: str | Path) -> list[RunLine]:
    """Lines for ``root`` itself when it is a run, else for each run directory in it (by name)."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{str(root)!r} is not a directory")
    if is_run_dir(root):
        return [read_line(root)]
    return [read_line(d) for d in sorted(root.iterdir()) if is_run_dir(d)]


def read_line(directory: Path) -> RunLine:
    """The line of the run in ``directory``; a file that does not parse gives a ``corrupt`` line."""
    base = {"name": directory.name, "path": str(directory)}
    files: dict[str, dict[str, Any]] = {}
    for name in ("config.json", "best.json", "ledger.json"):
        try:
            files[name] = read_state(directory / name)
        except StateFileError:
            return RunLine(**base, status="corrupt", corrupt=name)
    config, best, ledger = files["config.json"], files["best.json"], files["ledger.json"]
    if not config:
        return RunLine(**base, status="corrupt", corrupt="config.json")  # trials but no configuration
    try:
        # evaluations (what a trials budget counts); runs written before they were counted: every row
        trials = best.get("evaluations", ledger.get("evaluations", best.get("trials", ledger.get("trials"))))
        if trials is None:
            trials = _table_rows(directory / "trials.csv")
        score = (best.get("best") or {}).get("score")
        return RunLine(
            **base,
            status=status_of(best.get("stop_reason"), _driver_alive(directory)),
            space=config.get("space") or None,
            strategy=config.get("strategy") or None,
            trials=int(trials),
            best=None if score is None else float(score),
            budget=_budget_used(ledger, config.get("budget")),
            stop_reason=best.get("stop_reason"),
        )
    except (AttributeError, TypeError, ValueError):  # valid JSON of the wrong shape
        bad = "best.json" if best else "ledger.json" if ledger else "config.json"
        return RunLine(**base, status="corrupt", corrupt=bad)


def _table_rows(path: Path) -> int:
    """Rows of a trials table (lines less the header); 0 when there is none."""
    if not path.is_file():
        return 0
    with open(path, "rb") as f:
        return max(0, sum(1 for line in f if line.strip()) - 1)


def _budget_used(ledger: dict[str, Any], budget: Any) -> str | None:
    """``"3/5 trials"``, ``"0.52/1 cpuh"``: the ledger against the run's budget."""
    text = ledger.get("budget") or budget
    if not text:
        return None
    return Budget.parse(str(text)).describe(Ledger.from_dict(ledger))


def _driver_alive(directory: Path) -> bool:
    """Whether the driver whose pid the run's :data:`~nas.search.rundir.DRIVER_PID` names is alive (a
    killed driver leaves the file with a dead pid; a closed run has none)."""
    try:
        pid = int(json.loads((directory / DRIVER_PID).read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return pid != os.getpid() and _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    except OSError:
        return False
    return True


def format_lines(lines: list[RunLine]) -> str:
    """An aligned table, one run a line."""
    head = ("run", "status", "space", "strategy", "trials", "best", "budget used")
    body = [
        (
            x.name,
            x.shown_status,
            x.space or "-",
            x.strategy or "-",
            "-" if x.trials is None else str(x.trials),
            "-" if x.best is None else f"{x.best:.4f}",
            x.budget or "-",
        )
        for x in lines
    ]
    if not body:
        return "no runs"
    widths = [max(len(r[i]) for r in (head, *body)) for i in range(len(head))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in (head, *body)]
    return "\n".join(out)
