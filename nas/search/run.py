"""A search run end to end: open (or resume) its directory, pre-screen, execute, close.

``open_search`` makes the :class:`~nas.search.driver.Search` of a new run (``runs_dir/name``) or of the run
in ``resume``, and runs its pre-screen when one is configured; ``run_search`` then hands it to the
executor (:mod:`nas.search.executor`) until the budget, the space or the strategy is exhausted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nas.search.config import SearchConfig
from nas.search.driver import Search
from nas.search.executor import execute
from nas.search.rundir import load_config, new_run_dir, run_dir


def open_search(config: SearchConfig, resume: str | Path | None = None, **kw: Any) -> Search:
    """Create ``runs/<name>/`` (or reopen one with ``resume``), pre-screen, and return its :class:`Search`.

    ``kw``: ``space`` (a space instance instead of ``config.space``) and ``objective`` (an objective
    instance instead of ``config.objective``)."""
    if resume is not None:
        search = Search(config, run_dir(resume), resume=True, **kw)
    else:
        search = Search(config, new_run_dir(config), **kw)
    search.prescreen()
    return search


def run_search(config: SearchConfig, resume: str | Path | None = None, **kw: Any) -> Search:
    """Run (or continue) a search to the end of its budget; returns the closed :class:`Search`."""
    search = open_search(config, resume=resume, **kw)
    try:
        execute(search)
    finally:
        search.close()
    return search


__all__ = ["load_config", "open_search", "run_search"]
