"""What a compound-scaling run shows (``nas scale``): the candidate table of an α β γ grid run, its
heat-map, and the per-member mean ± 95% CI over the seed runs of a comparison.

Rows come from the run's trials table (:mod:`nas.search.trials`); a candidate's params and MACs are the
trial's when the objective measured them, else measured here (``nas.describe``), at its own resolution.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nas.core.genotype import Network, from_json
from nas.search.trials import TrialsTable
from nas.stats import mean_ci
from nas.tools.compound import COEFFICIENTS
from nas.tools.describe import describe

GRID_COLUMNS = (
    "trial_id", "alpha", "beta", "gamma", "depth_mult", "width_mult", "resolution_mult", "resolution",
    "params", "macs", "score", "status", "cached",
)  # fmt: skip


def _measured(row: Mapping[str, Any], memo: dict[str, tuple[int, int, int]]) -> tuple[int, int, int]:
    """(params, MACs, resolution in pixels) of a trial's genotype."""
    key = row["key"] or row["genotype"]
    if key not in memo:
        net = from_json(row["genotype"])
        assert isinstance(net, Network)
        if row.get("params") is not None and row.get("macs") is not None:
            params, macs = int(row["params"]), int(row["macs"])
        else:
            d = describe(net)
            params, macs = int(d["params"]), int(d["macs"])
        memo[key] = (params, macs, int(net.input_size[1]))
    return memo[key]


def trial_rows(directory: Path) -> list[dict[str, Any]]:
    """The trials of a run that have a genotype, each with its params, MACs and resolution."""
    memo: dict[str, tuple[int, int, int]] = {}
    out = []
    for r in TrialsTable(directory, read_only=True).rows:
        if not r["genotype"]:
            continue
        params, macs, px = _measured(r, memo)
        out.append({**r, "params": params, "macs": macs, "resolution": px})
    return out


def grid_rows(directory: Path) -> list[dict[str, Any]]:
    """The candidate table of an α β γ grid run (space ``scale``: φ = 1, so the multipliers are α, β, γ)."""
    rows = []
    for r in trial_rows(directory):
        c = r["choices"] or {}
        if not all(k in c for k in COEFFICIENTS):
            continue
        a, b, g = (float(c[k]) for k in COEFFICIENTS)
        score = r["score"] if r["status"] in ("ok", "stopped") else None
        rows.append(
            dict(
                trial_id=r["trial_id"],
                alpha=a,
                beta=b,
                gamma=g,
                depth_mult=a,
                width_mult=b,
                resolution_mult=g,
                **{k: r[k] for k in ("resolution", "params", "macs")},
                score=score,
                status=r["status"],
                cached=bool(r["cached"]),
            )
        )
    return rows


def best_row(rows: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    scored = [r for r in rows if r["score"] is not None]
    return max(scored, key=lambda r: r["score"]) if scored else None


def write_csv(rows: Sequence[Mapping[str, Any]], path: Path, columns: Sequence[str]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if r.get(k) is None else r[k] for k in columns})
    return path


def heatmap(rows: Sequence[Mapping[str, Any]], path: Path, title: str) -> Path:
    """Score over width β × resolution γ; α is (nearly) implied by the constraint, so each cell shows
    the best score over its α values and is labelled with that α."""
    import matplotlib  # optional heavy dependency: only for the picture

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    betas = sorted({r["beta"] for r in rows})
    gammas = sorted({r["gamma"] for r in rows})
    cells: dict[tuple[float, float], Mapping[str, Any]] = {}
    for r in rows:
        k = (r["beta"], r["gamma"])
        if r["score"] is not None and (k not in cells or r["score"] > cells[k]["score"]):
            cells[k] = r
    grid = [[cells[b, g]["score"] if (b, g) in cells else float("nan") for b in betas] for g in gammas]
    fig, ax = plt.subplots(figsize=(1.1 * len(betas) + 2.5, 0.8 * len(gammas) + 2))
    im = ax.imshow(grid, origin="lower", cmap="viridis", aspect="auto")
    for i, g in enumerate(gammas):
        for j, b in enumerate(betas):
            if (b, g) in cells:
                r = cells[b, g]
                color = "black" if im.norm(r["score"]) > 0.6 else "white"  # readable on light cells
                ax.text(j, i, f"{r['score']:.1f}\nα={r['alpha']:g}", ha="center", va="center", fontsize=8,
                        color=color)  # fmt: skip
    ax.set_xticks(range(len(betas)), [f"{b:g}" for b in betas])
    ax.set_yticks(range(len(gammas)), [f"{g:g}" for g in gammas])
    ax.set_xlabel("β (width multiplier)")
    ax.set_ylabel("γ (resolution multiplier)")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label="score (best over α)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def member_summary(directories: Sequence[Path]) -> dict[str, dict[str, Any]]:
    """Per member of a ``scale-list`` space, over the runs in ``directories`` (one per seed): its
    params, MACs, resolution and the mean ± 95% CI of its scores."""
    scores: dict[str, list[float | None]] = {}
    info: dict[str, dict[str, Any]] = {}
    for d in directories:
        for r in trial_rows(d):
            member = (r["choices"] or {}).get("member")
            if member is None:
                continue
            info.setdefault(member, {k: r[k] for k in ("params", "macs", "resolution")})
            scores.setdefault(member, []).append(r["score"] if r["status"] in ("ok", "stopped") else None)
    return {m: {**info[m], **mean_ci(scores[m]), "scores": scores[m]} for m in info}


__all__ = ["GRID_COLUMNS", "best_row", "grid_rows", "heatmap", "member_summary", "trial_rows", "write_csv"]
