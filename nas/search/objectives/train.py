"""The training objective: a short proxy training run of each candidate, scored on validation accuracy."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from nas.core.genotype import Network, from_json
from nas.core.space import SearchSpace
from nas.data.datasets import load_dataset
from nas.search.config import TrainObjectiveConfig
from nas.search.objectives.base import Job, Objective, Report, RunContext, register_objective
from nas.tools.describe import describe
from nas.train.presets import Preset, apply_preset, get_preset
from nas.train.trainer import Trainer, fit_genotype

#: the data set last loaded in this worker process (a reused Ray actor loads it once)
_DATASETS: dict[tuple, Any] = {}


@register_objective
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

    @classmethod
    def from_config(cls, config: TrainObjectiveConfig, space: SearchSpace, context: RunContext) -> Objective:
        return cls(config, as_built=space.trains_as_built)

    def __init__(self, config: TrainObjectiveConfig | None = None, *, as_built: bool = False) -> None:
        """``as_built``: train each candidate at its own input resolution and without the preset's
        cells / width (:attr:`nas.core.space.SearchSpace.trains_as_built`)."""
        config = config or TrainObjectiveConfig()  # validated: the preset exists and has a validation split
        self.as_built = as_built
        self.dataset = config.dataset
        self.data = config.data
        self.preset = config.preset
        self.overrides = dict(config.train_overrides)
        self.epochs = get_preset(self.preset, **self.overrides).epochs

    def provides(self) -> set[str]:
        return {"params", "macs", "val_top1"}

    def _load(self, preset: Preset) -> Any:
        key = (self.dataset, self.data, json.dumps(preset.data_options(), sort_keys=True))
        data = _DATASETS.get(key)
        if data is None:
            data = load_dataset(self.dataset, self.data, **preset.data_options())
            _DATASETS.clear()  # one data set per worker at a time
            _DATASETS[key] = data
        return data

    def prepare(self) -> None:
        """Load the data set as the first trial will (downloaded, decoded and cached on disk once; an
        inline run's trials reuse it in memory)."""
        self._load(get_preset(self.preset, **{**self.overrides, "evaluate_test": False}))

    def evaluate(self, job: Job, report: Report) -> dict[str, Any]:
        genotype = from_json(job.genotype)
        built: dict[str, Any] = {}
        if self.as_built and isinstance(genotype, Network):
            built = {"image_size": genotype.input_size[1], "cells": None, "width": None}
        name = (job.fidelity or {}).get("preset") or self.preset
        overrides = self.overrides if name == self.preset else {}  # a selection rung: the preset as it is
        preset = get_preset(name, **{**overrides, **built, "seed": job.seed, "evaluate_test": False})
        data = self._load(preset)
        net = fit_genotype(genotype, data.num_classes, data.image_size, aux=preset.aux_weight > 0)
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
            preset=name,
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
            **({"as_built": True} if self.as_built else {}),
        }
