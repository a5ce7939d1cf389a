"""What a trial measures: a tabular benchmark lookup, a proxy training run, a zero-cost score, a
synthetic score or the synthetic score with injected faults (see :mod:`.base` for the interface). One
module per kind; importing this package registers them all in :data:`OBJECTIVES`."""

from nas.search.objectives.base import (
    FAILED,
    OBJECTIVES,
    Job,
    Objective,
    Report,
    Result,
    RunContext,
    TransientError,
    TrialTimeout,
    WorkerDied,
    make_objective,
    register_objective,
    run_job,
)
from nas.search.objectives.faulty import FaultyObjective
from nas.search.objectives.synthetic import SyntheticObjective
from nas.search.objectives.table import TableObjective
from nas.search.objectives.train import TrainObjective
from nas.search.objectives.zero_cost import ZeroCostObjective

__all__ = [
    "FAILED",
    "OBJECTIVES",
    "FaultyObjective",
    "Job",
    "Objective",
    "Report",
    "Result",
    "RunContext",
    "SyntheticObjective",
    "TableObjective",
    "TrainObjective",
    "TransientError",
    "TrialTimeout",
    "WorkerDied",
    "ZeroCostObjective",
    "make_objective",
    "register_objective",
    "run_job",
]
