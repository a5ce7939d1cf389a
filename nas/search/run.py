"""A search run: its directory, trials table, dedup cache, budget ledger and strategy state.

``runs/<name>/`` holds

==================  ====================================================================================
config.json         the full configuration (space, strategy, objective, budget, executor, seed, …) and
                    one entry per session
trials.csv          one row per trial, appended as each trial finishes (the source of truth on resume)
trials.parquet      the same table, rewritten at most every few seconds and at the end
best.json           the best trial (genotype, choices, metrics) and, with a cost metric, the Pareto front
prescreen.csv       with ``--prescreen``: every screened candidate's proxy score, best first, and the
                    screening's CPU time (charged to the budget)
strategy.json       the strategy's state (population, controller weights, Optuna trials, RNG) and how many
                    trials of the table it has seen
ledger.json         device-hours, trial counts and wall time spent, against the budget
ray/                Ray Tune's experiment directories (one per session) under the Ray executor
==================  ====================================================================================

With ``--zero-cost synflow,naswot`` (or a zero-cost objective, or a pre-screen) the tables gain one
``zc_<proxy>`` column per proxy (also in each row's ``metrics``).

Deduplication: a candidate whose canonical genotype key (``nas.core.graph.KeyIndex``) was already evaluated is
not trained again; its row copies the earlier result with ``cached = True`` and ``cached_from`` set, costs
nothing, and is still shown to the strategy. ``--resume`` reloads the table, replays to the strategy any
trial finished after its last saved state, rebuilds the ledger from the table and continues.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from nas.search import zero_cost as zc
from nas.search.budget import Budget, Ledger
from nas.search.objectives import ArchCodec, Job, Objective, Result, make_objective
from nas.search.strategies import Strategy, choice_key, cost_metric, make_strategy

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
FLUSH_EVERY_S = 2.0
DEFAULT_BASELINES = ("resnet20", "resnet56", "densenet_bc", "vgg11_cifar")


@dataclass
class SearchConfig:
    space: str = "nb201"
    space_options: dict[str, Any] = field(default_factory=dict)
    strategy: str | None = "random"  # None: evaluate the seed points only (``nas baselines``)
    strategy_options: dict[str, Any] = field(default_factory=dict)
    budget: str | None = None
    objective: dict[str, Any] = field(default_factory=lambda: {"kind": "synthetic"})
    executor: str = "ray"
    address: str | None = None
    num_cpus: int | None = None  # local Ray only
    name: str | None = None
    runs_dir: str = "runs"
    seed: int = 0
    seed_with: list[str] = field(default_factory=list)
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    concurrency: int | None = None
    early_stop: str | None = None  # "asha"
    asha: dict[str, Any] = field(default_factory=dict)
    profile: bool | None = None  # measure params/MACs (default: training objectives, or a cost is needed)
    max_duplicates: int = 200
    kind: str = "search"  # search | baselines
    quiet: bool = False
    zero_cost: list[str] = field(default_factory=list)  # proxies recorded per trial as zc_<name>
    proxy_batch: int = 64  # images in the zero-cost proxies' minibatch
    prescreen: str | None = None  # "synflow:1000": screen 1,000 candidates, train the best first
    train_top: int | None = None  # how many pre-screened candidates to train

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SearchConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


# ------------------------------------------------------------------------------------------ the table


def _encode_cell(col: str, v: Any) -> str:
    if v is None:
        return ""
    if col in _JSON_COLS:
        return json.dumps(v, separators=(",", ":"))
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _decode_cell(col: str, s: str) -> Any:
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
    """Rows in memory, appended to ``trials.csv`` one by one and mirrored to ``trials.parquet``."""

    def __init__(self, directory: Path, extra: Sequence[str] = ()) -> None:
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
                row = {c: _decode_cell(c, rec[c]) for c in COLUMNS}
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
        return [_encode_cell(c, row.get(c)) for c in COLUMNS] + [
            _encode_cell(c, self._extra(row, c)) for c in self.extra
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
        import pandas as pd

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


def _costs(row: Mapping[str, Any]) -> dict[str, float]:
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
        c = _costs(r).get(cost)
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


# ---------------------------------------------------------------------------------------- progress


class Progress:
    """A live status line on a terminal; periodic lines otherwise (``quiet``: nothing until the end)."""

    def __init__(self, search: Search, stream: Any = None, quiet: bool = False) -> None:
        self.search = search
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = 0.0
        self.running = 0

    def line(self) -> str:
        s = self.search
        led = s.ledger
        done = led.trials - led.failed
        best = s.best_row
        best_txt = f"best {best['score']:.4g} (#{best['trial_id']})" if best else "best -"
        budget = s.budget.describe(led) if s.budget else f"{led.trials} trials"
        return (
            f"[{s.name}] done {done} · running {self.running} · failed {led.failed} · cached {led.cached} · "
            f"{best_txt} · budget {budget} · {led.gpu_hours:.3g} gpuh {led.cpu_hours:.3g} cpuh"
        )

    def update(self, running: int | None = None, force: bool = False) -> None:
        if running is not None:
            self.running = running
        if self.quiet:
            return
        now = time.monotonic()
        if not force and now - self._last < (0.2 if self.tty else 10.0):
            return
        self._last = now
        if self.tty:
            self.stream.write("\r\033[K" + self.line())
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.quiet:
            return
        if self.tty:
            self.stream.write("\r\033[K" + self.line() + "\n")
            self.stream.flush()


# ------------------------------------------------------------------------------------------ search


def _now() -> float:
    return round(time.time(), 3)


def resolve_seed_points(specs: Sequence[str]) -> list[tuple[str, Any]]:
    """``resnet20,densenet_bc`` names or genotype JSON files → (name, genotype) pairs."""
    from nas.core.resolve import resolve

    out = []
    for spec in specs:
        for name in (p.strip() for p in str(spec).split(",")):
            if not name:
                continue
            g = resolve(name)
            out.append((Path(name).stem if name.endswith(".json") else name, g))
    return out


class Search:
    """Driver-side state of a run; executors call :meth:`next_job` and :meth:`complete`."""

    def __init__(
        self,
        config: SearchConfig,
        directory: Path,
        *,
        resume: bool = False,
        space: Any = None,
        objective: Objective | None = None,
    ) -> None:
        from nas.core.graph import KeyIndex
        from nas.core.registry import SPACES

        self.config = config
        self.dir = directory
        self.name = directory.name
        self.budget = Budget.parse(config.budget) if config.budget else None
        if self.budget:
            self.budget.check_resources(config.cpus_per_trial, config.gpus_per_trial)
        if config.cpus_per_trial < 0 or config.gpus_per_trial < 0:
            raise ValueError("--cpus-per-trial and --gpus-per-trial must be >= 0")
        if config.executor not in ("ray", "inline"):
            raise ValueError(f"unknown executor {config.executor!r} (choose from ray, inline)")
        if config.early_stop not in (None, "asha"):
            raise ValueError(f"unknown early stopping {config.early_stop!r} (choose from asha)")
        if config.early_stop and config.executor != "ray":
            raise ValueError("--early-stop asha needs the ray executor")
        if space is None:
            space = SPACES[config.space](**config.space_options) if config.space else _NoSpace()
        self.space = space
        self.strategy: Strategy | None = None
        if config.strategy:
            opts = dict(config.strategy_options)
            if config.strategy in ("tpe", "nsga2"):
                opts.setdefault("backend", "ray" if config.executor == "ray" else "optuna")
            self.strategy = make_strategy(config.strategy, self.space, seed=config.seed, **opts)
        self.cost = cost_metric(self.strategy) if self.strategy else None
        self.objective = objective if objective is not None else self._make_objective()
        provided = self.objective.provides()
        measurable = self.cost in ("params", "macs")
        if self.cost and not measurable and self.cost not in provided:
            raise ValueError(
                f"strategy {config.strategy!r} minimises {self.cost!r}, which the "
                f"{self.objective.kind} objective "
                f"does not report (it reports: {', '.join(sorted(provided | {'params', 'macs'}))})"
            )
        needs = measurable and self.cost not in provided
        self.profile = config.profile if config.profile is not None else needs
        if needs and not self.profile:
            raise ValueError(
                f"strategy {config.strategy!r} needs the {self.cost} of every trial: do not pass --no-profile"
            )
        source = "baseline" if config.kind == "baselines" else "seed"
        self.seed_points = [(n, g, source) for n, g in resolve_seed_points(config.seed_with)]
        codec = ArchCodec(self.space) if not isinstance(self.space, _NoSpace) else None
        self._codec = codec if codec is not None and codec.native else None  # arch strings in the table
        self._setup_zero_cost()

        directory.mkdir(parents=True, exist_ok=True)
        self.table = TrialsTable(directory, extra=[zc.column(n) for n in self.zc_columns])
        self.keys = KeyIndex()
        self._key_memo: dict[str, str] = {}
        self.cache: dict[str, dict[str, Any]] = {}
        self.inflight: dict[str, Job] = {}
        self.waiting: dict[str, list[tuple[Job, str, float]]] = {}
        self.ledger = Ledger()
        self.best_row: dict[str, Any] | None = None
        self.stop_reason: str | None = None
        self.dup_streak = 0
        self._names: dict[int, str] = {}
        self._started: dict[int, float] = {}
        self._last_flush = 0.0
        self.session = 1
        self._observed = 0
        prior_elapsed = 0.0
        if resume:
            prior_elapsed, self.session = self._restore()
        self._elapsed0 = prior_elapsed
        self._t0 = time.monotonic()
        self.ledger.sessions = self.session
        self.next_id = max((r["trial_id"] for r in self.table.rows), default=-1) + 1
        self.progress = Progress(self, quiet=config.quiet)
        self._write_config()
        if self.prescreen_spec is not None:
            self._prescreen()
        done = {r["name"] for r in self.table.rows if r["source"] in ("seed", "baseline", "prescreen")}
        self.seed_points = [p for p in self.seed_points if p[0] not in done]

    def _make_objective(self) -> Objective:
        c = self.config
        opts = {k: v for k, v in c.objective.items() if k != "kind"}
        kind = c.objective.get("kind", "synthetic")
        if kind == "train" and c.early_stop == "asha":
            # ASHA acts on per-epoch scores: evaluate every epoch unless told otherwise
            opts["train_overrides"] = {"eval_every": 1, **(opts.get("train_overrides") or {})}
        if kind == "zero-cost":
            opts.setdefault("seed", c.seed)
            opts.setdefault("batch_size", c.proxy_batch)
        return make_objective(kind, self.space, **opts)

    def _setup_zero_cost(self) -> None:
        """The zc_<proxy> columns, the proxies' minibatch and the pre-screen's settings."""
        c = self.config
        obj = c.objective
        self.batch_spec = zc.BatchSpec(
            obj.get("dataset") or "cifar10", obj.get("data"), c.proxy_batch, c.seed
        )
        recorded = zc.parse_names(c.zero_cost)
        names = list(recorded)
        self.prescreen_spec = None
        if c.prescreen or c.train_top is not None:
            if not c.prescreen:
                raise ValueError("--train-top needs --prescreen PROXY:N")
            if isinstance(self.space, _NoSpace):
                raise ValueError("--prescreen needs a search space to sample from")
            self.prescreen_spec = zc.parse_prescreen(c.prescreen, c.train_top)
            names.append(self.prescreen_spec[0])
        if isinstance(self.objective, zc.ZeroCostObjective):
            names.append(self.objective.proxy)
        self.zc_columns = list(dict.fromkeys(names))
        screened = [self.prescreen_spec[0]] if self.prescreen_spec else []
        self.zc_measure = list(dict.fromkeys([*recorded, *screened]))

    def _prescreen(self) -> None:
        """Score the pre-screen's candidates (once per run: ``prescreen.csv``), charge its CPU time to the
        ledger, and queue the best ``train_top`` ahead of the strategy's proposals."""
        import random

        from nas.search.objectives import TableObjective

        proxy, n, top = self.prescreen_spec
        path = self.dir / "prescreen.csv"
        result = zc.read_prescreen(path)
        if result is None:
            pool = None
            if isinstance(self.objective, TableObjective):  # the table is the pool: screen only its rows
                codec = ArchCodec(self.space)
                pool = [codec.parse(k) for k in self.objective.rows]
            fmt = self._codec.format if self._codec is not None else None
            rng = random.Random(f"prescreen:{self.config.seed}")

            def progress(i: int, total: int) -> None:
                if not self.config.quiet and (i == total or i % 100 == 0):
                    print(f"[{self.name}] prescreen {proxy}: {i}/{total}", file=sys.stderr, flush=True)

            result = zc.run_prescreen(
                self.space, proxy, n, rng, spec=self.batch_spec, seed=self.config.seed,
                pool=pool, fmt=fmt, progress=progress,
            )  # fmt: skip
            for r in result.rows:
                r["key"] = self.key_of(self.space.decode(r["choices"]), r["choices"])
            zc.write_prescreen(path, result)
        self.prescreen_result = result
        self.ledger.charge_cpu(result.cpu_s, "prescreen")
        col = zc.column(proxy)
        queued = [
            (f"prescreen#{r['rank']}", self.space.decode(r["choices"]), "prescreen", {col: r["score"]})
            for r in result.rows[:top]
        ]
        self.seed_points = queued + self.seed_points

    # ---- persistence
    def _write_config(self) -> None:
        path = self.dir / "config.json"
        sessions = []
        if path.exists():
            try:
                sessions = json.loads(path.read_text()).get("sessions", [])
            except (json.JSONDecodeError, OSError):
                sessions = []
        sessions = [s for s in sessions if s.get("session") != self.session]
        sessions.append(
            {
                "session": self.session,
                "started_at": _now(),
                "budget": self.config.budget,
                "executor": self.config.executor,
                "address": self.config.address,
                "argv": sys.argv[1:],
            }
        )
        d = {
            **self.config.to_dict(),
            "name": self.name,
            "objective": {**self.config.objective, **self.objective.config()},
            "space_description": {
                "name": getattr(self.space, "name", self.config.space),
                "size": _safe_size(self.space),
                "dimensions": {k: list(v) for k, v in self.space.choices().items()},
            },
            "profile": self.profile,
            "cost": self.cost,
            "sessions": sessions,
            "versions": _versions(),
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(d, indent=1, default=str) + "\n")
        tmp.replace(path)

    def _restore(self) -> tuple[float, int]:
        prior = 0.0
        session = 1
        lp = self.dir / "ledger.json"
        if lp.exists():
            d = json.loads(lp.read_text())
            prior = float(d.get("elapsed_s", 0.0))
            session = int(d.get("sessions", 1)) + 1
        try:  # a session killed before its first trial wrote no ledger, but it is in config.json
            previous = json.loads((self.dir / "config.json").read_text()).get("sessions", [])
            session = max([session, *(int(x["session"]) + 1 for x in previous)])
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError):
            pass
        collided = {r["key"].split("#")[0] for r in self.table.rows if "#" in (r["key"] or "")}
        for r in self.table.rows:
            self._book(r)
            if not r["key"]:
                continue
            if not r["cached"]:
                self.cache.setdefault(r["key"], r)
            if r["key"].split("#")[0] in collided and r["genotype"]:  # rebuild KeyIndex's collision classes
                from nas.core.genotype import from_json

                self.keys.key(from_json(r["genotype"]))
            if r["choices"] is not None:
                self._key_memo.setdefault(choice_key(r["choices"]), r["key"])
        state_path = self.dir / "strategy.json"
        observed = 0
        if self.strategy is not None and state_path.exists():
            st = json.loads(state_path.read_text())
            self.strategy.load_state_dict(st["state"])
            self.strategy.forget_pending()
            observed = int(st.get("observed", 0))
        for r in self.table.rows[observed:]:
            self._feed(r)
        self._observed = len(self.table.rows)
        return prior, session

    def flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_flush < FLUSH_EVERY_S:
            return
        self._last_flush = now
        self._tick()
        self.table.write_parquet()
        self.ledger.save(self.dir / "ledger.json", self.budget)
        if self.strategy is not None:
            st = {
                "strategy": self.strategy.name,
                "observed": self._observed,
                "state": self.strategy.state_dict(),
            }
            tmp = self.dir / "strategy.json.tmp"
            tmp.write_text(json.dumps(st) + "\n")
            tmp.replace(self.dir / "strategy.json")
        self._write_best()

    def _write_best(self) -> None:
        d: dict[str, Any] = {
            "run": self.name,
            "trials": self.ledger.trials,
            "failed": self.ledger.failed,
            "cached": self.ledger.cached,
            "stop_reason": self.stop_reason,
        }
        b = self.best_row
        if b is not None:
            g = json.loads(b["genotype"]) if b.get("genotype") else None
            d["best"] = {
                k: b.get(k)
                for k in (
                    "trial_id",
                    "score",
                    "key",
                    "arch",
                    "name",
                    "params",
                    "macs",
                    "choices",
                    "metrics",
                    "source",
                )
            }
            d["best"]["genotype"] = g
        cost = self.cost or ("macs" if self.profile else None)
        if cost:
            d["pareto_front"] = {
                "objectives": ["score (max)", f"{cost} (min)"],
                "points": pareto_front(self.table.rows, cost),
            }
        if self.strategy is not None:
            d.update(self.strategy.summary())
        tmp = self.dir / "best.json.tmp"
        tmp.write_text(json.dumps(d, indent=1, default=str) + "\n")
        tmp.replace(self.dir / "best.json")

    # ---- accounting
    def _tick(self) -> None:
        self.ledger.elapsed_s = self._elapsed0 + (time.monotonic() - self._t0)

    def _book(self, row: dict[str, Any]) -> None:
        self.ledger.add(
            row["wall_s"] or 0.0, row["cpus"] or 0.0, row["gpus"] or 0.0, row["status"], row["cached"]
        )
        if (
            row["status"] in ("ok", "stopped")
            and row["score"] is not None
            and (self.best_row is None or row["score"] > self.best_row["score"])
        ):
            self.best_row = row

    def _feed(self, row: dict[str, Any]) -> None:
        if self.strategy is None or row["choices"] is None:
            return
        score = row["score"] if row["status"] in ("ok", "stopped") else None
        costs = _costs(row)
        self.strategy.observe(row["choices"], score, costs)

    def _record(self, row: dict[str, Any]) -> None:
        row["session"] = self.session
        self.table.append(row)
        self._book(row)
        self._feed(row)
        self._observed = len(self.table.rows)
        if row["key"] and not row["cached"]:
            self.cache.setdefault(row["key"], row)
        self.flush()
        self.progress.update()

    # ---- candidates
    def key_of(self, genotype: Any, choices: Mapping[str, Any] | None) -> str:
        ck = choice_key(choices) if choices is not None else None
        if ck is not None and ck in self._key_memo:
            return self._key_memo[ck]
        key = self.keys.key(genotype)
        if ck is not None:
            self._key_memo[ck] = key
        return key

    def running_count(self, running: int) -> int:
        return running + sum(len(v) for v in self.waiting.values())

    def next_job(self, running: int = 0) -> Job | None:
        """The next trial to launch, or None when the search should launch no more (budget, exhausted grid,
        a strategy that only proposes evaluated candidates). Cached candidates are recorded on the way."""
        self._tick()
        while self.stop_reason is None:
            in_flight = self.running_count(running)
            if self.budget and not self.budget.allows_launch(
                self.ledger, in_flight, self.config.gpus_per_trial, self.config.cpus_per_trial
            ):
                self.stop_reason = f"budget {self.budget.text} reached"
                break
            source, name, known = "strategy", "", {}
            if self.seed_points:
                name, genotype, source, *rest = self.seed_points.pop(0)
                known = rest[0] if rest else {}
                choices = self.space.encode(genotype) if self.space.contains(genotype) else None
            elif self.strategy is not None:
                choices = self.strategy.propose()
                if choices is None:
                    self.stop_reason = "every point of the grid was proposed"
                    break
                try:
                    genotype = self.space.decode(choices)
                except (ValueError, TypeError, KeyError) as e:
                    self._record_failed_proposal(choices, e)
                    continue
            else:
                self.stop_reason = "every point was evaluated"
                break
            key = self.key_of(genotype, choices)
            arch = self.objective.lookup(self.space, choices, genotype)
            if arch is None and choices is not None and self._codec is not None:
                arch = self._codec.format(choices)
            job = Job(
                trial_id=self.next_id,
                key=key,
                genotype=genotype.to_json(separators=(",", ":")),
                choices=dict(choices) if choices is not None else None,
                arch=arch,
                source=source,
                seed=self.config.seed * 100_003 + self.next_id,
                profile=self.profile,
                cpus=self.config.cpus_per_trial,
                gpus=self.config.gpus_per_trial,
                zero_cost=list(self.zc_measure),
                zc_batch=asdict(self.batch_spec),
                zc_seed=self.config.seed,
                zc_known=dict(known),
            )
            self.next_id += 1
            job_name = name
            if key in self.cache:
                self._record_cached(job, self.cache[key], job_name, _now())
                self.dup_streak += 1
                if self.dup_streak >= self.config.max_duplicates:
                    self.stop_reason = (
                        f"the strategy proposed {self.dup_streak} evaluated candidates in a row (converged)"
                    )
                continue
            if key in self.inflight:
                self.waiting.setdefault(key, []).append((job, job_name, _now()))
                continue
            self.dup_streak = 0
            self.inflight[key] = job
            self._names[job.trial_id] = job_name
            self._started[job.trial_id] = _now()
            return job
        self.flush(force=True)
        return None

    def _row(self, job: Job, name: str) -> dict[str, Any]:
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

    def _record_cached(self, job: Job, original: Mapping[str, Any], name: str, started: float) -> None:
        row = self._row(job, name)
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
            finished_at=_now(),
        )
        self._record(row)

    def _record_failed_proposal(self, choices: Mapping[str, Any], e: Exception) -> None:
        row = {
            "trial_id": self.next_id,
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
            "error": f"decode: {type(e).__name__}: {e}",
            "metrics": None,
            "started_at": _now(),
            "finished_at": _now(),
        }
        self.next_id += 1
        self._record(row)

    def complete(self, job: Job, result: Result) -> None:
        """Record a finished (or failed, or early-stopped) trial and any duplicates waiting for it."""
        self._tick()
        status = result.status
        if status == "ok" and not result.final:
            status = "stopped"
        row = self._row(job, self._names.pop(job.trial_id, ""))
        # a tabular what-if run charges the training time it stands in for (TableObjective.cost_s)
        wall = float(result.wall_s) + float(result.metrics.get("simulated_s") or 0.0)
        gh, ch = wall * job.gpus / 3600.0, wall * job.cpus / 3600.0
        m = dict(result.metrics)
        row.update(
            status=status,
            cached=False,
            cached_from=None,
            score=result.score,
            params=_int_or_none(m.get("params")),
            macs=_int_or_none(m.get("macs")),
            wall_s=wall,
            gpu_hours=gh,
            cpu_hours=ch,
            device_hours=gh if job.gpus > 0 else ch,
            epochs=result.epochs,
            node_id=result.node_id,
            host=result.host,
            error=result.error,
            metrics=_clean_metrics(m),
            started_at=self._started.pop(job.trial_id, _now()),
            finished_at=_now(),
        )
        self._record(row)
        self.inflight.pop(job.key, None)
        for dup, dup_name, started in self.waiting.pop(job.key, []):
            self._record_cached(dup, row, dup_name, started)

    def abandon(self, job: Job, error: str) -> None:
        """A trial whose worker died: record it failed (its wall time is unknown: 0)."""
        self.complete(job, Result(status="failed", score=None, error=error, wall_s=0.0))

    def elapsed(self) -> float:
        self._tick()
        return self.ledger.elapsed_s

    def close(self) -> None:
        self._tick()
        self.flush(force=True)
        self.progress.close()

    def summary(self) -> dict[str, Any]:
        led = self.ledger
        b = self.best_row
        return {
            "run": str(self.dir),
            "trials": led.trials,
            "failed": led.failed,
            "cached": led.cached,
            "best": None
            if b is None
            else {
                "trial_id": b["trial_id"],
                "score": b["score"],
                "arch": b["arch"],
                "name": b["name"],
                "key": b["key"],
            },
            "budget": self.budget.describe(led) if self.budget else None,
            "gpu_hours": round(led.gpu_hours, 6),
            "cpu_hours": round(led.cpu_hours, 6),
            "elapsed_s": round(led.elapsed_s, 2),
            "stop_reason": self.stop_reason,
        }


