"""``nas final``: train a run's best candidates with a target preset and record proxy → target agreement.

``nas final runs/NAME --top K --preset small`` picks the ``K`` best distinct genotypes of the run's trials
(status ``ok``, by the proxy ``score`` the search ranked them with), trains each with the *target* preset
(any :mod:`nas.train.presets` preset plus ``--set FIELD=VALUE`` overrides) for ``--seeds`` seeds
and appends one
row per finished (candidate, seed) to ``runs/NAME/final.csv`` (mirrored to ``final.parquet``). The target
score is the test top-1 (the validation top-1 when the data set has no test split).

``--transfer LAYOUT`` records a transfer instead: each CIFAR-found cell genotype is first stacked in an
ImageNet layout (``darts``, ``nasnet_mobile``, ``N@F``; the preset's ``cells``/``width`` override it, as in
``nas transfer``) and that network is trained, e.g. ``--transfer darts --preset imagenet --dataset
imagefolder --data-dir /data/imagenet``.

A target is labelled ``<dataset>:<preset>`` plus its overrides and transfer layout
(``synthetic:tiny[epochs=1]``, ``imagefolder:imagenet[transfer=darts]``), so a rerun with the same options
skips every (trial, target, seed) already recorded, and a different target is a separate group of rows.
``nas report`` shows the rank correlation of proxy and target per target.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from nas.core.errors import ConfigError, first_line
from nas.core.genotype import from_json
from nas.data.datasets import load_dataset
from nas.search import rundir
from nas.search.durable import append_text, read_json, replace_with
from nas.search.trials import TrialsTable
from nas.stats import finite_round, rank_agreement
from nas.train.presets import PRESETS, Preset, apply_preset, get_preset
from nas.train.trainer import Trainer, check_device, fit_genotype

FINAL_COLUMNS = [
    "trial_id",
    "key",
    "arch",
    "name",
    "proxy",
    "proxy_score",
    "target",
    "seed",
    "target_score",
    "val_top1",
    "test_top1",
    "params",
    "macs",
    "cpu_s",
    "wall_s",
    "finished_at",
    "genotype",
]
_INT = ("trial_id", "seed", "params", "macs")
_FLOAT = ("proxy_score", "target_score", "val_top1", "test_top1", "cpu_s", "wall_s", "finished_at")
DEFAULT_TARGET_PRESET = "small"

Transfer = Callable[[Any, int, int, Any], Any]
"""``(network, num_classes, image_size, preset) -> network``: a search genotype → the network trained on
the target (e.g. CIFAR cells stacked in an ImageNet layout)."""


# ------------------------------------------------------------------------------------------ the run


def read_run(run_dir: str | Path) -> tuple[Path, dict[str, Any], list[dict[str, Any]]]:
    """``(directory, config.json, trial rows)`` of a search run; ``ValueError`` if it is not one."""
    d = Path(run_dir)
    if not (d / "config.json").is_file() or not (d / "trials.csv").is_file():
        rundir.run_dir(d)  # a run killed while it was being created says so
        raise ValueError(f"{str(d)!r} is not a run directory (no config.json and trials.csv)")
    with open(d / "trials.csv", newline="") as f:
        header = next(csv.reader(f), [])
    extra = [c for c in header if c.startswith("zc_")]  # zero-cost columns of runs that recorded them
    # read only: never touch the table of a run that may still be going
    config = read_json(d / "config.json", "resume the run with the settings that created it to rewrite it")
    return d, config, TrialsTable(d, extra=extra, read_only=True).rows


def proxy_label(objective: Mapping[str, Any]) -> str:
    """What the trials' ``score`` measures: ``train:rank``, ``table:val_acc``, ``synthetic``, …"""
    kind = str(objective.get("kind") or "?")
    detail = {"train": "preset", "table": "metric_column"}.get(kind)
    if detail is None:
        detail = next((k for k in ("proxy", "preset", "metric_column") if objective.get(k)), None)
    return f"{kind}:{objective[detail]}" if detail and objective.get(detail) else kind


def target_label(dataset: str, preset: str, overrides: Mapping[str, Any], transfer: str | None = None) -> str:
    items = dict(overrides, **({"transfer": transfer} if transfer else {}))
    extra = ",".join(f"{k}={items[k]}" for k in sorted(items))
    return f"{dataset}:{preset}" + (f"[{extra}]" if extra else "")


def top_candidates(rows: Sequence[Mapping[str, Any]], top: int) -> list[Mapping[str, Any]]:
    """The ``top`` best ``ok`` trials by score, one per genotype key (the earliest trial of a key)."""
    ok = [
        r
        for r in rows
        if r.get("status") == "ok" and r.get("score") is not None and r.get("key") and r.get("genotype")
    ]
    seen: set[str] = set()
    out = []
    for r in sorted(ok, key=lambda r: (-r["score"], r["trial_id"])):
        if r["key"] not in seen:
            seen.add(r["key"])
            out.append(r)
    return out[:top]


# ------------------------------------------------------------------------------------ final.csv


def _encode(v: Any) -> str:
    if v is None:
        return ""
    return repr(v) if isinstance(v, float) else str(v)


