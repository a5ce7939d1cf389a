"""The one error a problem with the user's data or data options raises."""

from __future__ import annotations


class DataError(ValueError):
    """A problem with the user's data or data options (reported as one line, exit code 2)."""
