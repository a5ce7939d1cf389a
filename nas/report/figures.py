"""The figures of a run's report, each written as a PNG: best-so-far curves, the Pareto fronts of score vs
MACs and params, the top candidates' cells, the best network's stages, and proxy vs target / truth.

Each ``*_figure`` function returns the path written, or None when the run has no data for the figure.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from nas.core.genotype import Cell, Network, from_json
from nas.report.curves import best_so_far, plot_best_so_far, prescreen_hours
from nas.report.load import Run
from nas.search.final import top_candidates
from nas.search.trials import pareto_front
from nas.tools import draw as draw_module

DPI = 110
LABELLED = ("seed", "baseline")  # trial sources whose points carry their name
# label offsets (points) tried in turn, so that neighbouring names do not sit on each other
_OFFSETS = ((6, 6), (6, -12), (-6, 10), (-6, -14), (10, 0), (-10, 0))


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend."""
    import matplotlib  # optional and slow to import: only the figures need it

    matplotlib.use("Agg")  # files only, no display; must precede the pyplot import
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    fig.savefig(tmp, dpi=DPI)
    pyplot().close(fig)
    tmp.replace(path)  # a reader (report.md in a viewer) sees the old picture or the new one
    return path


def _tmp(path: Path) -> Path:
    """Where a picture is drawn before it replaces ``path`` (hidden, same suffix: the format)."""
    return path.with_name(f".{path.stem}.tmp{path.suffix}")


def scale_of(values: Sequence[float]) -> tuple[float, str]:
    """``(divisor, unit)`` for counts (params, MACs): millions (``M``) or, from 10⁹ on, billions (``G``)."""
    top = max(values, default=0.0)
    return (1e9, "G") if top >= 1e9 else (1e6, "M")


# ------------------------------------------------------------------------------------------ curves


def best_so_far_figure(run: Run, path: Path) -> Path | None:
    """Best score so far against trials (left) and against device-hours (right, prescreen shaded)."""
    if not any(r["score"] is not None for r in run.rows):
        return None
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    plot_best_so_far(left, {run.name: best_so_far(run.rows, "trials")}, xlabel="trials")
    left.set_title("best score vs trials", fontsize=10)
    hours = best_so_far(run.rows, "device_hours", run.ledger)
    plot_best_so_far(
        right, {run.name: hours}, xlabel="device-hours (h)", shade=prescreen_hours(run.ledger) or None
    )
    right.set_title("best score vs device-hours (GPU- and CPU-hours of the trials)", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


# ------------------------------------------------------------------------------------------ pareto


def _label_points(ax: Any, points: Sequence[tuple[float, float, str]]) -> None:
    """Name each point, its label pointing into the plot (away from the nearest edges) and stacked
    vertically with its neighbours so that close points' names do not overlap."""
    if not points:
        return
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    for k, (x, y, name) in enumerate(sorted(points, key=lambda p: (p[1], p[0]))):
        right = x > (x0 + x1) / 2  # the label goes left of a point in the right half
        up = y < (y0 + y1) / 2
        dy = (8 + 11 * (k % 4)) * (1 if up else -1)
        ax.annotate(
            name,
            (x, y),
            xytext=(-8 if right else 8, dy),
            textcoords="offset points",
            fontsize=8,
            ha="right" if right else "left",
            va="bottom" if up else "top",
            arrowprops={"arrowstyle": "-", "color": "#777777", "lw": 0.6},
        )


def _pareto_axis(ax: Any, rows: Sequence[Mapping[str, Any]], cost: str) -> None:
    ok = [r for r in rows if r["status"] == "ok" and r["score"] is not None and r.get(cost) is not None]
    div, unit = scale_of([float(r[cost]) for r in ok])
    ax.scatter(
        [r[cost] / div for r in ok], [r["score"] for r in ok], s=12, c="#9db4cc", label=f"trials ({len(ok)})"
    )
    front = pareto_front(ok, cost)
    fx, fy = [p[cost] / div for p in front], [p["score"] for p in front]
    ax.step(fx, fy, where="post", color="#c0392b", lw=1.2)
    ax.scatter(fx, fy, s=26, c="#c0392b", zorder=3, label=f"Pareto front ({len(front)})")
    ax.margins(0.08)  # no point on the frame, room for the names
    named = [r for r in ok if r.get("source") in LABELLED and r.get("name")]
    if named:
        ax.scatter(
            [r[cost] / div for r in named],
            [r["score"] for r in named],
            s=40,
            marker="D",
            facecolors="none",
            edgecolors="#222222",
            zorder=4,
            label="seed / baseline",
        )
        _label_points(ax, [(r[cost] / div, r["score"], r["name"]) for r in named])
    ax.set_xlabel(f"{'MACs' if cost == 'macs' else 'params'} ({unit})")
    ax.set_ylabel("score")
    ax.grid(True, alpha=0.3)
    # below the axes: a legend inside could hide points or their names
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=3, frameon=False)


