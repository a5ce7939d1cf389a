"""The settings of a search run, with the only defaults (the ``nas search`` CLI reads them from here).

:class:`SearchConfig` is what ``config.json`` records; :class:`ObjectiveConfig` (one dataclass per
objective kind) is its ``objective`` field. Both are validated when they are made: a bad value raises
:class:`~nas.core.errors.ConfigError` naming the field (``train_top``, ``objective.cost_s``, …), which the
CLI turns into the flag that sets it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch

from nas.core.errors import ConfigError
from nas.core.registry import Registry
from nas.search.budget import Budget
from nas.search.prescreen import PrescreenPlan
from nas.search.selection_plan import DEFAULT_SELECT, SelectionPlan
from nas.search.zero_cost import check_proxy
from nas.train.presets import PRESETS, get_preset

#: a search's training proxy (see benchmarks/results/CALIBRATION.md)
DEFAULT_PRESET = "rank"
DEFAULT_STRATEGY = "evolution"
DEFAULT_DATASET = "cifar10"
#: the zoo networks ``nas baselines`` evaluates unless told otherwise
DEFAULT_BASELINES = ("resnet20", "resnet56", "densenet_bc", "vgg11_cifar")
EXECUTORS = ("ray", "inline")
EARLY_STOPPING = ("asha",)
KINDS = ("search", "baselines")


# ------------------------------------------------------------------------------------------ objectives


#: kind → config class (:func:`objective_config` registers one)
OBJECTIVE_CONFIGS: Registry[type[ObjectiveConfig]] = Registry("objective kind")
ConfigT = TypeVar("ConfigT", bound="type[ObjectiveConfig]")


def objective_config(cls: ConfigT) -> ConfigT:
    """Class decorator: ``cls`` holds the fields of objective kind ``cls.kind``."""
    OBJECTIVE_CONFIGS.add(cls.kind, cls)
    return cls


@dataclass(frozen=True)
class ObjectiveConfig:
    """What a trial measures; subclasses hold one kind's fields. Make one with :meth:`from_dict` (a
    ``{"kind": …, field: value}`` dict, e.g. ``config.json``'s) or :func:`parse_objective`
    (``"zero-cost:synflow"``)."""

    kind: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ObjectiveConfig:
        """The config of ``d["kind"]`` (default: train) from ``d``'s fields. Keys that are no field of
        that kind are ignored: ``config.json`` also records what the objective reported about itself
        (a table's ``rows``, a preset's ``epochs``). ``None`` values take the field's default."""
        kind = d.get("kind") or TrainObjectiveConfig.kind
        if kind not in OBJECTIVE_CONFIGS:
            raise ConfigError("objective", f"unknown kind {kind!r} (choose from {_kinds()})")
        sub = OBJECTIVE_CONFIGS[kind]
        names = {f.name for f in fields(sub)}
        return sub(**{k: v for k, v in d.items() if k in names and v is not None})

    def for_early_stopping(self) -> ObjectiveConfig:
        """This config as an early-stopping scheduler needs it (per-epoch scores where that is a setting)."""
        return self


@objective_config
@dataclass(frozen=True)
class TrainObjectiveConfig(ObjectiveConfig):
    """Proxy training: ``preset`` (a :mod:`nas.train.presets` name) with ``train_overrides`` applied, on
    ``dataset`` read from ``data`` (a path; None: the data set's default location or download)."""

    kind: ClassVar[str] = "train"
    dataset: str = DEFAULT_DATASET
    data: str | None = None
    preset: str = DEFAULT_PRESET
    train_overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", _resolved(self.data, "objective.data"))
        object.__setattr__(self, "train_overrides", dict(self.train_overrides))
        if self.preset not in PRESETS:
            raise ConfigError(
                "objective.preset", f"unknown preset {self.preset!r}; choose one of {', '.join(PRESETS)}"
            )
        try:
            p = get_preset(self.preset, **self.train_overrides)
        except ValueError as e:
            raise ConfigError("objective.train_overrides", str(e)) from None
        if not p.val_size:
            raise ConfigError(
                "objective.train_overrides",
                f"preset {self.preset!r} has no validation split (val_size=0): search ranks candidates on "
                "validation accuracy; set val_size=5000 or use a search preset (tiny, small, medium)",
            )

    def for_early_stopping(self) -> TrainObjectiveConfig:
        # ASHA acts on per-epoch scores: evaluate every epoch unless told otherwise
        return replace(self, train_overrides={"eval_every": 1, **self.train_overrides})


