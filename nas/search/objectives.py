"""What a trial measures: a tabular benchmark lookup, a proxy training run, or a synthetic score.

An objective is a small picklable object with two halves:

* driver side, ``lookup(space, choices, genotype)`` returns the table key of a candidate (the NB201 arch
  string for tables; ``None`` for objectives that train the genotype itself);
* worker side, ``evaluate(job, report)`` returns a metrics dict with ``"score"`` (higher is better; for
  training the validation accuracy plus the preset's size term, see ``Preset.score``) and may call
  ``report({"epoch": k, "score": s})`` after each epoch (ASHA early stopping reads these).

:func:`run_job` wraps ``evaluate``: it times the trial, records where it ran, measures params and MACs
when asked, and turns an exception, a NaN score or an out-of-memory error into a ``failed`` result
instead of letting it stop the search.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

Report = Callable[[dict[str, Any]], None]
#: a search's training proxy unless --preset says otherwise (see benchmarks/results/CALIBRATION.md)
DEFAULT_PRESET = "rank"


@dataclass
class Job:
    """One trial as shipped to a worker (plain data: picklable, JSON-able)."""

    trial_id: int
    key: str
    genotype: str  # genotype JSON
    choices: dict[str, Any] | None = None
    arch: str | None = None  # table key (e.g. the NB201 arch string)
    source: str = "strategy"  # strategy | seed | baseline
    seed: int = 0
    profile: bool = False  # measure params and MACs
    cpus: float = 1.0
    gpus: float = 0.0
    zero_cost: list[str] = field(default_factory=list)  # proxies recorded as zc_<name> metrics
    zc_batch: dict[str, Any] | None = None  # nas.search.zero_cost.BatchSpec fields
    zc_seed: int = 0  # weight seed of the zero-cost scores (one for the whole run: comparable)
    zc_known: dict[str, float] = field(default_factory=dict)  # zc_<name> already measured (pre-screen)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Objective:
    kind = "base"
    #: the objective trains for several epochs and reports after each (ASHA can act on it)
    reports_epochs = False

    def lookup(self, space: Any, choices: Mapping[str, Any] | None, genotype: Any) -> str | None:
        return None

    def evaluate(self, job: Job, report: Report) -> dict[str, Any]:
        raise NotImplementedError

    def profile_shape(self) -> tuple[int | None, int | None]:
        """(input size, classes) at which params and MACs are measured (None: the genotype's)."""
        return None, None

    def provides(self) -> set[str]:
        """Metrics every successful trial reports besides ``score``."""
        return set()

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind}


# -------------------------------------------------------------------------------------- arch strings


class ArchCodec:
    """Table arch entry ⇄ choices for a space: the space's ``parse_arch`` / ``arch_string`` methods, or its
    module's ``parse_arch_string`` (text → choices) and ``arch_string`` (choices → text) functions (the
    NB201 convention); spaces without them use the choices dict written as JSON."""

    def __init__(self, space: Any) -> None:
        self.space = space
        module = sys.modules.get(type(space).__module__)
        self._parse = getattr(module, "parse_arch_string", None)
        self._format = getattr(module, "arch_string", None)
        self.native = callable(self._parse) and callable(self._format)

    def parse(self, text: str) -> dict[str, Any]:
        if self.native:
            choices = self._parse(text)
        else:
            try:
                choices = json.loads(text)
            except (json.JSONDecodeError, TypeError):
                raise ValueError(f"{text!r} is not a JSON choice dict") from None
            if not isinstance(choices, dict):
                raise ValueError(f"{text!r} is not a JSON choice dict")
        return self.space.check(choices)

    def format(self, choices: Mapping[str, Any]) -> str:
        if self.native:
            return self._format(choices)
        return json.dumps({k: choices[k] for k in self.space.choices()}, separators=(",", ":"))


