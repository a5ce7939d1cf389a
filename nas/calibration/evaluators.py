"""What a calibration scores with: proxy names, training presets and the evaluators that train them.

A proxy is either a zero-cost proxy of :mod:`nas.proxies` or a training preset of
:mod:`nas.train.presets`, optionally with overrides (``tiny:epochs=4,image_size=16``). A training
evaluator trains one architecture with a preset and returns its score and cost; a rung evaluator does
the same in one run scored after several epochs (multi-fidelity, for successive halving).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from nas import proxies as P
from nas.core.errors import ConfigError
from nas.data.datasets import load_dataset
from nas.tools.describe import describe
from nas.train.presets import PRESETS, Preset, apply_preset, get_preset
from nas.train.trainer import Trainer, train

DEFAULT_ZERO_COST = ("synflow", "naswot", "jacob_cov", "grad_norm", "snip", "params", "macs")

TrainingEvaluator = Callable[[Any, str, int], tuple[float, float, float]]
"""``(genotype, preset spec, seed) -> (score, cpu_s, wall_s)`` — a short training run's validation
accuracy plus the preset's size term (see :func:`training_evaluator`)."""

RungEvaluator = Callable[[Any, str, int, Sequence[int]], list[tuple[float, float, float]]]
"""``(genotype, preset spec, seed, epochs) -> [(score, cpu_s, wall_s) per epoch]``: one training run
of the preset, scored (:meth:`nas.train.presets.Preset.score`) after each of ``epochs`` (the last is the
preset's own ``epochs``); costs are cumulative from the start of the run (see :func:`rung_evaluator`)."""


# ------------------------------------------------------------------------------------ proxy names


