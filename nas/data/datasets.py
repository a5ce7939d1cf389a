"""Datasets: the entry point :func:`load_dataset` and the :class:`Dataset` it returns.

Sources:

* ``cifar10`` / ``cifar100`` — torchvision's download into the cache directory by default; with
  ``data_dir``, a local copy in torchvision's python format (:mod:`nas.data.cifar`), or an ImageFolder
  directory / archive holding the same data set as images.
* ``imagefolder`` (or a path given as the data set name) — ``root/<class>/<image>`` or
  ``root/train/<class>/<image>`` with ``root/test`` or ``root/val`` as the test split; a directory
  or a ``.tar`` / ``.tar.gz`` archive of one (:mod:`nas.data.folder`; e.g. ``cifar10-jpeg.tar.gz``, an
  ImageNet folder).
* ``synthetic`` — class-dependent random images of a given size, for smoke tests.

Splits keep the test set honest (:mod:`nas.data.splits`): the validation split is carved from the
training set (seeded, class-balanced); search ranks on validation only; the test split is only for final
training. ``train_subset`` takes a class-balanced subset of what remains (proxies).

Pipelines (:mod:`nas.data.loaders`): images of at most 64 px are decoded once into a ``uint8`` tensor
(decoded arrays are cached on disk, see :mod:`nas.data.cache`) and augmented batch-wise on the training
device; larger ones (ImageNet-style) stream from files through torchvision transforms in DataLoader
workers.

Every user mistake raises :class:`nas.data.errors.DataError` (a ``ValueError``) with a one-line message;
data that is not where it was asked for raises its :class:`~nas.data.errors.DataPathError`, which names
the ``data_dir`` setting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nas.data.augment import AugmentSpec
from nas.data.cache import DecodedCache, default_cache_dir
from nas.data.cifar import CIFAR, cifar_source
from nas.data.decode import resize_array
from nas.data.errors import DataError, DataPathError
from nas.data.folder import FolderSource, open_folder
from nas.data.loaders import FolderLoader, TensorLoader
from nas.data.splits import Arrays, ArraySplit, Split, SplitPlan
from nas.data.synthetic import synthetic_source

SMALL_MAX = 64  # images up to this size use the in-memory pipeline
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DATASETS = ("cifar10", "cifar100", "imagefolder", "synthetic")


@dataclass
class Dataset:
    """A loaded data set: train / validation / test splits and what the network needs to know.

    ``image_size`` is the training input ``(C, H, W)``; ``test_image_size`` the evaluation resolution
    of the file pipeline (FixRes; default = the training one). ``mean``/``std`` are on the [0, 1] scale.
    """

    name: str
    classes: tuple[str, ...]
    train: Split
    val: Split | None
    test: Split | None
    image_size: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    source: str
    test_image_size: int | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def pipeline(self) -> str:
        return "memory" if isinstance(self.train, ArraySplit) else "files"

    def summary(self) -> dict[str, Any]:
        return {
            "dataset": self.name,
            "source": self.source,
            "pipeline": self.pipeline,
            "num_classes": self.num_classes,
            "image_size": list(self.image_size),
            "test_image_size": self.test_image_size,
            "train": len(self.train),
            "val": len(self.val) if self.val is not None else 0,
            "test": len(self.test) if self.test is not None else 0,
            **self.info,
        }

    def loader(
        self,
        split: str,
        batch_size: int,
        *,
        train: bool = False,
        augment: AugmentSpec | None = None,
        device: torch.device | str = "cpu",
        seed: int = 0,
        channels_last: bool = False,
        workers: int | None = None,
    ) -> TensorLoader | FolderLoader:
        """A loader over ``split`` ("train", "val" or "test"); ``train=True`` shuffles, drops the last
        partial batch and augments (crop/flip/cutout for memory data; random-resized crop, flip and
        cutout for files)."""
        data = {"train": self.train, "val": self.val, "test": self.test}[split]
        if data is None:
            raise DataError(f"data set {self.name!r} has no {split} split")
        if isinstance(data, ArraySplit):
            return TensorLoader(
                data.images,
                data.labels,
                batch_size,
                mean=self.mean,
                std=self.std,
                shuffle=train,
                drop_last=train,
                augment=augment if train else None,
                device=device,
                seed=seed,
                channels_last=channels_last,
            )
        size = self.image_size[1]
        return FolderLoader(
            data,
            batch_size,
            train=train,
            image_size=size,
            eval_size=self.test_image_size or size,
            mean=self.mean,
            std=self.std,
            device=device,
            seed=seed,
            workers=workers,
            channels_last=channels_last,
            cutout=augment.cutout if (augment is not None and train) else 0,
        )


def channel_stats(images: torch.Tensor | np.ndarray, chunk: int = 8192) -> tuple[list[float], list[float]]:
    """Per-channel mean and std on the [0, 1] scale of a uint8 (N, C, H, W) array, in chunks."""
    t = torch.as_tensor(np.asarray(images)) if isinstance(images, np.ndarray) else images
    c = t.shape[1]
    s = torch.zeros(c, dtype=torch.float64)
    s2 = torch.zeros(c, dtype=torch.float64)
    count = 0
    for i in range(0, len(t), chunk):
        x = t[i : i + chunk].to(torch.float64).div_(255.0)
        s += x.sum((0, 2, 3))
        s2 += (x * x).sum((0, 2, 3))
        count += x.shape[0] * x.shape[2] * x.shape[3]
    if count == 0:
        return [0.5] * c, [0.25] * c
    mean = s / count
    var = (s2 / count - mean * mean).clamp_min(1e-12)
    return [round(float(v), 6) for v in mean], [round(float(v), 6) for v in var.sqrt()]


# ----------------------------------------------------------------------------------------------------
# the entry point


def load_dataset(
    name: str,
    data_dir: str | Path | None = None,
    *,
    cache_dir: str | Path | None = None,
    image_size: int | Sequence[int] | None = None,
    test_image_size: int | None = None,
    val_size: int | float = 0,
    train_subset: int | None = None,
    test_subset: int | None = None,
    split_seed: int = 0,
    num_classes: int | None = None,
    synthetic_size: tuple[int, int] = (2000, 500),
    pipeline: str = "auto",
    download: bool = True,
    use_cache: bool = True,
    check_classes: Callable[[int], None] | None = None,
) -> Dataset:
    """Load a data set and carve its splits (see the module docstring).

    ``val_size``: validation images taken from the training split (count, fraction, or 0).
    ``train_subset`` / ``test_subset``: class-balanced subsets (after the validation split).
    ``split_seed`` seeds every split (independent of the training seed, so seeds of one experiment
    share their validation set). ``image_size`` forces the training resolution; ``pipeline`` is
    "auto" (memory up to 64 px), "memory" or "files". ``num_classes`` sizes ``synthetic`` data.
    ``check_classes(k)`` is called with the number of classes as soon as it is known (before any
    splitting or decoding), to reject a data set that does not fit the network early.
    """
    t0 = time.perf_counter()
    key, path, size = _check_options(name, data_dir, image_size, test_image_size, pipeline)
    cache = DecodedCache(cache_dir if cache_dir is not None else default_cache_dir(), enabled=use_cache)
    plan = SplitPlan(val_size, train_subset, test_subset, split_seed)
    src: Arrays | FolderSource
    if key == "synthetic":
        src, source = synthetic_source(num_classes or 10, size or (32, 32), plan, synthetic_size)
    elif key in CIFAR:
        src, source = cifar_source(key, path, cache, download)
    else:
        src, source = open_folder(path, cache), str(path)
    if isinstance(src, FolderSource):
        carved = _carve_folder(src, size, plan, pipeline, check_classes)
    else:  # only CIFAR can be asked for files it does not have: synthetic data only exists in memory
        carved = _carve_arrays(key, src, size, plan, key in CIFAR and pipeline == "files", check_classes)
    if len(carved.train) == 0:
        raise DataError(f"no training images in {source}")
    if carved.memory:
        assert isinstance(carved.train, ArraySplit)
        mean, std = channel_stats(carved.train.images)
    else:
        mean, std = list(IMAGENET_MEAN), list(IMAGENET_STD)
    info: dict[str, Any] = {"load_seconds": round(time.perf_counter() - t0, 3)}
    if carved.test is None:
        info["note"] = "no test split (no test/ or val/ directory)"
    return Dataset(
        name=key if key != "imagefolder" else (path.name if path is not None else key),
        classes=tuple(carved.classes),
        train=carved.train,
        val=carved.val,
        test=carved.test,
        image_size=(3, *carved.hw),
        mean=tuple(mean),
        std=tuple(std),
        source=source,
        test_image_size=None if carved.memory else test_image_size,
        info=info,
    )


def _parse_size(image_size: int | Sequence[int] | None) -> tuple[int, int] | None:
    if image_size is None:
        return None
    hw = (int(image_size), int(image_size)) if isinstance(image_size, int) else tuple(map(int, image_size))
    if len(hw) == 3:
        hw = hw[1:]
    if len(hw) != 2 or min(hw) < 1:
        raise DataError(f"image_size must be a positive int or (H, W), got {image_size!r}")
    return hw  # type: ignore[return-value]


def _check_options(
    name: str,
    data_dir: str | Path | None,
    image_size: int | Sequence[int] | None,
    test_image_size: int | None,
    pipeline: str,
) -> tuple[str, Path | None, tuple[int, int] | None]:
    """The data set's key (a path given as the name is an ``imagefolder``), its path and the forced
    training size; a :class:`DataError` for any option that cannot work."""
    if pipeline not in ("auto", "memory", "files"):
        raise DataError(f"pipeline must be 'auto', 'memory' or 'files', got {pipeline!r}")
    size = _parse_size(image_size)
    key = name.lower()
    path: Path | None = Path(data_dir).expanduser() if data_dir is not None else None
    if key not in DATASETS:
        if data_dir is None and ("/" in name or Path(name).expanduser().exists()):
            key, path = "imagefolder", Path(name).expanduser()
        else:
            raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)} or give a path")
    if path is not None and not path.exists():
        raise DataPathError(f"data directory {str(path)!r} does not exist")
    if test_image_size is not None and test_image_size < 1:
        raise DataError("test_image_size must be positive")
    return key, path, size


@dataclass
class _Carved:
    """A data set's splits at their training resolution ``hw``; ``memory``: decoded (else files)."""

    classes: tuple[str, ...]
    train: Split
    val: Split | None
    test: Split | None
    hw: tuple[int, int]
    memory: bool


