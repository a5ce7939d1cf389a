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
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import pandas as pd

from nas.search.durable import StateFileError, append_text, replace_with, sync, sync_dir, warn, write_text
from nas.search.objectives.base import Job, Result

COLUMNS = [
    "trial_id",
    "source",
    "name",
    "status",
    "cached",
    "cached_from",
    "parent",
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
_INT_COLS = ("trial_id", "cached_from", "parent", "params", "macs", "epochs", "session")
RowT = TypeVar("RowT", bound=Mapping[str, Any])
#: the ``source`` of a selection stage's re-evaluation (:mod:`nas.search.selection`): a score at another
#: fidelity or seed, never a search trial of its own
SELECT = "select"
#: the columns of tables written before ``parent`` existed: read, and rewritten with the current header
LEGACY_COLUMNS = [c for c in COLUMNS if c != "parent"]


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


#: ``trials.corrupt.csv``: each row of ``trials.csv`` that did not parse, with its line number and why
CORRUPT_COLUMNS = ("line", "reason", "found_at", "text")


def _records(lines: Sequence[str]) -> Iterator[tuple[int, int, list[str] | None]]:
    """``(first line, end line, fields)`` of each CSV record of ``lines`` (a quoted field may span lines);
    fields None for a line the csv module rejects (a NUL byte), after which reading resumes."""
    i = 0
    while i < len(lines):
        start = i
        reader = csv.reader(iter(lines[i:]))
        try:
            for rec in reader:
                end = i + reader.line_num
                yield start, end, rec
                start = end
            return
        except csv.Error:
            yield start, start + 1, None
            i = start + 1


def decode_row(fields: list[str] | None, columns: Sequence[str]) -> dict[str, Any]:
    """One record as a row; ``ValueError`` saying why it does not fit the schema."""
    if fields is None:
        raise ValueError("not CSV")
    if len(fields) != len(columns):
        raise ValueError(f"{len(fields)} fields, expected {len(columns)}")
    cells = dict(zip(columns, fields, strict=True))
    row = {}
    for c in columns:
        try:
            v = decode_cell(c, cells[c]) if c in COLUMNS else (float(cells[c]) if cells[c] else None)
        except (ValueError, TypeError):
            raise ValueError(f"bad {'JSON' if c in _JSON_COLS else 'value'} in column {c}") from None
        if c in _JSON_COLS and v is not None and not isinstance(v, dict):
            raise ValueError(f"bad JSON in column {c} (not an object)")
        if c in COLUMNS:
            row[c] = v
    if row["trial_id"] is None:
        raise ValueError("no trial_id")
    return row


class Parsed(NamedTuple):
    """What :func:`parse_rows` read: the rows, the corrupt records as ``(line number, reason, original
    text)``, how many blank lines there were, and the positions (0-based, among the records read) of the
    records not kept, so that a count of "rows seen" taken before they were dropped can be corrected."""

    rows: list[dict[str, Any]]
    corrupt: list[tuple[int, str, str]]
    blank: int
    removed: list[int]


def parse_rows(lines: Sequence[str], columns: Sequence[str]) -> Parsed:
    """The rows of a trials table's ``lines`` (the header first) and its corrupt records. A record spanning
    several lines that does not parse is retried line by line (a stray quote must not swallow the rows
    after it)."""
    out = Parsed([], [], 0, [])
    seen: set[int] = set()

    def take(n: int, fields: list[str] | None, original: str) -> None:
        pos = len(out.rows) + len(out.removed)
        try:
            if not original.isascii() and any("\udc80" <= ch <= "\udcff" for ch in original):
                raise ValueError("not UTF-8 text")  # undecodable bytes, read as surrogates
            row = decode_row(fields, columns)
            if row["trial_id"] in seen:
                raise ValueError(f"duplicate trial_id {row['trial_id']}")
        except ValueError as e:
            out.corrupt.append((n, str(e), original))
            out.removed.append(pos)
            return
        seen.add(row["trial_id"])
        out.rows.append(row)

    blank = 0
    for start, end, fields in _records(lines[1:]):
        if fields == [] and end - start == 1:
            blank += 1
            continue
        if end - start == 1:
            take(start + 2, fields, lines[1 + start])
            continue
        try:
            decode_row(fields, columns)
            take(start + 2, fields, "".join(lines[1 + start : 1 + end]))
        except ValueError:
            for j in range(start, end):
                take(j + 2, next(csv.reader([lines[1 + j]]), None), lines[1 + j])
    return out._replace(blank=blank)


class TrialsTable:
    """Rows in memory, appended to ``trials.csv`` one by one and mirrored to ``trials.parquet``.

    ``read_only``: never rewrite the CSV (reading the table of a run that may still be going)."""

    def __init__(self, directory: Path, extra: Sequence[str] = (), read_only: bool = False) -> None:
        self.read_only = read_only
        self.extra = list(extra)  # zc_<proxy> columns, read from each row's metrics
        self.columns = COLUMNS + self.extra
        self.csv_path = directory / "trials.csv"
        self.parquet_path = directory / "trials.parquet"
        self.corrupt_path = directory / "trials.corrupt.csv"
        self.rows: list[dict[str, Any]] = []
        self.removed: list[int] = []  # positions in the file as read of the rows moved to corrupt_path
        self._dirty = False
        if self.csv_path.exists():
            self._load()
        else:
            self._rewrite_csv()

    def _load(self) -> None:
        # surrogateescape: undecodable bytes survive into trials.corrupt.csv unchanged
        text = self.csv_path.read_text(errors="surrogateescape")
        lines = text.splitlines(keepends=True)
        if not lines:  # an empty file (created, never written): start the table afresh
            self._rewrite_csv()
            return
        header = next(csv.reader([lines[0]]), [])
        legacy = header == LEGACY_COLUMNS + self.extra
        if header != self.columns and not legacy:
            raise StateFileError(
                self.csv_path,
                "its columns are not those of this run's trials table",
                f"expected {', '.join(self.columns)}; move the file away to start the table afresh",
            )
        torn = [] if text.endswith(("\n", "\r")) else [len(lines) - 1]
        columns = LEGACY_COLUMNS + self.extra if legacy else self.columns
        rows, corrupt, blank, self.removed = parse_rows(lines[: len(lines) - len(torn)], columns)
        if torn and not self.read_only:  # a reader of a live run sees the append in progress: not corrupt
            corrupt.append((torn[0] + 1, "torn last line (no newline at its end)", lines[-1]))
            self.removed.append(len(rows) + len(self.removed))
        self.rows = rows
        if corrupt:
            self._set_aside(corrupt)
        if (corrupt or blank or torn or legacy) and not self.read_only:
            self._rewrite_csv()  # only now: the corrupt rows are on disk in trials.corrupt.csv
        self._dirty = True

    def _set_aside(self, corrupt: Sequence[tuple[int, str, str]]) -> None:
        """Append ``(line number, reason, original text)`` rows to ``trials.corrupt.csv`` (fsynced) and
        warn naming the file and lines (a read-only reader only warns)."""
        where = ("line " if len(corrupt) == 1 else "lines ") + ", ".join(
            f"{n} ({why})" for n, why, _ in corrupt
        )
        if self.read_only:
            warn(f"{self.csv_path}: skipped corrupt rows at {where}")
            return
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        if not self.corrupt_path.exists() or self.corrupt_path.stat().st_size == 0:
            w.writerow(CORRUPT_COLUMNS)
        found = now()
        for n, why, original in corrupt:
            w.writerow([n, why, found, original.rstrip("\r\n")])
        with open(self.corrupt_path, "a", errors="surrogateescape") as f:
            f.write(buf.getvalue())
            sync(f)
        sync_dir(self.corrupt_path.parent)
        warn(
            f"{self.csv_path}: moved {len(corrupt)} corrupt row(s) at {where} to {self.corrupt_path} "
            "(original text kept); the table was rewritten without them"
        )

    def _rewrite_csv(self) -> None:
        if self.read_only:
            return
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.columns)
        for row in self.rows:
            w.writerow(self._cells(row))
        write_text(self.csv_path, buf.getvalue())

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
        append_text(self.csv_path, buf.getvalue())  # one fsynced write per row: at most one torn line
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
        replace_with(self.parquet_path, lambda tmp: df.to_parquet(tmp, index=False))
        self._dirty = False


def search_rows(rows: Sequence[RowT]) -> list[RowT]:
    """The rows of the search phase: without the selection's re-evaluations (scores at other fidelities)."""
    return [r for r in rows if r.get("source") != SELECT]


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
        "parent": job.parent,
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
        "parent": None,
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
    if job.select is not None:
        m["selection"] = dict(job.select)
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
