"""``nas compare RUN RUN …``: several runs side by side — overlaid best-so-far curves (against trials and
against device-hours; the regret ``optimum − best`` on a log axis when the optimum is known), and a table
of each run's final best, written as ``compare.md`` (figures as files next to it) and one self-contained
``compare.html`` (figures embedded), and ``compare.json`` (the same table as data).

The optimum is ``--optimum VALUE`` or the best value of a ground-truth table (``--truth CSV``, its target
column); a regret only means something when the runs' scores are on that table's scale (a ``table``
objective over it), so a best score above the optimum is an error, not a negative regret.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nas.core.errors import ConfigError
from nas.report.curves import best_so_far, plot_best_so_far
from nas.report.document import Document, Figure, Heading, Para, Table, to_html, to_markdown
from nas.report.listing import read_line
from nas.report.load import Run, load_run
from nas.search.objectives import FAILED
from nas.truth import DEFAULT_ARCH_COLUMN, DEFAULT_TARGET_COLUMN, load_truth

FIGURE = "compare.png"
# the tolerance of "a best above the optimum": scores written and read back as decimal text
_EPS = 1e-9


@dataclass(frozen=True)
class FinalBest:
    """One run's row of the comparison table: its final best as ``best.json`` records it."""

    run: str
    path: str
    status: str
    space: str | None
    strategy: str | None
    trials: int
    failed: int
    best: float | None
    best_trial: int | None
    best_arch: str | None
    device_hours: float
    regret: float | None = None


@dataclass
class Comparison:
    """What ``nas compare`` computed and where it wrote it."""

    out: Path
    optimum: float | None
    rows: list[FinalBest]
    files: dict[str, Path] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "optimum": self.optimum,
            "runs": [asdict(r) for r in self.rows],
            "files": {k: str(v) for k, v in self.files.items()},
        }


def _labels(runs: Sequence[Run]) -> list[str]:
    """Each run's name; its path where two runs share a name."""
    names = [r.name for r in runs]
    return [r.name if names.count(r.name) == 1 else str(r.directory) for r in runs]


def default_out(paths: Sequence[str | Path]) -> Path:
    """``<parent of the first run>/compare-<names>`` (names hashed when they would make a long name)."""
    names = [Path(p).resolve().name for p in paths]
    joined = "-".join(names)
    if len(joined) > 60:
        joined = f"{len(names)}runs-{hashlib.sha1(joined.encode()).hexdigest()[:8]}"
    return Path(paths[0]).parent / f"compare-{joined}"


def table_optimum(path: str | Path, arch_column: str, target_column: str) -> float:
    """The best (largest) value of a ground-truth table's target column."""
    return max(v for _, v in load_truth(path, arch_column, target_column))


def _final_best(run: Run, label: str, optimum: float | None) -> FinalBest:
    best = run.best.get("best") or {}
    score = best.get("score")
    if score is None:  # no best.json yet (killed before its first write): the table's best
        scored = [r for r in run.rows if r["status"] in ("ok", "stopped") and r["score"] is not None]
        top = max(scored, key=lambda r: (r["score"], -r["trial_id"]), default=None)
        best = {k: top[k] for k in ("trial_id", "score", "arch")} if top else {}
        score = best.get("score")
    score = None if score is None else float(score)
    if optimum is not None and score is not None and score > optimum + _EPS:
        raise ConfigError(
            "optimum",
            f"run {label!r} has a best score {score:.6g} above the optimum {optimum:.6g}: its scores are not "
            "on the table's scale (a regret needs a table objective over the same table)",
        )
    return FinalBest(
        run=label,
        path=str(run.directory),
        status=read_line(run.directory).shown_status,
        space=run.config.get("space") or None,
        strategy=run.config.get("strategy") or None,
        trials=int(run.best.get("trials", len(run.rows))),
        failed=sum(r["status"] in FAILED for r in run.rows),
        best=score,
        best_trial=best.get("trial_id"),
        best_arch=best.get("arch") or best.get("name") or None,
        device_hours=sum(float(r.get("device_hours") or 0.0) for r in run.all_rows or run.rows),
        regret=None if optimum is None or score is None else max(0.0, optimum - score),
    )


