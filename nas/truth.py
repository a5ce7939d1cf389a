"""Ground-truth tables: CSV files of ``(arch, accuracy)`` rows (e.g. NAS-Bench-201's 200-epoch CIFAR-10
test accuracy) that calibration and ``nas report --truth`` rank proxies and searches against.

The arch entries are text in the space's arch codec; reading them into genotypes is the space's business
(:mod:`nas.core`), this module only reads the table and samples it.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from pathlib import Path

DEFAULT_ARCH_COLUMN = "arch"
DEFAULT_TARGET_COLUMN = "cifar10_test_acc_200ep"


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
