"""Proxy calibration: how well does a cheap score rank architectures the way full training does?

:func:`run_calibration` samples architectures (seeded) from a ground-truth table (an arch column and an
accuracy column, e.g. the NAS-Bench-201 200-epoch CIFAR-10 test accuracy), scores each with every
requested proxy — zero-cost proxies from :mod:`nas.proxies` on a minibatch of real images, or training
presets from :mod:`nas.train.presets` (:mod:`nas.calibration.evaluators`) — and returns a
:class:`~nas.calibration.results.Calibration`: per proxy, Spearman ρ, Kendall τ, top-10 % precision and
the CPU-seconds per candidate. Its options are one :class:`CalibrationConfig`, validated when built;
:func:`calibrate` is the keyword shorthand. :mod:`nas.calibration.outputs` writes the CSV, JSON and plot.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nas import proxies as P
from nas.calibration.evaluators import (
    DEFAULT_ZERO_COST,
    RungEvaluator,
    TrainingEvaluator,
    parse_proxy_list,
    parse_rungs,
    preset_info,
    resolve_preset,
    rung_evaluator,
    rung_schedule,
    split_proxies,
    training_evaluator,
)
from nas.calibration.journal import Journal
from nas.calibration.pool import evaluate_parallel
from nas.calibration.results import Calibration, ProxyResult, ensemble, parse_ensemble
from nas.core.archcodec import ArchCodec
from nas.core.errors import ConfigError
from nas.core.space import SearchSpace, get_space
from nas.data.batch import load_image_batch
from nas.stats import finite_or_worst, rho_so_far, spearman
from nas.train.threads import torch_threads
from nas.truth import DEFAULT_ARCH_COLUMN, DEFAULT_TARGET_COLUMN, load_truth, sample_rows

Batch = tuple[torch.Tensor, torch.Tensor]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class ExternalScorer:
    """A proxy this package does not build: ``score(arch text)`` (the truth table's notation) returns
    ``(score, cpu_s, wall_s)``; e.g. a trained supernet's inherited weights (:mod:`nas.calibration.supernet`).
    ``info`` (what it is, what it cost to make) is recorded with its result."""

    score: Callable[[str], tuple[float, float, float]]
    kind: str = "weight-sharing"
    info: Mapping[str, Any] = field(default_factory=dict)


def repeat_name(spec: str, k: int) -> str:
    """The result name of training preset ``spec``'s repeat ``k`` (0-based): ``rank``, ``rank#2``, …"""
    return spec if k == 0 else f"{spec}#{k + 1}"


def mean_name(spec: str, repeats: int) -> str:
    """The result name of the mean over ``repeats`` seeds of training preset ``spec``: ``rank*3``."""
    return f"{spec}*{repeats}"


# ------------------------------------------------------------------------------------------- options


@dataclass(frozen=True)
class CalibrationConfig:
    """Every option of a calibration, checked once when built (``ConfigError`` names the field).

    ``truth``: the ground-truth CSV, its ``arch_column`` read by the space's arch codec and its
    ``target_column`` the accuracy to rank against; ``sample`` rows of it are drawn with ``seed`` (which
    also seeds the minibatch and the network weights). ``proxies``: zero-cost proxy names and training
    preset specs (``tiny:epochs=4``). ``data``: the images — an ImageFolder ``.tar[.gz]`` or folder for
    the zero-cost minibatch of ``batch_size``, and ``dataset``'s files for training presets (``None``:
    none; a data-dependent proxy then needs a batch given to :func:`run_calibration`).
    ``threads``: ``torch.set_num_threads`` during the run, so CPU-seconds are comparable (0/None: leave).

    ``ensembles``: rank ensembles of proxies in the list, ``"synflow+tiny"`` = the mean of their
    rank-normalised scores, costing the sum of their costs.

    ``rungs`` (multi-fidelity, e.g. ``(1, 2, 3, 4, 6)``): each training preset is trained once per
    architecture and scored after each rung epoch and at its last epoch, giving one result per rung
    named ``"<preset>@<epoch>"`` whose cost is the CPU time up to and including that evaluation. An
    ensemble naming the preset uses its last rung. :func:`nas.calibration.halving.halving_report`
    simulates successive halving on them.

    ``journal``: a file (:mod:`nas.calibration.journal`) that records each finished training evaluation;
    with ``resume`` an existing journal of the same run is replayed instead of retrained.

    ``repeats`` > 1 trains every training preset that many times per architecture, with weight and
    batch-order seeds ``seed``, ``seed + 1``, …: the first is reported under the preset's name, the
    others as ``PRESET#2``, ``PRESET#3`` …, and their mean score as ``PRESET*N`` (its cost the sum), the
    seed-averaged preset a selection rung of N seeds uses. Ensembles may name any of them.

    ``external``: names of :class:`ExternalScorer` proxies handed to :func:`run_calibration` (such as
    ``supernet:DIR``); they are scored after the others, and ensembles may name them.

    ``workers`` > 1 trains the candidates in that many worker processes (:mod:`nas.calibration.pool`;
    ``threads`` each) with the built-in trainer; scores and per-candidate CPU-seconds are those of one
    worker. ``device``: where training presets train (``None``/``"auto"``: CUDA when available).
    """

    truth: Path
    space: SearchSpace | str = "nb201"
    proxies: tuple[str, ...] = DEFAULT_ZERO_COST
    arch_column: str = DEFAULT_ARCH_COLUMN
    target_column: str = DEFAULT_TARGET_COLUMN
    sample: int = 100
    seed: int = 0
    data: Path | None = None
    dataset: str = "cifar10"
    batch_size: int = 64
    threads: int | None = 1
    ensembles: tuple[str, ...] = ()
    rungs: tuple[int, ...] | None = None
    device: str | None = None
    journal: Path | None = None
    resume: bool = False
    workers: int = 1
    repeats: int = 1
    external: tuple[str, ...] = ()
    # derived from the above when built:
    zero_cost: tuple[str, ...] = field(init=False)
    training: tuple[str, ...] = field(init=False)
    runs: tuple[tuple[str, str, int], ...] = field(init=False)  # (result name, preset spec, seed)
    ensemble_members: tuple[tuple[str, ...], ...] = field(init=False)
    schedules: Mapping[str, list[int]] = field(init=False)

    def __post_init__(self) -> None:
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise ValueError(f"workers must be a positive integer, got {self.workers!r}")
        for name, least in (("sample", 2), ("batch_size", 1), ("threads", 0), ("repeats", 1)):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < least):
                raise ConfigError(name, f"must be an integer of at least {least}, got {v!r}")
        only_external = not self.proxies and self.external  # e.g. a supernet alone
        proxies = () if only_external else tuple(parse_proxy_list(list(self.proxies)))
        zero, train = ([], []) if only_external else split_proxies(proxies)
        runs = tuple((repeat_name(n, k), n, self.seed + k) for n in train for k in range(self.repeats))
        derived = [r for r, _, _ in runs] + [mean_name(n, self.repeats) for n in train if self.repeats > 1]
        external = tuple(self.external)
        if clash := sorted((set(external) & set(proxies)) | {n for n in external if external.count(n) > 1}):
            raise ConfigError("external", f"{', '.join(map(repr, clash))} is named twice")
        members = tuple(tuple(parse_ensemble(e, [*proxies, *derived, *external])) for e in self.ensembles)
        rungs = None if self.rungs is None else tuple(parse_rungs(self.rungs))
        if rungs is not None and not train:
            raise ConfigError("rungs", "need a training preset to score per epoch (e.g. 'rank')")
        if rungs is not None and self.repeats > 1:
            raise ConfigError("repeats", "rungs and repeats do not combine: calibrate one at a time")
        schedules = {n: rung_schedule(n, rungs) for n in train} if rungs is not None else {}
        paths = {k: None if getattr(self, k) is None else Path(getattr(self, k)) for k in ("data", "journal")}
        self._set(
            truth=Path(self.truth), proxies=proxies, ensembles=tuple(self.ensembles), rungs=rungs, **paths
        )
        self._set(external=external)
        self._set(zero_cost=tuple(zero), training=tuple(train), runs=runs)
        self._set(ensemble_members=members, schedules=schedules)

    def _set(self, **values: Any) -> None:
        for k, v in values.items():
            object.__setattr__(self, k, v)

    def journal_key(self, space: SearchSpace) -> dict[str, Any]:
        """What a journal must agree on to be resumed: the sample, the presets, the data and device."""
        return {
            "space": space.name, "truth": str(self.truth), "arch_column": self.arch_column,
            "target_column": self.target_column, "sample": self.sample, "seed": self.seed,
            "data": str(self.data) if self.data is not None else None, "device": _device_name(self.device),
            "presets": {n: resolve_preset(n).to_dict() for n in self.training},
            "rungs": dict(self.schedules) or None,
            **({"dataset": self.dataset} if self.dataset != "cifar10" else {}),  # older journals lack it
        }  # fmt: skip


