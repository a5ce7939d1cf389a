"""Fidelity presets: how much data, how many epochs and how big a network a trial gets.

A preset is DATA (the ``PRESETS`` table); :func:`get_preset` turns a row plus any overrides into a
:class:`Preset`, a :class:`nas.train.config.TrainConfig` with the data and network fields added. Every field
can be overridden (``get_preset("small", epochs=5, width=None)``); an unknown preset or field is a
``ValueError``.

Network fields: ``cells`` (total number of stage cells) and ``width`` (the first stage's width, every
other width and the stem's absolute channel counts scaled alike) shrink a network for a proxy (see
:func:`scale_network`); ``None`` trains the architecture as written.

* ``tiny``   — smoke-test proxy: 5 cells at C=8, 2 epochs on a 5k subset, 1k validation images.
* ``rank``   — the default search proxy, tuned for rank fidelity per CPU-second (not accuracy): 5 cells
  at C=8, 6 epochs cosine on a 10k subset, batch 64, no augmentation, 5k validation images; scored
  by validation accuracy + 5 · log10(parameters of the architecture as searched) (``params_weight``,
  see :meth:`Preset.score`; ``params_weight=0`` ranks by accuracy alone). Against 200-epoch CIFAR-10
  accuracy of 200 held-out NAS-Bench-201 architectures: Spearman ρ 0.81 [0.74, 0.86] at ≈ 48 CPU-s per
  candidate (``benchmarks/results/CALIBRATION.md``).
* ``small``  — search proxy (the DARTS search network's size): 8 cells at C=16, 10 epochs on 20k.
  On one sample of 50 NB201 architectures: ρ 0.92 [0.82, 0.96] at ≈ 590 CPU-s per candidate.
* ``confirm`` — ``small``'s training scored with ``rank``'s size term (+ 5 · log10 parameters): the
  selection stage's stronger fidelity (``nas search --select``). On the 50 architectures of ``small``'s
  calibration, retraining the 3 best by ``rank`` of a random pool of 20 with it and picking the best
  lands 0.27 points below the pool's true best, against 0.45 with ``small``'s bare accuracy and 0.64 for
  ``rank``'s own pick (``benchmarks/bench_selection.py``).
* ``medium`` — a stronger proxy: 14 cells at C=24, 50 epochs on the full training split (a GPU
  preset, ≈ 7 CPU-h per NB201 candidate on a CPU; not calibrated yet).
* ``full``   — the DARTS CIFAR protocol for final training: the architecture as written (e.g. 20 cells
  at C=36), 600 epochs, batch 96, lr 0.025 cosine, wd 3e-4, cutout 16, drop-path 0.2, aux 0.4,
  grad clip 5, no validation split (all 50k train, test on test).
* ``imagenet`` — the DARTS ImageNet protocol for transferred cells: 250 epochs, batch 128, lr 0.1
  decayed ×0.97 per epoch, wd 3e-5, label smoothing 0.1, aux 0.4, grad clip 5.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from typing import Any

from nas.core.errors import ConfigError
from nas.core.genotype import Cell, Network, Stage
from nas.tools.scale import depth_fixed, remap_aux
from nas.train.config import TrainConfig


@dataclass(frozen=True)
class Preset(TrainConfig):
    """A :class:`TrainConfig` plus the data (splits, resolution) and network (cells, width) fields."""

    name: str = "custom"
    train_subset: int | None = None
    test_subset: int | None = None
    val_size: int | float = 0
    split_seed: int = 0
    image_size: int | None = None
    test_image_size: int | None = None
    cells: int | None = None
    width: int | None = None
    params_weight: float = 0.0  # score = val top-1 (%) + params_weight × log10(parameters)

    def __post_init__(self) -> None:
        super().__post_init__()
        for f in ("train_subset", "test_subset", "image_size", "test_image_size", "cells", "width"):
            v = getattr(self, f)
            if v is not None and v < 1:
                raise ConfigError(f, f"preset field {f!r} must be a positive int or None, got {v!r}")
        if self.val_size < 0 or (self.val_size >= 1 and self.val_size != int(self.val_size)):
            raise ConfigError(
                "val_size",
                f"preset field 'val_size' must be a count or a fraction in [0, 1), got {self.val_size!r}",
            )
        if not math.isfinite(self.params_weight):
            raise ConfigError(
                "params_weight", f"preset field 'params_weight' must be finite, got {self.params_weight!r}"
            )

    def score(self, val_top1: float, params: int) -> float:
        """The proxy's ranking score: validation top-1 (%) plus ``params_weight`` points per decade of
        the parameters of the architecture as searched (not of the shrunk proxy network). A short run
        under-rates big networks, which learn slower but end higher; the size term puts back part of
        what longer training adds (measured in ``benchmarks/results/CALIBRATION.md``)."""
        if not self.params_weight:
            return float(val_top1)
        if params < 1:
            raise ValueError(f"params_weight needs a positive parameter count, got {params!r}")
        return float(val_top1) + self.params_weight * math.log10(params)

    def train_config(self) -> TrainConfig:
        return TrainConfig(**{f.name: getattr(self, f.name) for f in fields(TrainConfig)})

    def data_options(self) -> dict[str, Any]:
        """Keyword arguments for :func:`nas.data.datasets.load_dataset`."""
        return {
            "train_subset": self.train_subset,
            "test_subset": self.test_subset,
            "val_size": self.val_size,
            "split_seed": self.split_seed,
            "image_size": self.image_size,
            "test_image_size": self.test_image_size,
        }

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "epochs": 2, "batch_size": 128, "lr": 0.1, "weight_decay": 5e-4, "schedule": "cosine",
        "warmup_epochs": 0, "cutout": 0, "drop_path": 0.0, "aux_weight": 0.0, "grad_clip": 5.0,
        "train_subset": 5000, "val_size": 1000, "cells": 5, "width": 8,
    },
    "rank": {
        "epochs": 6, "eval_every": 6, "batch_size": 64, "lr": 0.05, "weight_decay": 5e-4,
        "schedule": "cosine", "warmup_epochs": 0, "crop_padding": 0, "flip": False, "cutout": 0,
        "drop_path": 0.0, "aux_weight": 0.0, "grad_clip": 5.0, "train_subset": 10000, "val_size": 5000,
        "cells": 5, "width": 8, "params_weight": 5.0,
    },
    "small": {
        "epochs": 10, "batch_size": 128, "lr": 0.1, "weight_decay": 5e-4, "schedule": "cosine",
        "warmup_epochs": 1, "cutout": 0, "drop_path": 0.0, "aux_weight": 0.0, "grad_clip": 5.0,
        "train_subset": 20000, "val_size": 5000, "cells": 8, "width": 16,
    },
    "confirm": {
        "epochs": 10, "batch_size": 128, "lr": 0.1, "weight_decay": 5e-4, "schedule": "cosine",
        "warmup_epochs": 1, "cutout": 0, "drop_path": 0.0, "aux_weight": 0.0, "grad_clip": 5.0,
        "train_subset": 20000, "val_size": 5000, "cells": 8, "width": 16, "params_weight": 5.0,
    },
    "medium": {
        "epochs": 50, "batch_size": 96, "lr": 0.05, "weight_decay": 3e-4, "schedule": "cosine",
        "warmup_epochs": 1, "cutout": 16, "drop_path": 0.1, "aux_weight": 0.0, "grad_clip": 5.0,
        "train_subset": None, "val_size": 5000, "cells": 14, "width": 24,
    },
    "full": {
        "epochs": 600, "batch_size": 96, "lr": 0.025, "momentum": 0.9, "nesterov": False,
        "weight_decay": 3e-4, "schedule": "cosine", "min_lr": 0.0, "warmup_epochs": 0, "cutout": 16,
        "drop_path": 0.2, "aux_weight": 0.4, "grad_clip": 5.0, "train_subset": None, "val_size": 0,
        "cells": None, "width": None,
    },
    "imagenet": {
        "epochs": 250, "batch_size": 128, "eval_batch_size": 256, "lr": 0.1, "momentum": 0.9,
        "nesterov": False, "weight_decay": 3e-5, "schedule": "exp", "lr_gamma": 0.97,
        "warmup_epochs": 0, "label_smoothing": 0.1, "drop_path": 0.0, "aux_weight": 0.4,
        "grad_clip": 5.0, "crop_padding": 0, "cutout": 0, "val_size": 0, "image_size": 224,
        "cells": None, "width": None,
    },
}  # fmt: skip

_FIELDS = {f.name: f for f in fields(Preset)}


def preset_names() -> list[str]:
    return list(PRESETS)


def coerce(field: str, value: Any) -> Any:
    """Convert an override (possibly a command-line string) to the type of preset field ``field``."""
    if field not in _FIELDS:
        raise ConfigError("set", f"unknown preset field {field!r}; fields: {', '.join(sorted(_FIELDS))}")
    t = str(_FIELDS[field].type)
    optional = "None" in t
    if isinstance(value, str):
        s = value.strip()
        if s.lower() in ("none", "null", "") and optional:
            return None
        if t.startswith("bool"):
            if s.lower() in ("1", "true", "yes", "on"):
                return True
            if s.lower() in ("0", "false", "no", "off"):
                return False
            raise ConfigError(field, f"preset field {field!r} must be true or false, got {value!r}")
        if t.startswith("int | float"):
            try:
                return int(s)
            except ValueError:
                pass
        if "int" in t and "float" not in t:
            try:
                return int(s)
            except ValueError:
                raise ConfigError(field, f"preset field {field!r} must be an int, got {value!r}") from None
        if "float" in t:
            try:
                return float(s)
            except ValueError:
                raise ConfigError(field, f"preset field {field!r} must be a number, got {value!r}") from None
        return s
    if value is None:
        if not optional:
            raise ConfigError(field, f"preset field {field!r} cannot be None")
        return None
    if t.startswith("bool"):
        if not isinstance(value, bool):
            raise ConfigError(field, f"preset field {field!r} must be true or false, got {value!r}")
        return value
    if "float" in t and "int" not in t and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if "int" in t and "float" not in t:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(field, f"preset field {field!r} must be an int, got {value!r}")
    return value


def get_preset(name: str = "small", **overrides: Any) -> Preset:
    """Preset ``name`` with ``overrides`` applied (values may be strings, as from a command line)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    values = {k: coerce(k, v) for k, v in {**PRESETS[name], **overrides}.items()}
    values["name"] = name
    return Preset(**values)


