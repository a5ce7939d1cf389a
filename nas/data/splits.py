"""Splits of a data set and how they are carved: class-balanced, seeded, honest.

The validation split is carved from the training set (seeded, class-balanced) so the test set stays
untouched by search; ``train_subset`` / ``test_subset`` take class-balanced subsets of what remains.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from nas.data.errors import DataError


@dataclass
class ArraySplit:
    """Decoded images in memory: ``images`` uint8 (N, C, H, W), ``labels`` int64 (N,)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def select(self, idx: np.ndarray) -> ArraySplit:
        i = torch.as_tensor(np.asarray(idx, dtype=np.int64))
        return ArraySplit(self.images[i], self.labels[i])


@dataclass
class FileSplit:
    """Images on disk: paths relative to ``root`` and int64 labels. ``root`` may be a function that
    returns the directory (an archive is unpacked only when a loader first needs the files)."""

    paths: list[str]
    labels: torch.Tensor
    root: Path | Callable[[], Path] = Path(".")

    def __len__(self) -> int:
        return len(self.labels)

    def select(self, idx: np.ndarray) -> FileSplit:
        idx = np.asarray(idx, dtype=np.int64)
        return FileSplit([self.paths[i] for i in idx], self.labels[torch.as_tensor(idx)], self.root)

    def resolved(self) -> list[str]:
        root = self.root() if callable(self.root) else self.root
        return [str(root / p) for p in self.paths]


Split = ArraySplit | FileSplit


class Arrays(NamedTuple):
    """A whole data set decoded in memory (CIFAR, synthetic): uint8 (N, C, H, W) images, int64 labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]


# ----------------------------------------------------------------------------------------------------
# class-balanced index selection


def _per_class(labels: np.ndarray) -> dict[int, np.ndarray]:
    return {int(c): np.flatnonzero(labels == c) for c in np.unique(labels)}


def _allocate(counts: dict[int, int], total: int, rng: np.random.Generator) -> dict[int, int]:
    """Split ``total`` over classes as evenly as their sizes allow (largest class gets no more than
    ``ceil(total / K)`` unless others run out); ties broken by ``rng``."""
    quota = dict.fromkeys(counts, 0)
    left = total
    open_ = [c for c in counts if counts[c] > 0]
    while left > 0 and open_:
        share = left // len(open_)
        if share == 0:  # fewer left than classes: give one each to a random choice of classes
            for c in rng.permutation(open_)[:left]:
                quota[int(c)] += 1
            break
        for c in open_:
            take = min(share, counts[c] - quota[c])
            quota[c] += take
            left -= take
        open_ = [c for c in open_ if quota[c] < counts[c]]
    return quota


def balanced_subset(labels: np.ndarray | torch.Tensor, n: int, seed: int = 0) -> np.ndarray:
    """Indices of a seeded, class-balanced subset of ``n`` samples (sorted)."""
    labels = np.asarray(labels)
    if n <= 0:
        raise DataError(f"train_subset must be positive, got {n}")
    if n > len(labels):
        raise DataError(f"train_subset={n} is larger than the {len(labels)} training images available")
    rng = np.random.default_rng([int(seed), 1])
    by_class = _per_class(labels)
    quota = _allocate({c: len(i) for c, i in by_class.items()}, n, rng)
    picked = [rng.permutation(idx)[: quota[c]] for c, idx in by_class.items()]
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, np.int64)


def balanced_split(
    labels: np.ndarray | torch.Tensor, val_size: int | float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded, class-balanced ``(train, val)`` index split. ``val_size``: a count (int >= 1), a
    fraction in (0, 1), or 0 for no validation split. Every class keeps at least one training image."""
    labels = np.asarray(labels)
    n = len(labels)
    if isinstance(val_size, bool) or val_size < 0:
        raise DataError(f"val_size must be >= 0, got {val_size}")
    if val_size == 0:
        return np.arange(n), np.zeros(0, np.int64)
    if isinstance(val_size, float) and val_size < 1:
        total = int(round(n * val_size))
    else:
        total = int(val_size)
    if total >= n:
        raise DataError(f"val_size={val_size} leaves no training images (the training split has {n})")
    by_class = _per_class(labels)
    rng = np.random.default_rng([int(seed), 2])
    quota = _allocate({c: max(0, len(i) - 1) for c, i in by_class.items()}, total, rng)
    val = [rng.permutation(idx)[: quota[c]] for c, idx in by_class.items()]
    val_idx = np.sort(np.concatenate(val))
    mask = np.ones(n, bool)
    mask[val_idx] = False
    return np.flatnonzero(mask), val_idx


@dataclass(frozen=True)
class SplitPlan:
    """How a data set's splits are carved: ``val_size`` validation images taken from the training split
    (count, fraction, or 0), then class-balanced ``train_subset`` / ``test_subset``; all seeded by
    ``seed`` (the split seed, independent of the training seed)."""

    val_size: int | float = 0
    train_subset: int | None = None
    test_subset: int | None = None
    seed: int = 0

    def indices(
        self, ytr: np.ndarray, yte: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``(train, val, test)`` indices: train and val into ``ytr``, test into ``yte`` (None without)."""
        tr_idx, val_idx = balanced_split(ytr, self.val_size, self.seed)
        n = self.train_subset
        if n is not None and n < len(tr_idx):
            tr_idx = tr_idx[balanced_subset(ytr[tr_idx], n, self.seed)]
        elif n is not None and n > len(tr_idx):
            raise DataError(
                f"train_subset={n} is larger than the {len(tr_idx)} training images left "
                f"after the validation split"
            )
        te_idx = None
        if yte is not None:
            te_idx = np.arange(len(yte))
            if self.test_subset is not None and self.test_subset < len(yte):
                te_idx = balanced_subset(yte, self.test_subset, self.seed)
        return tr_idx, val_idx, te_idx
