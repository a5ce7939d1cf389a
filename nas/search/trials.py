"""The trials table of a run: one row per trial in ``trials.csv`` (appended as each trial finishes: the
source of truth on resume) mirrored to ``trials.parquet``, the rows' schema, and the Pareto front.

With zero-cost proxies recorded (``SearchConfig.zero_cost``, a zero-cost objective, a pre-screen) the table
gains one ``zc_<proxy>`` column per proxy, read from each row's ``metrics``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from nas.search.objectives.base import Job, Result

COLUMNS = [
    "trial_id",
    "source",
    "name",
    "status",
    "cached",
    "cached_from",
    "score",
    "key",
    "arch",
    "params",
    "macs",
    "wall_s",
    "cpus",
    "gpus",
    "gpu_hours",
    "cpu_hours",
    "device_hours",
    "epochs",
    "node_id",
    "host",
    "error",
    "choices",
    "metrics",
    "genotype",
    "session",
    "started_at",
    "finished_at",
]
_JSON_COLS = ("choices", "metrics")
_FLOAT_COLS = (
    "score",
    "wall_s",
    "cpus",
    "gpus",
    "gpu_hours",
    "cpu_hours",
    "device_hours",
    "started_at",
    "finished_at",
)
_INT_COLS = ("trial_id", "cached_from", "params", "macs", "epochs", "session")


def encode_cell(col: str, v: Any) -> str:
    if v is None:
        return ""
    if col in _JSON_COLS:
        return json.dumps(v, separators=(",", ":"))
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def decode_cell(col: str, s: str) -> Any:
    if s == "":
        return None if col not in ("error", "arch", "name", "node_id", "host") else ""
    if col in _JSON_COLS:
        return json.loads(s)
    if col == "cached":
        return s == "true"
    if col in _INT_COLS:
        return int(float(s))
    if col in _FLOAT_COLS:
        return float(s)
    return s


class TrialsTable:
    """Rows in memory, appended to ``trials.csv`` one by one and mirrored to ``trials.parquet``.

    ``read_only``: never rewrite the CSV (reading the table of a run that may still be going)."""

    def __init__(self, directory: Path, extra: Sequence[str] = (), read_only: bool = False) -> None:
        self.read_only = read_only
        self.extra = list(extra)  # zc_<proxy> columns, read from each row's metrics
        self.columns = COLUMNS + self.extra
        self.csv_path = directory / "trials.csv"
        self.parquet_path = directory / "trials.parquet"
        self.rows: list[dict[str, Any]] = []
        self._dirty = False
        if self.csv_path.exists():
            self._load()
        else:
            self._rewrite_csv()

    def _load(self) -> None:
        text = self.csv_path.read_text()
        complete = text if text.endswith("\n") else text[: text.rfind("\n") + 1]  # drop a torn last line
        reader = csv.DictReader(io.StringIO(complete))
        if reader.fieldnames != self.columns:
            raise ValueError(
                f"{self.csv_path} is not a trials table of this run's configuration "
                f"(expected columns {', '.join(self.columns)})"
            )
        seen: set[int] = set()
        for rec in reader:
            try:
                row = {c: decode_cell(c, rec[c]) for c in COLUMNS}
            except (ValueError, TypeError, json.JSONDecodeError):
                continue  # a torn row
            if row["trial_id"] in seen:
                continue
            seen.add(row["trial_id"])
            self.rows.append(row)
        if complete != text or len(seen) != text.count("\n") - 1:
            self._rewrite_csv()
        self._dirty = True

    def _rewrite_csv(self) -> None:
        if self.read_only:
            return
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.columns)
        for row in self.rows:
            w.writerow(self._cells(row))
        tmp = self.csv_path.with_suffix(".csv.tmp")
        tmp.write_text(buf.getvalue())
        tmp.replace(self.csv_path)

    def _extra(self, row: Mapping[str, Any], col: str) -> float | None:
        v = (row.get("metrics") or {}).get(col)
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

    def _cells(self, row: Mapping[str, Any]) -> list[str]:
        return [encode_cell(c, row.get(c)) for c in COLUMNS] + [
            encode_cell(c, self._extra(row, c)) for c in self.extra
        ]

    def append(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(self._cells(row))
        with open(self.csv_path, "a") as f:  # one write per row: a kill leaves at most one torn line
            f.write(buf.getvalue())
            f.flush()
        self._dirty = True

    def write_parquet(self) -> None:
        if not self._dirty:
            return
        df = pd.DataFrame([{c: r.get(c) for c in COLUMNS} for r in self.rows], columns=COLUMNS)
        for c in _JSON_COLS:
            df[c] = [None if v is None else json.dumps(v, separators=(",", ":")) for v in df[c]]
        for c in ("params", "macs", "cached_from", "epochs"):
            df[c] = df[c].astype("Int64")
        for c in _FLOAT_COLS:
            df[c] = df[c].astype("float64")
        df["cached"] = df["cached"].astype(bool)
        for c in self.extra:
            df[c] = pd.Series([self._extra(r, c) for r in self.rows], dtype="float64")
        tmp = self.parquet_path.with_suffix(".parquet.tmp")
        df.to_parquet(tmp, index=False)
        tmp.replace(self.parquet_path)
        self._dirty = False


def row_costs(row: Mapping[str, Any]) -> dict[str, float]:
    """A row's numeric metrics plus its params and MACs (what a multi-objective strategy can minimise)."""
    out = {
        k: float(v)
        for k, v in (row.get("metrics") or {}).items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }
    for k in ("params", "macs"):
        if row.get(k) is not None:
            out[k] = float(row[k])
    return out


