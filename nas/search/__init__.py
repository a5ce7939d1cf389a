"""Architecture search: strategies, budgets, objectives, executors and run directories (``nas search``).

Spaces come from ``nas.core.registry.SPACES`` (plugins), never imported here directly.
"""

from nas.search.budget import Budget, Ledger
from nas.search.run import SearchConfig, open_search, run_search
from nas.search.strategies import STRATEGIES, Strategy, make_strategy

__all__ = [
    "STRATEGIES",
    "Budget",
    "Ledger",
    "SearchConfig",
    "Strategy",
    "make_strategy",
    "open_search",
    "run_search",
]
