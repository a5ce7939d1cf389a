"""What decides a training run: :class:`TrainConfig` and the per-step learning-rate schedule.

* SGD with momentum (optionally Nesterov); no weight decay on BN parameters and biases (ndim <= 1).
* Per-step learning rate (:func:`lr_at`): ``cosine`` (to ``min_lr``), ``onecycle`` (from lr/25 up to lr,
  then cosine down), ``exp`` (× ``lr_gamma`` per epoch, DARTS's ImageNet recipe) or ``constant``; all
  with an optional linear warm-up of ``warmup_epochs``.
* Label smoothing, gradient clipping (global norm), auxiliary-head loss (``aux_weight``), drop-path
  ramped linearly from 0 to its rate over the epochs (DARTS).
* Augmentation of small images: random crop after ``crop_padding``, flip, ``cutout``.
* ``amp`` (``auto``: bf16 where CUDA supports it), ``channels_last`` (None: automatic), ``compile``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from nas.core.errors import ConfigError

SCHEDULES = ("cosine", "onecycle", "exp", "constant")
AMP_MODES = ("auto", "bf16", "fp16", "none")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run (see the module docstring for the meaning)."""

    epochs: int = 1
    batch_size: int = 128
    eval_batch_size: int = 512
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    min_lr: float = 0.0
    lr_gamma: float = 0.97
    label_smoothing: float = 0.0
    grad_clip: float | None = None
    drop_path: float | None = None  # None: the genotype's own rate
    aux_weight: float = 0.0
    crop_padding: int = 4
    flip: bool = True
    cutout: int = 0
    amp: str = "auto"
    channels_last: bool | None = None  # None: on CUDA and CPU (see trainer._auto_channels_last)
    compile: bool = False
    seed: int = 0
    deterministic: bool = True
    eval_every: int = 1
    evaluate_test: bool = True
    workers: int | None = None

    def __post_init__(self) -> None:
        def bad(field: str, why: str) -> ValueError:
            return ConfigError(field.split("/")[0], f"training option {field!r} {why}")

        if self.epochs < 0:
            raise bad("epochs", f"must be >= 0, got {self.epochs}")
        if self.batch_size < 1 or self.eval_batch_size < 1:
            raise bad("batch_size", "must be >= 1")
        if self.lr <= 0:
            raise bad("lr", f"must be > 0, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise bad("momentum", f"must be in [0, 1), got {self.momentum}")
        if self.nesterov and self.momentum == 0:
            raise bad("nesterov", "needs momentum > 0")
        if self.weight_decay < 0:
            raise bad("weight_decay", "must be >= 0")
        if self.schedule not in SCHEDULES:
            raise bad("schedule", f"must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.warmup_epochs < 0 or (self.epochs and self.warmup_epochs > self.epochs):
            raise bad("warmup_epochs", f"must be in [0, epochs], got {self.warmup_epochs}")
        if not 0 <= self.label_smoothing < 1:
            raise bad("label_smoothing", "must be in [0, 1)")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise bad("grad_clip", "must be > 0 (or None)")
        if self.drop_path is not None and not 0 <= self.drop_path < 1:
            raise bad("drop_path", "must be in [0, 1) (or None)")
        if self.aux_weight < 0:
            raise bad("aux_weight", "must be >= 0")
        if self.crop_padding < 0 or self.cutout < 0:
            raise bad("crop_padding/cutout", "must be >= 0")
        if self.amp not in AMP_MODES:
            raise bad("amp", f"must be one of {', '.join(AMP_MODES)}, got {self.amp!r}")
        if self.eval_every < 1:
            raise bad("eval_every", "must be >= 1")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(TrainConfig)}


# Fields that change the trajectory of a run: a checkpoint is only resumed when they agree.
TRAJECTORY_FIELDS = (
    "epochs", "batch_size", "lr", "momentum", "nesterov", "weight_decay", "schedule", "warmup_epochs",
    "min_lr", "lr_gamma", "label_smoothing", "grad_clip", "drop_path", "aux_weight", "crop_padding",
    "flip", "cutout", "seed",
)  # fmt: skip


def lr_at(step: int, total: int, steps_per_epoch: int, cfg: TrainConfig) -> float:
    """The learning rate of optimisation step ``step`` (0-based) of ``total``."""
    base = cfg.lr
    warm = int(round(cfg.warmup_epochs * steps_per_epoch))
    if cfg.schedule == "onecycle":
        peak = warm if warm > 0 else int(0.3 * total)
        start = base / 25.0
        end = cfg.min_lr if cfg.min_lr > 0 else start / 1e4
        if step < peak:
            return start + (base - start) * 0.5 * (1 - math.cos(math.pi * step / peak))
        t = (step - peak) / max(1, total - peak)
        return end + (base - end) * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))
    if step < warm:
        return base * (step + 1) / warm
    if cfg.schedule == "cosine":
        t = (step - warm) / max(1, total - warm)
        return cfg.min_lr + (base - cfg.min_lr) * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))
    if cfg.schedule == "exp":
        return base * cfg.lr_gamma ** ((step - warm) // max(1, steps_per_epoch))
    return base
