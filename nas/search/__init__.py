"""Architecture search: strategies, budgets, objectives, executors and run directories (``nas search``).

Spaces come from ``nas.core.registry.SPACES`` (plugins), never imported here directly.
"""

from nas.search.budget import Budget, Ledger
from nas.search.config import (
    DEFAULT_BASELINES,
    ObjectiveConfig,
    SearchConfig,
    SyntheticObjectiveConfig,
    TableObjectiveConfig,
    TrainObjectiveConfig,
    ZeroCostObjectiveConfig,
    parse_objective,
)
from nas.search.driver import Search
from nas.search.run import load_config, open_search, run_search
from nas.search.strategies import STRATEGIES, Strategy, make_strategy

__all__ = [
    "DEFAULT_BASELINES",
    "STRATEGIES",
    "Budget",
    "Ledger",
    "ObjectiveConfig",
    "Search",
    "SearchConfig",
    "Strategy",
    "SyntheticObjectiveConfig",
    "TableObjectiveConfig",
    "TrainObjectiveConfig",
    "ZeroCostObjectiveConfig",
    "load_config",
    "make_strategy",
    "open_search",
    "parse_objective",
    "run_search",
]