def pareto_figure(run: Run, path: Path) -> Path | None:
    """Score against MACs and against params: every trial a point, the front highlighted, seeds named."""
    costs = [
        c
        for c in ("macs", "params")
        if any(r.get(c) is not None and r["score"] is not None for r in run.rows)
    ]
    if not costs:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(costs), figsize=(5 * len(costs), 4.2), squeeze=False)
    for ax, cost in zip(axes[0], costs):
        _pareto_axis(ax, run.rows, cost)
        ax.set_title(f"score vs {'MACs' if cost == 'macs' else 'params'} (max score, min cost)", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


# ------------------------------------------------------------------------------------------- cells


def _genotype(text: str | Mapping[str, Any] | None) -> Any:
    if not text:
        return None
    try:
        return from_json(text if isinstance(text, str) else json.dumps(text))
    except (ValueError, TypeError, KeyError):
        return None  # a row whose genotype this version cannot read: no picture, the table still shows it


def top_genotypes(run: Run, k: int) -> list[tuple[Mapping[str, Any], Any]]:
    """The ``k`` best distinct candidates (:func:`nas.search.final.top_candidates`) with their genotypes."""
    out = []
    for r in top_candidates(run.rows, k):
        g = _genotype(r.get("genotype"))
        if g is not None:
            out.append((r, g))
    return out


def _cells(genotype: Any) -> list[Cell]:
    return draw_module.cells_to_draw(genotype)


def cell_figures(run: Run, folder: Path, k: int) -> tuple[list[tuple[Path, str]], list[str]]:
    """Pictures of the stage cells (normal, reduction, …) of the ``k`` best candidates, one PNG per cell,
    with a caption; and the names of the cells every candidate shares (the fixed parts of a space, such
    as nb201's residual blocks), which are not drawn when there are several candidates."""
    top = top_genotypes(run, k)
    if not top:
        return [], []
    shared = set.intersection(*(set(_cells(g)) for _, g in top)) if len(top) > 1 else set()
    out: list[tuple[Path, str]] = []
    for rank, (r, g) in enumerate(top, start=1):
        for c in _cells(g):
            if c in shared:
                continue
            path = folder / f"cell_{safe_name(str(r['key'])[:12])}_{safe_name(c.name)}.png"
            once(path, lambda p, g=g, c=c: draw_module.draw(g, p, cell=c.name))
            out.append((path, f"{c.name} — top {rank}: trial #{r['trial_id']}, score {r['score']:.4g}"))
    return out, sorted({c.name for c in shared})


def once(path: Path, draw: Callable[[Path], Any]) -> Path:
    """``path``, drawn by ``draw(tmp)`` unless it exists: a picture named after a genotype's key is the
    same picture in every rewrite of the report (``--watch`` redraws only what changed)."""
    if not path.is_file():
        tmp = _tmp(path)
        draw(tmp)
        tmp.replace(path)  # whole or absent: a killed report leaves no half picture to reuse
    return path


def safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name) or "cell"


def network_figure(genotype: Any, path: Path) -> Path | None:
    """The stage diagram of ``genotype`` (:func:`nas.tools.draw.draw_network`); None for a single cell."""
    if not isinstance(genotype, Network):
        return None
    return once(path, lambda p: draw_module.draw(genotype, p, network=True))


# --------------------------------------------------------------------------------------- agreement


class Panel(NamedTuple):
    """One scatter plot of :func:`agreement_figure`: ``points`` are (trial score, reference) pairs."""

    title: str
    xlabel: str
    ylabel: str
    points: Sequence[tuple[float, float]]
    spearman: float | None


def agreement_figure(panels: Sequence[Panel], path: Path) -> Path | None:
    """Scatter plots of the trial score against a reference, one per panel (proxy → a ``nas final``
    target, trial score → truth), each titled with its Spearman ρ (as :mod:`nas.search.report` has it)."""
    panels = [p for p in panels if p.points]
    if not panels:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.8), squeeze=False)
    for ax, (title, xlabel, ylabel, points, rho) in zip(axes[0], panels):
        ax.scatter([p[0] for p in points], [p[1] for p in points], s=16, c="#2e86c1")
        rho_text = "-" if rho is None else f"{rho:.3f}"
        ax.set_title(f"{title}\nSpearman ρ = {rho_text} (n = {len(points)})", fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)
