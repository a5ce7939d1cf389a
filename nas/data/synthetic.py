"""Synthetic data for smoke tests: class-dependent random images of a given size, sized to fit the splits."""

from __future__ import annotations

import math

import numpy as np
import torch

from nas.core.memory import check_fits
from nas.data.splits import Arrays, SplitPlan


def synthetic_arrays(
    n: int, num_classes: int, size: tuple[int, int], seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Learnable random images: a smooth per-class template (fixed by the data seed 0) plus noise."""
    g = torch.Generator().manual_seed(0)
    low = torch.rand(num_classes, 3, 4, 4, generator=g) * 255
    templates = torch.nn.functional.interpolate(low, size=size, mode="bilinear", align_corners=False)
    g.manual_seed(int(seed) + 1)
    y = torch.arange(n) % num_classes
    y = y[torch.randperm(n, generator=g)]
    x = templates[y] + torch.randn(n, 3, *size, generator=g) * 48
    return x.clamp_(0, 255).round_().to(torch.uint8).numpy(), y.numpy().astype(np.int64)


def synthetic_source(
    num_classes: int, size: tuple[int, int], plan: SplitPlan, min_size: tuple[int, int]
) -> tuple[Arrays, str]:
    """A synthetic data set of at least ``min_size`` (train, test) images, more when ``plan``'s
    validation split and subsets need them; and its description."""
    k, val_size = num_classes, plan.val_size
    n_val = int(val_size) if val_size >= 1 else 0
    n_train = max(min_size[0], (plan.train_subset or 0) + n_val)
    if 0 < val_size < 1:
        n_train = max(n_train, math.ceil((plan.train_subset or 0) / (1 - val_size)) + k)
    n_test = max(min_size[1], plan.test_subset or 0)
    pixels = 3 * size[0] * size[1]  # the uint8 images kept, and float32 noise and templates while drawn
    check_fits(
        (n_train + n_test) * pixels + 8 * max(n_train, n_test) * pixels,
        f"synthetic data of {n_train}+{n_test} images of {size[0]}x{size[1]} needs them in memory",
        "image_size",
    )
    xtr, ytr = synthetic_arrays(n_train, k, size, seed=0)
    xte, yte = synthetic_arrays(n_test, k, size, seed=1)
    source = f"synthetic({n_train}+{n_test}, {k} classes, {size[0]}x{size[1]})"
    return Arrays(xtr, ytr, xte, yte, tuple(f"class{i}" for i in range(k))), source
