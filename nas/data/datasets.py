"""Datasets, honest splits and the two input pipelines.

Sources (:func:`load_dataset`):

* ``cifar10`` / ``cifar100`` — torchvision's download into the cache directory by default; with
  ``data_dir``, a local copy in torchvision's python format (the ``cifar-10-batches-py`` /
  ``cifar-100-python`` directory, its parent, or the ``.tar.gz`` torchvision downloads), or an
  ImageFolder directory / archive holding the same data set as images.
* ``imagefolder`` (or a path given as the data set name) — ``root/<class>/<image>`` or
  ``root/train/<class>/<image>`` with ``root/test`` or ``root/val`` as the test split; a directory
  or a ``.tar`` / ``.tar.gz`` archive of one (e.g. ``cifar10-jpeg.tar.gz``, an ImageNet folder).
* ``synthetic`` — class-dependent random images of a given size, for smoke tests.

Splits keep the test set honest: the validation split is carved from the training set (seeded,
class-balanced); search ranks on validation only; the test split is only for final training.
``train_subset`` takes a class-balanced subset of what remains (proxies).

Pipelines: images of at most 64 px are decoded once into a ``uint8`` tensor (decoded arrays are
cached on disk, see :mod:`nas.data.augment`) and augmented batch-wise on the training device; larger ones
(ImageNet-style) stream from files through torchvision transforms in DataLoader workers
(RandomResizedCrop + flip; resize + center crop for evaluation, at an optional FixRes test size).

Every user mistake raises :class:`DataError` (a ``ValueError``) with a one-line message.
"""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import shutil
import tarfile
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import torch

from nas.data.augment import (
    AugmentSpec,
    DecodedCache,
    TensorLoader,
    cache_key,
    channel_stats,
    cutout_,
    default_cache_dir,
    epoch_generator,
    indices_digest,
    source_fingerprint,
)

SMALL_MAX = 64  # images up to this size use the in-memory pipeline
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".gif")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TEST_DIRS = ("test", "val", "validation")
DATASETS = ("cifar10", "cifar100", "imagefolder", "synthetic")

CIFAR = {
    # name: (python-format directory, archive name, url, md5, classes, train files, test file, label key)
    "cifar10": (
        "cifar-10-batches-py",
        "cifar-10-python.tar.gz",
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "c58f30108f718f92721af3b95e74349a",
        10,
        tuple(f"data_batch_{i}" for i in range(1, 6)),
        "test_batch",
        b"labels",
    ),
    "cifar100": (
        "cifar-100-python",
        "cifar-100-python.tar.gz",
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "eb9058c3a382ffc7106e4002c42a8d85",
        100,
        ("train",),
        "test",
        b"fine_labels",
    ),
}


class DataError(ValueError):
    """A problem with the user's data or data options (reported as one line, exit code 2)."""


# ----------------------------------------------------------------------------------------------------
# splits and datasets


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


# ----------------------------------------------------------------------------------------------------
# class-balanced splits


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


# ----------------------------------------------------------------------------------------------------
# image decoding


def _line(e: BaseException) -> str:
    s = str(e).strip().splitlines()
    return s[0] if s else type(e).__name__


def _decode_one(data: bytes, size: tuple[int, int] | None) -> torch.Tensor:
    try:
        from torchvision.io import ImageReadMode, decode_image

        img = decode_image(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.RGB)
    except (ImportError, RuntimeError, ValueError):
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            arr = np.asarray(im.convert("RGB"))
        img = torch.from_numpy(arr.copy()).permute(2, 0, 1)
    if size is not None and tuple(img.shape[1:]) != tuple(size):
        img = _resize_center(img[None], size)[0]
    return img