def _decode(col: str, s: str) -> Any:
    if s == "":
        return None if col in _INT or col in _FLOAT else ""
    if col in _INT:
        return int(float(s))
    return float(s) if col in _FLOAT else s


class FinalTable:
    """``final.csv`` (appended row by row, a torn last line is ignored) and ``final.parquet``."""

    def __init__(self, directory: Path) -> None:
        self.csv_path = directory / "final.csv"
        self.parquet_path = directory / "final.parquet"
        self.rows: list[dict[str, Any]] = []
        if self.csv_path.exists():
            text = self.csv_path.read_text()
            reader = csv.DictReader(io.StringIO(text[: text.rfind("\n") + 1]))
            if reader.fieldnames != FINAL_COLUMNS:
                raise ValueError(f"{self.csv_path} is not a final-training table written by this version")
            for rec in reader:
                try:
                    self.rows.append({c: _decode(c, rec[c]) for c in FINAL_COLUMNS})
                except (TypeError, ValueError):
                    continue  # a torn row

    def done(self) -> set[tuple[int, str, int]]:
        return {(r["trial_id"], r["target"], r["seed"]) for r in self.rows}

    def append(self, row: Mapping[str, Any]) -> None:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        if not self.csv_path.exists() or not self.csv_path.read_text().strip():
            w.writerow(FINAL_COLUMNS)
        w.writerow([_encode(row.get(c)) for c in FINAL_COLUMNS])
        append_text(self.csv_path, buf.getvalue())  # one fsynced write per row: at most one torn line
        self.rows.append({c: row.get(c) for c in FINAL_COLUMNS})
        self.write_parquet()

    def write_parquet(self) -> None:
        df = pd.DataFrame(self.rows, columns=FINAL_COLUMNS)
        for c in _INT:
            df[c] = df[c].astype("Int64")
        for c in _FLOAT:
            df[c] = df[c].astype("float64")
        replace_with(self.parquet_path, lambda tmp: df.to_parquet(tmp, index=False))


# ------------------------------------------------------------------------------------- agreement


def candidate_means(rows: Sequence[Mapping[str, Any]]) -> dict[int, dict[str, Any]]:
    """Per trial: its proxy score and the mean target score over its seeds."""
    out: dict[int, dict[str, Any]] = {}
    for r in rows:
        if r.get("target_score") is None:
            continue
        c = out.setdefault(r["trial_id"], {"proxy_score": r["proxy_score"], "scores": []})
        c["scores"].append(float(r["target_score"]))
    for c in out.values():
        c["target_score"] = sum(c["scores"]) / len(c["scores"])
    return out


