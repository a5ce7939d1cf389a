"""The ``nas`` command line, one module per command; see :mod:`nas.cli.app`."""

from nas.cli.app import main

__all__ = ["main"]
