"""A calibration's outputs: the summary table printed by ``nas calibrate``, the CSV and JSON files and
the plot of rank fidelity (Spearman ρ) against cost per candidate.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nas.calibration.results import Calibration

SUMMARY_COLUMNS = (
    "proxy",
    "kind",
    "n",
    "spearman",
    "kendall",
    "top10_precision",
    "top_decile_spearman",
    "pick_regret_20",
    "pick_regret_50",
    "pick_regret_100",
    "cpu_s_per_candidate",
    "wall_s_per_candidate",
    "non_finite",
)


def format_table(summary: Sequence[Mapping[str, Any]]) -> str:
    w = max([16, *(len(str(r["proxy"])) for r in summary)])
    head = (
        f"{'proxy':{w}s} {'kind':9s} {'n':>5s} {'spearman':>9s} {'kendall':>8s} {'top10%':>7s} "
        f"{'ρ top10%':>8s} {'regret@20':>9s} {'cpu_s/cand':>10s}"
    )
    lines = [head, "-" * len(head)]
    for r in summary:
        rho, tau, top = (_number(r[k]) for k in ("spearman", "kendall", "top10_precision"))
        rho_top, regret = (_number(r.get(k)) for k in ("top_decile_spearman", "pick_regret_20"))
        lines.append(
            f"{r['proxy']:{w}s} {r['kind']:9s} {r['n']:5d} {rho:9.3f} {tau:8.3f} "
            f"{top:7.2f} {rho_top:8.3f} {regret:9.3f} {r['cpu_s_per_candidate']:10.2f}"
        )
    return "\n".join(lines)


def _number(v: float | None) -> float:
    """A summary statistic for printing and plotting: ``None`` (undefined, e.g. a constant proxy) as nan."""
    return float("nan") if v is None else float(v)


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


def plot(summary: Sequence[Mapping[str, Any]], path: str | Path, title: str = "") -> Path:
    """Spearman ρ against CPU-seconds per candidate (log), one point per proxy, coloured by kind; a
    preset scored per rung is also drawn as its ρ-vs-cost curve."""
    import matplotlib  # optional, heavy: only for the plot

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    colors = {"zero-cost": "tab:blue", "training": "tab:orange", "ensemble": "tab:green"}
    placed: list[tuple[float, float]] = []
    ys = []
    for r in summary:
        x, y = max(r["cpu_s_per_candidate"], 1e-3), _number(r["spearman"])
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
        rho = _number(r["spearman"])
        if "rung_of" in info and math.isfinite(rho):
            curves.setdefault(str(info["rung_of"]), []).append(
                (int(info["rung"]), max(r["cpu_s_per_candidate"], 1e-3), rho)
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
