"""The table objective: a trial's score is its candidate's row in a tabular benchmark (NAS-Bench-201)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from nas.core.archcodec import ArchCodec
from nas.core.errors import ConfigError
from nas.core.genotype import Genotype
from nas.core.space import SearchSpace
from nas.search.config import TableObjectiveConfig
from nas.search.objectives.base import Job, Objective, Report, RunContext, register_objective


@register_objective
class TableObjective(Objective):
    """A NAS-Bench-201-style table (:class:`~nas.search.config.TableObjectiveConfig`: ``table``,
    ``arch_column``, ``metric_column``, ``cost_s``).

    Every arch string must be a member of the space (``ValueError`` naming the row otherwise); the score of a
    candidate is its row's metric (other numeric columns are reported as extra metrics). A candidate whose
    arch string is not in the table, or whose metric is empty, fails.

    ``cost_s``: seconds of device time each looked-up trial is charged as if it had been trained (the
    ``simulated_s`` metric; the run's ledger and budget count it), for what-if studies of budgeted
    searches — e.g. a pre-screen against training every candidate — on a tabular benchmark.
    """

    kind = "table"

    @classmethod
    def from_config(cls, config: TableObjectiveConfig, space: SearchSpace, context: RunContext) -> Objective:
        assert config.table is not None and config.metric_column is not None  # the config checked them
        return cls(config.table, config.arch_column, config.metric_column, space, cost_s=config.cost_s)

    def __init__(
        self, path: str | Path, arch_column: str, metric_column: str, space: SearchSpace, cost_s: float = 0.0
    ) -> None:
        self.cost_s = float(cost_s)
        self.path = Path(path)
        if not self.path.is_file():
            raise ConfigError("objective.table", f"table {str(self.path)!r} does not exist")
        try:
            df = pd.read_csv(self.path)
        except Exception as e:  # noqa: BLE001 - any parse failure is a user error here
            raise ConfigError(
                "objective.table", f"table {str(self.path)!r} cannot be read as CSV: {e}"
            ) from None
        cols = list(df.columns)
        for what, col in (("arch", arch_column), ("metric", metric_column)):
            if col not in cols:
                raise ConfigError(
                    f"objective.{what}_column",
                    f"table {self.path.name!r} has no {what} column {col!r} "
                    f"(columns: {', '.join(map(str, cols))})",
                )
        self.arch_column, self.metric_column = arch_column, metric_column
        codec = ArchCodec(space)
        numeric = [c for c in cols if c != arch_column and pd.api.types.is_numeric_dtype(df[c])]
        if metric_column not in numeric:
            raise ConfigError(
                "objective.metric_column",
                f"table {self.path.name!r}: metric column {metric_column!r} is not numeric",
            )
        self.rows: dict[str, dict[str, float]] = {}
        records = df[[arch_column, *numeric]].to_dict("records")
        for i, rec in enumerate(records):
            raw = rec[arch_column]
            try:
                key = codec.format(codec.parse(raw if isinstance(raw, str) else str(raw)))
            except (ValueError, TypeError, KeyError) as e:
                raise ConfigError(
                    "objective.table",
                    f"table {self.path.name!r} row {i + 2}: arch {raw!r} is outside space "
                    f"{space.name!r}: {e}",
                ) from None
            if key in self.rows:
                raise ConfigError(
                    "objective.table", f"table {self.path.name!r} row {i + 2}: arch {raw!r} appears twice"
                )
            self.rows[key] = {c: float(rec[c]) for c in numeric}
        self.columns = numeric
        if not self.rows:
            raise ConfigError("objective.table", f"table {self.path.name!r} has no rows")
        self._codec = codec

    def lookup(self, space: SearchSpace, choices: Mapping[str, Any] | None, genotype: Genotype) -> str | None:
        if choices is None:
            return None
        return self._codec.format(choices)

    def provides(self) -> set[str]:
        return set(self.columns)

    def candidate_pool(self, space: SearchSpace) -> list[dict[str, Any]]:
        # a pre-screen of a tabular run screens the table's rows only: any other candidate would fail
        codec = ArchCodec(space)
        return [codec.parse(k) for k in self.rows]

    def evaluate(self, job: Job, report: Report) -> dict[str, Any]:
        if job.arch is None:
            raise ValueError("candidate is not a member of the space, so it has no table entry")
        row = self.rows.get(job.arch)
        if row is None:
            raise KeyError(f"arch {job.arch!r} is not in table {self.path.name!r}")
        out = {k: v for k, v in row.items() if math.isfinite(v)}
        out["score"] = row[self.metric_column]
        if self.cost_s:
            out["simulated_s"] = self.cost_s
        return out

    def best(self) -> tuple[str, float]:
        """The table's best entry (for regret)."""
        k = max(
            (k for k in self.rows if math.isfinite(self.rows[k][self.metric_column])),
            key=lambda k: self.rows[k][self.metric_column],
        )
        return k, self.rows[k][self.metric_column]

    def __getstate__(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["_codec"] = None  # workers only read self.rows
        return d

    def config(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "table": str(self.path.resolve()),
            "arch_column": self.arch_column,
            "metric_column": self.metric_column,
            "rows": len(self.rows),
            "cost_s": self.cost_s,
        }