class _NoSpace:
    """The 'space' of a baselines run: zoo points only, nothing to propose."""

    name = ""

    def choices(self) -> dict[str, tuple]:
        return {}

    def contains(self, genotype: Any) -> bool:
        return False

    def size(self) -> int:
        return 0


def _int_or_none(v: Any) -> int | None:
    try:
        return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else int(v)
    except (TypeError, ValueError):
        return None


def _clean_metrics(m: Mapping[str, Any]) -> dict[str, Any]:
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


def _safe_size(space: Any) -> int | None:
    try:
        return int(space.size())
    except Exception:  # noqa: BLE001
        return None


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for mod in ("torch", "ray", "optuna", "nas"):
        m = sys.modules.get(mod)
        if m is not None:
            out[mod] = getattr(m, "__version__", "?")
    return out


# --------------------------------------------------------------------------------------- entry point


def default_name(config: SearchConfig) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    what = config.strategy or "baselines"
    return f"{config.space}-{what}-{stamp}-{os.getpid() % 1000:03d}"


def open_search(config: SearchConfig, resume: str | Path | None = None, **kw: Any) -> Search:
    """Create ``runs/<name>/`` (or reopen one with ``resume``) and return its :class:`Search`."""
    if resume is not None:
        directory = Path(resume)
        if not (directory / "config.json").is_file():
            raise ValueError(f"{str(directory)!r} is not a run directory (no config.json)")
        return Search(config, directory, resume=True, **kw)
    name = config.name or default_name(config)
    if "/" in name or name in (".", ".."):
        raise ValueError(f"run name {name!r} must be a plain directory name (use --runs-dir for the parent)")
    directory = Path(config.runs_dir) / name
    if directory.exists() and any(directory.iterdir()):
        raise ValueError(
            f"run directory {str(directory)!r} already exists (continue it with --resume {directory}, "
            "or choose another --name)"
        )
    return Search(config, directory, **kw)


def load_config(directory: str | Path) -> SearchConfig:
    path = Path(directory) / "config.json"
    if not path.is_file():
        raise ValueError(f"{str(directory)!r} is not a run directory (no config.json)")
    return SearchConfig.from_dict(json.loads(path.read_text()))


def run_search(config: SearchConfig, resume: str | Path | None = None, **kw: Any) -> Search:
    """Run (or continue) a search to the end of its budget; returns the closed :class:`Search`."""
    from nas.search.executor import execute

    search = open_search(config, resume=resume, **kw)
    try:
        execute(search)
    finally:
        search.close()
    return search
