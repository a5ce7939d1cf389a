"""Search strategies as ask/tell objects over a space's categorical choices (see :mod:`.base`).

One module per family: :mod:`.random_grid` (random, grid), :mod:`.evolution` (regularized evolution),
:mod:`.reinforce` (the RL controller), :mod:`.optuna` (TPE, NSGA-II), :mod:`.local_search`
(local search), :mod:`.predictor` (BANANAS-style predictor-guided evolution). Importing this package registers
them all in :data:`STRATEGIES`.
"""

from nas.search.strategies.base import (
    STRATEGIES,
    Choices,
    Strategy,
    choice_key,
    make_strategy,
    register_strategy,
)
from nas.search.strategies.evolution import RegularizedEvolution
from nas.search.strategies.local_search import LocalSearch
from nas.search.strategies.optuna import NSGA2, TPE, OptunaStrategy
from nas.search.strategies.predictor import PredictorGuided
from nas.search.strategies.random_grid import GridSearch, RandomSearch
from nas.search.strategies.reinforce import ReinforceController

__all__ = [
    "NSGA2",
    "STRATEGIES",
    "TPE",
    "Choices",
    "GridSearch",
    "LocalSearch",
    "OptunaStrategy",
    "PredictorGuided",
    "RandomSearch",
    "RegularizedEvolution",
    "ReinforceController",
    "Strategy",
    "choice_key",
    "make_strategy",
    "register_strategy",
]