def _resize_center(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a uint8 batch so its shorter side fits, then center-crop to ``size`` (antialiased)."""
    from torchvision.transforms.v2 import functional as TF

    h, w = x.shape[-2:]
    th, tw = size
    scale = max(th / h, tw / w)
    nh, nw = max(th, round(h * scale)), max(tw, round(w * scale))
    if (nh, nw) != (h, w):
        x = TF.resize(x, [nh, nw], antialias=True)
    return TF.center_crop(x, [th, tw])


def _image_size_of(data: bytes) -> tuple[int, int]:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
    except Exception as e:  # PIL raises many types for bad files
        raise DataError(f"cannot read image ({type(e).__name__}: {e})") from None
    return h, w


def _resize_array(images: torch.Tensor, size: tuple[int, int], chunk: int = 4096) -> torch.Tensor:
    if tuple(images.shape[2:]) == tuple(size):
        return images
    return torch.cat([_resize_center(images[i : i + chunk], size) for i in range(0, len(images), chunk)])


# ----------------------------------------------------------------------------------------------------
# ImageFolder sources (directories and archives)


def _is_archive(p: Path) -> bool:
    return p.is_file() and (p.name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")))


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS) and not PurePosixPath(name).name.startswith(".")


@dataclass
class _FolderIndex:
    """Relative image paths and labels per split of an ImageFolder tree."""

    classes: tuple[str, ...]
    splits: dict[str, tuple[list[str], list[int]]]  # "train"/"test" → (relative paths, labels)
    layout: str
    first_size: tuple[int, int] = (0, 0)  # (H, W) of the first training image


def _index_folder(names: Sequence[str], where: str) -> _FolderIndex:
    """Find the ImageFolder layout in a list of relative image paths (POSIX)."""
    parts = [PurePosixPath(n).parts for n in names if _is_image(n)]
    if not parts:
        raise DataError(f"no images found in {where} (expected <class>/<image> or train/<class>/<image>)")
    # layout 1: PREFIX/train/<class>/<file> (+ PREFIX/{test,val}/<class>/<file>)
    prefixes = Counter(p[:k] for p in parts for k in range(len(p) - 2) if p[k] == "train")
    if prefixes:
        prefix = min(prefixes, key=len)
        split_dirs = {"train": "train"}
        present = {p[len(prefix)] for p in parts if p[: len(prefix)] == prefix and len(p) == len(prefix) + 3}
        for t in TEST_DIRS:
            if t in present:
                split_dirs["test"] = t
                break
        layout = "/".join((*prefix, "{train," + split_dirs.get("test", "-") + "}", "<class>", "<image>"))
    else:
        depths = Counter(len(p) for p in parts)
        depth = depths.most_common(1)[0][0]
        if depth < 2:
            raise DataError(f"no class directories in {where}: images must be in <class>/ subdirectories")
        prefix = parts[[len(p) for p in parts].index(depth)][: depth - 2]
        split_dirs = {"train": None}
        layout = "/".join((*prefix, "<class>", "<image>"))
    n = len(prefix)
    per_split: dict[str, dict[str, list[str]]] = {}
    for p in parts:
        if p[:n] != prefix:
            continue
        for split, d in split_dirs.items():
            if d is None and len(p) == n + 2:
                per_split.setdefault(split, {}).setdefault(p[n], []).append("/".join(p))
            elif d is not None and len(p) == n + 3 and p[n] == d:
                per_split.setdefault(split, {}).setdefault(p[n + 1], []).append("/".join(p))
    train = per_split.get("train", {})
    if not train:
        raise DataError(f"no training images found in {where}")
    classes = tuple(sorted(train))
    splits: dict[str, tuple[list[str], list[int]]] = {}
    for split, by_class in per_split.items():
        extra = sorted(set(by_class) - set(classes))
        if extra:
            raise DataError(
                f"{where}: the {split_dirs[split]} split has classes the training split lacks: "
                f"{', '.join(extra[:5])}"
            )
        paths, labels = [], []
        for ci, c in enumerate(classes):
            for f in sorted(by_class.get(c, [])):
                paths.append(f)
                labels.append(ci)
        splits[split] = (paths, labels)
    return _FolderIndex(classes, splits, layout)


class _FolderSource:
    """An ImageFolder tree in a directory or a tar archive, read lazily."""

    def __init__(self, path: Path, cache: DecodedCache) -> None:
        self.path = path
        self.cache = cache
        self.archive = _is_archive(path)
        self._bytes: dict[str, bytes] | None = None
        if self.archive:  # listing an archive means reading it: its index is cached by checksum
            self.fingerprint = source_fingerprint(path)
            self.index = self._load_index()
        else:  # a directory is listed every time; the listing (names, sizes, mtimes) is its key
            listing = self._walk()
            self.fingerprint = source_fingerprint(path, listing)
            self.index = _index_folder([n for n, _, _ in listing], str(path))
            self.index.first_size = self._first_size()

    # listing ---------------------------------------------------------------------------------------
    def _first_size(self) -> tuple[int, int]:
        return _image_size_of(next(self.read(self.index.splits["train"][0][:1])))

    def _load_index(self) -> _FolderIndex:
        key = cache_key("index", self.fingerprint)
        cached = self.cache.root / "index" / f"{key}.json"
        if self.cache.enabled and cached.is_file():
            try:
                d = json.loads(cached.read_text())
                return _FolderIndex(
                    tuple(d["classes"]),
                    {k: (v[0], v[1]) for k, v in d["splits"].items()},
                    d["layout"],
                    tuple(d["first_size"]),
                )
            except (OSError, ValueError, KeyError):
                pass
        self._bytes = self._read_archive(None)  # one pass: list it and keep the bytes (needed next)
        index = _index_folder(list(self._bytes), str(self.path))
        index.first_size = _image_size_of(self._bytes[index.splits["train"][0][0]])
        if self.cache.enabled:
            try:
                cached.parent.mkdir(parents=True, exist_ok=True)
                tmp = cached.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(
                    json.dumps(
                        {
                            "classes": index.classes,
                            "splits": index.splits,
                            "layout": index.layout,
                            "first_size": index.first_size,
                        }
                    )
                )
                os.replace(tmp, cached)
            except OSError:
                pass
        return index

    def _walk(self) -> list[tuple[str, int, int]]:
        out = []
        for dirpath, dirnames, filenames in os.walk(self.path, followlinks=True):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            rel = Path(dirpath).relative_to(self.path).as_posix()
            for f in filenames:
                if _is_image(f):
                    st = os.stat(os.path.join(dirpath, f))
                    out.append((f if rel == "." else f"{rel}/{f}", st.st_size, st.st_mtime_ns))
        return out

    def _read_archive(self, wanted: set[str] | None) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        try:
            with tarfile.open(self.path, "r:*") as tf:
                for m in tf:
                    if not m.isfile():
                        continue
                    name = m.name[2:] if m.name.startswith("./") else m.name
                    if (wanted is None and _is_image(name)) or (wanted is not None and name in wanted):
                        f = tf.extractfile(m)
                        if f is not None:
                            out[name] = f.read()
        except (tarfile.TarError, OSError, EOFError) as e:
            raise DataError(f"cannot read archive {self.path} ({type(e).__name__}: {e})") from None
        return out

    def read(self, rel: list[str]) -> Iterator[bytes]:
        if self.archive:
            if self._bytes is None or any(r not in self._bytes for r in rel):
                self._bytes = self._read_archive(set(rel))
            data = self._bytes
            for r in rel:
                yield data[r]
        else:
            for r in rel:
                yield (self.path / r).read_bytes()

    def release(self) -> None:
        self._bytes = None

    # decoding --------------------------------------------------------------------------------------
    def decode(self, split: str, idx: np.ndarray, size: tuple[int, int]) -> ArraySplit:
        """Decoded images ``idx`` of ``split`` at ``size`` (H, W), from the cache when possible."""
        paths, labels = self.index.splits[split]
        n_all = len(paths)
        full_key = cache_key("decoded", self.fingerprint, split, list(size), None)
        hit = self.cache.get(full_key)
        if hit is not None:
            images, _, _ = hit
            return ArraySplit(torch.from_numpy(np.array(images[idx])), _labels(labels, idx))
        whole = len(idx) * 2 > n_all  # decode (and cache) everything when most of it is needed
        sub_key = cache_key("decoded", self.fingerprint, split, list(size), indices_digest(idx))
        if not whole:
            hit = self.cache.get(sub_key)
            if hit is not None:
                return ArraySplit(torch.from_numpy(np.array(hit[0])), _labels(labels, idx))
        todo = np.arange(n_all) if whole else np.asarray(idx)
        rel = [paths[i] for i in todo]
        arr = np.empty((len(rel), 3, *size), np.uint8)
        with warnings.catch_warnings():
            # torchvision >= 0.29 deprecates its decoders in favour of TorchCodec; they remain the
            # fastest way here (libjpeg-turbo, 2-3x PIL) and PIL is the fallback in _decode_one
            warnings.simplefilter("ignore", DeprecationWarning)
            for k, data in enumerate(self.read(rel)):
                try:
                    arr[k] = _decode_one(data, size).numpy()
                except Exception as e:  # corrupt file
                    raise DataError(
                        f"cannot decode {self.path}/{rel[k]} ({type(e).__name__}: {_line(e)})"
                    ) from None
        meta = {"source": self.fingerprint, "split": split, "size": list(size), "n": len(rel)}
        lab = np.asarray([labels[i] for i in todo], np.int64)
        self.cache.put(full_key if whole else sub_key, arr, lab, meta)
        if whole:
            arr = arr[idx]
        return ArraySplit(torch.from_numpy(np.ascontiguousarray(arr)), _labels(labels, idx))

    def files(self, split: str, idx: np.ndarray) -> FileSplit:
        paths, labels = self.index.splits[split]
        root = self._extracted if self.archive else self.path
        return FileSplit([paths[i] for i in idx], _labels(labels, idx), root)

    def _extracted(self) -> Path:
        """Large images need random access: unpack the archive once into the cache."""
        dest = self.cache.root / "extracted" / cache_key("extract", self.fingerprint)
        if (dest / ".complete").is_file():
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest.parent))
        try:
            with tarfile.open(self.path, "r:*") as tf:
                try:
                    tf.extractall(tmp, filter="data")
                except TypeError:  # Python without extraction filters
                    tf.extractall(tmp)  # noqa: S202 - member names were checked by _index_folder
            (tmp / ".complete").write_text(json.dumps(self.fingerprint))
            shutil.rmtree(dest, ignore_errors=True)
            os.replace(tmp, dest)
        except (tarfile.TarError, OSError) as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise DataError(f"cannot unpack {self.path} into {dest.parent} ({e})") from None
        return dest


def _labels(labels: list[int], idx: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(labels, np.int64)[np.asarray(idx, np.int64)])


# ----------------------------------------------------------------------------------------------------
# CIFAR in torchvision's python format


def _find_cifar(name: str, root: Path) -> Path | None:
    """The python-format directory or archive of ``name`` at or under ``root``, if any."""
    folder, archive, *_ = CIFAR[name]
    files = CIFAR[name][5]
    if root.is_dir():
        if (root / files[0]).is_file():
            return root
        if (root / folder / files[0]).is_file():
            return root / folder
        if (root / archive).is_file():
            return root / archive
    elif root.is_file() and root.name == archive:
        return root
    elif _is_archive(root):
        try:
            with tarfile.open(root, "r:*") as tf:
                first = next((m.name for m in tf if m.isfile()), "")
        except (tarfile.TarError, OSError, EOFError):
            return None
        if first.lstrip("./").startswith(folder + "/"):
            return root
    return None


def _read_cifar(name: str, where: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple]:
    folder, _a, _u, _m, k, train_files, test_file, label_key = CIFAR[name]
    meta_name = "batches.meta" if name == "cifar10" else "meta"
    names_key = b"label_names" if name == "cifar10" else b"fine_label_names"

    def load(blob: bytes) -> dict:
        return pickle.loads(blob, encoding="bytes")  # noqa: S301 - torchvision's own format

    try:
        if where.is_dir():
            blobs = {f: (where / f).read_bytes() for f in (*train_files, test_file, meta_name)}
        else:
            blobs = {}
            with tarfile.open(where, "r:*") as tf:
                for m in tf:
                    base = PurePosixPath(m.name).name
                    if m.isfile() and base in (*train_files, test_file, meta_name):
                        blobs[base] = tf.extractfile(m).read()  # type: ignore[union-attr]
        parts = [load(blobs[f]) for f in train_files]
        test = load(blobs[test_file])
        meta = load(blobs[meta_name])
    except (KeyError, OSError, pickle.UnpicklingError, tarfile.TarError, EOFError) as e:
        raise DataError(
            f"{where} is not a complete {name} copy in torchvision's python format ({e})"
        ) from None
    x_train = np.concatenate([p[b"data"] for p in parts]).reshape(-1, 3, 32, 32)
    y_train = np.concatenate([np.asarray(p[label_key]) for p in parts]).astype(np.int64)
    x_test = np.asarray(test[b"data"]).reshape(-1, 3, 32, 32)
    y_test = np.asarray(test[label_key], np.int64)
    classes = tuple(c.decode() for c in meta[names_key])
    if len(classes) != k:
        raise DataError(f"{where}: expected {k} classes for {name}, found {len(classes)}")
    return x_train, y_train, x_test, y_test, classes


def download_cifar(name: str, root: Path) -> Path:
    """Download ``name`` with torchvision into ``root``; any failure → one-line :class:`DataError`."""
    folder, archive, url, md5, *_ = CIFAR[name]
    try:
        from torchvision.datasets.utils import download_and_extract_archive

        root.mkdir(parents=True, exist_ok=True)
        download_and_extract_archive(url, str(root), filename=archive, md5=md5)
    except Exception as e:  # network, disk, checksum: all end the same way for the user
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(
            f"could not download {name} into {root} ({type(e).__name__}: {reason}); "
            f"download {url} elsewhere and pass --data-dir with its directory"
        ) from None
    found = _find_cifar(name, root)
    if found is None:
        raise DataError(f"downloaded {name} into {root} but cannot find {folder}; pass --data-dir")
    return found


# ----------------------------------------------------------------------------------------------------
# synthetic data


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


# ----------------------------------------------------------------------------------------------------
# the entry point


def _parse_size(image_size: int | Sequence[int] | None) -> tuple[int, int] | None:
    if image_size is None:
        return None
    hw = (int(image_size), int(image_size)) if isinstance(image_size, int) else tuple(map(int, image_size))
    if len(hw) == 3:
        hw = hw[1:]
    if len(hw) != 2 or min(hw) < 1:
        raise DataError(f"image_size must be a positive int or (H, W), got {image_size!r}")
    return hw  # type: ignore[return-value]


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
    if pipeline not in ("auto", "memory", "files"):
        raise DataError(f"pipeline must be 'auto', 'memory' or 'files', got {pipeline!r}")
    cache = DecodedCache(cache_dir if cache_dir is not None else default_cache_dir(), enabled=use_cache)
    size = _parse_size(image_size)
    key = name.lower()
    path: Path | None = Path(data_dir).expanduser() if data_dir is not None else None
    if key not in DATASETS:
        if data_dir is None and ("/" in name or Path(name).expanduser().exists()):
            key, path = "imagefolder", Path(name).expanduser()
        else:
            raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)} or give a path")
    if path is not None and not path.exists():
        raise DataError(f"data directory {str(path)!r} does not exist")
    if test_image_size is not None and test_image_size < 1:
        raise DataError("test_image_size must be positive")

    arrays: tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, tuple] | None = None
    folder: _FolderSource | None = None
    source = ""
    if key == "synthetic":
        k = num_classes or 10
        hw = size or (32, 32)
        n_val = int(val_size) if val_size >= 1 else 0
        n_train = max(synthetic_size[0], (train_subset or 0) + n_val)
        if 0 < val_size < 1:
            n_train = max(n_train, math.ceil((train_subset or 0) / (1 - val_size)) + k)
        synthetic_size = (n_train, max(synthetic_size[1], test_subset or 0))
        if max(hw) > SMALL_MAX and pipeline != "memory":
            pipeline = "memory"  # synthetic data only exists in memory
        xtr, ytr = synthetic_arrays(synthetic_size[0], k, hw, seed=0)
        xte, yte = synthetic_arrays(synthetic_size[1], k, hw, seed=1)
        arrays = (xtr, ytr, xte, yte, tuple(f"class{i}" for i in range(k)))
        source = f"synthetic({synthetic_size[0]}+{synthetic_size[1]}, {k} classes, {hw[0]}x{hw[1]})"
    elif key in CIFAR:
        root = path if path is not None else cache.root / "datasets"
        found = _find_cifar(key, root)
        if found is None and path is None:
            found = download_cifar(key, root) if download else None
            if found is None:
                raise DataError(f"{key} is not in {root} and downloading is off; pass --data-dir")
        if found is not None:
            arrays = _read_cifar(key, found)
            source = str(found)
        else:  # an ImageFolder copy (e.g. CIFAR as JPEGs)
            folder = _FolderSource(path, cache)  # type: ignore[arg-type]
            source = str(path)
            expected = CIFAR[key][4]
            if len(folder.index.classes) != expected:
                raise DataError(
                    f"{key} has {expected} classes but {path} has {len(folder.index.classes)} "
                    f"({folder.index.layout}); is this the right directory?"
                )
    else:  # imagefolder
        if path is None:
            raise DataError("dataset 'imagefolder' needs --data-dir (a directory or .tar/.tar.gz archive)")
        if not (path.is_dir() or _is_archive(path)):
            raise DataError(f"{path} is neither a directory nor a .tar/.tar.gz archive")
        folder = _FolderSource(path, cache)
        source = str(path)

    if arrays is not None:
        xtr, ytr, xte, yte, classes = arrays
        if check_classes is not None:
            check_classes(len(classes))
        train_all: Split = ArraySplit(torch.from_numpy(xtr), torch.from_numpy(ytr))
        test_all: Split | None = ArraySplit(torch.from_numpy(xte), torch.from_numpy(yte))
        native = tuple(xtr.shape[2:])
        hw = size or native
        if max(hw) > SMALL_MAX and pipeline == "files":
            raise DataError(f"{key} is held in memory; the file pipeline needs an ImageFolder")
        tr_idx, val_idx, te_idx = _split_indices(ytr, yte, val_size, train_subset, test_subset, split_seed)
        train = _resize_split(train_all.select(tr_idx), hw)
        val = _resize_split(train_all.select(val_idx), hw) if len(val_idx) else None
        test = _resize_split(test_all.select(te_idx), hw)
        mem = True
    else:
        assert folder is not None
        classes = folder.index.classes
        if check_classes is not None:
            check_classes(len(classes))
        ytr = np.asarray(folder.index.splits["train"][1])
        yte = np.asarray(folder.index.splits["test"][1]) if "test" in folder.index.splits else None
        tr_idx, val_idx, te_idx = _split_indices(ytr, yte, val_size, train_subset, test_subset, split_seed)
        if size is None:
            native = folder.index.first_size
            hw = native if max(native) <= SMALL_MAX else (224, 224)
        else:
            hw = size
        mem = pipeline == "memory" or (pipeline == "auto" and max(hw) <= SMALL_MAX)
        if mem:
            train = folder.decode("train", tr_idx, hw)
            val = folder.decode("train", val_idx, hw) if len(val_idx) else None
            test = folder.decode("test", te_idx, hw) if te_idx is not None else None
            folder.release()
        else:
            train = folder.files("train", tr_idx)
            val = folder.files("train", val_idx) if len(val_idx) else None
            test = folder.files("test", te_idx) if te_idx is not None else None
    if len(train) == 0:
        raise DataError(f"no training images in {source}")
    if mem:
        assert isinstance(train, ArraySplit)
        mean, std = channel_stats(train.images)
    else:
        mean, std = list(IMAGENET_MEAN), list(IMAGENET_STD)
    info = {"load_seconds": round(time.perf_counter() - t0, 3)}
    if test is None:
        info["note"] = "no test split (no test/ or val/ directory)"
    return Dataset(
        name=key if key != "imagefolder" else (path.name if path is not None else key),
        classes=tuple(classes),
        train=train,
        val=val,
        test=test,
        image_size=(3, *hw),
        mean=tuple(mean),
        std=tuple(std),
        source=source,
        test_image_size=None if mem else test_image_size,
        info=info,
    )


def _split_indices(
    ytr: np.ndarray,
    yte: np.ndarray | None,
    val_size: int | float,
    train_subset: int | None,
    test_subset: int | None,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    tr_idx, val_idx = balanced_split(ytr, val_size, seed)
    if train_subset is not None and train_subset < len(tr_idx):
        tr_idx = tr_idx[balanced_subset(ytr[tr_idx], train_subset, seed)]
    elif train_subset is not None and train_subset > len(tr_idx):
        raise DataError(
            f"train_subset={train_subset} is larger than the {len(tr_idx)} training images left "
            f"after the validation split"
        )
    te_idx = None
    if yte is not None:
        te_idx = np.arange(len(yte))
        if test_subset is not None and test_subset < len(yte):
            te_idx = balanced_subset(yte, test_subset, seed)
    return tr_idx, val_idx, te_idx


def _resize_split(s: Split, hw: tuple[int, int]) -> Split:
    if isinstance(s, ArraySplit) and tuple(s.images.shape[2:]) != tuple(hw):
        return replace(s, images=_resize_array(s.images, hw))
    return s


# ----------------------------------------------------------------------------------------------------
# the large-image pipeline


class _FileImages(torch.utils.data.Dataset):
    """Decoded, transformed images. With ``seed`` set, sample ``i``'s random transform draws from a
    torch RNG seeded by ``(seed, i)``: the augmentation is a function of the epoch seed and the index,
    whatever the number of workers (and none of the caller's RNG state is touched)."""

    def __init__(self, split: FileSplit, transform: Any, random: bool) -> None:
        self.paths = split.resolved()
        self.labels = split.labels.tolist()
        self.transform = transform
        self.random = random
        self.seed = 0

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        from PIL import Image

        with Image.open(self.paths[i]) as im:
            img = im.convert("RGB")
        if not self.random:
            return self.transform(img), self.labels[i]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed((self.seed * 1_000_003 + i) % (2**63 - 1))
            return self.transform(img), self.labels[i]


class _EpochSampler(torch.utils.data.Sampler[int]):
    """Sequential, or a permutation that depends on ``(seed, epoch)`` only (resumable)."""

    def __init__(self, n: int, shuffle: bool, seed: int) -> None:
        self.n, self.shuffle, self.seed, self.epoch = n, shuffle, seed, 0

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            return iter(range(self.n))
        g = epoch_generator(self.seed, self.epoch, torch.device("cpu"))
        return iter(torch.randperm(self.n, generator=g).tolist())


def default_workers() -> int:
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, min(8, n - 1))


class FolderLoader:
    """Files → torchvision transforms in DataLoader workers → uint8 batches → normalised on ``device``.

    Training: RandomResizedCrop(``image_size``) + horizontal flip (+ cutout on device); evaluation:
    resize to ``eval_size / 0.875`` and center-crop ``eval_size`` (FixRes: ``eval_size`` may differ
    from the training size). Worker seeds and the order derive from ``(seed, epoch)``.
    """

    def __init__(
        self,
        split: FileSplit,
        batch_size: int,
        *,
        train: bool,
        image_size: int,
        eval_size: int,
        mean: Sequence[float],
        std: Sequence[float],
        device: torch.device | str = "cpu",
        seed: int = 0,
        workers: int | None = None,
        channels_last: bool = False,
        cutout: int = 0,
        crop_scale: tuple[float, float] = (0.08, 1.0),
    ) -> None:
        from torchvision.transforms import v2 as T

        self.device = torch.device(device)
        if train:
            tf = T.Compose(
                [
                    T.RandomResizedCrop(image_size, scale=crop_scale, antialias=True),
                    T.RandomHorizontalFlip(),
                    T.PILToTensor(),
                ]
            )
        else:
            tf = T.Compose(
                [
                    T.Resize(int(round(eval_size / 0.875)), antialias=True),
                    T.CenterCrop(eval_size),
                    T.PILToTensor(),
                ]
            )
        self.dataset = _FileImages(split, tf, random=train)
        self.batch_size = batch_size
        self.drop_last = train and len(split) >= batch_size
        self.sampler = _EpochSampler(len(split), shuffle=train, seed=seed)
        self.seed = seed
        self.workers = default_workers() if workers is None else workers
        self.channels_last = channels_last
        self.cutout = cutout
        m = torch.tensor(list(mean), device=self.device).view(1, -1, 1, 1)
        s = torch.tensor(list(std), device=self.device).view(1, -1, 1, 1)
        self._scale, self._shift = 1.0 / (255.0 * s), -m / s
        self.epoch = 0

    @property
    def num_samples(self) -> int:
        return len(self.dataset)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = self.sampler.epoch = int(epoch)

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "seed": self.seed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.seed = self.sampler.seed = int(state["seed"])
        self.set_epoch(int(state["epoch"]))

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        g = epoch_generator(self.seed + 1, self.epoch, torch.device("cpu"))
        self.dataset.seed = int(torch.randint(0, 2**62, (1,), generator=g))
        dl = torch.utils.data.DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            sampler=self.sampler,
            num_workers=self.workers,
            pin_memory=self.device.type == "cuda",
            drop_last=self.drop_last,
            generator=g,
            prefetch_factor=4 if self.workers else None,
        )
        gen = epoch_generator(self.seed + 2, self.epoch, self.device) if self.cutout else None
        for x, y in dl:
            x = x.to(self.device, non_blocking=True)
            y = y.to(self.device, non_blocking=True)
            x = torch.addcmul(self._shift, x.float(), self._scale)
            x = x.contiguous(
                memory_format=torch.channels_last if self.channels_last else torch.contiguous_format
            )
            if self.cutout:
                cutout_(x, self.cutout, gen)
            yield x, y
