"""A trained supernet on disk: a directory holding the trainer's ``checkpoint.pt`` (tensors, optimizer and
RNG states, loaded with ``weights_only=True``), ``metrics.csv`` and ``supernet.json``, which says how to
rebuild it: the method, the space and its options, the training config and the data options (so scoring
reads the same held-out validation split the supernet never trained on).

``supernet.json``::

    {"format": "nas.supernet/1", "method": "spos", "space": "nb201", "space_options": {"C": 16, "N": 1},
     "train": {TrainConfig fields}, "data": {"dataset": "cifar10", "data": "...", "val_size": 5000, ...}}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from nas.core.errors import ConfigError
from nas.core.registry import SPACES
from nas.data.datasets import load_dataset
from nas.oneshot.bilevel import METHODS, MixedSupernet, bilevel_trainer
from nas.oneshot.enas import enas_options, enas_trainer
from nas.oneshot.spos import UniformPath, spos_trainer
from nas.oneshot.supernet import Supernet
from nas.search.durable import read_json, write_json
from nas.train.config import TrainConfig
from nas.train.trainer import Trainer

META = "supernet.json"
FORMAT = "nas.supernet/1"
ALL_METHODS = ("spos", "enas", *METHODS)
# Training defaults per method (the papers' CIFAR search settings, ENAS's weights trained as SPOS's;
# ``--set`` overrides any field).
METHOD_DEFAULTS: dict[str, dict[str, Any]] = {
    "spos": {"epochs": 50, "batch_size": 64, "lr": 0.05, "weight_decay": 5e-4, "evaluate_test": False},
    "enas": {"epochs": 50, "batch_size": 64, "lr": 0.05, "weight_decay": 5e-4, "evaluate_test": False},
    "darts": {
        "epochs": 50, "batch_size": 64, "lr": 0.025, "min_lr": 0.001, "weight_decay": 3e-4, "grad_clip": 5.0,
        "evaluate_test": False,
    },
    "gdas": {
        "epochs": 50, "batch_size": 64, "lr": 0.025, "min_lr": 0.001, "weight_decay": 3e-4, "grad_clip": 5.0,
        "evaluate_test": False,
    },
}  # fmt: skip
# The validation split: members are scored on it (SPOS, ENAS) and ENAS's controller learns on it; the
# architecture steps train on it (DARTS, GDAS).
DEFAULT_VAL_SIZE: dict[str, float] = {"spos": 0.1, "enas": 0.1, "darts": 0.5, "gdas": 0.5}
DATA_FIELDS = ("dataset", "data", "val_size", "train_subset", "test_subset", "split_seed", "num_classes")


@dataclass(frozen=True)
class SupernetRun:
    """What ``supernet.json`` records (see the module docstring)."""

    method: str
    space: str
    space_options: dict[str, Any]
    train: dict[str, Any]
    data: dict[str, Any]
    method_options: dict[str, Any] = field(default_factory=dict)  # enas: controller_steps, controller

    def __post_init__(self) -> None:
        if self.method not in ALL_METHODS:
            raise ConfigError("method", f"must be one of {', '.join(ALL_METHODS)}, got {self.method!r}")
        if self.method == "enas":  # stored with every default: resuming with one said explicitly matches
            space = SPACES[self.space](**self.space_options)
            object.__setattr__(self, "method_options", enas_options(self.method_options, space))
        elif self.method_options:
            raise ConfigError(
                "method_options", f"method {self.method!r} takes none, got {self.method_options!r}"
            )
        unknown = sorted(set(self.data) - set(DATA_FIELDS))
        if unknown or "dataset" not in self.data:
            raise ConfigError("data", f"data options need 'dataset' and only {DATA_FIELDS}, got {unknown}")
        self.config()  # a bad training field fails here, before anything is written

    def config(self) -> TrainConfig:
        unknown = sorted(set(self.train) - {f.name for f in fields(TrainConfig)})
        if unknown:
            raise ConfigError("set", f"unknown training field(s) {', '.join(map(repr, unknown))}")
        return TrainConfig(**self.train)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, **{f.name: getattr(self, f.name) for f in fields(self)}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str) -> SupernetRun:
        if d.get("format") != FORMAT:
            raise ValueError(f"{where} is not a supernet description ({FORMAT})")
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})  # method_options: later


def write_meta(directory: str | Path, run: SupernetRun) -> None:
    """Write ``supernet.json`` (fsynced rename); a directory holding another run's is an error."""
    path = Path(directory) / META
    if path.is_file():
        old = read_meta(directory)
        if old != run:
            field, was, now = _first_difference(old.to_dict(), run.to_dict())
            raise ConfigError(
                field,
                f"{directory} holds a supernet trained with {field}={was!r}, not {now!r} "
                "(use a new directory)",
            )
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, run.to_dict())


def _first_difference(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[str, Any, Any]:
    """The first key (dotted into nested dicts: ``train.lr``) whose values differ, and both values."""
    for k in [*a, *(k for k in b if k not in a)]:
        x, y = a.get(k), b.get(k)
        if isinstance(x, Mapping) and isinstance(y, Mapping) and x != y:
            sub, was, now = _first_difference(x, y)
            return f"{k}.{sub}", was, now
        if x != y:
            return k, x, y
    raise ValueError("no difference")


def read_meta(directory: str | Path) -> SupernetRun:
    path = Path(directory) / META
    if not path.is_file():
        raise ConfigError("supernet", f"{directory} holds no trained supernet (no {META})")
    return SupernetRun.from_dict(read_json(path), str(path))


def load_data(run: SupernetRun) -> Any:
    """The data set the supernet trains on (train split) and is scored on (validation split)."""
    opts = dict(run.data)
    return load_dataset(opts.pop("dataset"), opts.pop("data", None), **opts)


def open_trainer(
    directory: str | Path, run: SupernetRun, data: Any, *, device: str | torch.device | None = None, **kw: Any
) -> Trainer:
    """The trainer of the run in ``directory`` (resumed from its checkpoint when there is one)."""
    cfg = run.config()
    common: dict[str, Any] = {"out_dir": directory, "resume": True, "device": device, **kw}
    if run.method == "enas":
        return enas_trainer(
            run.space, data, cfg, space_options=run.space_options, method_options=run.method_options, **common
        )
    if run.method == "spos":
        return spos_trainer(lambda: Supernet(run.space, **run.space_options), data, cfg, **common)
    return bilevel_trainer(run.space, data, cfg, method=run.method, space_options=run.space_options, **common)


def trained_supernet(trainer: Trainer) -> Supernet:
    """The supernet inside a SPOS or bilevel trainer's model."""
    model = trainer.model
    if isinstance(model, UniformPath | MixedSupernet):
        return model.supernet
    raise TypeError(f"not a supernet trainer: its model is a {type(model).__name__}")