def _carve_arrays(
    key: str,
    arrays: Arrays,
    size: tuple[int, int] | None,
    plan: SplitPlan,
    files: bool,
    check_classes: Callable[[int], None] | None,
) -> _Carved:
    """Splits of a data set held in memory, resized to ``size`` (default: native); ``files``: the file
    pipeline was asked for (an error for large images: they are not files)."""
    xtr, ytr, xte, yte, classes = arrays
    if check_classes is not None:
        check_classes(len(classes))
    train_all = ArraySplit(torch.from_numpy(xtr), torch.from_numpy(ytr))
    test_all = ArraySplit(torch.from_numpy(xte), torch.from_numpy(yte))
    hw = size or tuple(xtr.shape[2:])
    if max(hw) > SMALL_MAX and files:
        raise DataError(f"{key} is held in memory; the file pipeline needs an ImageFolder")
    tr_idx, val_idx, te_idx = plan.indices(ytr, yte)
    train = _resize_split(train_all.select(tr_idx), hw)
    val = _resize_split(train_all.select(val_idx), hw) if len(val_idx) else None
    test = _resize_split(test_all.select(te_idx), hw)  # type: ignore[arg-type]
    return _Carved(classes, train, val, test, hw, memory=True)  # type: ignore[arg-type]


def _carve_folder(
    folder: FolderSource,
    size: tuple[int, int] | None,
    plan: SplitPlan,
    pipeline: str,
    check_classes: Callable[[int], None] | None,
) -> _Carved:
    """Splits of an ImageFolder: decoded at ``size`` (default: native up to 64 px, else 224) for the
    memory pipeline, else the files for the file pipeline."""
    classes = folder.index.classes
    if check_classes is not None:
        check_classes(len(classes))
    ytr = np.asarray(folder.index.splits["train"][1])
    yte = np.asarray(folder.index.splits["test"][1]) if "test" in folder.index.splits else None
    tr_idx, val_idx, te_idx = plan.indices(ytr, yte)
    if size is None:
        native = folder.index.first_size
        hw = native if max(native) <= SMALL_MAX else (224, 224)
    else:
        hw = size
    mem = pipeline == "memory" or (pipeline == "auto" and max(hw) <= SMALL_MAX)
    if mem:
        train: Split = folder.decode("train", tr_idx, hw)
        val: Split | None = folder.decode("train", val_idx, hw) if len(val_idx) else None
        test: Split | None = folder.decode("test", te_idx, hw) if te_idx is not None else None
        folder.release()
    else:
        train = folder.files("train", tr_idx)
        val = folder.files("train", val_idx) if len(val_idx) else None
        test = folder.files("test", te_idx) if te_idx is not None else None
    return _Carved(classes, train, val, test, hw, memory=mem)


def _resize_split(s: Split, hw: tuple[int, int]) -> Split:
    if isinstance(s, ArraySplit) and tuple(s.images.shape[2:]) != tuple(hw):
        return replace(s, images=resize_array(s.images, hw))
    return s
