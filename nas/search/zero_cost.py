"""Zero-cost scores of a search's candidates: proxy names, the ``zc_<proxy>`` columns, and the minibatch.

Three parts of a search use them: the zero-cost objective (:mod:`nas.search.objectives.zero_cost`), the
``zc_<proxy>`` columns every trial may record (``SearchConfig.zero_cost``, measured in
:func:`nas.search.objectives.base.run_job`), and the pre-screen (:mod:`nas.search.prescreen`).

The minibatch (:class:`BatchSpec`) is drawn exactly as ``nas calibrate`` draws it (same seed → same
images), so the ρ measured there applies to a search: ImageFolder archives and folders through
:func:`nas.data.batch.load_image_batch`, other data sets (CIFAR's own format, ``synthetic``) through
:func:`nas.data.datasets.load_dataset`. Proxies that need no images (synflow, params, macs) need no data.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nas.core.errors import ConfigError
from nas.core.genotype import Genotype, from_json
from nas.data.batch import load_image_batch
from nas.data.datasets import load_dataset
from nas.proxies import Batch, build_scored, get_proxy

PREFIX = "zc_"


def check_proxy(name: str, field: str) -> None:
    """``ConfigError(field, …)`` listing the proxies unless ``name`` is one."""
    try:
        get_proxy(name)
    except ValueError as e:
        raise ConfigError(field, str(e)) from None


def parse_names(text: str | Sequence[str] | None, field: str = "zero_cost") -> list[str]:
    """``"synflow,naswot"`` (or a list) → checked, de-duplicated proxy names."""
    if not text:
        return []
    items = text.split(",") if isinstance(text, str) else list(text)
    out: list[str] = []
    for name in (str(n).strip() for n in items):
        if name and name not in out:
            check_proxy(name, field)
            out.append(name)
    return out


def column(name: str) -> str:
    return PREFIX + name


@dataclass(frozen=True)
class BatchSpec:
    """Where a proxy's minibatch comes from (plain data: it travels to Ray workers)."""

    dataset: str = "cifar10"
    data: str | None = None
    size: int = 64
    seed: int = 0

    def load(self, image_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        key = (self, image_size)
        if key not in _BATCHES:
            _BATCHES.clear()
            _BATCHES[key] = self._load(image_size)
        return _BATCHES[key]

    def _load(self, image_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.data is not None and Path(self.data).exists():
            try:  # an ImageFolder archive/folder: exactly nas calibrate's batch
                return load_image_batch(self.data, self.size, seed=self.seed, size=image_size)
            except ValueError:
                pass  # not ImageFolder-shaped (e.g. CIFAR's python format): the data set loader
        ds = load_dataset(
            self.dataset,
            self.data,
            train_subset=self.size,
            image_size=image_size,
            split_seed=self.seed,
            synthetic_size=(max(self.size, 10), 10),
        )
        return next(iter(ds.loader("train", self.size)))


_BATCHES: dict[tuple[BatchSpec, int], tuple[torch.Tensor, torch.Tensor]] = {}

#: a proxy's minibatch: where to draw it from, the images themselves, or None (proxies that read none)
BatchSource = BatchSpec | Batch | None


def check_data(names: Sequence[str], batch: BatchSource) -> None:
    """Proxies that read images need a minibatch (``ValueError`` naming them otherwise)."""
    need = [n for n in names if get_proxy(n).needs_data]
    if need and batch is None:
        raise ValueError(
            f"proxy {', '.join(map(repr, need))} needs a batch of images (a data set to draw it from); "
            "synflow, params and macs need none"
        )


def score_genotype(
    genotype: Genotype, names: Sequence[str], batch: BatchSource, seed: int
) -> dict[str, dict[str, float]]:
    """``{proxy: {"score", "cpu_s", "wall_s"}}`` for one genotype (one build, weights from ``seed``).

    ``batch``: a :class:`BatchSpec` (loaded at the genotype's resolution when a proxy reads images),
    the images themselves, or None (zero images of the genotype's shape: enough for shape-only proxies)."""
    size = int(genotype.input_size[-1])
    if isinstance(batch, BatchSpec):
        needs = any(get_proxy(n).needs_data for n in names)
        batch = batch.load(size) if needs else None
    if batch is None:
        check_data(names, None)
        batch = (torch.zeros((2, *genotype.input_size)), torch.zeros(2, dtype=torch.long))
    return build_scored(genotype, names, batch, seed=seed)


def zero_cost_metrics(
    genotype_json: str, names: Sequence[str], batch: BatchSource, seed: int
) -> dict[str, Any]:
    """The ``zc_<proxy>`` metrics of a trial and their CPU time (``zc_cpu_s``)."""
    t0 = time.process_time()
    scored = score_genotype(from_json(genotype_json), names, batch, seed)
    out: dict[str, Any] = {column(n): r["score"] for n, r in scored.items()}
    out["zc_cpu_s"] = time.process_time() - t0
    return out


__all__ = [
    "PREFIX",
    "BatchSource",
    "BatchSpec",
    "check_data",
    "check_proxy",
    "column",
    "parse_names",
    "score_genotype",
    "zero_cost_metrics",
]