# ---------------------------------------------------------------------------------------------- run


def calibrate(
    space: SearchSpace | str,
    proxies: Sequence[str],
    truth: str | Path,
    *,
    batch: Batch | None = None,
    trainer: TrainingEvaluator | RungEvaluator | None = None,
    external: Mapping[str, ExternalScorer] | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> Calibration:
    """``run_calibration(CalibrationConfig(truth, space, proxies, **options), ...)``: score a seeded
    sample of the truth table with every proxy and ``external`` scorer (see :class:`CalibrationConfig`
    for the options)."""
    names = tuple(external or {})
    config = CalibrationConfig(Path(truth), space, tuple(proxies), external=names, **options)
    return run_calibration(config, batch=batch, trainer=trainer, external=external, progress=progress)


def run_calibration(
    config: CalibrationConfig,
    *,
    batch: Batch | None = None,
    trainer: TrainingEvaluator | RungEvaluator | None = None,
    external: Mapping[str, ExternalScorer] | None = None,
    progress: Progress | None = None,
) -> Calibration:
    """Score the sample of ``config`` with every proxy.

    Zero-cost proxies share one network per architecture (weights seeded by ``seed``) and one minibatch
    (``batch``, else ``batch_size`` images from ``data``); each proxy's cost is its own CPU time plus
    the network build. Training presets run through ``trainer`` (default:
    :func:`~nas.calibration.evaluators.training_evaluator`, or with rungs a
    :data:`~nas.calibration.evaluators.RungEvaluator`, default
    :func:`~nas.calibration.evaluators.rung_evaluator`, on ``dataset`` from ``data``). ``progress``
    receives one line per finished candidate. ``external`` holds the scorer of every name in
    ``config.external``."""
    if config.workers > 1 and trainer is not None:
        raise ConfigError("workers", "more than one runs the built-in trainer; a custom trainer runs here")
    external = dict(external or {})
    if set(external) != set(config.external):
        raise ConfigError("external", f"scorers {sorted(external)} do not match {sorted(config.external)}")
    space = get_space(config.space)
    sample = _Sample.draw(config, space)
    log = None
    if config.journal is not None and config.training:
        log = Journal(config.journal, config.journal_key(space), resume=config.resume)
        if progress and len(log):
            progress(f"resuming: {len(log)} training evaluations from {config.journal}")
    old_threads = torch.get_num_threads()
    with torch_threads(config.threads):
        batch = _proxy_batch(config, space, sample, batch)
        scored = _score_zero_cost(config, sample, batch, progress)
        scored.update(_score_training(config, sample, trainer, log, progress))
        scored.update({n: [_score_external(n, external[n], sample, progress)] for n in config.external})
    last = {r.name: r for results in scored.values() for r in results}
    last.update({n: results[-1] for n, results in scored.items() if n in config.proxies})
    return Calibration(
        space=space.name,
        truth_path=str(config.truth),
        target_column=config.target_column,
        seed=config.seed,
        archs=list(sample.archs),
        truth=list(sample.truths),
        results=[r for n in (*config.proxies, *config.external) for r in scored[n]]
        + [ensemble(e, [last[n] for n in m]) for e, m in zip(config.ensembles, config.ensemble_members)],
        settings=_settings(config, batch, config.threads or old_threads),
    )


@dataclass
class _Sample:
    """The sampled rows of the truth table and their genotypes, in sample order."""

    archs: list[str]
    truths: list[float]
    genotypes: list[Any]

    @classmethod
    def draw(cls, config: CalibrationConfig, space: SearchSpace) -> _Sample:
        rows = sample_rows(
            load_truth(config.truth, config.arch_column, config.target_column), config.sample, config.seed
        )
        parse = ArchCodec(space, json_fallback=False).genotype
        genotypes = []
        for a, _ in rows:
            try:
                genotypes.append(parse(a))
            except ValueError as e:
                raise ValueError(
                    f"ground-truth arch {a!r} is not a member of space {space.name!r}: {e}"
                ) from None
        return cls([a for a, _ in rows], [t for _, t in rows], genotypes)

    @cached_property
    def arch_of(self) -> dict[Any, str]:
        return dict(zip(self.genotypes, self.archs))


def _proxy_batch(
    config: CalibrationConfig, space: SearchSpace, sample: _Sample, batch: Batch | None
) -> Batch:
    """The zero-cost proxies' minibatch: ``batch``, else images from ``config.data`` when a proxy needs
    data, else two zero images (for proxies that only need the input shape)."""
    if batch is None and any(P.PROXIES[z].needs_data for z in config.zero_cost):
        if config.data is None:
            raise ConfigError("data", "zero-cost proxies need images: give a data path or a batch")
        size = getattr(space, "layout", {}).get("input_size")
        batch = load_image_batch(config.data, config.batch_size, seed=config.seed, size=size)
    if batch is None:
        size = sample.genotypes[0].input_size
        batch = (torch.zeros((2, *size)), torch.zeros(2, dtype=torch.long))
    return batch


def _score_zero_cost(
    config: CalibrationConfig, sample: _Sample, batch: Batch, progress: Progress | None
) -> dict[str, list[ProxyResult]]:
    zero = list(config.zero_cost)
    results = {n: ProxyResult(n, "zero-cost", [], [], []) for n in zero}
    if zero:  # warm-up, untimed: plugin imports and first-call overheads are not per-candidate costs
        P.build_scored(sample.genotypes[0], zero, batch, seed=config.seed)
    for i, g in enumerate(sample.genotypes):
        scored = P.build_scored(g, zero, batch, seed=config.seed) if zero else {}
        for n, r in scored.items():
            results[n].scores.append(r["score"])
            results[n].cpu_s.append(r["cpu_s"])
            results[n].wall_s.append(r["wall_s"])
        if progress:
            progress(f"[{i + 1}/{len(sample.genotypes)}] {sample.archs[i]}")
    return {n: [r] for n, r in results.items()}


def _score_external(
    name: str, scorer: ExternalScorer, sample: _Sample, progress: Progress | None
) -> ProxyResult:
    res = ProxyResult(name, scorer.kind, [], [], [], info=dict(scorer.info))
    for i, a in enumerate(sample.archs):
        s, c, w = scorer.score(a)
        res.scores.append(float(s))
        res.cpu_s.append(float(c))
        res.wall_s.append(float(w))
        if progress:
            so_far = rho_so_far(res.scores, sample.truths)
            progress(f"[{name} {i + 1}/{len(sample.archs)}] score={s:.4f} cpu={c:.2f}s{so_far}")
    return res


def _score_training(
    config: CalibrationConfig,
    sample: _Sample,
    trainer: TrainingEvaluator | RungEvaluator | None,
    log: Journal | None,
    progress: Progress | None,
) -> dict[str, list[ProxyResult]]:
    """Every training preset's results (one per rung with rungs), trained in this process or, with
    workers, in the pool first; the journal answers what it holds."""
    if not config.training:
        return {}
    done: dict[tuple[str, str], Any] = {}  # with workers: every training result, journaled or new
    if config.workers > 1:
        _train_parallel(config, sample, done, log, progress)
        progress = None  # the workers reported every result as it came
    opts = dict(dataset=config.dataset, device=config.device)
    run: Any = trainer or (rung_evaluator if config.rungs is not None else training_evaluator)(
        config.data, **opts
    )
    run = _named(run, {name: spec for name, spec, _ in config.runs})
    if log is not None:
        run = log.wrap(run, sample.arch_of)
    run = _answer_from(done, run, sample.arch_of)
    if config.rungs is not None:
        return {
            n: _score_rungs(n, config.schedules[n], sample, run, config.seed, trainer is None, progress)
            for n in config.training
        }
    out: dict[str, list[ProxyResult]] = {n: [] for n in config.training}
    for name, spec, seed in config.runs:
        out[spec].append(_score_plain(name, sample, run, seed, progress))
        if trainer is None and name == spec:
            out[spec][-1].info["preset"] = preset_info(spec)
    if config.repeats > 1:
        for spec, results in out.items():
            for k, r in enumerate(results):
                r.info.update(repeat=k + 1, seed=config.seed + k)
            results.append(seed_mean(mean_name(spec, config.repeats), results))
    return out


def _named(run: Callable[..., Any], spec_of: Mapping[str, str]) -> Callable[..., Any]:
    """``run`` called with a result name (what the journal keys by: ``rank#2``) that trains its preset
    spec (``rank``)."""
    if all(name == spec for name, spec in spec_of.items()):
        return run
    return lambda genotype, name, seed, *rest: run(genotype, spec_of[name], seed, *rest)


def seed_mean(name: str, repeats: Sequence[ProxyResult]) -> ProxyResult:
    """The mean score over ``repeats`` (one training preset, several seeds) and its summed cost; its
    info holds the Spearman ρ between the repeats (the score's test-retest reliability)."""
    scores = [float(np.mean(x)) for x in zip(*(r.scores for r in repeats), strict=True)]
    pairs = [(a, b) for i, a in enumerate(repeats) for b in repeats[i + 1 :]]
    retest = [spearman(finite_or_worst(a.scores), finite_or_worst(b.scores)) for a, b in pairs]
    return ProxyResult(
        name,
        "training",
        scores,
        [float(sum(c)) for c in zip(*(r.cpu_s for r in repeats))],
        [float(sum(w)) for w in zip(*(r.wall_s for r in repeats))],
        info={"mean_of": [r.name for r in repeats], "repeat_spearman": round(float(np.mean(retest)), 4)},
    )


def _score_plain(
    name: str, sample: _Sample, run: TrainingEvaluator, seed: int, progress: Progress | None
) -> ProxyResult:
    """Training result ``name`` (a preset, or one repeat of it): one run per genotype with ``seed``."""
    res = ProxyResult(name, "training", [], [], [])
    for i, g in enumerate(sample.genotypes):
        s, c, w = run(g, name, seed)
        res.scores.append(s)
        res.cpu_s.append(c)
        res.wall_s.append(w)
        if progress:
            so_far = rho_so_far(res.scores, sample.truths)
            progress(f"[{name} {i + 1}/{len(sample.genotypes)}] acc={s:.4f} cpu={c:.1f}s{so_far}")
    return res


def _score_rungs(
    spec: str,
    schedule: list[int],
    sample: _Sample,
    run: RungEvaluator,
    seed: int,
    built_in: bool,
    progress: Progress | None,
) -> list[ProxyResult]:
    """One result per rung of ``schedule`` for training preset ``spec`` (one run per genotype)."""
    final = schedule[-1]
    out = [
        ProxyResult(f"{spec}@{r}", "training", [], [], [], info={"rung_of": spec, "rung": r, "epochs": final})
        for r in schedule
    ]
    if built_in:  # the resolved preset, once (on the final rung)
        out[-1].info["preset"] = preset_info(spec)
    for i, g in enumerate(sample.genotypes):
        scored = list(run(g, spec, seed, schedule))
        if len(scored) != len(schedule):
            raise ValueError(
                f"the rung trainer returned {len(scored)} scores for {spec!r}, expected one per epoch "
                f"of {schedule}"
            )
        for res, (s, c, w) in zip(out, scored):
            res.scores.append(float(s))
            res.cpu_s.append(float(c))
            res.wall_s.append(float(w))
        if progress:
            accs = " ".join(f"@{r}={s:.2f}" for r, (s, _, _) in zip(schedule, scored))
            so_far = rho_so_far(out[-1].scores, sample.truths)
            progress(f"[{spec} {i + 1}/{len(sample.genotypes)}] {accs} cpu={scored[-1][1]:.1f}s{so_far}")
    return out


def _train_parallel(
    config: CalibrationConfig,
    sample: _Sample,
    done: dict[tuple[str, str], Any],
    log: Journal | None,
    progress: Progress | None,
) -> None:
    """Fill ``done`` with every (preset, arch) result: the journal ``log``'s, then the rest trained on
    worker processes (:func:`nas.calibration.pool.evaluate_parallel`) and journaled as each arrives;
    progress lines carry the ρ of the preset's finished candidates so far."""
    arch_of = sample.arch_of
    if log is not None:
        for n, _, _ in config.runs:
            for g in sample.genotypes:
                if (r := log.get(n, arch_of[g])) is not None:
                    done[(n, arch_of[g])] = r

    def finished(n: str) -> tuple[list[float], list[float]]:
        got = [(done.get((n, arch_of[g])), t) for g, t in zip(sample.genotypes, sample.truths)]
        pairs = [(r[-1] if isinstance(r, list) else r, t) for r, t in got if r is not None]
        return [float(r[0]) for r, _ in pairs], [t for _, t in pairs]

    todo = [(n, g) for n, _, _ in config.runs for g in sample.genotypes if (n, arch_of[g]) not in done]
    how = {n: (spec, seed) for n, spec, seed in config.runs}
    tasks = [(g, how[n][0], how[n][1], config.schedules.get(how[n][0])) for n, g in todo]
    pool = dict(workers=config.workers, threads=config.threads or 1, data=config.data, dataset=config.dataset)
    for k, (i, result) in enumerate(evaluate_parallel(tasks, device=config.device, **pool)):
        n, g = todo[i]
        done[(n, arch_of[g])] = result
        if log is not None:
            log.record(n, arch_of[g], result)
        if progress:
            s, c, _ = result[-1] if isinstance(result, list) else result
            so_far = rho_so_far(*finished(n))
            progress(f"[{n} {k + 1}/{len(todo)} trained] acc={s:.4f} cpu={c:.1f}s{so_far} {arch_of[g]}")


def _answer_from(
    done: Mapping[tuple[str, str], Any], run: Callable[..., Any], arch_of: Mapping[Any, str]
) -> Callable[..., Any]:
    """``run`` that first looks up ``done`` (results computed elsewhere) by (spec, arch)."""
    if not done:
        return run

    def answered(genotype: Any, spec: str, seed: int, *rest: Any) -> Any:
        r = done.get((spec, arch_of[genotype]))
        return r if r is not None else run(genotype, spec, seed, *rest)

    return answered


def _settings(config: CalibrationConfig, batch: Batch, threads: int) -> dict[str, Any]:
    """How the calibration was measured, recorded with its results."""
    return {
        "proxies": list(config.proxies),
        "batch_size": int(batch[0].shape[0]),
        "data": str(config.data) if config.data is not None else None,
        "threads": threads,
        **({"workers": config.workers} if config.workers > 1 else {}),
        **({"repeats": config.repeats} if config.repeats > 1 else {}),
        "device": _device_name(config.device) if config.training else "cpu",
        **({"rungs": dict(config.schedules)} if config.schedules else {}),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": _cpu_count(),
    }


def _device_name(device: str | None) -> str:
    """Where training presets ran (``auto``: CUDA when available), e.g. ``cuda (NVIDIA H200)``."""
    name = device if device not in (None, "auto") else ("cuda" if torch.cuda.is_available() else "cpu")
    if str(name).startswith("cuda") and torch.cuda.is_available():
        return f"{name} ({torch.cuda.get_device_name(torch.device(name))})"
    return str(name)


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
