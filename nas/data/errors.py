"""The one error a problem with the user's data or data options raises."""

from __future__ import annotations

from nas.core.errors import ConfigError


class DataError(ValueError):
    """A problem with the user's data or data options (reported as one line, exit code 2)."""


class DataPathError(DataError, ConfigError):
    """A data set that is not where it was asked for: a :class:`DataError` that is also a
    :class:`ConfigError` naming the path setting, ``data_dir``, so the CLI names its flag."""

    def __init__(self, message: str) -> None:
        ConfigError.__init__(self, "data_dir", message)