def pareto_front(rows: Sequence[Mapping[str, Any]], cost: str) -> list[dict[str, Any]]:
    """Non-dominated rows (maximise score, minimise ``cost``), one per genotype key, by ascending cost."""
    pts: dict[str, tuple[float, Mapping[str, Any]]] = {}
    for r in rows:
        c = row_costs(r).get(cost)
        if r.get("status") == "ok" and r.get("score") is not None and c is not None and r["key"] not in pts:
            pts[r["key"]] = (c, r)
    ordered = sorted(pts.values(), key=lambda cr: (cr[0], -cr[1]["score"]))
    front, best = [], -math.inf
    for c, r in ordered:
        if r["score"] > best:
            front.append(
                {
                    "trial_id": r["trial_id"],
                    "score": r["score"],
                    cost: c,
                    "key": r["key"],
                    "arch": r.get("arch") or "",
                    "name": r.get("name") or "",
                }
            )
            best = r["score"]
    return front


# ------------------------------------------------------------------------------------------------ rows


def now() -> float:
    """A row's timestamp: wall-clock seconds, to the millisecond."""
    return round(time.time(), 3)


def job_row(job: Job, name: str) -> dict[str, Any]:
    """The columns of a row that come from the job itself."""
    return {
        "trial_id": job.trial_id,
        "source": job.source,
        "name": name,
        "key": job.key,
        "arch": job.arch or "",
        "choices": job.choices,
        "genotype": job.genotype,
        "cpus": job.cpus,
        "gpus": job.gpus,
    }


def cached_row(job: Job, original: Mapping[str, Any], name: str, started: float) -> dict[str, Any]:
    """A duplicate of an evaluated candidate: ``original``'s result, at no cost."""
    row = job_row(job, name)
    row.update(
        status=original["status"],
        cached=True,
        cached_from=original["trial_id"],
        score=original["score"],
        params=original.get("params"),
        macs=original.get("macs"),
        wall_s=0.0,
        gpu_hours=0.0,
        cpu_hours=0.0,
        device_hours=0.0,
        epochs=original.get("epochs"),
        node_id="",
        host="",
        error=original.get("error") or "",
        metrics=original.get("metrics"),
        started_at=started,
        finished_at=now(),
    )
    return row


def failed_proposal_row(trial_id: int, choices: Mapping[str, Any], error: Exception) -> dict[str, Any]:
    """A proposal the space could not decode: a failed trial that never ran."""
    return {
        "trial_id": trial_id,
        "source": "strategy",
        "name": "",
        "key": "",
        "arch": "",
        "choices": dict(choices),
        "genotype": "",
        "cpus": 0.0,
        "gpus": 0.0,
        "status": "failed",
        "cached": False,
        "cached_from": None,
        "score": None,
        "params": None,
        "macs": None,
        "wall_s": 0.0,
        "gpu_hours": 0.0,
        "cpu_hours": 0.0,
        "device_hours": 0.0,
        "epochs": 0,
        "node_id": "",
        "host": "",
        "error": f"decode: {type(error).__name__}: {error}",
        "metrics": None,
        "started_at": now(),
        "finished_at": now(),
    }


def result_row(job: Job, name: str, result: Result, started: float) -> dict[str, Any]:
    """A trial that ran: ``ok``, ``failed``, or ``stopped`` (early-stopped before its last epoch)."""
    status = result.status
    if status == "ok" and not result.final:
        status = "stopped"
    row = job_row(job, name)
    # a tabular what-if run charges the training time it stands in for (TableObjective.cost_s)
    wall = float(result.wall_s) + float(result.metrics.get("simulated_s") or 0.0)
    gh, ch = wall * job.gpus / 3600.0, wall * job.cpus / 3600.0
    m = dict(result.metrics)
    row.update(
        status=status,
        cached=False,
        cached_from=None,
        score=result.score,
        params=int_or_none(m.get("params")),
        macs=int_or_none(m.get("macs")),
        wall_s=wall,
        gpu_hours=gh,
        cpu_hours=ch,
        device_hours=gh if job.gpus > 0 else ch,
        epochs=result.epochs,
        node_id=result.node_id,
        host=result.host,
        error=result.error,
        metrics=clean_metrics(m),
        started_at=started,
        finished_at=now(),
    )
    return row


def int_or_none(v: Any) -> int | None:
    try:
        return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else int(v)
    except (TypeError, ValueError):
        return None


def clean_metrics(m: Mapping[str, Any]) -> dict[str, Any]:
    """Metrics as JSON can hold them: non-finite floats as None, other values as text."""
    out = {}
    for k, v in m.items():
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        try:
            json.dumps(v)
        except (TypeError, ValueError):
            v = str(v)
        out[str(k)] = v
    return out
