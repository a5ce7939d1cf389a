"""A run's progress: a live status line on a terminal, periodic lines otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from typing import IO, Any

from nas.search.budget import Budget, Ledger


def status_line(
    name: str, ledger: Ledger, budget: Budget | None, best: Mapping[str, Any] | None, running: int
) -> str:
    best_txt = f"best {best['score']:.4g} (#{best['trial_id']})" if best else "best -"
    spent = budget.describe(ledger) if budget else f"{ledger.evaluations} trials"
    return (
        f"[{name}] evaluated {ledger.evaluations} · running {running} · failed {ledger.failed} · "
        f"duplicates {ledger.duplicates} · "
        f"{best_txt} · budget {spent} · {ledger.gpu_hours:.3g} gpuh {ledger.cpu_hours:.3g} cpuh"
    )


class Progress:
    """Writes ``line(running)`` to ``stream``: redrawn in place at most 5 times a second on a terminal,
    a new line every 10 s otherwise (``quiet``: nothing)."""

    def __init__(
        self, line: Callable[[int], str], stream: IO[str] | None = None, quiet: bool = False
    ) -> None:
        self._line = line
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = 0.0
        self.running = 0

    def line(self) -> str:
        return self._line(self.running)

    def update(self, running: int | None = None, force: bool = False) -> None:
        if running is not None:
            self.running = running
        if self.quiet:
            return
        now = time.monotonic()
        if not force and now - self._last < (0.2 if self.tty else 10.0):
            return
        self._last = now
        if self.tty:
            self.stream.write("\r\033[K" + self.line())
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.quiet:
            return
        if self.tty:
            self.stream.write("\r\033[K" + self.line() + "\n")
            self.stream.flush()
