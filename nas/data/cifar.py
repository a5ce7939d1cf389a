"""CIFAR-10 / CIFAR-100 in torchvision's python format: find a local copy (the ``cifar-10-batches-py`` /
``cifar-100-python`` directory, its parent, or the ``.tar.gz`` torchvision downloads), read it, or
download it; or an ImageFolder copy of the same data set as images."""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path, PurePosixPath

import numpy as np

from nas.core.errors import first_line
from nas.data.cache import DecodedCache
from nas.data.errors import DataError, DataPathError
from nas.data.folder import FolderSource, is_archive
from nas.data.splits import Arrays

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


def find_cifar(name: str, root: Path) -> Path | None:
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
    elif is_archive(root):
        try:
            with tarfile.open(root, "r:*") as tf:
                first = next((m.name for m in tf if m.isfile()), "")
        except (tarfile.TarError, OSError, EOFError):
            return None
        if first.lstrip("./").startswith(folder + "/"):
            return root
    return None


def read_cifar(name: str, where: Path) -> Arrays:
    """The python-format copy at ``where`` (directory or archive), decoded."""
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
    return Arrays(x_train, y_train, x_test, y_test, classes)


def download_cifar(name: str, root: Path) -> Path:
    """Download ``name`` with torchvision into ``root``; any failure → one-line :class:`DataError`."""
    folder, archive, url, md5, *_ = CIFAR[name]
    try:
        from torchvision.datasets.utils import download_and_extract_archive  # heavy; only to download

        root.mkdir(parents=True, exist_ok=True)
        download_and_extract_archive(url, str(root), filename=archive, md5=md5)
    except Exception as e:  # network, disk, checksum: all end the same way for the user
        raise DataPathError(
            f"could not download {name} into {root} ({type(e).__name__}: {first_line(e)}); "
            f"download {url} elsewhere and give its directory"
        ) from None
    found = find_cifar(name, root)
    if found is None:
        raise DataPathError(f"downloaded {name} into {root} but cannot find {folder}; give its directory")
    return found


def cifar_source(
    name: str, path: Path | None, cache: DecodedCache, download: bool
) -> tuple[Arrays | FolderSource, str]:
    """CIFAR ``name`` and where it was found: from ``path`` (python format or an ImageFolder copy) or,
    without a path, from the cache directory (downloaded there first when ``download``)."""
    root = path if path is not None else cache.root / "datasets"
    found = find_cifar(name, root)
    if found is None and path is None:
        found = download_cifar(name, root) if download else None
        if found is None:
            raise DataPathError(f"{name} is not in {root} and downloading is off; give its directory")
    if found is not None:
        return read_cifar(name, found), str(found)
    assert path is not None
    folder = FolderSource(path, cache)  # an ImageFolder copy (e.g. CIFAR as JPEGs)
    expected = CIFAR[name][4]
    if len(folder.index.classes) != expected:
        raise DataError(
            f"{name} has {expected} classes but {path} has {len(folder.index.classes)} "
            f"({folder.index.layout}); is this the right directory?"
        )
    return folder, str(path)