class TableObjective(Objective):
    """A NAS-Bench-201-style table: ``--table FILE.csv --arch-column COL --metric-column COL``.

    Every arch string must be a member of the space (``ValueError`` naming the row otherwise); the score of a
    candidate is its row's metric (other numeric columns are reported as extra metrics). A candidate whose
    arch string is not in the table, or whose metric is empty, fails.

    ``cost_s``: seconds of device time each looked-up trial is charged as if it had been trained (the
    ``simulated_s`` metric; the run's ledger and budget count it), for what-if studies of budgeted
    searches — e.g. a pre-screen against training every candidate — on a tabular benchmark.
    """

    kind = "table"

    def __init__(
        self, path: str | Path, arch_column: str, metric_column: str, space: Any, cost_s: float = 0.0
    ) -> None:
        import pandas as pd

        if not cost_s >= 0:
            raise ValueError(f"--table-cost-s must be >= 0 seconds, got {cost_s!r}")
        self.cost_s = float(cost_s)
        self.path = Path(path)
        if not self.path.is_file():
            raise ValueError(f"table {str(self.path)!r} does not exist")
        try:
            df = pd.read_csv(self.path)
        except Exception as e:  # noqa: BLE001 - any parse failure is a user error here
            raise ValueError(f"table {str(self.path)!r} cannot be read as CSV: {e}") from None
        cols = list(df.columns)
        for what, col in (("arch", arch_column), ("metric", metric_column)):
            if col not in cols:
                raise ValueError(
                    f"table {self.path.name!r} has no {what} column {col!r} "
                    f"(columns: {', '.join(map(str, cols))})"
                )
        self.arch_column, self.metric_column = arch_column, metric_column
        codec = ArchCodec(space)
        numeric = [c for c in cols if c != arch_column and pd.api.types.is_numeric_dtype(df[c])]
        if metric_column not in numeric:
            raise ValueError(f"table {self.path.name!r}: metric column {metric_column!r} is not numeric")
        self.rows: dict[str, dict[str, float]] = {}
        records = df[[arch_column, *numeric]].to_dict("records")
        for i, rec in enumerate(records):
            raw = rec[arch_column]
            try:
                key = codec.format(codec.parse(raw if isinstance(raw, str) else str(raw)))
            except (ValueError, TypeError, KeyError) as e:
                raise ValueError(
                    f"table {self.path.name!r} row {i + 2}: arch {raw!r} is outside space "
                    f"{getattr(space, 'name', '?')!r}: {e}"
                ) from None
            if key in self.rows:
                raise ValueError(f"table {self.path.name!r} row {i + 2}: arch {raw!r} appears twice")
            self.rows[key] = {c: float(rec[c]) for c in numeric}
        self.columns = numeric
        if not self.rows:
            raise ValueError(f"table {self.path.name!r} has no rows")
        self._codec = codec

    def lookup(self, space: Any, choices: Mapping[str, Any] | None, genotype: Any) -> str | None:
        if choices is None:
            return None
        return self._codec.format(choices)

    def provides(self) -> set[str]:
        return set(self.columns)

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


class SyntheticObjective(Objective):
    """A deterministic, smooth pseudo-accuracy of the choices (no data, no training): each (dimension,
    option) pair adds a fixed pseudo-random amount, so one mutation changes the score a little. For
    benchmarking the framework and the strategies. ``sleep`` seconds per trial simulate work; with
    ``epochs`` > 0 the trial reports a learning curve that rises to the score (for ASHA)."""

    kind = "synthetic"

    def __init__(self, seed: int = 0, sleep: float = 0.0, epochs: int = 0) -> None:
        self.seed = int(seed)
        self.sleep = float(sleep)
        self.epochs = int(epochs)
        self.reports_epochs = self.epochs > 0

    def _u(self, *parts: Any) -> float:
        h = hashlib.blake2b(json.dumps([self.seed, *parts]).encode(), digest_size=8).digest()
        return int.from_bytes(h, "little") / 2**64

    def score(self, job: Job) -> float:
        if job.choices is None:
            return 50.0 + 40.0 * self._u("key", job.key)
        items = sorted(job.choices.items())
        return 50.0 + 40.0 * sum(self._u(k, v) for k, v in items) / max(1, len(items))

    def evaluate(self, job: Job, report: Report) -> dict[str, Any]:
        final = self.score(job)
        for e in range(1, self.epochs + 1):
            if self.sleep:
                time.sleep(self.sleep / self.epochs)
            report({"epoch": e, "score": final - (final - 10.0) * 0.5**e})
        if self.sleep and not self.epochs:
            time.sleep(self.sleep)
        return {"score": final}

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "seed": self.seed, "sleep": self.sleep, "epochs": self.epochs}


