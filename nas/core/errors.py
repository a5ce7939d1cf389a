"""Errors a user's input causes, in library terms.

A library function that rejects one named setting raises :class:`ConfigError` with the setting's library
name (``field="budget"``); the CLI knows which flag sets which field and reports the flag instead, so the
library never names a command-line option.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A bad value for one named setting: ``str(e)`` reads ``"<field>: <message>"``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def first_line(e: BaseException) -> str:
    """The first line of ``str(e)`` (the exception's type name when it has no message): how an error is
    reported inside a one-line message."""
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__
