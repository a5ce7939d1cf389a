"""``nas report RUN``: what a search run found, what it cost, and how far its scores can be trusted.

The summary (space, strategy, objective, trial counts, budget and device-hours, best and top-N trials) is
followed by agreement sections, each shown only when the run has the data for it:

* proxy → target: the trial score vs the target score of ``nas final`` (``final.csv``), per target, the
  target score averaged over seeds per candidate first;
* truth (``--truth CSV``): the trial score vs a ground-truth column for the trials whose arch is in the
  table (both sides parsed by the space's arch codec, so formatting does not matter);
* zero-cost: every numeric trial metric named ``zc_*`` vs the trial score, the target score and the truth;
* rungs: from the per-epoch score ``curve`` of trials that trained to the last epoch, the rank
  correlation of the score at each epoch with the final score (how well an early rung predicts the end).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from nas.core.archcodec import ArchCodec
from nas.core.errors import ConfigError
from nas.core.registry import SPACES
from nas.core.space import SearchSpace
from nas.search.budget import Budget, Ledger
from nas.search.durable import read_json
from nas.search.final import (
    FinalTable,
    candidate_means,
    final_agreement,
    format_agreement,
    proxy_label,
    read_run,
)
from nas.search.objectives import FAILED
from nas.search.trials import search_rows
from nas.stats import finite_or_none, is_finite, rank_agreement
from nas.truth import DEFAULT_TARGET_COLUMN, load_truth

TRIAL_FIELDS = ("trial_id", "score", "params", "macs", "arch", "name", "key")


def _trial(r: Mapping[str, Any]) -> dict[str, Any]:
    return {k: r.get(k) for k in TRIAL_FIELDS}


def _canonical(space: SearchSpace) -> Callable[[Mapping[str, Any]], str | None]:
    """A trial row → its arch in the codec's canonical text (None when it has none)."""
    codec = ArchCodec(space)

    def key(r: Mapping[str, Any]) -> str | None:
        try:
            if r.get("choices"):
                return codec.format(space.check(r["choices"]))
            return codec.format(codec.parse(r["arch"])) if r.get("arch") else None
        except (ValueError, TypeError, KeyError):
            return None

    return key


def _load_truth(
    space: SearchSpace, path: str | Path, arch_column: str, target_column: str
) -> dict[str, float]:
    codec = ArchCodec(space)
    out: dict[str, float] = {}
    for arch, value in load_truth(path, arch_column, target_column):
        try:
            out[codec.format(codec.parse(arch))] = value
        except (ValueError, TypeError, KeyError):
            continue  # an arch outside this run's space cannot match a trial
    if not out:
        raise ConfigError(
            "truth", f"{str(path)!r}: no entry of column {arch_column!r} is an arch of space {space.name!r}"
        )
    return out