class TrainObjective(Objective):
    """Proxy training with ``nas.train.trainer``: the candidate is shrunk to a fidelity preset's
    ``cells`` / ``width`` (:func:`nas.train.presets.apply_preset`), trained on the preset's training
    subset and ranked by its accuracy
    on the validation split carved from the training set (never the test set), plus the preset's size
    term (:meth:`nas.train.presets.Preset.score`; ``val_top1`` keeps the bare accuracy); the score is
    reported after every epoch for ASHA. ``params`` / ``macs`` are those of the architecture as searched
    (at the data set's resolution and classes); the proxy network's are ``proxy_params`` / ``proxy_macs``.
    Loaded data sets are kept per worker process, so a reused Ray actor loads them once."""

    kind = "train"
    reports_epochs = True

    def __init__(
        self,
        dataset: str = "cifar10",
        data: str | None = None,
        preset: str = DEFAULT_PRESET,
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        try:
            from nas.train.presets import get_preset
        except ImportError as e:  # pragma: no cover - the trainer is part of the package
            raise ValueError(f"the training objective needs nas.train ({e})") from None
        self.dataset = dataset
        self.data = str(Path(data).expanduser().resolve()) if data else None
        if self.data and not Path(self.data).exists():
            raise ValueError(f"data path {self.data!r} does not exist")
        self.preset = preset
        self.overrides = dict(overrides or {})
        p = get_preset(preset, **self.overrides)  # unknown preset / field: ValueError
        if not p.val_size:
            raise ValueError(
                f"preset {preset!r} has no validation split (val_size=0): search ranks candidates on "
                "validation accuracy; pass --train-opt val_size=5000 or use a search preset "
                "(tiny, small, medium)"
            )
        self.epochs = p.epochs

    def provides(self) -> set[str]:
        return {"params", "macs", "val_top1"}

    def _load(self, preset: Any) -> Any:
        from nas.data.datasets import load_dataset

        key = (self.dataset, self.data, json.dumps(preset.data_options(), sort_keys=True))
        data = _DATASETS.get(key)
        if data is None:
            data = load_dataset(self.dataset, self.data, **preset.data_options())
            _DATASETS.clear()  # one data set per worker at a time
            _DATASETS[key] = data
        return data

    def evaluate(self, job: Job, report: Report) -> dict[str, Any]:
        from nas.core.genotype import from_json
        from nas.tools.describe import describe
        from nas.train.presets import apply_preset, get_preset
        from nas.train.trainer import Trainer, fit_genotype

        preset = get_preset(self.preset, **{**self.overrides, "seed": job.seed, "evaluate_test": False})
        data = self._load(preset)
        net = fit_genotype(
            from_json(job.genotype), data.num_classes, data.image_size, aux=preset.aux_weight > 0
        )
        full = describe(net.replace(aux=()))
        proxy = apply_preset(net, preset)
        params = int(full["params"])

        # [epoch, score] at each evaluation, the scores ASHA saw: per-rung calibration (nas report)
        curve: list[list[float]] = []

        def on_epoch(_trainer: Any, rec: Mapping[str, Any]) -> None:
            if rec.get("val_top1") is not None:
                score = preset.score(rec["val_top1"], params)
                curve.append([int(rec["epoch"]), score])
                report({"epoch": int(rec["epoch"]), "score": score, "train_loss": rec.get("train_loss")})

        trainer = Trainer(
            proxy, data, preset.train_config(), callbacks=[on_epoch], progress=False, tensorboard=False
        )
        r = trainer.fit()
        out = {
            k: r.get(k)
            for k in (
                "val_top1",
                "val_top5",
                "val_loss",
                "train_top1",
                "train_loss",
                "epochs",
                "train_seconds",
                "images_per_second",
                "peak_memory_mb",
                "device",
            )
        }
        out.update(
            score=None if r.get("val_top1") is None else preset.score(r["val_top1"], params),
            params=params,
            macs=int(full["macs"]),
            proxy_params=r.get("params"),
            proxy_macs=r.get("macs"),
            preset=self.preset,
            curve=curve,
        )
        return out

    def config(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "dataset": self.dataset,
            "data": self.data,
            "preset": self.preset,
            "train_overrides": self.overrides,
            "epochs": self.epochs,
        }


_DATASETS: dict[tuple, Any] = {}


def make_objective(kind: str, space: Any, **kw: Any) -> Objective:
    if kind == "table":
        missing = [
            f"--{k.replace('_', '-')}" for k in ("table", "arch_column", "metric_column") if not kw.get(k)
        ]
        if missing:
            raise ValueError(f"--objective table needs {', '.join(missing)}")
        return TableObjective(
            kw["table"], kw["arch_column"], kw["metric_column"], space, cost_s=kw.get("cost_s") or 0.0
        )
    if kind == "synthetic":
        return SyntheticObjective(sleep=kw.get("sleep") or 0.0, epochs=kw.get("epochs") or 0)
    if kind == "train":
        return TrainObjective(
            dataset=kw.get("dataset") or "cifar10",
            data=kw.get("data"),
            preset=kw.get("preset") or DEFAULT_PRESET,
            overrides=kw.get("train_overrides"),
        )
    if kind == "zero-cost":
        from nas.search.zero_cost import BatchSpec, ZeroCostObjective

        spec = BatchSpec(
            kw.get("dataset") or "cifar10",
            kw.get("data"),
            int(kw.get("batch_size") or 64),
            int(kw.get("seed") or 0),
        )
        return ZeroCostObjective(kw.get("proxy") or "", spec, seed=int(kw.get("seed") or 0))
    raise ValueError(f"unknown objective {kind!r} (choose from train, table, zero-cost:PROXY, synthetic)")


# ------------------------------------------------------------------------------------------- running


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_oom(e: BaseException) -> bool:
    if isinstance(e, MemoryError):
        return True
    try:
        import torch

        if isinstance(e, torch.OutOfMemoryError):
            return True
    except (ImportError, AttributeError):
        pass
    return "out of memory" in str(e).lower()


@dataclass
class Result:
    status: str  # ok | failed | stopped
    score: float | None
    metrics: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0
    error: str = ""
    node_id: str = ""
    host: str = ""
    epochs: int = 0
    final: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Result:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def _profile(genotype_json: str, objective: Objective) -> dict[str, Any]:
    from nas.core.genotype import from_json
    from nas.tools.describe import describe

    g = from_json(genotype_json)
    size, classes = objective.profile_shape()
    d = describe(g, input_size=size, num_classes=classes)
    return {"params": int(d["params"]), "macs": int(d["macs"])}


def _zero_cost(job: Job, metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The trial's ``zc_<proxy>`` columns; a proxy that fails leaves its column empty (the trial stands)."""
    from nas.search.zero_cost import BatchSpec, column, zero_cost_metrics

    known = {**job.zc_known, **{k: v for k, v in metrics.items() if k.startswith("zc_")}}
    todo = [n for n in job.zero_cost if column(n) not in known]
    out: dict[str, Any] = dict(known)
    if todo:
        spec = BatchSpec(**job.zc_batch) if job.zc_batch else None
        try:
            out.update(zero_cost_metrics(job.genotype, todo, spec, job.zc_seed))
        except Exception as e:  # noqa: BLE001 - a proxy's failure must not discard a trained result
            out["zc_error"] = _one_line(f"{type(e).__name__}: {e}")
    return out


def run_job(
    objective: Objective, job: Job, report: Report | None = None, node_id: str = "", under_tune: bool = False
) -> Result:
    """Evaluate one job; never raises for a failing trial (the result says ``failed``).

    ``under_tune``: Ray Tune stops a trial (ASHA) by raising ``SystemExit`` from its next report; that one
    is let through so the trial ends at once."""
    host = socket.gethostname()
    t0 = time.perf_counter()
    epochs = 0

    def on_epoch(metrics: dict[str, Any]) -> None:
        nonlocal epochs
        epochs = int(metrics.get("epoch", epochs + 1))
        if report is not None:
            report({**metrics, "wall_s": time.perf_counter() - t0})

    try:
        metrics = dict(objective.evaluate(job, on_epoch))
        score = metrics.get("score")
        if score is None or not isinstance(score, int | float) or not math.isfinite(float(score)):
            raise FloatingPointError(f"objective returned a non-finite score ({score!r})")
        if job.profile and not {"params", "macs"} <= set(metrics):
            metrics.update(_profile(job.genotype, objective))
        if job.zero_cost:
            metrics.update(_zero_cost(job, metrics))
        status, error, score = "ok", "", float(score)
    except KeyboardInterrupt:
        raise
    except SystemExit:
        if under_tune:
            raise
        e = RuntimeError("the objective called sys.exit()")
        status, score, metrics, error = "failed", None, {}, _one_line(f"{type(e).__name__}: {e}")
    except BaseException as e:  # noqa: BLE001 - a failing trial must not stop the search
        kind = "out of memory: " if _is_oom(e) else ""
        status, score, metrics = "failed", None, {}
        error = _one_line(f"{kind}{type(e).__name__}: {e}")
        if os.environ.get("NAS_TRIAL_TRACEBACK"):
            traceback.print_exc()
    return Result(
        status=status,
        score=score,
        metrics=metrics,
        wall_s=time.perf_counter() - t0,
        error=error,
        node_id=node_id or f"local:{host}",
        host=host,
        epochs=epochs,
    )
