"""``report.html`` and ``report.md`` of a run: the text summary of :mod:`nas.search.report` (its numbers,
not recomputed), the figures of :mod:`nas.report.figures` and the tables below them.

Written to ``runs/NAME/report.html`` (one self-contained page), ``runs/NAME/report.md`` and the figures'
PNG files in ``runs/NAME/report/``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas.report import figures as F
from nas.report.curves import prescreen_hours
from nas.report.document import Document, Figure, Heading, Para, Pre, Table, to_html, to_markdown
from nas.report.load import Run, load_run
from nas.search import compound
from nas.search.durable import write_text
from nas.search.final import candidate_means
from nas.search.objectives import FAILED
from nas.search.report import format_report, format_score, report, truth_scores
from nas.search.trials import pareto_front
from nas.stats import mean_ci

FOLDER = "report"  # the figures of report.md, next to it in the run directory


@dataclass(frozen=True)
class Written:
    """The files one report wrote, and the text summary (what ``nas report`` prints)."""

    html: Path
    markdown: Path
    figures: tuple[Path, ...]
    summary: str
    data: dict[str, Any]  # the report as data (nas.search.report.report)
    trials: int
    finished: bool


def write_report(
    run_dir: str | Path,
    *,
    truth: str | Path | None = None,
    arch_column: str = "arch",
    target_column: str | None = None,
    top: int = 10,
    cells: int = 3,
    refresh_s: float | None = None,
) -> Written:
    """Write the report files of the run in ``run_dir`` (see the module docstring). ``top``: rows of the
    candidates table; ``cells``: candidates whose cells are drawn; ``refresh_s``: the page reloads itself
    that often (a report rewritten while the run goes on)."""
    if cells < 0:
        raise ValueError(f"cells must be >= 0, got {cells}")
    run = load_run(run_dir)
    rep = report(run.directory, truth=truth, arch_column=arch_column, target_column=target_column, top=top)
    folder = run.directory / FOLDER
    folder.mkdir(exist_ok=True)
    summary = format_report(rep)
    doc = Document(f"nas report — {run.name}")
    if refresh_s is not None:
        doc.add(Para(f"This page reloads every {max(1, round(refresh_s))} s while the run is watched."))
    doc.add(Heading("Summary"), Pre(summary))
    _curves(doc, run, folder)
    _pareto(doc, run, folder)
    _candidates(doc, run, top)
    _pictures(doc, run, cells, folder)
    _scaling(doc, run, folder)
    _selection(doc, rep)
    _agreement(doc, run, rep, truth, arch_column, target_column, folder)
    _ledger(doc, run, rep)
    _failures(doc, run)
    doc.add(Heading("Configuration (config.json)"), Pre(json.dumps(run.config, indent=1, default=str)))
    written = tuple(b.path for b in doc.blocks if isinstance(b, Figure))
    for stale in folder.glob("*.png"):  # figures of an earlier report that this one no longer shows
        if stale not in written:
            stale.unlink()
    md, page = run.directory / "report.md", run.directory / "report.html"
    write_text(md, to_markdown(doc, run.directory))
    write_text(page, to_html(doc, refresh_s))  # replaced whole: a browser reloading it never sees half
    return Written(page, md, written, summary, rep, len(run.rows), run.finished)


# -------------------------------------------------------------------------------------------- sections


def _curves(doc: Document, run: Run, folder: Path) -> None:
    doc.add(Heading("Best score so far"))
    path = F.best_so_far_figure(run, folder / "best_so_far.png")
    if path is None:
        doc.add(Para("No trial has a score yet."))
        return
    shade = prescreen_hours(run.ledger)
    note = f" The shaded span is the prescreen ({shade:.4g} CPU-h) before the first trial." if shade else ""
    doc.add(Figure(path, "best score so far against trials and device-hours." + note))


def _scaling(doc: Document, run: Run, folder: Path) -> None:
    """A compound-scaling grid run (``nas scale grid``, space ``scale``): the score over its α β γ grid."""
    if run.config.get("space") != "scale":
        return
    rows = compound.grid_rows(run.directory)
    doc.add(Heading("Compound scaling: score over the α β γ grid"))
    if not any(r["score"] is not None for r in rows):
        doc.add(Para("No grid point has a score yet."))
        return
    path = compound.heatmap(rows, folder / "scaling_grid.png", f"{run.name}: score over the α β γ grid")
    best = compound.best_row(rows)
    note = ""
    if best is not None:
        a, b, g = best["alpha"], best["beta"], best["gamma"]
        note = f" Best: α {a:g}, β {b:g}, γ {g:g} (score {best['score']:.4g})."
    doc.add(Figure(path, "score of each grid point (φ = 1; α · β² · γ² ≈ 2)." + note))


def _selection(doc: Document, rep: Mapping[str, Any]) -> None:
    """The selection stage's evidence: every candidate's score per rung, mean ± 95 % CI over seeds."""
    sel = rep.get("selection")
    if not sel:
        return
    doc.add(Heading("Selection: the pick at escalating fidelity"))
    body = []
    for rung in sel.get("rungs") or []:
        for c in rung["candidates"]:
            truth = "-" if c.get("truth") is None else f"{c['truth']:.2f}"
            body.append((
                f"{rung['rung']} {rung['fidelity']}" + ("" if rung["complete"] else " (incomplete)"),
                str(c["trial_id"]), c.get("arch") or c.get("name") or "-", _mean_text(c["scores"]),
                "kept" if c["kept"] else "", truth,
            ))  # fmt: skip
    pick = sel.get("pick") or {}
    caption = (
        f"plan {sel['plan']}; the pick is trial {pick.get('trial_id')}, made at {sel['pick_fidelity']} "
        f"({sel['status']})"
    )
    doc.add(
        Table(("rung", "trial", "arch", "score (mean ± 95 % CI)", "", "truth"), tuple(body), caption=caption)
    )


def _pareto(doc: Document, run: Run, folder: Path) -> None:
    doc.add(Heading("Pareto front: score vs MACs and params"))
    path = F.pareto_figure(run, folder / "pareto.png")
    if path is None:
        doc.add(Para("The trials recorded no params or MACs (search with --profile to measure them)."))
    else:
        fronts = [f"{c}: {len(pareto_front(run.rows, c))} points" for c in ("macs", "params")]
        doc.add(
            Figure(
                path, f"every ok trial a point; the front (max score, min cost) in red ({', '.join(fronts)})"
            )
        )


def _mean_text(values: Sequence[float]) -> str:
    s = mean_ci(values)
    if s["mean"] is None:
        return "-"
    if s["ci95"] is None:
        return format_score(float(s["mean"]))
    return f"{format_score(float(s['mean']))} ± {float(s['ci95']):.3g} (n {s['n']})"


def _millions(v: Any, div: float) -> str:
    return "-" if v is None else f"{float(v) / div:.3g}"


def _latency(r: Mapping[str, Any]) -> str:
    m = r.get("metrics") or {}
    key = next((k for k in sorted(m) if k.startswith("latency") and isinstance(m[k], int | float)), None)
    return "-" if key is None else f"{m[key]:.4g} ({key})"


def _candidate_rows(run: Run, top: int) -> list[tuple[str, Mapping[str, Any], list[Mapping[str, Any]]]]:
    """``(kind, first row, its repeated rows)``: the ``top`` best distinct found architectures, then every
    seed / baseline by name."""
    ran = [r for r in run.rows if r["status"] == "ok" and r["score"] is not None and not r["cached"]]
    by_key: dict[str, list[Mapping[str, Any]]] = {}
    for r in ran:
        by_key.setdefault(r["key"], []).append(r)
    found = [r for r in ran if r.get("source") not in F.LABELLED]
    firsts: dict[str, Mapping[str, Any]] = {}
    for r in sorted(found, key=lambda r: (-r["score"], r["trial_id"])):
        firsts.setdefault(r["key"], r)
    out = [("found", r, by_key[r["key"]]) for r in list(firsts.values())[:top]]
    names: dict[str, list[Mapping[str, Any]]] = {}
    for r in run.rows:
        if r.get("source") in F.LABELLED:
            names.setdefault(r.get("name") or r["key"], []).append(r)
    for group in names.values():
        ok = [r for r in group if r["status"] == "ok" and r["score"] is not None and not r["cached"]]
        out.append((str(group[0]["source"]), ok[0] if ok else group[0], ok))
    return out


def _candidates(doc: Document, run: Run, top: int) -> None:
    rows = _candidate_rows(run, top)
    doc.add(Heading("Found architectures vs baselines"))
    if not rows:
        doc.add(Para("No trial succeeded yet."))
        return
    mdiv, munit = F.scale_of([float(r["macs"]) for _, r, _ in rows if r.get("macs") is not None])
    targets = list(dict.fromkeys(r["target"] for r in run.final_rows))
    latency = any(_latency(r) != "-" for _, r, _ in rows)
    headers = ["kind", "trial", "arch / name", "score (mean ± 95% CI)", "params (M)", f"MACs ({munit})"]
    headers += ["latency"] * latency + [f"target {t}" for t in targets]
    table = []
    for kind, r, same in rows:
        score = _mean_text([x["score"] for x in same]) if same else f"{r['status']}: {r.get('error') or '-'}"
        cells = [kind, f"#{r['trial_id']}", r.get("name") or r.get("arch") or r["key"], score]
        cells += [_millions(r.get("params"), 1e6), _millions(r.get("macs"), mdiv)]
        cells += [_latency(r)] * latency
        for t in targets:
            seeds = [x["target_score"] for x in run.final_rows if x["target"] == t and x["key"] == r["key"]]
            cells.append(_mean_text([s for s in seeds if s is not None]))
        table.append(tuple(cells))
    doc.add(
        Table(
            tuple(headers),
            tuple(table),
            caption=f"the {sum(k == 'found' for k, _, _ in rows)} best distinct found architectures "
            "(status ok, not cached; repeated evaluations of one genotype averaged) and the seed / baseline "
            "points of the run",
        )
    )


def _pictures(doc: Document, run: Run, k: int, folder: Path) -> None:
    if k == 0:
        return
    pictures, shared = F.cell_figures(run, folder, k)
    if pictures:
        doc.add(Heading(f"Cells of the top {k} candidates"))
        if shared:
            doc.add(Para(f"Not drawn: the cells every one of them shares ({', '.join(shared)})."))
        doc.add(*(Figure(p, caption, width_px=420) for p, caption in pictures))
    top = F.top_genotypes(run, 1)
    if top:
        r, g = top[0]
        path = F.network_figure(g, folder / f"network_{F.safe_name(str(r['key'])[:12])}.png")
        if path is not None:
            doc.add(
                Heading("Best network"),
                Figure(path, f"stages of trial #{r['trial_id']} ({g.name})", width_px=640),
            )


def _agreement(
    doc: Document,
    run: Run,
    rep: Mapping[str, Any],
    truth: str | Path | None,
    arch_column: str,
    target_column: str | None,
    folder: Path,
) -> None:
    a = rep["agreement"]
    panels: list[F.Panel] = []
    for x in a.get("proxy_target") or []:
        means = candidate_means([r for r in run.final_rows if r["target"] == x["target"]])
        pts = [(m["proxy_score"], m["target_score"]) for m in means.values() if m["proxy_score"] is not None]
        title, xlabel = f"proxy → target {x['target']}", f"proxy score ({x['proxy']})"
        panels.append(F.Panel(title, xlabel, "target score (mean over seeds)", pts, x["spearman"]))
    if truth is not None and a.get("truth"):
        ran = [r for r in run.rows if r["status"] == "ok" and r["score"] is not None and not r["cached"]]
        truth_of, _ = truth_scores(run.directory, run.config, ran, truth, arch_column, target_column)
        score = {r["trial_id"]: r["score"] for r in ran}
        pts = [(score[i], v) for i, v in sorted(truth_of.items())]
        t = a["truth"]
        title = f"trial score → truth ({Path(t['table']).name})"
        panels.append(F.Panel(title, "trial score", f"truth ({t['column']})", pts, t["spearman"]))
    path = F.agreement_figure(panels, folder / "agreement.png")
    if path is not None:
        doc.add(Heading("Proxy vs target / truth"))
        doc.add(Figure(path, "each point a candidate; ρ as in the summary (nas final targets, --truth)"))


def _ledger(doc: Document, run: Run, rep: Mapping[str, Any]) -> None:
    c, led = rep["cost"], run.ledger
    items = [
        ("budget", c["budget"] or "-"),
        ("used", c["used"] or "-"),
        ("device-hours (trials)", f"{c['device_hours']:.4g} h"),
        ("GPU-hours", f"{c['gpu_hours']:.4g} h"),
        ("CPU-hours (incl. prescreen)", f"{c['cpu_hours']:.4g} h"),
        ("prescreen CPU time", f"{prescreen_hours(led) * 3600:.4g} s"),
        ("elapsed (all sessions)", f"{c['elapsed_s']:.1f} s"),
        ("sessions", str(led.get("sessions", "-"))),
        ("trials launched", str(led.get("launched", "-"))),
        ("stop reason", str(run.best.get("stop_reason") or "still running (or killed)")),
    ]
    doc.add(Heading("Budget ledger (ledger.json)"), Table(("item", "value"), tuple(items)))


def _failures(doc: Document, run: Run) -> None:
    groups: dict[str, list[int]] = {}
    for r in run.rows:
        if r["status"] in FAILED:
            text = (r.get("error") or "").strip().splitlines()
            groups.setdefault(f"{r['status']}: {text[0] if text else '(no message)'}", []).append(
                r["trial_id"]
            )
    doc.add(Heading("Failures"))
    if not groups:
        doc.add(Para("No trial failed."))
        return
    rows = []
    for error, ids in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        shown = ", ".join(f"#{i}" for i in ids[:10]) + (
            f", … ({len(ids) - 10} more)" if len(ids) > 10 else ""
        )
        rows.append((error, str(len(ids)), shown))
    doc.add(Table(("error", "trials", "which"), tuple(rows), caption="failed trials grouped by error"))