def _figure(runs: Sequence[Run], labels: Sequence[str], optimum: float | None, path: Path) -> Path:
    """Best-so-far against trials (left) and against device-hours (right), one line per run."""
    import matplotlib  # optional and slow to import: only the figure needs it

    matplotlib.use("Agg")  # files only, no display; must precede the pyplot import
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    by_trials = {k: best_so_far(r.rows, "trials") for k, r in zip(labels, runs)}
    by_hours = {k: best_so_far(r.rows, "device_hours", r.ledger) for k, r in zip(labels, runs)}
    plot_best_so_far(left, by_trials, regret_of=optimum, xlabel="trials")
    plot_best_so_far(right, by_hours, regret_of=optimum, xlabel="device-hours (h)")
    what = "regret" if optimum is not None else "best score"
    left.set_title(f"{what} vs trials", fontsize=10)
    right.set_title(f"{what} vs device-hours (a prescreen's CPU time first)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _num(v: float | None, fmt: str = ".4f") -> str:
    return "-" if v is None or not math.isfinite(v) else format(v, fmt)


def table_rows(
    rows: Sequence[FinalBest], optimum: float | None
) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """Headers and text cells of the final-bests table (the regret column only with an optimum)."""
    head = ["run", "status", "space", "strategy", "trials", "failed", "best", "best trial", "device-h"]
    body = []
    for r in rows:
        cells = [r.run, r.status, r.space or "-", r.strategy or "-", str(r.trials), str(r.failed)]
        cells += [
            _num(r.best),
            "-" if r.best_trial is None else f"#{r.best_trial}",
            _num(r.device_hours, ".4g"),
        ]
        if optimum is not None:
            cells.append(_num(r.regret, ".4g"))
        body.append(tuple(cells))
    if optimum is not None:
        head.append("regret")
    return tuple(head), body


def format_table(rows: Sequence[FinalBest], optimum: float | None) -> str:
    """The final-bests table as aligned text."""
    head, body = table_rows(rows, optimum)
    widths = [max(len(x[i]) for x in (head, *body)) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(x, widths)).rstrip() for x in (head, *body))


def _document(c: Comparison, figure: Path) -> Document:
    doc = Document(f"Comparison of {len(c.rows)} runs")
    head, body = table_rows(c.rows, c.optimum)
    about = "best score so far" if c.optimum is None else f"regret (optimum {c.optimum:.6g} − best so far)"
    doc.add(
        Para(f"Runs: {', '.join(r.path for r in c.rows)}. Curves: {about}, against trials and device-hours."),
        Heading("Final bests"),
        Table(head, tuple(body), caption="each run's best.json; device-h: the trials' device-hours"),
        Heading("Best so far"),
        Figure(figure, f"{about} vs trials (left) and device-hours (right)"),
        Heading("Best architectures"),
        Table(("run", "best arch"), tuple((r.run, r.best_arch or "-") for r in c.rows)),
    )
    return doc


def compare(
    paths: Sequence[str | Path],
    *,
    out: str | Path | None = None,
    truth: str | Path | None = None,
    optimum: float | None = None,
    arch_column: str = DEFAULT_ARCH_COLUMN,
    target_column: str | None = None,
) -> Comparison:
    """Compare the runs in ``paths`` (at least two); writes compare.png, compare.md, compare.html and
    compare.json to ``out`` (default :func:`default_out`)."""
    if len(paths) < 2:
        raise ValueError(f"compare needs at least two runs, got {len(paths)}")
    if truth is not None and optimum is not None:
        raise ConfigError("optimum", "give the optimum or a truth table to read it from, not both")
    if optimum is not None and not math.isfinite(optimum):
        raise ConfigError("optimum", f"must be a finite number, got {optimum}")
    runs = [load_run(p) for p in paths]
    if truth is not None:
        optimum = table_optimum(truth, arch_column, target_column or DEFAULT_TARGET_COLUMN)
    labels = _labels(runs)
    rows = [_final_best(r, k, optimum) for r, k in zip(runs, labels)]
    directory = Path(out) if out is not None else default_out(paths)
    directory.mkdir(parents=True, exist_ok=True)
    c = Comparison(directory, optimum, rows)
    figure = _figure(runs, labels, optimum, directory / FIGURE)
    doc = _document(c, figure)
    c.files = {"figure": figure, "md": directory / "compare.md", "html": directory / "compare.html"}
    c.files["json"] = directory / "compare.json"
    c.files["md"].write_text(to_markdown(doc, directory))
    c.files["html"].write_text(to_html(doc))
    c.files["json"].write_text(json.dumps(c.to_dict(), indent=1))
    return c
