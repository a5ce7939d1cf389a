"""What a trial measures: a tabular benchmark lookup, a proxy training run, a zero-cost score or a
synthetic score (see :mod:`.base` for the interface). One module per kind; importing this package
registers them all in :data:`OBJECTIVES`."""

from nas.search.objectives.base import (
    OBJECTIVES,
    Job,
    Objective,
    Report,
    Result,
    RunContext,
    make_objective,
    register_objective,
    run_job,
)
from nas.search.objectives.synthetic import SyntheticObjective
from nas.search.objectives.table import TableObjective
from nas.search.objectives.train import TrainObjective
from nas.search.objectives.zero_cost import ZeroCostObjective

__all__ = [
    "OBJECTIVES",
    "Job",
    "Objective",
    "Report",
    "Result",
    "RunContext",
    "SyntheticObjective",
    "TableObjective",
    "TrainObjective",
    "ZeroCostObjective",
    "make_objective",
    "register_objective",
    "run_job",
]