def final_agreement(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per target label: n candidates, ρ and τ of proxy score vs mean target score, and whether the
    proxy's best candidate is the target's best."""
    out = []
    for target in dict.fromkeys(r["target"] for r in rows):
        group = [r for r in rows if r["target"] == target]
        means = candidate_means(group)
        if not means:
            continue
        ids = sorted(means)
        proxy = [means[i]["proxy_score"] for i in ids]
        score = [means[i]["target_score"] for i in ids]
        best_p = max(ids, key=lambda i: (means[i]["proxy_score"], -i))
        # a tie for the target's best counts for the proxy's pick
        best_t = max(ids, key=lambda i: (means[i]["target_score"], i == best_p, -i))
        out.append(
            {
                "target": target,
                "proxy": group[0]["proxy"],
                **rank_agreement(proxy, score),
                "rows": len(group),
                "proxy_best": best_p,
                "target_best": best_t,
                "proxy_best_is_target_best": best_p == best_t,
                "candidates": [
                    {
                        "trial_id": i,
                        "proxy_score": means[i]["proxy_score"],
                        "target_score": finite_round(score[k]),
                    }
                    for k, i in enumerate(ids)
                ],
            }
        )
    return out


def format_agreement(a: Mapping[str, Any]) -> str:
    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    same = "yes" if a["proxy_best_is_target_best"] else f"no (#{a['proxy_best']} vs #{a['target_best']})"
    return (
        f"proxy {a['proxy']} → target {a['target']}: n {a['n']}, ρ {f(a['spearman'])}, "
        f"τ {f(a['kendall'])}, proxy best = target best: {same}"
    )


# -------------------------------------------------------------------------------------- training


def final_train(
    run_dir: str | Path,
    *,
    top: int,
    preset: str = DEFAULT_TARGET_PRESET,
    dataset: str | None = None,
    data: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    seeds: int = 1,
    device: str | None = None,
    quiet: bool = False,
    stream: Any = None,
    transfer: tuple[str, Transfer] | None = None,
) -> dict[str, Any]:
    """Train the ``top`` best candidates of a run with ``preset`` (see the module docstring); returns a
    summary with the rows trained now, how many were already done, failures and the agreement.
    ``transfer``: ``(label, function)`` turning each candidate into the network to train."""
    directory, config, trials = read_run(run_dir)
    if top < 1:
        raise ConfigError("top", f"must be >= 1, got {top}")
    if seeds < 1:
        raise ConfigError("seeds", f"must be >= 1, got {seeds}")
    check_device(device)
    overrides = _target_overrides(preset, overrides)
    objective = config.get("objective") or {}
    dataset, data = _target_data(directory, objective, dataset, data)
    candidates = top_candidates(trials, top)
    if not candidates:
        raise ValueError(f"run {directory.name!r} has no successful (status ok) trials to train")

    table = FinalTable(directory)
    target = target_label(dataset, preset, overrides, transfer[0] if transfer else None)
    proxy = proxy_label(objective)
    done = table.done()
    todo = [(c, s) for c in candidates for s in range(seeds) if (c["trial_id"], target, s) not in done]
    log = (lambda _m: None) if quiet else (lambda m: print(m, file=stream or sys.stderr, flush=True))
    trained: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    if todo:
        log(
            f"{len(todo)} training(s) on target {target} ({len(candidates) * seeds - len(todo)} already done)"
        )
        ds = load_dataset(dataset, data, **get_preset(preset, **overrides).data_options())
        for i, (cand, seed) in enumerate(todo, start=1):
            label = cand.get("arch") or cand.get("name") or cand["key"]
            log(f"[{i}/{len(todo)}] trial {cand['trial_id']} seed {seed}: {label}")
            try:
                row = _train_one(
                    cand, ds, get_preset(preset, **overrides, seed=seed), device, transfer and transfer[1]
                )
            except (ValueError, RuntimeError) as e:  # one candidate that cannot train must not stop the rest
                failed.append({"trial_id": cand["trial_id"], "seed": seed, "error": first_line(e)})
                log(f"  failed: {failed[-1]['error']}")
                continue
            row.update(proxy=proxy, target=target, seed=seed)
            table.append(row)
            trained.append(row)
            log(f"  proxy {row['proxy_score']:.4g} → target {row['target_score']:.4g}")
    return {
        "run": str(directory),
        "final_csv": str(table.csv_path),
        "proxy": proxy,
        "target": target,
        "candidates": [c["trial_id"] for c in candidates],
        "trained": trained,
        "skipped": len(candidates) * seeds - len(todo),
        "failed": failed,
        "agreement": next((a for a in final_agreement(table.rows) if a["target"] == target), None),
    }


def _target_overrides(preset: str, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """The target preset's field overrides, checked against the preset (final training sets the seed and
    evaluates the test split itself)."""
    if preset not in PRESETS:
        raise ConfigError("preset", f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    out = {str(k).replace("-", "_"): v for k, v in (overrides or {}).items()}
    for k in ("seed", "evaluate_test"):
        if k in out:
            raise ConfigError(
                "overrides", f"{k}=… is not allowed: final training sets it (seeds sets the seeds)"
            )
    try:
        get_preset(preset, **out)
    except ValueError as e:
        raise ConfigError("overrides", str(e)) from None
    return out


def _target_data(
    directory: Path, objective: Mapping[str, Any], dataset: str | None, data: str | Path | None
) -> tuple[str, str | Path | None]:
    """The target's data set: ``dataset`` / ``data``, else the run's training objective's."""
    if dataset is None:
        if objective.get("kind") != "train":
            raise ConfigError(
                "dataset",
                f"is required: run {directory.name!r} used the {objective.get('kind')!r} objective, "
                "which names no data set",
            )
        dataset, data = objective.get("dataset") or "cifar10", data or objective.get("data")
    if data is not None and not Path(data).expanduser().exists():
        raise ConfigError("data", f"{str(data)!r} does not exist")
    return dataset, data


def _train_one(
    cand: Mapping[str, Any], ds: Any, preset: Preset, device: str | None, transfer: Transfer | None = None
) -> dict[str, Any]:
    """Like the training objective (fit to the data set, shrink by the preset), but scored on test; with
    ``transfer``, the transferred network (which takes the preset's cells and width itself)."""
    net = from_json(cand["genotype"])
    if transfer is not None:
        net = transfer(net, ds.num_classes, int(ds.image_size[-1]), preset)
    net = fit_genotype(net, ds.num_classes, ds.image_size, aux=preset.aux_weight > 0)
    if transfer is None:
        net = apply_preset(net, preset)
    cfg = dataclasses.replace(preset.train_config(), evaluate_test=True)
    t0, w0 = time.process_time(), time.perf_counter()
    r = Trainer(net, ds, cfg, device=device, progress=False, tensorboard=False).fit()
    cpu_s, wall_s = time.process_time() - t0, time.perf_counter() - w0
    test, val = r.get("test_top1"), r.get("val_top1")
    score = test if test is not None else val
    if score is None:
        raise ValueError("the target preset evaluates neither a test nor a validation split")
    return {
        "trial_id": cand["trial_id"],
        "key": cand["key"],
        "arch": cand.get("arch") or "",
        "name": cand.get("name") or "",
        "proxy_score": cand["score"],
        "target_score": float(score),
        "val_top1": val,
        "test_top1": test,
        "params": r.get("params"),  # of the network trained (after the preset's cells / width)
        "macs": r.get("macs"),
        "cpu_s": round(cpu_s, 3),
        "wall_s": round(wall_s, 3),
        "finished_at": round(time.time(), 3),
        "genotype": cand["genotype"],
    }
