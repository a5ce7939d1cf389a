"""``nas report --watch SECONDS``: rewrite a run's report while its search goes on.

Every ``interval`` seconds the report is rewritten with a ``<meta http-equiv="refresh">``, so a browser
that keeps ``report.html`` open reloads it. Watching stops when the run has finished (``best.json`` gives a
stop reason) and no trial was added since the previous round: the last report is written without the
refresh. Ctrl-C stops it too, leaving the last report as it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from nas.report.build import Written
from nas.report.load import load_run

Write = Callable[[float | None], Written]
"""Writes the report, reloading every ``refresh_s`` seconds (None: a final report, no reload)."""


def _state(run_dir: Path) -> tuple[int, bool]:
    run = load_run(run_dir)
    return len(run.rows), run.finished


def watch(
    run_dir: str | Path,
    write: Write,
    interval: float,
    *,
    sleep: Callable[[float], None] | None = None,
    on_write: Callable[[Written], None] | None = None,
    max_rounds: int | None = None,
) -> Written | None:
    """Rewrite the report every ``interval`` seconds until the run is finished and still (see the module
    docstring), or ``max_rounds`` reports were written; the last report written (None if Ctrl-C came
    before the first). ``sleep`` and ``max_rounds`` let tests drive the loop without waiting."""
    if not interval > 0:
        raise ValueError(f"watch: the interval must be > 0 seconds, got {interval}")
    pause = sleep or time.sleep  # looked up now: a test may patch time.sleep
    previous: tuple[int, bool] | None = None
    last: Written | None = None
    rounds = 0
    try:
        while True:
            state = _state(Path(run_dir))
            done = state[1] and state == previous
            last = write(None if done else interval)
            rounds += 1
            if on_write is not None:
                on_write(last)
            if done or (max_rounds is not None and rounds >= max_rounds):
                return last
            previous = state
            pause(interval)
    except KeyboardInterrupt:
        return last