def report(
    run_dir: str | Path,
    *,
    truth: str | Path | None = None,
    arch_column: str = "arch",
    target_column: str | None = None,
    top: int = 10,
) -> dict[str, Any]:
    """The report of a run as a dict (see the module docstring; :func:`format_report` renders it)."""
    directory, config, every = read_run(run_dir)
    rows = search_rows(every)  # the selection's re-evaluations are scores at other fidelities: apart
    if top < 0:
        raise ConfigError("top", f"must be >= 0, got {top}")
    objective = config.get("objective") or {}
    evaluated = [r for r in rows if not r["cached"]]  # duplicates answered from the cache: not evaluations
    counts = {s: sum(r["status"] == s for r in evaluated) for s in ("ok", "stopped")}
    counts["failed"] = sum(r["status"] in FAILED for r in evaluated)  # errors and transient failures
    counts.update(total=len(rows), evaluated=len(evaluated), cached=len(rows) - len(evaluated))
    counts["selection"] = len(every) - len(rows)
    ran = [r for r in rows if r["status"] == "ok" and r["score"] is not None and not r["cached"]]
    ranked = sorted(ran, key=lambda r: (-r["score"], r["trial_id"]))
    scored = [r for r in rows if r["status"] in ("ok", "stopped") and r["score"] is not None]
    best = max(scored, key=lambda r: (r["score"], -r["trial_id"]), default=None)
    out: dict[str, Any] = {
        "run": directory.name,
        "dir": str(directory),
        "kind": config.get("kind", "search"),
        "space": config.get("space") or "",
        "strategy": config.get("strategy"),
        "objective": proxy_label(objective),
        "trials": counts,
        "cost": _cost(directory, every),
        "best": _trial(best) if best else None,
        "top": [_trial(r) for r in ranked[:top]],
    }

    final_rows = FinalTable(directory).rows if (directory / "final.csv").exists() else []
    agreement: dict[str, Any] = {}
    if final_rows:
        agreement["proxy_target"] = final_agreement(final_rows)
    truth_of: dict[int, float] = {}
    if truth is not None:
        truth_of, vs_truth = truth_scores(directory, config, ran, truth, arch_column, target_column)
        if truth_of:
            agreement["truth"] = vs_truth
    zc = _zero_cost(ran, final_rows, truth_of, own=f"zc_{objective.get('proxy')}")
    if zc:
        agreement["zero_cost"] = zc
    rungs = _rungs(ran)
    if rungs:
        agreement["rungs"] = rungs
    out["agreement"] = agreement
    selection = _selection(directory, ran, truth_of)
    if selection:
        out["selection"] = selection
        pick = next((r for r in ran if r["trial_id"] == (selection["pick"] or {}).get("trial_id")), None)
        out["best"] = _trial(pick) if pick else out["best"]
    return out


def _selection(
    directory: Path, ran: Sequence[Mapping[str, Any]], truth_of: Mapping[int, float]
) -> dict[str, Any] | None:
    """``best.json``'s selection evidence, with the truth of each candidate when it is known."""
    path = directory / "best.json"
    sel = (read_json(path) if path.is_file() else {}).get("selection")
    if not isinstance(sel, dict):
        return None
    sel = dict(sel)
    if truth_of:
        for rung in sel.get("rungs") or []:
            for c in rung.get("candidates") or []:
                c["truth"] = truth_of.get(c.get("trial_id"))
        best = max(ran, key=lambda r: (r["score"], -r["trial_id"]), default=None)
        sel["truth"] = {
            "pick": truth_of.get((sel.get("pick") or {}).get("trial_id")),
            "best_proxy_score": None if best is None else truth_of.get(best["trial_id"]),
            "best_trained": max(truth_of.values(), default=None),
        }
    return sel


def truth_scores(
    directory: Path,
    config: Mapping[str, Any],
    ran: Sequence[Mapping[str, Any]],
    truth: str | Path,
    arch_column: str,
    target_column: str | None,
) -> tuple[dict[int, float], dict[str, Any]]:
    """Per trial in the truth table its true score, and the agreement of trial scores with it."""
    if not config.get("space"):
        raise ConfigError("truth", f"run {directory.name!r} has no search space to read arch strings with")
    column = target_column or DEFAULT_TARGET_COLUMN
    space = SPACES[config["space"]](**(config.get("space_options") or {}))
    table = _load_truth(space, truth, arch_column, column)
    key = _canonical(space)
    truth_of = {r["trial_id"]: table[k] for r in ran if (k := key(r)) is not None and k in table}
    ids = sorted(truth_of)
    score = {r["trial_id"]: r["score"] for r in ran}  # one pass, not a scan of ``ran`` per trial
    x = [score[i] for i in ids]
    y = [truth_of[i] for i in ids]
    agreement = {
        "table": str(truth),
        "column": column,
        **rank_agreement(x, y, top_fraction=0.1),
        "of_trials": len(ran),
    }
    return truth_of, agreement


