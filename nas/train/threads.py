"""How many threads torch's CPU kernels use, for a stretch of code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` intra-op threads (None or 0: leave as is), then restore the old number.
    Small ops on a busy machine run faster on one thread (two only add contention and spin-waiting), and
    CPU-seconds measured on a known number of threads are comparable."""
    old = torch.get_num_threads()
    if n and n != old:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n and n != old:
            torch.set_num_threads(old)
