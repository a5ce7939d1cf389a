"""A trained single-path (SPOS, ENAS) supernet as a calibration proxy: ``nas calibrate --supernet DIR``
ranks the truth table's architectures by their validation top-1 with inherited weights (BatchNorm
recalibrated per member), so the supernet's rank fidelity (Spearman ρ, Kendall τ, pick regret) is
measured against ground truth like any proxy's. Its cost per candidate is the scoring's CPU time; what
the supernet cost to train is recorded with the result (``supernet_train_seconds``)."""

from __future__ import annotations

import time
from pathlib import Path

from nas.calibration.calibrate import ExternalScorer
from nas.oneshot.objective import load_scorer
from nas.oneshot.store import read_meta


def supernet_name(directory: str | Path) -> str:
    """The proxy's name in a calibration: ``supernet:<directory name>``."""
    return f"supernet:{Path(directory).resolve().name}"


def supernet_scorer(
    directory: str | Path, *, calib_batches: int = 4, batch_size: int = 64, device: str | None = None
) -> ExternalScorer:
    """The inherited-weight score of the trained SPOS / ENAS supernet in ``directory`` (``supernet/`` of a
    ``nas oneshot`` run), for :func:`nas.calibration.calibrate.run_calibration`'s ``external``."""
    scorer = load_scorer(directory, calib_batches=calib_batches, batch_size=batch_size, device=device)
    space = scorer.supernet.space
    run = read_meta(directory)

    def score(arch: str) -> tuple[float, float, float]:
        choices = space.parse_arch(arch)
        t0, w0 = time.process_time(), time.perf_counter()
        top1 = scorer(choices)["val_top1"]
        return float(top1), time.process_time() - t0, time.perf_counter() - w0

    info = {
        "supernet": str(Path(directory).resolve()),
        "method": run.method,
        "space_options": dict(run.space_options),
        "supernet_epochs": scorer.trainer.epoch,
        "supernet_train_seconds": round(float(scorer.trainer.train_seconds), 1),
        "calib_batches": calib_batches,
    }
    return ExternalScorer(score, "weight-sharing", info)