# ----------------------------------------------------------------------------------------------------
# shrinking a network for a proxy


def _scale_channels(cell: Cell, f: float) -> Cell:
    nodes = tuple(
        dataclasses.replace(n, channels=max(1, round(n.channels * f)))
        if isinstance(n.channels, int) and not isinstance(n.channels, bool)
        else n
        for n in cell.nodes
    )
    return dataclasses.replace(cell, nodes=nodes)


def _distribute(weights: list[int], total: int) -> list[int]:
    """``total`` split over ``weights`` proportionally (largest remainder), at least 1 each."""
    s = sum(weights)
    raw = [total * w / s for w in weights]
    out = [max(1, math.floor(r)) for r in raw]
    order = sorted(range(len(weights)), key=lambda i: (-(raw[i] - math.floor(raw[i])), i))
    k = 0
    while sum(out) < total:
        out[order[k % len(order)]] += 1
        k += 1
    while sum(out) > total:  # only when the minimum of 1 each forced too many
        i = max(range(len(out)), key=lambda j: (out[j], -j))
        out[i] -= 1
    return out


def scale_network(net: Network, *, cells: int | None = None, width: int | None = None) -> Network:
    """``net`` with ``cells`` stage cells in total and first-stage width ``width``.

    Width: every stage width and every absolute channel count of the stem is multiplied by
    ``width / (first stage width)`` (so DARTS's ``3C`` stem follows C; relative specs like ``"C"`` and
    ``"K"`` follow by themselves). Cells: single-cell stages that change resolution (reduction cells,
    a stride-2 stem stage) are kept; the repeats of the other stages are scaled proportionally (at
    least one each). Auxiliary heads stay after the same stage, at the nearest repeat.
    """
    out = net
    if width is not None:
        base = next((s.width for s in net.stages if s.width is not None), None)
        if base is None:
            raise ValueError(f"{net.name}: its stages have no width to scale (width={width})")
        f = width / base
        stages = tuple(
            dataclasses.replace(s, width=max(1, round(s.width * f)) if s.width is not None else None)
            for s in out.stages
        )
        out = out.replace(stem=_scale_channels(out.stem, f), stages=stages)
    if cells is not None and cells != out.num_cells:
        fixed = [depth_fixed(s) for s in out.stages]
        free = [i for i, fx in enumerate(fixed) if not fx]
        n_fixed = sum(out.stages[i].repeats for i, fx in enumerate(fixed) if fx)
        if not free:
            raise ValueError(f"{net.name}: no stage can change its number of cells")
        if cells - n_fixed < len(free):
            raise ValueError(
                f"{net.name}: cells={cells} is too few; it needs at least {n_fixed + len(free)} "
                f"({n_fixed} fixed resolution-changing cells + one per other stage)"
            )
        new = _distribute([out.stages[i].repeats for i in free], cells - n_fixed)
        repeats = [s.repeats for s in out.stages]
        for i, r in zip(free, new):
            repeats[i] = r
        stages = tuple(Stage(s.cell, r, s.width, s.stride) for s, r in zip(out.stages, repeats))
        out = out.replace(stages=stages, aux=remap_aux(out, repeats))
    return out


def apply_preset(net: Network, preset: Preset, notes: list[str] | None = None) -> Network:
    """``net`` shrunk to the preset's ``cells``/``width`` where they are set and the network allows it
    (a network without stage widths keeps its width, one without repeatable stages its depth); each
    change or skipped change is described in ``notes`` when a list is given."""
    out = net
    for what, kw in (("width", {"width": preset.width}), ("cells", {"cells": preset.cells})):
        value = next(iter(kw.values()))
        if value is None:
            continue
        try:
            scaled = scale_network(out, **kw)
        except ValueError as e:
            if notes is not None:
                notes.append(f"preset {preset.name}: {what} not applied ({e})")
            continue
        if notes is not None and scaled != out:
            notes.append(f"preset {preset.name}: {net.name} scaled to {what}={value}")
        out = scaled
    return out


__all__ = ["PRESETS", "Preset", "apply_preset", "coerce", "get_preset", "preset_names", "scale_network"]
