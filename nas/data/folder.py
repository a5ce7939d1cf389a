"""The ImageFolder reader: ``root/<class>/<image>`` or ``root/train/<class>/<image>`` (with ``root/test``,
``root/val`` or ``root/validation`` as the test split), in a directory or a ``.tar`` / ``.tar.gz``
archive of one. Training data (:func:`nas.data.datasets.load_dataset`) and proxy batches
(:func:`nas.data.batch.load_image_batch`) both read folders through it, so they accept the same files.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from nas.core.errors import first_line
from nas.data.cache import DecodedCache, cache_key, indices_digest, source_fingerprint
from nas.data.decode import decode_one, image_size_of
from nas.data.errors import DataError, DataPathError
from nas.data.splits import ArraySplit, FileSplit

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".gif")
TEST_DIRS = ("test", "val", "validation")


def archive_problem(e: BaseException) -> str:
    """One line for why an archive cannot be read (tarfile's "r:*" error lists every method it tried)."""
    if isinstance(e, tarfile.ReadError):
        return "not a tar archive (or a damaged one)"
    return f"{type(e).__name__}: {first_line(e)}"


def is_archive(p: Path) -> bool:
    """A tar archive (plain or compressed), by its name."""
    return p.is_file() and (p.name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")))


def is_image(name: str) -> bool:
    """An image file by its extension (:data:`IMAGE_EXTENSIONS`); hidden files are not."""
    return name.lower().endswith(IMAGE_EXTENSIONS) and not PurePosixPath(name).name.startswith(".")


@dataclass
class FolderIndex:
    """Relative image paths and labels per split of an ImageFolder tree."""

    classes: tuple[str, ...]
    splits: dict[str, tuple[list[str], list[int]]]  # "train"/"test" → (relative paths, labels)
    layout: str
    first_size: tuple[int, int] = (0, 0)  # (H, W) of the first training image


def index_folder(names: Sequence[str], where: str) -> FolderIndex:
    """Find the ImageFolder layout in a list of relative image paths (POSIX)."""
    parts = [PurePosixPath(n).parts for n in names if is_image(n)]
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
    return FolderIndex(classes, splits, layout)


class FolderSource:
    """An ImageFolder tree in a directory or a tar archive, read lazily."""

    def __init__(self, path: Path, cache: DecodedCache) -> None:
        self.path = path
        self.cache = cache
        self.archive = is_archive(path)
        self._bytes: dict[str, bytes] | None = None
        if self.archive:  # listing an archive means reading it: its index is cached by checksum
            self.fingerprint = source_fingerprint(path)
            self.index = self._load_index()
        else:  # a directory is listed every time; the listing (names, sizes, mtimes) is its key
            listing = self._walk()
            self.fingerprint = source_fingerprint(path, listing)
            self.index = index_folder([n for n, _, _ in listing], str(path))
            self.index.first_size = self._first_size()

    # listing ---------------------------------------------------------------------------------------
    def _first_size(self) -> tuple[int, int]:
        return image_size_of(next(self.read(self.index.splits["train"][0][:1])))

    def _load_index(self) -> FolderIndex:
        key = cache_key("index", self.fingerprint)
        cached = self.cache.root / "index" / f"{key}.json"
        if self.cache.enabled and cached.is_file():
            try:
                d = json.loads(cached.read_text())
                return FolderIndex(
                    tuple(d["classes"]),
                    {k: (v[0], v[1]) for k, v in d["splits"].items()},
                    d["layout"],
                    tuple(d["first_size"]),
                )
            except (OSError, ValueError, KeyError):
                pass
        self._bytes = self._read_archive(None)  # one pass: list it and keep the bytes (needed next)
        index = index_folder(list(self._bytes), str(self.path))
        index.first_size = image_size_of(self._bytes[index.splits["train"][0][0]])
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
                if is_image(f):
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
                    if (wanted is None and is_image(name)) or (wanted is not None and name in wanted):
                        f = tf.extractfile(m)
                        if f is not None:
                            out[name] = f.read()
        except (tarfile.TarError, OSError, EOFError) as e:
            raise DataError(f"cannot read archive {self.path}: {archive_problem(e)}") from None
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
            # fastest way here (libjpeg-turbo, 2-3x PIL) and PIL is the fallback in decode_one
            warnings.simplefilter("ignore", DeprecationWarning)
            for k, data in enumerate(self.read(rel)):
                try:
                    arr[k] = decode_one(data, size).numpy()
                except Exception as e:  # corrupt file
                    raise DataError(
                        f"cannot decode {self.path}/{rel[k]} ({type(e).__name__}: {first_line(e)})"
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
                    tf.extractall(tmp)  # noqa: S202 - member names were checked by index_folder
            (tmp / ".complete").write_text(json.dumps(self.fingerprint))
            shutil.rmtree(dest, ignore_errors=True)
            os.replace(tmp, dest)
        except (tarfile.TarError, OSError) as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise DataError(f"cannot unpack {self.path} into {dest.parent}: {archive_problem(e)}") from None
        return dest


def _labels(labels: list[int], idx: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(labels, np.int64)[np.asarray(idx, np.int64)])


def open_folder(path: Path | None, cache: DecodedCache) -> FolderSource:
    """The ImageFolder tree at ``path`` (a directory or a tar archive); :class:`DataError` otherwise."""
    if path is None:
        raise DataPathError("dataset 'imagefolder' needs a directory or .tar/.tar.gz archive")
    if not (path.is_dir() or is_archive(path)):
        raise DataError(f"{path} is neither a directory nor a .tar/.tar.gz archive")
    return FolderSource(path, cache)
