"""Which failed trials are tried again.

A ``transient`` failure (out of memory, a worker or node lost, a timeout) is a fact about the attempt, not
the candidate: the driver launches the candidate again, as a new row with source ``retry``, up to
``max_retries`` times in a row. Then it gives up — the last row stays ``transient`` and is never cached —
and the next ``--resume`` starts a fresh round of attempts. An ``error`` (an exception, a NaN score) is
deterministic: it is cached by canonical key like a success and never retried.

:class:`RetryBook` books every recorded row (live, and the table's rows on resume, in order) and says
whether a retry follows; what it keeps — attempts per key and the keys whose last attempt failed
transiently — is a function of the table, so a resumed run decides exactly as the uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: the ``source`` of a retry's row (the driver's, not the strategy's proposal)
RETRY = "retry"


class RetryBook:
    def __init__(self, max_retries: int) -> None:
        self.max_retries = int(max_retries)
        self.attempts: dict[str, int] = {}  # transient rows so far, per key (a fault's draw reads it)
        self.streak: dict[str, int] = {}  # transient rows of the current round, per key
        self.open: dict[str, Mapping[str, Any]] = {}  # key → its last row, while that one is transient

    def book(self, row: Mapping[str, Any]) -> bool:
        """Book a recorded row; True when it is a transient failure the driver retries now."""
        key = row.get("key") or ""
        if not key or row.get("cached"):
            return False
        self.open.pop(key, None)
        if row.get("status") != "transient":
            self.streak.pop(key, None)
            return False
        self.attempts[key] = self.attempts.get(key, 0) + 1
        self.open[key] = row  # re-inserted: the dict keeps the order of the last attempts
        n = self.streak.get(key, 0) + 1
        if n > self.max_retries:
            self.streak[key] = 0  # given up; a resume starts a new round
            return False
        self.streak[key] = n
        return True

    def gave_up(self, row: Mapping[str, Any]) -> bool:
        """Whether ``row``, just booked, is the last attempt of its round."""
        return row.get("status") == "transient" and self.streak.get(row.get("key") or "", -1) == 0

    def attempt(self, key: str) -> int:
        return self.attempts.get(key, 0)

    def pending(self) -> list[Mapping[str, Any]]:
        """The last rows of the candidates whose last attempt failed transiently, oldest first (what a
        resumed run retries before anything else)."""
        return list(self.open.values())