def _cost(directory: Path, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    path = directory / "ledger.json"
    fix = "it is rebuilt from trials.csv when the run is resumed"
    led = read_json(path, fix) if path.is_file() else {}
    budget = led.get("budget")
    return {
        "budget": budget,
        "used": Budget.parse(budget).describe(Ledger.from_dict(led)) if budget else None,
        "device_hours": round(sum(r.get("device_hours") or 0.0 for r in rows), 6),
        "gpu_hours": round(float(led.get("gpu_hours", 0.0)), 6),
        "cpu_hours": round(float(led.get("cpu_hours", 0.0)), 6),
        "elapsed_s": round(float(led.get("elapsed_s", 0.0)), 2),
    }


def _zero_cost(
    ran: Sequence[Mapping[str, Any]],
    final_rows: Sequence[Mapping[str, Any]],
    truth_of: Mapping[int, float],
    own: str = "",
) -> list[dict[str, Any]]:
    """Each ``zc_*`` metric vs the trial score, every target of final.csv, and the truth; the metric
    ``own`` (the zero-cost objective's proxy, which *is* the score) not against the score."""
    names = sorted(
        {
            k
            for r in ran
            for k, v in (r["metrics"] or {}).items()
            if k.startswith("zc_") and k != "zc_cpu_s" and is_finite(v)  # a cost, not a proxy
        }
    )
    refs: list[tuple[str, dict[int, float]]] = [("score", {r["trial_id"]: r["score"] for r in ran})]
    for target in dict.fromkeys(r["target"] for r in final_rows):
        means = candidate_means([r for r in final_rows if r["target"] == target])
        refs.append((f"target {target}", {i: m["target_score"] for i, m in means.items()}))
    if truth_of:
        refs.append(("truth", dict(truth_of)))
    out = []
    for name in names:
        metric = {r["trial_id"]: finite_or_none((r["metrics"] or {}).get(name)) for r in ran}
        values = {i: v for i, v in metric.items() if v is not None}
        for vs, ref in refs:
            if name == own and vs == "score":
                continue
            ids = sorted(set(values) & set(ref))
            if ids:
                agreement = rank_agreement([values[i] for i in ids], [ref[i] for i in ids])
                out.append({"metric": name, "vs": vs, **agreement})
    return out


def _rungs(ran: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Spearman ρ of the curve's score at each epoch vs the final score, over the trials that reached
    the last epoch any trial reached."""
    curves: dict[int, dict[int, float]] = {}
    for r in ran:
        curve = (r["metrics"] or {}).get("curve")
        if not isinstance(curve, list):
            continue
        points = {}
        for p in curve:
            if isinstance(p, list | tuple) and len(p) == 2 and (v := finite_or_none(p[1])) is not None:
                points[int(p[0])] = v
        if points:
            curves[r["trial_id"]] = points
    if not curves:
        return None
    last = max(max(c) for c in curves.values())
    full = {i: c for i, c in curves.items() if last in c}
    final = {r["trial_id"]: r["score"] for r in ran}
    epochs = sorted({e for c in full.values() for e in c})
    per_epoch = []
    for e in epochs:
        ids = sorted(i for i, c in full.items() if e in c)
        c = rank_agreement([full[i][e] for i in ids], [final[i] for i in ids])
        per_epoch.append({"epoch": e, "n": c["n"], "spearman": c["spearman"]})
    return {"last_epoch": last, "trials": len(full), "epochs": per_epoch}


# ---------------------------------------------------------------------------------------- format


def _f(v: float | None, spec: str = ".3f") -> str:
    return "-" if v is None else format(v, spec)


def format_score(v: float) -> str:
    """Accuracies with four decimals; zero-cost scores such as synflow's 1e70 in exponent form."""
    return f"{v:.4f}" if abs(v) < 1e6 else f"{v:.4g}"


def _format_selection(sel: Mapping[str, Any], rows: int) -> list[str]:
    lines = [f"selection ({sel['plan']}; {rows} re-evaluations; {sel['status']})"]
    for rung in sel.get("rungs") or []:
        parts = []
        for c in rung["candidates"]:
            ci = f" ± {c['ci95']:.2f}" if c.get("ci95") is not None else ""
            truth = f" [truth {c['truth']:.2f}]" if c.get("truth") is not None else ""
            parts.append(f"#{c['trial_id']} {c['mean']:.3f}{ci}{truth}{' kept' if c['kept'] else ''}")
        done = "" if rung["complete"] else " (incomplete)"
        lines.append(f"  rung {rung['rung']} {rung['fidelity']}{done}: " + "; ".join(parts))
    pick = sel.get("pick") or {}
    lines.append(f"  pick #{pick.get('trial_id')} at {sel['pick_fidelity']}")
    t = sel.get("truth")
    if t:
        lines.append(
            f"  truth: pick {_f(t['pick'], '.2f')}, best proxy score {_f(t['best_proxy_score'], '.2f')}, "
            f"best trained {_f(t['best_trained'], '.2f')}"
        )
    return lines


def format_report(rep: Mapping[str, Any]) -> str:
    t, c = rep["trials"], rep["cost"]
    what = rep["strategy"] or rep["kind"]
    lines = [
        f"run {rep['run']} ({rep['dir']})",
        f"  space {rep['space'] or '-'} · strategy {what} · objective {rep['objective']}",
        f"  trials {t['evaluated']} evaluated: ok {t['ok']}, failed {t['failed']}, stopped {t['stopped']}; "
        f"{t['cached']} duplicates answered from the cache ({t['total']} proposals)"
        + (f"; {t['selection']} re-evaluations in the selection" if t.get("selection") else ""),
        f"  budget {c['budget'] or '-'}"
        + (f" (used {c['used']})" if c["used"] else "")
        + f" · {c['device_hours']:.4g} device-h ({c['gpu_hours']:.4g} gpuh, {c['cpu_hours']:.4g} cpuh)"
        f" · elapsed {c['elapsed_s']:.1f}s",
    ]
    b, sel = rep["best"], rep.get("selection")
    if b:
        at = f" (picked at {sel['pick_fidelity']})" if sel else ""
        lines.append(
            f"  best #{b['trial_id']} score {format_score(b['score'])}{at}: "
            f"{b['arch'] or b['name'] or b['key']}"
        )
    if rep["top"]:
        lines.append(f"top {len(rep['top'])} trials")
        lines.append(f"  {'trial':>6s} {'score':>9s} {'params':>10s} {'macs':>12s}  arch/name")
        for r in rep["top"]:
            lines.append(
                f"  {r['trial_id']:>6d} {format_score(r['score']):>9s} {_f(r['params'], 'd'):>10s} "
                f"{_f(r['macs'], 'd'):>12s}  {r['arch'] or r['name'] or r['key']}"
            )
    if sel:
        lines += _format_selection(sel, t.get("selection", 0))
    a = rep["agreement"]
    if a.get("proxy_target"):
        lines.append("agreement: proxy → target (final.csv, target averaged over seeds per candidate)")
        lines += [f"  {format_agreement(x)}" for x in a["proxy_target"]]
    if a.get("truth"):
        x = a["truth"]
        lines.append(f"agreement: trial score → truth ({x['table']}, column {x['column']})")
        lines.append(
            f"  n {x['n']} of {x['of_trials']} trials, ρ {_f(x['spearman'])}, τ {_f(x['kendall'])}, "
            f"top-10% precision {_f(x['top10_precision'], '.2f')}"
        )
    if a.get("zero_cost"):
        lines.append("agreement: zero-cost proxies")
        for x in a["zero_cost"]:
            lines.append(
                f"  {x['metric']} vs {x['vs']}: n {x['n']}, ρ {_f(x['spearman'])}, τ {_f(x['kendall'])}"
            )
    if a.get("rungs"):
        x = a["rungs"]
        lines.append(
            f"agreement: score at epoch → final score ({x['trials']} trials reached epoch {x['last_epoch']})"
        )
        lines += [f"  epoch {e['epoch']}: n {e['n']}, ρ {_f(e['spearman'])}" for e in x["epochs"]]
    return "\n".join(lines)