@objective_config
@dataclass(frozen=True)
class TableObjectiveConfig(ObjectiveConfig):
    """A tabular benchmark: CSV ``table`` whose ``arch_column`` holds arch strings of the space and whose
    ``metric_column`` is the score; ``cost_s`` seconds of simulated device time are charged per trial."""

    kind: ClassVar[str] = "table"
    table: str | None = None
    arch_column: str = "arch"
    metric_column: str | None = None
    cost_s: float = 0.0

    def __post_init__(self) -> None:
        for name in ("table", "arch_column", "metric_column"):
            if not getattr(self, name):
                raise ConfigError(f"objective.{name}", "is required by the table objective")
        object.__setattr__(self, "table", _resolved(self.table, "objective.table", must_exist=False))
        if not (isinstance(self.cost_s, int | float) and math.isfinite(self.cost_s) and self.cost_s >= 0):
            raise ConfigError("objective.cost_s", f"must be >= 0 seconds, got {self.cost_s!r}")
        object.__setattr__(self, "cost_s", float(self.cost_s))


@objective_config
@dataclass(frozen=True)
class ZeroCostObjectiveConfig(ObjectiveConfig):
    """A zero-cost proxy's score of the untrained candidate; proxies that read images take their
    minibatch from ``dataset`` / ``data``."""

    kind: ClassVar[str] = "zero-cost"
    proxy: str = ""
    dataset: str = DEFAULT_DATASET
    data: str | None = None

    def __post_init__(self) -> None:
        if not self.proxy:
            raise ConfigError(
                "objective.proxy", "is required: the zero-cost objective needs a proxy name (e.g. synflow)"
            )
        check_proxy(self.proxy, "objective.proxy")
        object.__setattr__(self, "data", _resolved(self.data, "objective.data", must_exist=False))


@objective_config
@dataclass(frozen=True)
class SyntheticObjectiveConfig(ObjectiveConfig):
    """A deterministic pseudo-accuracy of the choices (benchmarks the framework): ``sleep`` seconds per
    trial, and with ``epochs`` > 0 a learning curve reported per epoch."""

    kind: ClassVar[str] = "synthetic"
    sleep: float = 0.0
    epochs: int = 0
    noise: float = 0.0

    def __post_init__(self) -> None:
        if not (isinstance(self.sleep, int | float) and self.sleep >= 0):
            raise ConfigError("objective.sleep", f"must be >= 0 seconds, got {self.sleep!r}")
        if not (isinstance(self.noise, int | float) and math.isfinite(self.noise) and self.noise >= 0):
            raise ConfigError("objective.noise", f"must be a standard deviation >= 0, got {self.noise!r}")
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 0:
            raise ConfigError("objective.epochs", f"must be an integer >= 0, got {self.epochs!r}")


#: the faults :class:`FaultyObjectiveConfig` can inject, each at a rate per trial
FAULTS = ("raise", "nan", "oom", "hang", "exit")
_DETERMINISTIC_FAULTS = ("raise", "nan")


@objective_config
@dataclass(frozen=True)
class FaultyObjectiveConfig(SyntheticObjectiveConfig):
    """The synthetic objective with injected faults (tests and users exercising failure handling):
    ``rates`` maps each of :data:`FAULTS` to the fraction of trials that suffer it — ``raise`` and ``nan``
    per candidate (deterministic errors), ``oom``, ``hang`` (sleep ``hang_s`` seconds) and ``exit`` (the
    worker process exits) per attempt (transient: a retry may succeed)."""

    kind: ClassVar[str] = "faulty"
    rates: dict[str, float] = field(default_factory=dict)
    hang_s: float = 3600.0

    def __post_init__(self) -> None:
        super().__post_init__()
        rates = dict(self.rates)
        for name, rate in rates.items():
            if name not in FAULTS:
                raise ConfigError(
                    "objective", f"faulty: unknown fault {name!r} (choose from {', '.join(FAULTS)})"
                )
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
                raise ConfigError("objective", f"faulty: rate {name}={rate!r} must be a number in [0, 1]")
        for group in (_DETERMINISTIC_FAULTS, tuple(f for f in FAULTS if f not in _DETERMINISTIC_FAULTS)):
            if sum(rates.get(f, 0.0) for f in group) > 1:
                raise ConfigError(
                    "objective", f"faulty: the rates of {'+'.join(group)} add up to more than 1"
                )
        if not (isinstance(self.hang_s, int | float) and math.isfinite(self.hang_s) and self.hang_s >= 0):
            raise ConfigError("objective", f"faulty: hang_s must be >= 0 seconds, got {self.hang_s!r}")
        object.__setattr__(self, "rates", {f: float(rates[f]) for f in FAULTS if rates.get(f)})
        object.__setattr__(self, "hang_s", float(self.hang_s))

    @staticmethod
    def parse(spec: str) -> dict[str, Any]:
        """``"raise=0.1,nan=0.05,hang_s=30"`` → the fields it sets (``rates`` and ``hang_s``)."""
        out: dict[str, Any] = {}
        rates: dict[str, float] = {}
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            name, eq, value = part.partition("=")
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if not eq or not math.isfinite(number):
                raise ConfigError("objective", f"faulty: expected NAME=NUMBER, got {part!r}")
            if name.strip() == "hang_s":
                out["hang_s"] = number
            else:
                rates[name.strip()] = number
        return {**out, "rates": rates}