def parse_preset_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``"tiny"`` or ``"tiny:epochs=4,image_size=16"`` → (preset name, overrides)."""
    name, _, rest = spec.partition(":")
    overrides: dict[str, str] = {}
    for item in filter(None, (t.strip() for t in rest.split(","))):
        k, eq, v = item.partition("=")
        if not eq or not k.strip():
            raise ValueError(f"preset override {item!r} in {spec!r} must be FIELD=VALUE")
        overrides[k.strip()] = v.strip()
    return name.strip(), overrides


def resolve_preset(spec: str) -> Preset:
    """A preset spec (see :func:`parse_preset_spec`) → :class:`nas.train.presets.Preset`."""
    name, overrides = parse_preset_spec(spec)
    return get_preset(name, **overrides)


def preset_info(spec: str) -> dict[str, Any]:
    """The resolved preset of ``spec`` as JSON-ready data (recorded with its results)."""
    return _jsonable(resolve_preset(spec).to_dict())


def split_proxies(names: Sequence[str]) -> tuple[list[str], list[str]]:
    """Proxy names → (zero-cost names, training preset specs); ``ConfigError`` for an unknown one.

    A training preset is a name of ``nas.train.presets.PRESETS``, optionally with overrides:
    ``tiny:epochs=4,image_size=16`` (see :func:`parse_preset_spec`)."""
    zero, train_specs = [], []
    for n in names:
        if n in P.PROXIES:
            zero.append(n)
            continue
        base, overrides = parse_preset_spec(n)
        if base in PRESETS:
            if overrides:
                resolve_preset(n)  # bad fields / values fail now, before any work
            train_specs.append(n)
            continue
        known = ", ".join(sorted(P.PROXIES) + sorted(PRESETS))
        raise ConfigError("proxies", f"unknown proxy {n!r}; zero-cost proxies and training presets: {known}")
    if not zero and not train_specs:
        raise ConfigError("proxies", "no proxies given")
    return zero, train_specs


def parse_proxy_list(text: str | Sequence[str]) -> list[str]:
    """``"synflow, tiny"`` (or a list) → the names; ``ConfigError`` when empty or a name repeats."""
    items = text.split(",") if isinstance(text, str) else list(text)
    names = [s.strip() for s in items if s.strip()]
    if not names:
        raise ConfigError("proxies", "no proxies given")
    if len(set(names)) != len(names):
        raise ConfigError("proxies", f"proxy listed twice in {', '.join(names)}")
    return names


def parse_rungs(text: str | Sequence[int]) -> list[int]:
    """``"1,2,3,4,6"`` (or a list of ints) → sorted distinct positive epochs; ``ConfigError`` otherwise."""
    items = [t.strip() for t in text.split(",")] if isinstance(text, str) else list(text)
    rungs = []
    for t in items:
        try:
            r = int(t)
        except (TypeError, ValueError):
            raise ConfigError("rungs", f"{t!r} is not an epoch number (expected e.g. 1,2,3,4,6)") from None
        if isinstance(t, float | bool) or r < 1:
            raise ConfigError("rungs", f"epochs must be positive integers, got {t!r}")
        rungs.append(r)
    if not rungs:
        raise ConfigError("rungs", "no epochs given (expected e.g. 1,2,3,4,6)")
    if len(set(rungs)) != len(rungs):
        raise ConfigError("rungs", f"epoch listed twice in {', '.join(map(str, rungs))}")
    return sorted(rungs)


def rung_schedule(spec: str, rungs: Sequence[int]) -> list[int]:
    """The epochs at which training preset ``spec`` is scored: ``rungs`` plus the preset's final epoch
    (its learning-rate schedule is the full preset's, as ASHA sees it); a rung past the end is an error."""
    epochs = int(resolve_preset(spec).epochs)
    rs = parse_rungs(rungs)
    late = [r for r in rs if r > epochs]
    if late:
        raise ConfigError("rungs", f"rung {late[0]} is past the end of preset {spec!r} ({epochs} epochs)")
    if epochs < 1:
        raise ConfigError("rungs", f"preset {spec!r} trains 0 epochs: nothing to score per rung")
    return rs if rs[-1] == epochs else [*rs, epochs]


# ------------------------------------------------------------------------------------- evaluators


class _PresetData:
    """The data sets of a run of evaluations, loaded once per distinct data options of the presets."""

    def __init__(self, data: str | Path | None, dataset: str) -> None:
        self.data, self.dataset = data, dataset
        self._loaded: dict[str, Any] = {}

    def get(self, spec: str, preset: Preset, *, need_val: bool = True) -> Any:
        opts = preset.data_options()
        if need_val and not opts.get("val_size"):
            raise ValueError(f"preset {spec!r} has no validation split (val_size=0): it cannot rank")
        key = json.dumps(opts, sort_keys=True, default=str)
        if key not in self._loaded:
            self._loaded[key] = load_dataset(self.dataset, data_dir=self.data, **opts)
        return self._loaded[key]


def training_evaluator(
    data: str | Path | None, *, dataset: str = "cifar10", eval_val: bool = True, device: str | None = None
) -> TrainingEvaluator:
    """A :data:`TrainingEvaluator`: shrink the genotype by the preset
    (``nas.train.presets.apply_preset``), train it with ``nas.train.trainer.train`` on ``dataset``
    from ``data`` (split and subset by the preset, the
    data set loaded once per distinct data options) and score it by validation top-1 plus the preset's
    size term (:meth:`nas.train.presets.Preset.score`). The cost is the training's process CPU time (data
    loading is shared by all candidates and not charged); on a ``device`` such as ``cuda`` the wall
    time is the device-seconds per candidate."""
    datasets = _PresetData(data, dataset)

    def run(genotype: Any, spec: str, seed: int) -> tuple[float, float, float]:
        preset = resolve_preset(spec)
        ds = datasets.get(spec, preset, need_val=eval_val)
        net = apply_preset(genotype, preset)
        cfg = dataclasses.replace(preset.train_config(), seed=seed, evaluate_test=False)
        t0, w0 = time.process_time(), time.perf_counter()
        params = _params(genotype, preset)
        result = train(net, ds, cfg, device=device, tensorboard=False)
        score = preset.score(result["val_top1"], params)
        return score, time.process_time() - t0, time.perf_counter() - w0

    return run


def rung_evaluator(
    data: str | Path | None, *, dataset: str = "cifar10", device: str | None = None
) -> RungEvaluator:
    """A :data:`RungEvaluator`: like :func:`training_evaluator`, but one run per architecture scored
    after each requested epoch. Validation runs only at those epochs (the in-loop evaluation only at
    the end), through a trainer callback, so the training trajectory is the plain preset's: the
    evaluation uses no RNG and leaves the model in training mode."""
    datasets = _PresetData(data, dataset)

    def run(genotype: Any, spec: str, seed: int, epochs: Sequence[int]) -> list[tuple[float, float, float]]:
        preset = resolve_preset(spec)
        schedule = rung_schedule(spec, epochs)
        ds = datasets.get(spec, preset)
        net = apply_preset(genotype, preset)
        cfg = dataclasses.replace(
            preset.train_config(), seed=seed, evaluate_test=False, eval_every=max(1, preset.epochs)
        )
        out: list[tuple[float, float, float]] = []
        t0, w0 = time.process_time(), time.perf_counter()
        params = _params(genotype, preset)

        def at_epoch(trainer: Any, rec: Mapping[str, Any]) -> None:
            if rec["epoch"] in schedule and rec["epoch"] < preset.epochs:
                v = trainer.evaluate("val")
                score = preset.score(v["top1"], params)
                out.append((score, time.process_time() - t0, time.perf_counter() - w0))

        trainer = Trainer(net, ds, cfg, device=device, callbacks=[at_epoch], tensorboard=False)
        result = trainer.fit()
        score = preset.score(result["val_top1"], params)
        out.append((score, time.process_time() - t0, time.perf_counter() - w0))
        return out

    return run


def _params(genotype: Any, preset: Preset) -> int:
    """Parameters of the architecture as sampled (not the shrunk proxy), for the preset's size term;
    counted only when the preset has one."""
    if not preset.params_weight:
        return 0
    return int(describe(genotype)["params"])


def _jsonable(obj: Any) -> Any:
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(dataclasses.asdict(obj))
    return str(obj)
