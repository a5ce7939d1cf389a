"""SPOS (Guo et al. 2020): train the supernet one uniformly drawn path per step, then search its members
scored with inherited weights.

* Training is the project's :class:`nas.train.trainer.Trainer` on :class:`UniformPath` (the supernet
  drawing a member per training forward from torch's global RNG): same SGD groups, schedule, AMP,
  channels-last, loaders and checkpoint, whose RNG states make a resumed run bit-identical on the CPU.
  SGD skips parameters without a gradient, so an op off the step's path keeps its momentum untouched.
* :class:`InheritedScorer` scores a member on the validation split with the supernet's weights after
  recalibrating BatchNorm statistics on a few shuffled training batches (cumulative averages; running
  statistics shared across paths describe none of them), and restores the supernet's buffers afterwards.
* :func:`search_members` runs any registered strategy (ask / tell) over the members with such a scorer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nas.core.errors import ConfigError
from nas.core.space import SearchSpace
from nas.oneshot.supernet import Supernet
from nas.search.strategies import make_strategy
from nas.search.strategies.base import choice_key
from nas.stats import is_finite
from nas.train.config import TrainConfig
from nas.train.seeding import seed_everything
from nas.train.trainer import Trainer

Choices = dict[str, Any]


def sample_path(space: SearchSpace, generator: torch.Generator | None = None) -> Choices:
    """A uniformly drawn member's choices, from torch's RNG (global unless ``generator``)."""
    out: Choices = {}
    for k, options in space.choices().items():
        out[k] = options[int(torch.randint(len(options), (), generator=generator))]
    return space.check(out)


class UniformPath(nn.Module):
    """The supernet in SPOS training: every training-mode forward runs a fresh uniform path; evaluation
    runs the path last set with ``supernet.set_path``."""

    def __init__(self, supernet: Supernet) -> None:
        super().__init__()
        self.supernet = supernet

    def forward(self, x: torch.Tensor) -> Any:
        if self.training:
            self.supernet.set_path(sample_path(self.supernet.space))
        return self.supernet(x)


def check_data(supernet: Supernet, data: Any) -> None:
    """``ConfigError`` when the data set's classes or image size are not the supernet's."""
    g = supernet.genotype_layout
    if data.num_classes != g.num_classes:
        raise ConfigError(
            "num_classes",
            f"the supernet has {g.num_classes} classes, data set {data.name!r} {data.num_classes}",
        )
    if tuple(data.image_size) != tuple(g.input_size):
        raise ConfigError(
            "image_size",
            f"the supernet takes {g.input_size} images, data set {data.name!r} {data.image_size}",
        )


def spos_trainer(
    supernet: Supernet | Callable[[], Supernet],
    data: Any,
    config: TrainConfig,
    *,
    out_dir: str | Path | None = None,
    resume: bool = False,
    device: str | torch.device | None = None,
    **trainer_options: Any,
) -> Trainer:
    """The trainer of a SPOS supernet run (call ``.fit()``). ``supernet`` may be a factory, called after
    seeding with ``config.seed`` so the initial weights are a function of the seed."""
    seed_everything(config.seed, config.deterministic)
    net = supernet() if callable(supernet) and not isinstance(supernet, nn.Module) else supernet
    if not isinstance(net, Supernet):
        raise TypeError(f"spos_trainer takes a Supernet or a factory of one, got {type(net).__name__}")
    check_data(net, data)
    trainer_options.setdefault("tensorboard", False)
    return Trainer(
        UniformPath(net), data, config, out_dir=out_dir, resume=resume, device=device, **trainer_options
    )


def _batchnorms(module: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


class InheritedScorer:
    """Validation top-1 (percent) of a member with the supernet's weights, BN recalibrated per member on
    ``calib_batches`` shuffled training batches of ``batch_size`` (the same for every member); uses
    ``trainer``'s device, memory format and evaluation (``trainer.model``: the supernet's
    :class:`UniformPath`)."""

    def __init__(self, trainer: Trainer, *, calib_batches: int = 4, batch_size: int = 64) -> None:
        if calib_batches < 1:
            raise ConfigError("calib_batches", f"must be >= 1, got {calib_batches}")
        if trainer.data.val is None:
            raise ConfigError("val_size", "scoring members with inherited weights needs a validation split")
        model = trainer.model
        if not isinstance(model, UniformPath):
            raise TypeError("InheritedScorer needs the trainer of a single-path supernet (UniformPath)")
        self.trainer = trainer
        self.supernet = model.supernet
        # shuffled (a data set's files are often in class order: unshuffled first batches hold one class)
        # and, for in-memory data, not augmented; the order is a function of the seed alone
        loader = trainer.data.loader(
            "train",
            batch_size,
            train=True,
            augment=None,
            device=trainer.device,
            seed=trainer.config.seed,
            channels_last=trainer.channels_last,
        )
        self.batches: list[torch.Tensor] = []
        for x, _ in loader:
            if len(self.batches) == calib_batches:
                break
            self.batches.append(x)

    @torch.no_grad()
    def recalibrate(self) -> None:
        """Reset every BatchNorm's statistics and re-estimate them on the path now set."""
        bns = _batchnorms(self.supernet)
        momenta = [bn.momentum for bn in bns]
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average over the calibration batches
        self.supernet.train()
        with self.trainer._autocast():
            for x in self.batches:
                self.supernet(x)
        for bn, m in zip(bns, momenta):
            bn.momentum = m
        self.supernet.eval()

    def __call__(self, choices: Mapping[str, Any]) -> dict[str, float]:
        saved = {k: v.clone() for k, v in self.supernet.named_buffers()}
        try:
            self.supernet.set_path(choices)
            self.recalibrate()
            result = self.trainer.evaluate("val")
        finally:
            with torch.no_grad():
                for k, v in self.supernet.named_buffers():
                    v.copy_(saved[k])
        return {"val_top1": result["top1"], "val_loss": result["loss"]}


def search_members(
    space: SearchSpace,
    score: Callable[[Mapping[str, Any]], float | None],
    *,
    strategy: str = "evolution",
    budget: int = 100,
    seed: int = 0,
    options: Mapping[str, Any] | None = None,
    log: Callable[[int, Choices, float | None], None] | None = None,
) -> list[tuple[Choices, float | None]]:
    """``budget`` proposals of a registered strategy over ``space``, each scored by ``score`` (higher is
    better; a repeated member is answered from the cache); returns ``(choices, score)`` per proposal."""
    if budget < 1:
        raise ConfigError("budget", f"must be >= 1, got {budget}")
    s = make_strategy(strategy, space, seed=seed, **dict(options or {}))
    cache: dict[str, float | None] = {}
    rows: list[tuple[Choices, float | None]] = []
    for i in range(budget):
        c = s.propose()
        if c is None:  # an exhausted grid
            break
        key = choice_key(c)
        if key not in cache:
            cache[key] = score(c)
        value = cache[key]
        s.observe(c, value if is_finite(value) else None)
        rows.append((dict(c), value))
        if log is not None:
            log(i, dict(c), value)
    return rows


def best_member(rows: Sequence[tuple[Choices, float | None]]) -> tuple[Choices, float]:
    """The highest-scoring ``(choices, score)`` of :func:`search_members`' rows (first on ties)."""
    scored = [(c, float(v)) for c, v in rows if is_finite(v)]
    if not scored:
        raise ValueError("no member was scored")
    return max(scored, key=lambda r: r[1])
