"""The ``supernet`` objective: a search trial scores a member with a trained single-path (SPOS, ENAS)
supernet's inherited weights (BatchNorm recalibrated per member, :class:`nas.oneshot.spos.InheritedScorer`)
on the validation split the supernet's weights were not trained on. An ordinary ``nas search`` run over
it writes the usual run directory (trials table, ``best.json``, ledger, resume); its best genotype is an
ordinary member.

Importing this module registers the kind (config and objective) with :mod:`nas.search`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from nas.core.errors import ConfigError
from nas.core.genotype import from_json
from nas.core.space import SearchSpace
from nas.oneshot.spos import InheritedScorer
from nas.oneshot.store import load_data, open_trainer, read_meta
from nas.search.config import ObjectiveConfig, objective_config
from nas.search.objectives.base import Job, Objective, Report, RunContext, register_objective

#: the methods whose supernets train every path alone (single-path): their members' weights are inherited
INHERITED = ("spos", "enas")
# One trained supernet per process at a time (trials of an inline run share it).
_LOADED: dict[str, InheritedScorer] = {}


def load_scorer(
    directory: str | Path, calib_batches: int = 4, batch_size: int = 64, device: str | None = None
) -> InheritedScorer:
    """The inherited-weight scorer of the trained SPOS / ENAS supernet in ``directory`` (one per process)."""
    key = json.dumps([str(Path(directory).resolve()), calib_batches, batch_size, device])
    scorer = _LOADED.get(key)
    if scorer is None:
        run = read_meta(directory)
        if run.method not in INHERITED:
            raise ConfigError(
                "supernet", f"{directory} is a {run.method} supernet; inherited scores need SPOS or ENAS"
            )
        trainer = open_trainer(directory, run, load_data(run), device=device)
        if trainer.epoch < run.config().epochs:
            raise ConfigError("supernet", f"{directory}: the supernet's training is not finished")
        scorer = InheritedScorer(trainer, calib_batches=calib_batches, batch_size=batch_size)
        _LOADED.clear()
        _LOADED[key] = scorer
    return scorer


def inherited_scores(directory: str | Path, archs: Sequence[str], **options: Any) -> list[float]:
    """Validation top-1 with inherited weights of each arch text (the space's notation, e.g. NB201 arch
    strings): what a calibration against a truth table ranks (``options``: :func:`load_scorer`'s)."""
    scorer = load_scorer(directory, **options)
    space = scorer.supernet.space
    return [scorer(space.parse_arch(a))["val_top1"] for a in archs]


@objective_config
@dataclass(frozen=True)
class SupernetObjectiveConfig(ObjectiveConfig):
    """``supernet``: the directory of a trained SPOS / ENAS supernet; ``calib_batches`` training batches of
    ``calib_batch_size`` re-estimate BatchNorm statistics per member; ``device`` (None: auto)."""

    kind: ClassVar[str] = "supernet"
    supernet: str | None = None
    calib_batches: int = 4
    calib_batch_size: int = 64
    device: str | None = None

    def __post_init__(self) -> None:
        if not self.supernet:
            raise ConfigError("objective.supernet", "is required by the supernet objective")
        object.__setattr__(self, "supernet", str(Path(self.supernet).expanduser().resolve()))
        for name in ("calib_batches", "calib_batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"objective.{name}", f"must be a positive int, got {v!r}")


@register_objective
class SupernetObjective(Objective):
    """Score = validation top-1 (percent) of the member with inherited weights."""

    kind = "supernet"

    @classmethod
    def from_config(
        cls, config: SupernetObjectiveConfig, space: SearchSpace, context: RunContext
    ) -> Objective:
        return cls(config, space)

    def __init__(self, config: SupernetObjectiveConfig, space: SearchSpace) -> None:
        self.cfg = config
        self.space = space
        run = read_meta(str(config.supernet))
        if run.space != space.name:
            raise ConfigError("space", f"the supernet is of space {run.space!r}, the search's {space.name!r}")

    def _scorer(self) -> InheritedScorer:
        scorer = load_scorer(
            str(self.cfg.supernet), self.cfg.calib_batches, self.cfg.calib_batch_size, self.cfg.device
        )
        if scorer.supernet.space.choices() != self.space.choices():
            raise ConfigError("space_options", "the search's space has other choices than the supernet's")
        return scorer

    def prepare(self) -> None:
        self._scorer()

    def provides(self) -> set[str]:
        return {"val_top1"}

    def evaluate(self, job: Job, report: Report) -> dict[str, Any]:
        choices: Mapping[str, Any] | None = job.choices
        if choices is None:  # a seed network: scored if it is a member
            choices = self.space.encode(from_json(job.genotype))
        s = self._scorer()(choices)
        return {"score": s["val_top1"], **s}

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.cfg.to_dict()}
