"""Read a run directory for a report, each missing or broken file a one-line ``ValueError`` naming it.

``nas.search.final.read_run`` reads the trials; this module checks first that the files a report needs are
there and readable, so that an incomplete run says which file is wrong (not a traceback from deep inside).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.search import rundir
from nas.search.durable import StateFileError, read_json
from nas.search.final import FinalTable, read_run
from nas.search.trials import search_rows

_RESUME_FIX = "resuming the run rewrites it from trials.csv"


@dataclass
class Run:
    """What a report shows of a run: its files, read once."""

    directory: Path
    config: dict[str, Any]
    rows: list[dict[str, Any]]  # the search's trials (without the selection's re-evaluations)
    ledger: dict[str, Any] = field(default_factory=dict)
    best: dict[str, Any] = field(default_factory=dict)
    final_rows: list[dict[str, Any]] = field(default_factory=list)
    all_rows: list[dict[str, Any]] = field(default_factory=list)  # every row, the selection's too

    @property
    def name(self) -> str:
        return self.directory.name

    @property
    def finished(self) -> bool:
        """Whether the search has stopped (``best.json`` says why); a resume may start it again."""
        return bool(self.best.get("stop_reason"))


def read_state(path: Path, fix: str = "") -> dict[str, Any]:
    """A run's JSON state file as an object ({} when missing); :class:`StateFileError` naming it (and
    ``fix``) when it cannot be read or parsed."""
    if not path.is_file():
        return {}
    try:
        return read_json(path, fix)
    except OSError as e:  # unreadable (permissions): say which file
        raise StateFileError(path, f"cannot be read ({e.strerror or e})", fix) from None


def load_run(run_dir: str | Path) -> Run:
    """The run in ``run_dir``; ``ValueError`` (one line, naming the file) when a file is missing or broken."""
    d = Path(run_dir)
    if not d.is_dir():
        raise ValueError(f"{str(d)!r} is not a run directory (it does not exist)")
    if not (d / "config.json").is_file() and not (d / "trials.csv").is_file():
        raise ValueError(f"{str(d)!r} is not a run directory (no config.json and no trials.csv)")
    rundir.read_config(d)  # config.json missing (a run killed while created) or corrupt: names it
    if not (d / "trials.csv").is_file():
        raise StateFileError(d / "trials.csv", "missing: the run has no trials table")
    try:
        directory, config, rows = read_run(d)
    except UnicodeDecodeError:
        raise StateFileError(d / "trials.csv", "not a text file") from None
    ledger = read_state(directory / "ledger.json", "it is rebuilt from trials.csv when the run is resumed")
    best = read_state(directory / "best.json", _RESUME_FIX)
    # FinalTable's own error names final.csv
    final_rows = FinalTable(directory).rows if (directory / "final.csv").is_file() else []
    return Run(directory, config, search_rows(rows), ledger, best, final_rows, rows)