def _kinds() -> str:
    names = {ZeroCostObjectiveConfig.kind: "zero-cost:PROXY", FaultyObjectiveConfig.kind: "faulty:RATES"}
    return ", ".join(names.get(k, k) for k in OBJECTIVE_CONFIGS)


def parse_objective(text: str | None, **fields_: Any) -> ObjectiveConfig:
    """``"train"``, ``"table"``, ``"synthetic"``, ``"zero-cost:PROXY"`` or ``"faulty:RATES"`` (None: train)
    plus field values
    → the objective's config. Fields that the kind does not have are ignored (a command line passes all
    it has), ``None`` values take the defaults."""
    kind, _, proxy = (text or TrainObjectiveConfig.kind).partition(":")
    if kind not in OBJECTIVE_CONFIGS:
        raise ConfigError("objective", f"unknown kind {text!r} (choose from {_kinds()})")
    if kind == ZeroCostObjectiveConfig.kind:
        fields_ = {**fields_, "proxy": proxy}
    elif kind == FaultyObjectiveConfig.kind:
        fields_ = {**fields_, **FaultyObjectiveConfig.parse(proxy)}
    elif proxy:
        raise ConfigError("objective", f"kind {kind!r} takes no ':{proxy}'")
    return ObjectiveConfig.from_dict({**fields_, "kind": kind})


def _resolved(path: str | Path | None, name: str, must_exist: bool = True) -> str | None:
    if not path:
        return None
    p = Path(path).expanduser().resolve()
    if must_exist and not p.exists():
        raise ConfigError(name, f"path {str(p)!r} does not exist")
    return str(p)


# ------------------------------------------------------------------------------------------------ runs


def default_gpus() -> float:
    """One GPU per trial when one is visible, else none."""
    return 1.0 if torch.cuda.is_available() else 0.0


def check_gpus(gpus_per_trial: float, address: str | None) -> None:
    """GPUs per trial need a GPU: on this machine, or in the cluster at ``address`` (Ray checks there)."""
    if gpus_per_trial > 0 and address is None and not torch.cuda.is_available():
        raise ConfigError(
            "gpus_per_trial",
            f"trials ask for {gpus_per_trial:g} GPU but this machine has no CUDA device "
            "(give 0, or the --address of a cluster with GPUs)",
        )


