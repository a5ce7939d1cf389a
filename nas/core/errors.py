"""Errors a user's input causes, in library terms.

A library function that rejects one named setting raises :class:`ConfigError` with the setting's library
name (``field="budget"``); the CLI knows which flag sets which field and reports the flag instead, so the
library never names a command-line option. ``fixes`` names other settings that would cure it (a journal
that exists: ``resume`` or ``overwrite``); the CLI turns them into a hint naming their flags.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class ConfigError(ValueError):
    """A bad value for one named setting: ``str(e)`` reads ``"<field>: <message>"``."""

    def __init__(self, field: str, message: str, *, fixes: Sequence[str] = ()) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.fixes = tuple(fixes)

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt from its parts, whatever a subclass's __init__ takes: errors cross process pools
        return _restore, (type(self), self.field, self.message, self.fixes)


def _restore(cls: type[ConfigError], field: str, message: str, fixes: tuple[str, ...]) -> ConfigError:
    e = cls.__new__(cls)
    ConfigError.__init__(e, field, message, fixes=fixes)
    return e


def first_line(e: BaseException) -> str:
    """The first line of ``str(e)`` (the exception's type name when it has no message): how an error is
    reported inside a one-line message."""
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__
