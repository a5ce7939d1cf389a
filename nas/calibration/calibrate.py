"""Proxy calibration: how well does a cheap score rank architectures the way full training does?

``calibrate`` samples architectures (seeded) from a ground-truth table (an arch column and an accuracy
column, e.g. the NAS-Bench-201 200-epoch CIFAR-10 test accuracy), scores each with every requested proxy
— zero-cost proxies from :mod:`nas.proxies` on a minibatch of real images, or training presets from
:mod:`nas.train.presets` — and reports, per proxy, Spearman ρ, Kendall τ, top-10 % precision and
the CPU-seconds
per candidate. ``write_outputs`` saves the summary as CSV and JSON (with every per-architecture score)
and a plot of ρ against cost.

``prescreen`` is the zero-cost pre-screen of a search (``--prescreen synflow:1000 --train-top 50``):
score ``n`` sampled members of a space with a zero-cost proxy and keep the ``top`` best;
``simulate_prescreen`` measures on a ground-truth table whether that finds better architectures per
CPU-hour than training every candidate.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import heapq
import io
import json
import math
import platform
import random
import sys
import tarfile
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nas import proxies as P

DEFAULT_TRUTH = Path("../shared/data/nb201-calibration-1500.csv")
DEFAULT_DATA = Path("../shared/data/cifar10-jpeg.tar.gz")
DEFAULT_ARCH_COLUMN = "arch"
DEFAULT_TARGET_COLUMN = "cifar10_test_acc_200ep"
DEFAULT_ZERO_COST = ("synflow", "naswot", "jacob_cov", "grad_norm", "snip", "params", "macs")
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)

# --------------------------------------------------------------------------------------- statistics


def rankdata(values: Sequence[float]) -> np.ndarray:
    """Average ranks (1-based), ties share the mean rank (as ``scipy.stats.rankdata``)."""
    a = np.asarray(values, dtype=np.float64)
    order = np.argsort(a, kind="mergesort")
    sorted_a = a[order]
    ranks = np.empty(len(a), dtype=np.float64)
    i = 0
    while i < len(a):
        j = i
        while j + 1 < len(a) and sorted_a[j + 1] == sorted_a[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's ρ: Pearson correlation of the average ranks (``nan`` when one side is constant)."""
    rx, ry = rankdata(x), rankdata(y)
    if len(rx) < 2 or rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def kendall(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's τ-b (tie-corrected, as ``scipy.stats.kendalltau``); O(n²), fine for n ≤ a few thousand."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = len(a)
    if n < 2:
        return float("nan")
    iu = np.triu_indices(n, k=1)
    da = np.sign(a[:, None] - a[None, :])[iu]
    db = np.sign(b[:, None] - b[None, :])[iu]
    concordant_minus_discordant = float(np.sum(da * db))
    n_a, n_b = float(np.sum(da != 0)), float(np.sum(db != 0))
    if n_a == 0 or n_b == 0:
        return float("nan")
    return concordant_minus_discordant / math.sqrt(n_a * n_b)


def top_precision(scores: Sequence[float], truth: Sequence[float], fraction: float = 0.1) -> float:
    """Of the top ``fraction`` by score, the share that is also in the top ``fraction`` by truth."""
    s, t = np.asarray(scores, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    k = max(1, round(fraction * len(s)))
    top_s = set(np.argsort(-s, kind="mergesort")[:k].tolist())
    top_t = set(np.argsort(-t, kind="mergesort")[:k].tolist())
    return len(top_s & top_t) / k


def rho_so_far(scores: Sequence[float], truths: Sequence[float]) -> str:
    """`` ρ=0.812 over 12`` — Spearman ρ of the first ``len(scores)`` candidates against their truth,
    for progress lines of a long calibration; empty below 3 candidates or when undefined."""
    k = len(scores)
    if k < 3 or len(truths) < k:
        return ""
    r = spearman(P.finite_or_worst(list(scores)), truths[:k])
    return f" ρ={r:.3f} over {k}" if math.isfinite(r) else ""


def bootstrap_ci(
    scores: Sequence[float],
    truth: Sequence[float],
    stat: Callable[[Sequence[float], Sequence[float]], float] = spearman,
    *,
    repeats: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``stat(scores, truth)`` over architectures resampled with
    replacement (how much a ρ measured on a few dozen architectures can move)."""
    s, t = P.finite_or_worst(scores), np.asarray(truth, dtype=np.float64)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(repeats):
        i = rng.integers(0, len(s), len(s))
        v = stat(s[i], t[i])
        if math.isfinite(v):
            values.append(v)
    if not values:
        return float("nan"), float("nan")
    a = (1 - level) / 2
    return float(np.quantile(values, a)), float(np.quantile(values, 1 - a))


# ---------------------------------------------------------------------------------- data and truth


def load_truth(
    path: str | Path, arch_column: str = DEFAULT_ARCH_COLUMN, target_column: str = DEFAULT_TARGET_COLUMN
) -> list[tuple[str, float]]:
    """Read ``(arch, accuracy)`` rows from a CSV ground-truth table."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ground-truth table {str(path)!r} does not exist")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        for c in (arch_column, target_column):
            if c not in columns:
                raise ValueError(
                    f"ground-truth table {str(path)!r} has no column {c!r}; columns: {', '.join(columns)}"
                )
        rows = []
        for i, r in enumerate(reader, start=2):
            try:
                rows.append((r[arch_column], float(r[target_column])))
            except (TypeError, ValueError):
                raise ValueError(
                    f"{str(path)!r} line {i}: column {target_column!r} is not a number: {r[target_column]!r}"
                ) from None
    if not rows:
        raise ValueError(f"ground-truth table {str(path)!r} has no rows")
    return rows


def sample_rows(rows: Sequence[tuple[str, float]], n: int, seed: int) -> list[tuple[str, float]]:
    """A seeded sample of ``n`` rows (all rows, shuffled, if ``n`` ≥ the table)."""
    if n < 2:
        raise ValueError(f"sample size must be at least 2, got {n}")
    return random.Random(seed).sample(list(rows), min(n, len(rows)))


def load_image_batch(
    path: str | Path,
    n: int = 64,
    *,
    seed: int = 0,
    split: str = "train",
    size: int | None = None,
    mean: Sequence[float] = CIFAR10_MEAN,
    std: Sequence[float] = CIFAR10_STD,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded minibatch ``(images, labels)`` from an ImageFolder-layout ``.tar[.gz]`` of JPEGs
    (``<root>/<split>/<class>/<file>``) or an ImageFolder directory, normalised with ``mean``/``std``.

    The ``n`` images are those with the smallest ``sha1(seed:path)``, so the batch depends only on the
    seed and the file names (one streaming pass over the archive, no random access needed).
    """
    from PIL import Image

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"image data {str(path)!r} does not exist")
    heap: list[tuple[int, str, bytes]] = []  # max-heap on the hash (negated) of the n smallest
    classes: set[str] = set()

    def offer(name: str, read: Callable[[], bytes]) -> None:
        parts = name.split("/")
        if len(parts) < 3 or parts[-3] != split:
            return
        classes.add(parts[-2])
        h = int.from_bytes(hashlib.sha1(f"{seed}:{name}".encode()).digest()[:8], "big")
        if len(heap) < n:
            heapq.heappush(heap, (-h, name, read()))
        elif -heap[0][0] > h:
            heapq.heapreplace(heap, (-h, name, read()))

    exts = (".jpg", ".jpeg", ".png")
    if path.is_dir():
        for f in sorted(path.rglob("*")):
            if f.suffix.lower() in exts:
                offer(f.relative_to(path).as_posix(), f.read_bytes)
    else:
        with tarfile.open(path, "r:*") as tar:
            for m in tar:
                if m.isfile() and m.name.lower().endswith(exts):
                    offer(m.name, lambda m=m: tar.extractfile(m).read())  # type: ignore[union-attr]
    if not heap:
        raise ValueError(f"image data {str(path)!r} has no images under a {split!r}/<class>/ folder")
    class_index = {c: i for i, c in enumerate(sorted(classes))}
    items = sorted(heap, key=lambda t: -t[0])
    xs, ys = [], []
    for _, name, data in items:
        img = Image.open(io.BytesIO(data)).convert("RGB")
        if size is not None and img.size != (size, size):
            img = img.resize((size, size), Image.BILINEAR)
        xs.append(torch.from_numpy(np.asarray(img, dtype=np.float32).copy()).permute(2, 0, 1) / 255.0)
        ys.append(class_index[name.split("/")[-2]])
    x = torch.stack(xs)
    x = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    return x, torch.tensor(ys, dtype=torch.long)


# ------------------------------------------------------------------------------------------- spaces


def arch_parser(space: Any) -> Callable[[str], Any]:
    """How to turn a ground-truth table's arch entry into a genotype of ``space``: the space's
    ``parse_arch`` method, else its module's ``parse_arch_string`` (→ choices → ``space.decode``)."""
    if hasattr(space, "parse_arch"):
        return space.parse_arch
    module = sys.modules.get(type(space).__module__)
    parse = getattr(module, "parse_arch_string", None)
    if parse is None:
        raise ValueError(f"space {getattr(space, 'name', space)!r} cannot read arch strings of a truth table")
    return lambda a: space.decode(parse(a))


def arch_formatter(space: Any) -> Callable[[Any], str]:
    if hasattr(space, "arch_string"):
        return space.arch_string
    from nas.core.graph import canonical_key

    return canonical_key


def get_space(space: Any) -> Any:
    if isinstance(space, str):
        from nas.core.registry import SPACES

        return SPACES[space]()
    return space


# ------------------------------------------------------------------------------------------ proxies


@dataclass
class ProxyResult:
    name: str
    kind: str  # "zero-cost", "training" or "ensemble"
    scores: list[float]
    cpu_s: list[float]
    wall_s: list[float]
    info: dict[str, Any] = field(default_factory=dict)

    def summary(self, truth: Sequence[float]) -> dict[str, Any]:
        s = P.finite_or_worst(self.scores)
        n_bad = int(np.sum(~np.isfinite(np.asarray(self.scores, dtype=np.float64))))
        return {
            "proxy": self.name,
            "kind": self.kind,
            "n": len(s),
            "spearman": round(spearman(s, truth), 4),
            "kendall": round(kendall(s, truth), 4),
            "top10_precision": round(top_precision(s, truth, 0.1), 4),
            "cpu_s_per_candidate": round(float(np.mean(self.cpu_s)), 3),
            "wall_s_per_candidate": round(float(np.mean(self.wall_s)), 3),
            "non_finite": n_bad,
            **({"info": self.info} if self.info else {}),
        }


TrainingEvaluator = Callable[[Any, str, int], tuple[float, float, float]]
"""``(genotype, preset spec, seed) -> (score, cpu_s, wall_s)`` — a short training run's validation
accuracy plus the preset's size term (see :func:`training_evaluator`)."""


def training_presets() -> dict[str, Any]:
    """The training presets of :mod:`nas.train.presets` (empty when the module is not available)."""
    try:
        from nas.train import presets
    except ImportError:
        return {}
    table = getattr(presets, "PRESETS", None)
    return dict(table) if isinstance(table, Mapping) else {}


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


def resolve_preset(spec: str) -> Any:
    """A preset spec (see :func:`parse_preset_spec`) → :class:`nas.train.presets.Preset`."""
    from nas.train.presets import get_preset

    name, overrides = parse_preset_spec(spec)
    return get_preset(name, **overrides)


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
    import dataclasses

    from nas.data.datasets import load_dataset
    from nas.train.presets import apply_preset
    from nas.train.trainer import train

    datasets: dict[str, Any] = {}

    def run(genotype: Any, spec: str, seed: int) -> tuple[float, float, float]:
        preset = resolve_preset(spec)
        opts = preset.data_options()
        if eval_val and not opts.get("val_size"):
            raise ValueError(f"preset {spec!r} has no validation split (val_size=0): it cannot rank")
        key = json.dumps(opts, sort_keys=True, default=str)
        if key not in datasets:
            datasets[key] = load_dataset(dataset, data_dir=data, **opts)
        net = apply_preset(genotype, preset)
        cfg = dataclasses.replace(preset.train_config(), seed=seed, evaluate_test=False)
        t0, w0 = time.process_time(), time.perf_counter()
        params = _params(genotype, preset)
        result = train(net, datasets[key], cfg, device=device, tensorboard=False)
        score = preset.score(result["val_top1"], params)
        return score, time.process_time() - t0, time.perf_counter() - w0

    return run


def _params(genotype: Any, preset: Any) -> int:
    """Parameters of the architecture as sampled (not the shrunk proxy), for the preset's size term;
    counted only when the preset has one."""
    if not preset.params_weight:
        return 0
    from nas.tools.describe import describe

    return int(describe(genotype)["params"])


RungEvaluator = Callable[[Any, str, int, Sequence[int]], list[tuple[float, float, float]]]
"""``(genotype, preset spec, seed, epochs) -> [(score, cpu_s, wall_s) per epoch]``: one training run
of the preset, scored (:meth:`nas.train.presets.Preset.score`) after each of ``epochs`` (the last is the
preset's own ``epochs``); costs are cumulative from the start of the run (see :func:`rung_evaluator`)."""


def parse_rungs(text: str | Sequence[int]) -> list[int]:
    """``"1,2,3,4,6"`` (or a list of ints) → sorted distinct positive epochs; ``ValueError`` otherwise."""
    items = [t.strip() for t in text.split(",")] if isinstance(text, str) else list(text)
    rungs = []
    for t in items:
        try:
            r = int(t)
        except (TypeError, ValueError):
            raise ValueError(f"rungs: {t!r} is not an epoch number (expected e.g. 1,2,3,4,6)") from None
        if isinstance(t, float | bool) or r < 1:
            raise ValueError(f"rungs: epochs must be positive integers, got {t!r}")
        rungs.append(r)
    if not rungs:
        raise ValueError("rungs: no epochs given (expected e.g. 1,2,3,4,6)")
    if len(set(rungs)) != len(rungs):
        raise ValueError(f"rungs: epoch listed twice in {', '.join(map(str, rungs))}")
    return sorted(rungs)


def rung_schedule(spec: str, rungs: Sequence[int]) -> list[int]:
    """The epochs at which training preset ``spec`` is scored: ``rungs`` plus the preset's final epoch
    (its learning-rate schedule is the full preset's, as ASHA sees it); a rung past the end is an error."""
    epochs = int(resolve_preset(spec).epochs)
    rs = parse_rungs(rungs)
    late = [r for r in rs if r > epochs]
    if late:
        raise ValueError(f"rung {late[0]} is past the end of preset {spec!r} ({epochs} epochs)")
    if epochs < 1:
        raise ValueError(f"preset {spec!r} trains 0 epochs: nothing to score per rung")
    return rs if rs[-1] == epochs else [*rs, epochs]


def rung_evaluator(
    data: str | Path | None, *, dataset: str = "cifar10", device: str | None = None
) -> RungEvaluator:
    """A :data:`RungEvaluator`: like :func:`training_evaluator`, but one run per architecture scored
    after each requested epoch. Validation runs only at those epochs (the in-loop evaluation only at
    the end), through a trainer callback, so the training trajectory is the plain preset's: the
    evaluation uses no RNG and leaves the model in training mode."""
    import dataclasses

    from nas.data.datasets import load_dataset
    from nas.train.presets import apply_preset
    from nas.train.trainer import Trainer

    datasets: dict[str, Any] = {}

    def run(genotype: Any, spec: str, seed: int, epochs: Sequence[int]) -> list[tuple[float, float, float]]:
        preset = resolve_preset(spec)
        schedule = rung_schedule(spec, epochs)
        opts = preset.data_options()
        if not opts.get("val_size"):
            raise ValueError(f"preset {spec!r} has no validation split (val_size=0): it cannot rank")
        key = json.dumps(opts, sort_keys=True, default=str)
        if key not in datasets:
            datasets[key] = load_dataset(dataset, data_dir=data, **opts)
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

        trainer = Trainer(net, datasets[key], cfg, device=device, callbacks=[at_epoch], tensorboard=False)
        result = trainer.fit()
        score = preset.score(result["val_top1"], params)
        out.append((score, time.process_time() - t0, time.perf_counter() - w0))
        return out

    return run


def split_proxies(names: Sequence[str]) -> tuple[list[str], list[str]]:
    """Proxy names → (zero-cost names, training preset specs); ``ValueError`` for an unknown one.

    A training preset is a name of ``nas.train.presets.PRESETS``, optionally with overrides:
    ``tiny:epochs=4,image_size=16`` (see :func:`parse_preset_spec`)."""
    zero, train = [], []
    presets = None
    for n in names:
        if n in P.PROXIES:
            zero.append(n)
            continue
        if presets is None:
            presets = training_presets()
        base, overrides = parse_preset_spec(n)
        if base in presets:
            if overrides:
                resolve_preset(n)  # bad fields / values fail now, before any work
            train.append(n)
            continue
        known = sorted(P.PROXIES) + sorted(presets)
        raise ValueError(f"unknown proxy {n!r}; zero-cost proxies and training presets: {', '.join(known)}")
    if not zero and not train:
        raise ValueError("no proxies given")
    return zero, train


def parse_proxy_list(text: str | Sequence[str]) -> list[str]:
    items = text.split(",") if isinstance(text, str) else list(text)
    names = [s.strip() for s in items if s.strip()]
    if not names:
        raise ValueError("no proxies given")
    if len(set(names)) != len(names):
        raise ValueError(f"proxy listed twice in {', '.join(names)}")
    return names


# ---------------------------------------------------------------------------------------- calibrate


@dataclass
class Calibration:
    space: str
    truth_path: str
    target_column: str
    seed: int
    archs: list[str]
    truth: list[float]
    results: list[ProxyResult]
    settings: dict[str, Any]

    def summary(self) -> list[dict[str, Any]]:
        return [r.summary(self.truth) for r in self.results]

    def rung_curves(self) -> dict[str, list[ProxyResult]]:
        """Per-rung results (``calibrate(..., rungs=...)``) by training preset, in epoch order."""
        curves: dict[str, list[ProxyResult]] = {}
        for r in self.results:
            if "rung_of" in r.info:
                curves.setdefault(str(r.info["rung_of"]), []).append(r)
        return {k: sorted(v, key=lambda r: int(r.info["rung"])) for k, v in curves.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "space": self.space,
            "truth": self.truth_path,
            "target_column": self.target_column,
            "seed": self.seed,
            "n_archs": len(self.archs),
            "settings": self.settings,
            "summary": self.summary(),
            "archs": self.archs,
            "target": self.truth,
            "scores": {r.name: [_finite(v) for v in r.scores] for r in self.results},
            "cpu_s": {r.name: [round(c, 4) for c in r.cpu_s] for r in self.results},
            "wall_s": {r.name: [round(c, 4) for c in r.wall_s] for r in self.results},
            "kinds": {r.name: r.kind for r in self.results},
            "info": {r.name: r.info for r in self.results if r.info},
            **({"successive_halving": halving_report(self)} if self.rung_curves() else {}),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Calibration:
        """Read back :meth:`to_dict` (a calibration JSON)."""
        results = []
        for name, scores in d["scores"].items():
            cpu = d["cpu_s"][name]
            results.append(
                ProxyResult(
                    name,
                    d.get("kinds", {}).get(name, _default_kind(name)),
                    [float("-inf") if v is None else float(v) for v in scores],
                    list(cpu),
                    list(d.get("wall_s", {}).get(name, cpu)),
                    info=d.get("info", {}).get(name, {}),
                )
            )
        return cls(
            d["space"], d["truth"], d["target_column"], d["seed"], list(d["archs"]), list(d["target"]),
            results, dict(d.get("settings", {})),
        )  # fmt: skip


def _default_kind(name: str) -> str:
    return "zero-cost" if name in P.PROXIES else "ensemble" if "+" in name else "training"


def load_calibration(path: str | Path) -> Calibration:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"calibration file {str(path)!r} does not exist")
    return Calibration.from_dict(json.loads(path.read_text()))


def merge_calibrations(cals: Sequence[Calibration]) -> Calibration:
    """One calibration with every proxy of ``cals`` (runs over the same architectures, e.g. run in
    parallel); a proxy present in several keeps its first run."""
    first = cals[0]
    for c in cals[1:]:
        if c.archs != first.archs or c.target_column != first.target_column:
            raise ValueError("calibrations to merge must cover the same architectures and target")
    seen: dict[str, ProxyResult] = {}
    for c in cals:
        for r in c.results:
            seen.setdefault(r.name, r)
    settings = dict(first.settings, merged=[c.settings for c in cals])
    return Calibration(
        first.space, first.truth_path, first.target_column, first.seed, first.archs, first.truth,
        list(seen.values()), settings,
    )  # fmt: skip


def calibrate(
    space: Any = "nb201",
    proxies: Sequence[str] = DEFAULT_ZERO_COST,
    truth: str | Path = DEFAULT_TRUTH,
    *,
    arch_column: str = DEFAULT_ARCH_COLUMN,
    target_column: str = DEFAULT_TARGET_COLUMN,
    sample: int = 100,
    seed: int = 0,
    data: str | Path | None = DEFAULT_DATA,
    batch_size: int = 64,
    batch: tuple[torch.Tensor, torch.Tensor] | None = None,
    threads: int | None = 1,
    trainer: TrainingEvaluator | RungEvaluator | None = None,
    progress: Callable[[str], None] | None = None,
    ensembles: Sequence[str] = (),
    rungs: Sequence[int] | None = None,
    device: str | None = None,
    journal: str | Path | None = None,
    resume: bool = False,
    workers: int = 1,
    dataset: str = "cifar10",
) -> Calibration:
    """Score a seeded sample of ``sample`` architectures of the truth table with every proxy.

    Zero-cost proxies share one network per architecture (weights seeded by ``seed``) and one minibatch
    of ``batch_size`` images from ``data`` (or the given ``batch``); each proxy's cost is its own
    CPU time plus the network build. Training presets run through ``trainer`` (default:
    :func:`training_evaluator` on ``data``). ``threads`` sets ``torch.set_num_threads`` for the run so
    CPU-seconds are comparable (default 1).

    ``ensembles``: rank ensembles of proxies in the list, ``"synflow+tiny"`` = the mean of their
    rank-normalised scores, costing the sum of their costs.

    ``rungs`` (multi-fidelity, e.g. ``[1, 2, 3, 4, 6]``): each training preset is trained once per
    architecture and scored after each rung epoch and at its last epoch, giving one result per rung
    named ``"<preset>@<epoch>"`` whose cost is the CPU time up to and including that evaluation.
    ``trainer`` is then a :data:`RungEvaluator` (default :func:`rung_evaluator`). An ensemble naming
    the preset uses its last rung. :func:`halving_report` simulates successive halving on them.

    ``journal``: a file (``nas.calibration.journal``) that records each finished training evaluation;
    with ``resume=True`` an existing journal of the same run is replayed instead of retrained.

    ``workers`` > 1 trains the candidates in that many worker processes (``nas.calibration.pool``;
    ``threads`` each) with the built-in trainer on ``dataset`` from ``data``; scores and per-candidate
    CPU-seconds are those of one worker.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if workers > 1 and trainer is not None:
        raise ValueError("workers > 1 run the built-in trainer; a custom trainer runs in this process")
    zero, train = split_proxies(list(proxies))
    parts = [parse_ensemble(e, proxies) for e in ensembles]
    schedules: dict[str, list[int]] = {}
    if rungs is not None:
        if not train:
            raise ValueError("rungs need a training preset to score per epoch (e.g. --preset rank)")
        schedules = {n: rung_schedule(n, rungs) for n in train}  # bad rungs fail before any work
    sp = get_space(space)
    parse = arch_parser(sp)
    rows = sample_rows(load_truth(truth, arch_column, target_column), sample, seed)
    genotypes = []
    for a, _ in rows:
        try:
            genotypes.append(parse(a))
        except ValueError as e:
            raise ValueError(f"ground-truth arch {a!r} is not a member of space {sp.name!r}: {e}") from None
    log = None
    if journal is not None and train:
        from nas.calibration.journal import Journal

        key = {
            "space": sp.name, "truth": str(truth), "arch_column": arch_column,
            "target_column": target_column, "sample": sample, "seed": seed,
            "data": str(data) if data is not None else None, "device": _device_name(device),
            "presets": {n: resolve_preset(n).to_dict() for n in train}, "rungs": schedules or None,
            **({"dataset": dataset} if dataset != "cifar10" else {}),  # older journals lack the field
        }  # fmt: skip
        log = Journal(journal, key, resume=resume)
        if progress and len(log):
            progress(f"resuming: {len(log)} training evaluations from {journal}")
    arch_of = {g: a for g, (a, _) in zip(genotypes, rows)}
    truths = [t for _, t in rows]
    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        if zero and batch is None and any(P.PROXIES[z].needs_data for z in zero):
            if data is None:
                raise ValueError("zero-cost proxies need images: give a data path or a batch")
            size = getattr(sp, "layout", {}).get("input_size")
            batch = load_image_batch(data, batch_size, seed=seed, size=size)
        if batch is None:
            size = genotypes[0].input_size
            batch = (torch.zeros((2, *size)), torch.zeros(2, dtype=torch.long))
        results = {n: ProxyResult(n, "zero-cost", [], [], []) for n in zero}
        if zero:  # warm-up, untimed: plugin imports and first-call overheads are not per-candidate costs
            P.build_scored(genotypes[0], zero, batch, seed=seed)
        for i, g in enumerate(genotypes):
            scored = P.build_scored(g, zero, batch, seed=seed) if zero else {}
            for n, r in scored.items():
                results[n].scores.append(r["score"])
                results[n].cpu_s.append(r["cpu_s"])
                results[n].wall_s.append(r["wall_s"])
            if progress:
                progress(f"[{i + 1}/{len(genotypes)}] {rows[i][0]}")
        per_rung: dict[str, list[ProxyResult]] = {}
        done: dict[tuple[str, str], Any] = {}  # with workers: every training result, journaled or new
        if train and workers > 1:
            for n in train:
                resolve_preset(n)  # a bad preset fails here, not in a worker
            pool = dict(workers=workers, threads=threads or 1, data=data, dataset=dataset, device=device)
            train_parallel(train, genotypes, truths, arch_of, schedules, seed, done, log, progress, **pool)
            progress = None  # the workers reported every result as it came
        if train and rungs is not None:
            run_rungs: RungEvaluator = trainer or rung_evaluator(data, dataset=dataset, device=device)  # type: ignore
            if log is not None:
                run_rungs = log.wrap(run_rungs, arch_of)
            run_rungs = _answer_from(done, run_rungs, arch_of)
            for n in train:
                per_rung[n] = _score_rungs(
                    n, schedules[n], genotypes, run_rungs, seed, trainer, progress, truths
                )
                results[n] = per_rung[n][-1]
        elif train:
            run = trainer or training_evaluator(data, dataset=dataset, device=device)
            if log is not None:
                run = log.wrap(run, arch_of)
            run = _answer_from(done, run, arch_of)
            for n in train:
                info = {"preset": _jsonable(resolve_preset(n).to_dict())} if trainer is None else {}
                res = ProxyResult(n, "training", [], [], [], info=info)
                for i, g in enumerate(genotypes):
                    s, c, w = run(g, n, seed)
                    res.scores.append(s)
                    res.cpu_s.append(c)
                    res.wall_s.append(w)
                    if progress:
                        so_far = rho_so_far(res.scores, truths)
                        progress(f"[{n} {i + 1}/{len(genotypes)}] acc={s:.4f} cpu={c:.1f}s{so_far}")
                results[n] = res
    finally:
        torch.set_num_threads(old_threads)
    settings = {
        "proxies": list(proxies),
        "batch_size": int(batch[0].shape[0]),
        "data": str(data) if data is not None else None,
        "threads": threads or old_threads,
        **({"workers": workers} if workers > 1 else {}),
        "device": _device_name(device) if train else "cpu",
        **({"rungs": schedules} if schedules else {}),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": _cpu_count(),
    }
    return Calibration(
        space=sp.name,
        truth_path=str(truth),
        target_column=target_column,
        seed=seed,
        archs=[a for a, _ in rows],
        truth=[t for _, t in rows],
        results=[r for n in proxies for r in per_rung.get(n, [results[n]])]
        + [ensemble(e, [results[n] for n in p]) for e, p in zip(ensembles, parts)],
        settings=settings,
    )


def train_parallel(
    train: Sequence[str],
    genotypes: Sequence[Any],
    truths: Sequence[float],
    arch_of: Mapping[Any, str],
    schedules: Mapping[str, list[int]],
    seed: int,
    done: dict[tuple[str, str], Any],
    log: Any,
    progress: Callable[[str], None] | None,
    **pool: Any,
) -> None:
    """Fill ``done`` with every (preset, arch) result: the journal ``log``'s, then the rest trained on
    worker processes (``nas.calibration.pool.evaluate_parallel(**pool)``) and journaled as each
    arrives; progress lines carry the ρ of the preset's finished candidates so far."""
    from nas.calibration.pool import evaluate_parallel

    if log is not None:
        for n in train:
            for g in genotypes:
                if (r := log.get(n, arch_of[g])) is not None:
                    done[(n, arch_of[g])] = r

    def finished(n: str) -> tuple[list[float], list[float]]:
        got = [(done.get((n, arch_of[g])), t) for g, t in zip(genotypes, truths)]
        pairs = [(r[-1] if isinstance(r, list) else r, t) for r, t in got if r is not None]
        return [float(r[0]) for r, _ in pairs], [t for _, t in pairs]

    todo = [(n, g) for n in train for g in genotypes if (n, arch_of[g]) not in done]
    tasks = [(g, n, seed, schedules.get(n)) for n, g in todo]
    for k, (i, result) in enumerate(evaluate_parallel(tasks, **pool)):
        n, g = todo[i]
        done[(n, arch_of[g])] = result
        if log is not None:
            log.record(n, arch_of[g], result)
        if progress:
            s, c, _ = result[-1] if isinstance(result, list) else result
            so_far = rho_so_far(*finished(n))
            progress(f"[{n} {k + 1}/{len(todo)} trained] acc={s:.4f} cpu={c:.1f}s{so_far} {arch_of[g]}")


def _answer_from(done: Mapping[tuple[str, str], Any], run: Callable[..., Any], arch_of: Mapping[Any, str]):
    """``run`` that first looks up ``done`` (results computed elsewhere) by (spec, arch)."""
    if not done:
        return run

    def answered(genotype: Any, spec: str, seed: int, *rest: Any) -> Any:
        r = done.get((spec, arch_of[genotype]))
        return r if r is not None else run(genotype, spec, seed, *rest)

    return answered


def _device_name(device: str | None) -> str:
    """Where training presets ran (``auto``: CUDA when available), e.g. ``cuda (NVIDIA H200)``."""
    name = device if device not in (None, "auto") else ("cuda" if torch.cuda.is_available() else "cpu")
    if str(name).startswith("cuda") and torch.cuda.is_available():
        return f"{name} ({torch.cuda.get_device_name(torch.device(name))})"
    return str(name)


def _score_rungs(
    spec: str,
    schedule: list[int],
    genotypes: Sequence[Any],
    run: RungEvaluator,
    seed: int,
    custom: Any,
    progress: Callable[[str], None] | None,
    truths: Sequence[float] = (),
) -> list[ProxyResult]:
    """One result per rung of ``schedule`` for training preset ``spec`` (one run per genotype)."""
    final = schedule[-1]
    out = [
        ProxyResult(f"{spec}@{r}", "training", [], [], [], info={"rung_of": spec, "rung": r, "epochs": final})
        for r in schedule
    ]
    if custom is None:  # the resolved preset, once (on the final rung)
        out[-1].info["preset"] = _jsonable(resolve_preset(spec).to_dict())
    for i, g in enumerate(genotypes):
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
            so_far = rho_so_far(out[-1].scores, truths)
            progress(f"[{spec} {i + 1}/{len(genotypes)}] {accs} cpu={scored[-1][1]:.1f}s{so_far}")
    return out


def parse_ensemble(spec: str, proxies: Sequence[str]) -> list[str]:
    """``"synflow+tiny"`` → ``["synflow", "tiny"]``; every member must be one of ``proxies``."""
    names = [n.strip() for n in spec.split("+")]
    if len(names) < 2 or not all(names):
        raise ValueError(f"ensemble {spec!r} must name two or more proxies joined by '+'")
    missing = [n for n in names if n not in proxies]
    if missing:
        raise ValueError(f"ensemble {spec!r}: {', '.join(map(repr, missing))} is not among the proxies")
    return names


def ensemble(name: str, members: Sequence[ProxyResult]) -> ProxyResult:
    """Mean of the members' rank-normalised scores (non-finite scores ranked worst); costs add up."""
    n = len(members[0].scores)
    ranks = np.mean([rankdata(P.finite_or_worst(m.scores)) / n for m in members], axis=0)
    return ProxyResult(
        name,
        "ensemble",
        [float(r) for r in ranks],
        [float(sum(c)) for c in zip(*(m.cpu_s for m in members))],
        [float(sum(w)) for w in zip(*(m.wall_s for m in members))],
        info={"ensemble": [m.name for m in members]},
    )


def _cpu_count() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _jsonable(obj: Any) -> Any:
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "__dataclass_fields__"):
        return _jsonable(asdict(obj))
    return str(obj)


# ------------------------------------------------------------------------------------------ outputs

SUMMARY_COLUMNS = (
    "proxy",
    "kind",
    "n",
    "spearman",
    "kendall",
    "top10_precision",
    "cpu_s_per_candidate",
    "wall_s_per_candidate",
    "non_finite",
)


def format_table(summary: Sequence[Mapping[str, Any]]) -> str:
    w = max([16, *(len(str(r["proxy"])) for r in summary)])
    head = (
        f"{'proxy':{w}s} {'kind':9s} {'n':>5s} {'spearman':>9s} {'kendall':>8s} {'top10%':>7s} "
        f"{'cpu_s/cand':>10s}"
    )
    lines = [head, "-" * len(head)]
    for r in summary:
        lines.append(
            f"{r['proxy']:{w}s} {r['kind']:9s} {r['n']:5d} {r['spearman']:9.3f} {r['kendall']:8.3f} "
            f"{r['top10_precision']:7.2f} {r['cpu_s_per_candidate']:10.2f}"
        )
    return "\n".join(lines)


def write_outputs(cal: Calibration, out_dir: str | Path, name: str = "calibration") -> dict[str, Path]:
    """Write ``<name>.csv`` (summary), ``<name>.json`` (summary + per-arch scores) and ``<name>.png``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = cal.summary()
    paths = {"csv": out_dir / f"{name}.csv", "json": out_dir / f"{name}.json", "png": out_dir / f"{name}.png"}
    with paths["csv"].open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=SUMMARY_COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows(summary)
    paths["json"].write_text(json.dumps(cal.to_dict(), indent=1, default=_json_default) + "\n")
    plot(summary, paths["png"], title=f"{cal.space}: proxy rank fidelity vs cost ({len(cal.archs)} archs)")
    return paths


def _json_default(o: Any) -> Any:
    return str(o)


def _finite(v: float) -> float | None:
    """JSON has no infinities: a non-finite score is written as null."""
    return float(v) if math.isfinite(v) else None


def plot(summary: Sequence[Mapping[str, Any]], path: str | Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    colors = {"zero-cost": "tab:blue", "training": "tab:orange", "ensemble": "tab:green"}
    placed: list[tuple[float, float]] = []
    ys = []
    for r in summary:
        x, y = max(r["cpu_s_per_candidate"], 1e-3), r["spearman"]
        if not math.isfinite(y):
            continue
        ys.append(y)
        ax.scatter([x], [y], color=colors.get(r["kind"], "tab:gray"), s=40, zorder=3)
        # points that (nearly) coincide get their labels stacked instead of overprinted
        near = sum(1 for px, py in placed if abs(math.log10(px / x)) < 0.6 and abs(py - y) < 0.015)
        placed.append((x, y))
        ax.annotate(r["proxy"], (x, y), textcoords="offset points", xytext=(5, 4 - 10 * near), fontsize=8)
    curves: dict[str, list[tuple[int, float, float]]] = {}
    for r in summary:
        info = r.get("info") or {}
        if "rung_of" in info and math.isfinite(r["spearman"]):
            curves.setdefault(str(info["rung_of"]), []).append(
                (int(info["rung"]), max(r["cpu_s_per_candidate"], 1e-3), r["spearman"])
            )
    for pts in curves.values():  # a preset scored per rung: its ρ-vs-cost curve, epoch by epoch
        pts.sort()
        ax.plot([p[1] for p in pts], [p[2] for p in pts], color=colors["training"], lw=1, alpha=0.7, zorder=2)
    if ys:
        ax.set_ylim(min(min(ys), 0.8) - 0.05, max(max(ys), 0.8) + 0.05)
    ax.set_xscale("log")
    ax.set_xlabel("CPU-seconds per candidate (log)")
    ax.set_ylabel("Spearman ρ vs ground truth")
    ax.axhline(0.8, color="gray", lw=0.8, ls="--")
    ax.grid(True, which="both", alpha=0.3)
    shown = {r["kind"] for r in summary}
    for kind, c in colors.items():  # a legend entry only for the kinds on the plot
        if kind in shown:
            ax.scatter([], [], color=c, label=kind)
    ax.legend(loc="best", fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


# ----------------------------------------------------------------------------------------- prescreen


def parse_prescreen(spec: str) -> tuple[str, int]:
    """``"synflow:1000"`` → ``("synflow", 1000)``."""
    name, sep, n = spec.partition(":")
    if not sep or not n.strip().isdigit() or int(n) < 1:
        raise ValueError(f"--prescreen must be PROXY:N (e.g. synflow:1000), got {spec!r}")
    P.get_proxy(name)
    return name, int(n)


def prescreen(
    space: Any,
    proxy: str,
    n: int,
    top: int,
    rng: random.Random,
    *,
    batch: tuple[torch.Tensor, torch.Tensor] | torch.Tensor | None = None,
    seed: int = 0,
    candidates: Sequence[Any] | None = None,
) -> list[tuple[Any, float]]:
    """Zero-cost pre-screen: sample ``n`` distinct members of ``space`` (or take ``candidates``), score
    each with ``proxy`` and return the ``top`` best as ``(genotype, score)``, best first.

    ``batch``: images (and labels) for data-dependent proxies (synflow, params and macs need none).
    Network weights are seeded by ``seed``. Ties keep the sampling order.
    """
    p = P.get_proxy(proxy)
    if top < 1 or n < 1:
        raise ValueError(f"prescreen needs n ≥ 1 and top ≥ 1, got n={n}, top={top}")
    sp = get_space(space)
    if candidates is None:
        candidates = _distinct_sample(sp, n, rng)
    if batch is None:
        if p.needs_data:
            raise ValueError(f"proxy {proxy!r} needs a batch of images")
        size = candidates[0].input_size
        batch = torch.zeros((1, *size))
    scored = []
    for g in candidates:
        s = P.build_scored(g, [proxy], batch, seed=seed)[proxy]["score"]
        scored.append((g, s))
    values = P.finite_or_worst([s for _, s in scored])
    order = sorted(range(len(scored)), key=lambda i: -values[i])
    return [scored[i] for i in order[:top]]


def _distinct_sample(space: Any, n: int, rng: random.Random) -> list[Any]:
    size = space.size()
    if n >= size:
        return list(space.enumerate(limit=size))
    seen: set[tuple] = set()
    out = []
    while len(out) < n:
        c = space.sample_choices(rng)
        key = tuple(sorted(c.items()))
        if key not in seen:
            seen.add(key)
            out.append(space.decode(c))
    return out


@dataclass
class StrategyCurve:
    name: str
    budgets_h: list[float]
    mean_best: list[float]
    regret: list[float]


def simulate_prescreen(
    truth: Sequence[float],
    scores: Sequence[float],
    *,
    proxy_cost_s: float,
    train_cost_s: float,
    n_screen: int,
    top: int,
    budgets_h: Sequence[float],
    repeats: int = 200,
    seed: int = 0,
) -> dict[str, StrategyCurve]:
    """Simulate two searches over a pool (the ground-truth table), each run ``repeats`` times.

    * ``train-all``: train random candidates one after another (``train_cost_s`` each); the result is
      the best ground-truth accuracy among those trained within the budget.
    * ``prescreen``: score ``n_screen`` random candidates with the proxy (``proxy_cost_s`` each), then
      train the best ``top`` by proxy score in order, as many as the budget allows.

    Training is assumed to reveal the ground truth (the most favourable case for ``train-all``).
    Returns mean best accuracy and mean regret (pool optimum − found) at each budget (CPU-hours).
    """
    t = np.asarray(truth, dtype=np.float64)
    s = P.finite_or_worst(scores)
    n_pool = len(t)
    if n_screen > n_pool:
        raise ValueError(f"n_screen={n_screen} exceeds the pool of {n_pool} scored architectures")
    best_pool = float(t.max())
    rng = np.random.default_rng(seed)
    budgets_s = np.asarray(budgets_h, dtype=np.float64) * 3600.0
    found = {
        "train-all": np.zeros((repeats, len(budgets_s))),
        "prescreen": np.zeros((repeats, len(budgets_s))),
    }
    for r in range(repeats):
        perm = rng.permutation(n_pool)
        for b, budget in enumerate(budgets_s):
            k = int(budget // train_cost_s)
            found["train-all"][r, b] = t[perm[: max(k, 0)]].max() if k >= 1 else np.nan
            screened = perm[:n_screen]
            left = budget - n_screen * proxy_cost_s
            k = int(left // train_cost_s) if left > 0 else 0
            if k >= 1:
                ranked = screened[np.argsort(-s[screened], kind="mergesort")][: min(top, k)]
                found["prescreen"][r, b] = t[ranked].max()
            else:
                found["prescreen"][r, b] = np.nan
    out = {}
    for name, arr in found.items():
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # budgets too small to train anything: nan
            mean = np.nanmean(arr, axis=0)
        out[name] = StrategyCurve(
            name, list(map(float, budgets_h)), [float(v) for v in mean], [float(best_pool - v) for v in mean]
        )
    return out


# ----------------------------------------------------------------------------- successive halving

HALVING_MODES = ("sync", "async")


def asha_milestones(grace: int, eta: float, max_t: int) -> list[int]:
    """The epochs at which Ray Tune's ``ASHAScheduler(grace_period=grace, reduction_factor=eta,
    max_t=max_t)`` (one bracket) decides to stop a trial: ``grace · eta^k`` for ``k`` below
    ``log_eta(max_t / grace) + 1`` (Ray's formula), rounded up to whole epochs (a trial reporting every
    epoch is judged at the first report past the milestone); milestones at or past ``max_t`` are dropped
    (a trial there has finished)."""
    if grace < 1 or eta <= 1 or max_t < 1:
        raise ValueError(f"ASHA needs grace >= 1, eta > 1 and max_t >= 1, got {grace}, {eta}, {max_t}")
    count = int(np.log(max_t / grace) / np.log(eta) + 1)
    out = sorted({math.ceil(grace * eta**k - 1e-9) for k in range(max(0, count))})
    return [m for m in out if m < max_t]


def _sorted_percentile(values: list[float], q: float) -> float:
    """``np.percentile(values, q)`` (linear interpolation) of an already sorted list."""
    pos = q / 100.0 * (len(values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def asha_stops(scores: Sequence[Sequence[float]], order: Sequence[int], eta: float) -> list[int]:
    """Asynchronous successive halving as Ray Tune's ASHA decides it, trials arriving one at a time in
    ``order``: ``scores[j][i]`` is trial ``i``'s score at milestone ``j``; a trial stops at milestone
    ``j`` when its score is below the ``(1 − 1/eta)`` percentile of the scores recorded there before it
    (every score is recorded; the first trial always continues). Returns, per trial, the index of the
    milestone where it stopped, ``len(scores)`` for one that ran to the end."""
    recorded: list[list[float]] = [[] for _ in scores]
    q = (1.0 - 1.0 / eta) * 100.0
    level = [len(scores)] * (len(scores[0]) if len(scores) else 0)
    for i in order:
        for j, row in enumerate(scores):
            v = float(row[i])
            cutoff = _sorted_percentile(recorded[j], q) if recorded[j] else None
            bisect.insort(recorded[j], v)
            if cutoff is not None and v < cutoff:
                level[i] = j
                break
    return level


def halving_stops(scores: Sequence[Sequence[float]], eta: float) -> list[int]:
    """Synchronous successive halving: all trials reach milestone 0; at each milestone ``j`` the best
    ``max(1, floor(n_j / eta))`` by ``scores[j]`` go on (ties: lower index first). Returns the milestone
    index where each trial stopped, ``len(scores)`` for one that ran to the end."""
    n = len(scores[0]) if len(scores) else 0
    level = [len(scores)] * n
    alive = list(range(n))
    for j, row in enumerate(scores):
        ranked = sorted(alive, key=lambda i: -float(row[i]))  # stable: ties keep the lower index
        keep = max(1, math.floor(len(alive) / eta))
        for i in ranked[keep:]:
            level[i] = j
        alive = ranked[:keep]
    return level


def simulate_halving(
    truth: Sequence[float],
    rung_scores: Mapping[int, Sequence[float]],
    rung_costs: Mapping[int, Sequence[float]],
    *,
    eta: float,
    grace: int,
    max_t: int | None = None,
    mode: str = "sync",
    repeats: int = 500,
    seed: int = 0,
    top_fraction: float = 0.1,
) -> dict[str, Any]:
    """Successive halving over ``n`` architectures with known per-rung validation scores and cumulative
    costs (``rung_scores[epoch][i]``, ``rung_costs[epoch][i]``, e.g. from ``calibrate(..., rungs=...)``).

    Milestones are those of Ray's ASHA (:func:`asha_milestones`; each must be a measured rung) and
    ``max_t`` the last measured rung. ``mode="sync"``: synchronous successive halving
    (:func:`halving_stops`, deterministic); ``"async"``: Ray's asynchronous rule (:func:`asha_stops`)
    with the trials arriving one at a time, averaged over ``repeats`` random arrival orders.

    Reported: CPU-seconds spent (a trial stopped at a milestone costs its cumulative cost there) against
    training all to ``max_t``; the true accuracy of the arch ranked first (best final score among
    those that ran to the end) and of the one training all would pick; the pool's best; Spearman ρ
    against the truth among the survivors and of the whole final order (survivors by final score, then
    the others by the milestone they reached and their score there); and, per milestone, the share of
    the true top ``top_fraction`` still running after it.
    """
    if mode not in HALVING_MODES:
        raise ValueError(f"halving mode must be one of {', '.join(HALVING_MODES)}, got {mode!r}")
    epochs = sorted(rung_scores)
    if not epochs or sorted(rung_costs) != epochs:
        raise ValueError("rung_scores and rung_costs must cover the same (non-empty) set of epochs")
    max_t = max_t if max_t is not None else epochs[-1]
    if max_t not in rung_scores:
        raise ValueError(f"max_t={max_t} is not a measured rung ({', '.join(map(str, epochs))})")
    milestones = asha_milestones(grace, eta, max_t)
    missing = [m for m in milestones if m not in rung_scores]
    if missing:
        raise ValueError(
            f"ASHA milestone {missing[0]} (grace {grace}, eta {eta:g}, max_t {max_t}) is not a measured "
            f"rung ({', '.join(map(str, epochs))})"
        )
    t = np.asarray(truth, dtype=np.float64)
    n = len(t)
    stage_epochs = [*milestones, max_t]
    sc = np.array([P.finite_or_worst(rung_scores[e]) for e in stage_epochs])
    cost = np.array([np.asarray(rung_costs[e], dtype=np.float64) for e in stage_epochs])
    if sc.shape[1] != n or cost.shape[1] != n:
        raise ValueError(f"every rung needs one score and one cost per architecture ({n})")
    k = max(1, round(top_fraction * n))
    top = np.argsort(-t, kind="mergesort")[:k]
    final = len(milestones)
    train_all_pick = int(np.argmax(sc[final]))  # first maximum, as the stable sorts pick

    def measure(level: np.ndarray) -> dict[str, Any]:
        survivors = np.flatnonzero(level == final)
        winner = int(survivors[np.argmax(sc[final][survivors])])
        at_level = sc[level, np.arange(n)]
        order = np.lexsort((at_level, level))  # ascending: worst first
        position = np.empty(n)
        position[order] = np.arange(n)
        return {
            "cpu_s": float(cost[level, np.arange(n)].sum()),
            "survivors": len(survivors),
            "winner_truth": float(t[winner]),
            "winner_is_best": float(t[winner] == t.max()),
            "spearman_survivors": spearman(sc[final][survivors], t[survivors]),
            "spearman_all": spearman(position, t),
            "top_survival": [float(np.mean(level[top] > j)) for j in range(final)],
        }

    if mode == "sync":
        runs = [measure(np.asarray(halving_stops(sc[:final], eta)))]
    else:
        rng = np.random.default_rng(seed)
        runs = [measure(np.asarray(asha_stops(sc[:final], rng.permutation(n), eta))) for _ in range(repeats)]

    def mean(key: str) -> float:
        v = np.asarray([r[key] for r in runs], dtype=np.float64)
        return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")

    train_all = float(cost[final].sum())
    return {
        "mode": mode,
        "eta": eta,
        "grace": grace,
        "max_t": max_t,
        "milestones": milestones,
        "n": n,
        "repeats": len(runs),
        "cpu_s": mean("cpu_s"),
        "cpu_s_train_all": train_all,
        "cost_fraction": mean("cpu_s") / train_all if train_all > 0 else float("nan"),
        "survivors": mean("survivors"),
        "winner_truth": mean("winner_truth"),
        "winner_is_best": mean("winner_is_best"),
        "train_all_winner_truth": float(t[train_all_pick]),
        "best_truth": float(t.max()),
        "spearman_survivors": mean("spearman_survivors"),
        "spearman_all": mean("spearman_all"),
        "spearman_train_all": spearman(sc[final], t),
        "top_k": k,
        "top_survival": {
            str(m): float(np.mean([r["top_survival"][j] for r in runs])) for j, m in enumerate(milestones)
        },
    }


def halving_report(
    cal: Calibration,
    etas: Sequence[float] = (2, 3),
    modes: Sequence[str] = HALVING_MODES,
    *,
    repeats: int = 500,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """:func:`simulate_halving` for every rung-scored preset of ``cal``, every ``eta`` and every grace
    period (a measured rung before the last) whose ASHA milestones were all measured."""
    rows = []
    for spec, curve in cal.rung_curves().items():
        by_epoch = {int(r.info["rung"]): r for r in curve}
        scores = {e: r.scores for e, r in by_epoch.items()}
        costs = {e: r.cpu_s for e, r in by_epoch.items()}
        epochs = sorted(by_epoch)
        for eta in etas:
            for grace in epochs[:-1]:
                if any(m not in by_epoch for m in asha_milestones(grace, eta, epochs[-1])):
                    continue
                for mode in modes:
                    sim = simulate_halving(
                        cal.truth, scores, costs, eta=eta, grace=grace, mode=mode, repeats=repeats, seed=seed
                    )
                    rows.append({"preset": spec, **sim})
    return rows


def format_halving(rows: Sequence[Mapping[str, Any]]) -> str:
    head = (
        f"{'preset':10s} {'mode':5s} {'eta':>3s} {'grace':>5s} {'rungs':10s} {'cpu_s':>8s} {'share':>6s} "
        f"{'alive':>5s} {'winner':>7s} {'all@end':>7s} {'best':>6s} {'rho_surv':>8s} {'rho_all':>7s}  "
        "top-10% alive after each rung"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        surv = " ".join(f"@{m}:{v:.2f}" for m, v in r["top_survival"].items())
        lines.append(
            f"{str(r['preset'])[:10]:10s} {r['mode']:5s} {r['eta']:3g} {r['grace']:5d} "
            f"{','.join(map(str, r['milestones'])):10s} {r['cpu_s']:8.0f} {r['cost_fraction']:6.2f} "
            f"{r['survivors']:5.1f} {r['winner_truth']:7.2f} {r['train_all_winner_truth']:7.2f} "
            f"{r['best_truth']:6.2f} {r['spearman_survivors']:8.3f} {r['spearman_all']:7.3f}  {surv}"
        )
    return "\n".join(lines)