@dataclass
class SearchConfig:
    """A search run's configuration; the defaults are those of ``nas search`` without flags.

    ``objective`` may be given as a dict (``{"kind": "table", "table": …}``); it is made an
    :class:`ObjectiveConfig`. ``gpus_per_trial`` None becomes :func:`default_gpus`."""

    space: str = "nb201"
    space_options: dict[str, Any] = field(default_factory=dict)
    strategy: str | None = DEFAULT_STRATEGY  # None: evaluate the seed points only (``nas baselines``)
    strategy_options: dict[str, Any] = field(default_factory=dict)
    budget: str | None = None
    objective: ObjectiveConfig = field(default_factory=TrainObjectiveConfig)
    executor: str = "ray"
    address: str | None = None
    num_cpus: int | None = None  # local Ray only
    name: str | None = None
    runs_dir: str = "runs"
    seed: int = 0
    seed_with: list[str] = field(default_factory=list)  # points of the space, evaluated first and fed
    baseline: list[str] = field(default_factory=list)  # evaluated as they are, never fed to the strategy
    cpus_per_trial: float = 1.0
    gpus_per_trial: float | None = None
    concurrency: int | None = None  # None: as many trials as the resources allow
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
    max_retries: int = 2  # retries of a trial that failed transiently (out of memory, worker lost, timeout)
    trial_timeout: float | None = None  # seconds: a trial running longer fails transiently (None: no limit)
    max_failures: int = 5  # trials in a row failing with the same error that stop the run (0: never)
    select: str | None = None  # the selection stage's plan; None: on for training objectives, else off

    def __post_init__(self) -> None:
        if isinstance(self.objective, Mapping):
            self.objective = ObjectiveConfig.from_dict(self.objective)
        if self.gpus_per_trial is None:
            self.gpus_per_trial = default_gpus()
        self.validate()

    def validate(self) -> None:
        """Check every field (also after fields were changed, e.g. a resumed run's new budget)."""
        if not isinstance(self.objective, ObjectiveConfig):
            raise ConfigError("objective", f"must be an ObjectiveConfig or a dict, got {self.objective!r}")
        for name, choices in (("executor", EXECUTORS), ("kind", KINDS)):
            if getattr(self, name) not in choices:
                raise ConfigError(name, f"unknown {getattr(self, name)!r} (choose from {', '.join(choices)})")
        if self.early_stop is not None and self.early_stop not in EARLY_STOPPING:
            raise ConfigError("early_stop", f"unknown {self.early_stop!r} (choose from asha)")
        if self.early_stop and self.executor != "ray":
            raise ConfigError("early_stop", "needs the ray executor")
        for name in ("cpus_per_trial", "gpus_per_trial"):
            if not getattr(self, name) >= 0:
                raise ConfigError(name, f"must be >= 0, got {getattr(self, name)!r}")
        check_gpus(self.gpus_per_trial, self.address)
        if (
            isinstance(self.max_retries, bool)
            or not isinstance(self.max_retries, int)
            or self.max_retries < 0
        ):
            raise ConfigError("max_retries", f"must be an integer >= 0, got {self.max_retries!r}")
        k = self.max_failures
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ConfigError("max_failures", f"must be an integer >= 0 (0: never stop), got {k!r}")
        t = self.trial_timeout
        if t is not None and not (isinstance(t, int | float) and math.isfinite(t) and t > 0):
            raise ConfigError("trial_timeout", f"must be > 0 seconds, got {t!r}")
        if self.concurrency is not None and self.concurrency < 1:
            raise ConfigError("concurrency", f"must be >= 1, got {self.concurrency!r}")
        if self.budget:
            Budget.parse(self.budget).check_resources(self.cpus_per_trial, self.gpus_per_trial)
        for name in self.zero_cost:
            check_proxy(name, "zero_cost")
        if self.select is not None and not isinstance(self.select, str):
            raise ConfigError(
                "select", f"must be a plan such as {DEFAULT_SELECT!r} or 'off', got {self.select!r}"
            )
        _ = self.selection_plan  # parses and checks the plan
        if self.train_top is not None and not self.prescreen:
            raise ConfigError("train_top", "needs prescreen (PROXY:N)")
        if self.prescreen:
            if not self.space:
                raise ConfigError("prescreen", "needs a search space to sample from")
            PrescreenPlan.parse(self.prescreen, self.train_top)

    @property
    def selection_plan(self) -> SelectionPlan | None:
        """The selection stage's plan (None: no selection). By default on only for a training search with
        the preset the default plan was tuned on (``rank``; a ``tiny`` smoke test gets none), and not for a
        grid, whose points are its output (``nas scale``)."""
        training = isinstance(self.objective, TrainObjectiveConfig)
        if self.kind != "search" or not self.strategy:
            return None
        base = self.objective.preset if training else None  # type: ignore[attr-defined]
        if self.select is None and (base != DEFAULT_PRESET or self.strategy == "grid"):
            return None
        plan = SelectionPlan.parse(self.select if self.select is not None else DEFAULT_SELECT, base)
        if plan is not None and not training and any(r.preset for r in plan.rungs):
            raise ConfigError(
                "select", f"rungs at another preset need a training objective, not {self.objective.kind!r}"
            )
        return plan

    @property
    def prescreen_plan(self) -> PrescreenPlan | None:
        return PrescreenPlan.parse(self.prescreen, self.train_top) if self.prescreen else None

    def objective_for_run(self) -> ObjectiveConfig:
        """The objective as this run evaluates it (per-epoch scores under early stopping)."""
        return self.objective.for_early_stopping() if self.early_stop else self.objective

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["objective"] = self.objective.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SearchConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


__all__ = [
    "DEFAULT_BASELINES",
    "DEFAULT_DATASET",
    "DEFAULT_PRESET",
    "DEFAULT_STRATEGY",
    "EARLY_STOPPING",
    "EXECUTORS",
    "FAULTS",
    "OBJECTIVE_CONFIGS",
    "FaultyObjectiveConfig",
    "ObjectiveConfig",
    "SearchConfig",
    "SyntheticObjectiveConfig",
    "TableObjectiveConfig",
    "TrainObjectiveConfig",
    "ZeroCostObjectiveConfig",
    "default_gpus",
    "objective_config",
    "parse_objective",
]
