"""The circuit breaker of a search: a run whose trials keep failing the same way stops with that error
instead of spending its budget (an unreadable data set, a missing dependency, a broken objective).

Only first attempts count (a retry's failure belongs to the same candidate; a retry that succeeds resets
the count), cached rows do not count, and two errors are "the same" when they differ only in numbers
(sizes, ids, addresses).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

FAILED = ("error", "transient", "failed")  # "failed": tables written before failure kinds existed
_NUMBER = re.compile(r"0x[0-9a-f]+|\d+(?:\.\d+)?", re.IGNORECASE)


class FailureBreaker:
    """Trips after ``limit`` trials in a row failed with the same error (``limit`` 0: never)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.signature: str | None = None
        self.count = 0

    def observe(self, row: Mapping[str, Any]) -> str | None:
        """Count ``row``; the reason to stop once the breaker trips, else None."""
        if self.limit <= 0 or row.get("cached"):
            return None
        failed = row.get("status") in FAILED
        if row.get("source") == "retry":
            if not failed:
                self.signature, self.count = None, 0
            return None
        if not failed:
            self.signature, self.count = None, 0
            return None
        error = str(row.get("error") or "")
        signature = _NUMBER.sub("#", error)
        if signature != self.signature:
            self.signature, self.count = signature, 0
        self.count += 1
        if self.count < self.limit:
            return None
        return f"{self.count} trials in a row failed with the same error: {error}"
