"""Per-epoch metrics of a training run on disk: CSV, TensorBoard scalars and Parquet."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any


class MetricsWriter:
    """Per-epoch metrics to ``out_dir``: ``metrics.csv`` (rewritten each epoch), TensorBoard scalars
    (``tb/``, via tensorboardX) and, at the end, ``metrics.parquet``."""

    def __init__(self, out_dir: Path, tensorboard: bool = True) -> None:
        self.out_dir = out_dir
        self._tb = None
        if tensorboard:
            try:
                from tensorboardX import SummaryWriter  # optional; imported only when asked for

                self._tb = SummaryWriter(logdir=str(out_dir / "tb"), flush_secs=30)
            except ImportError:  # optional at run time
                self._tb = None

    def epoch(self, history: list[dict[str, Any]]) -> None:
        rows = history
        keys: list[str] = []
        for r in rows:
            keys.extend(k for k in r if k not in keys)
        tmp = self.out_dir / "metrics.csv.tmp"
        with tmp.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(rows)
        os.replace(tmp, self.out_dir / "metrics.csv")
        if self._tb is not None and rows:
            last = rows[-1]
            for k, v in last.items():
                if k != "epoch" and isinstance(v, int | float) and v is not None:
                    self._tb.add_scalar(k.replace("_", "/", 1), v, last["epoch"])
            self._tb.flush()

    def close(self, history: list[dict[str, Any]]) -> None:
        if history:
            import pandas as pd  # heavy import, needed once at the end of a run

            pd.DataFrame(history).to_parquet(self.out_dir / "metrics.parquet", index=False)
        if self._tb is not None:
            self._tb.close()
