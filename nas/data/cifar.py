"""CIFAR-10 / CIFAR-100 in torchvision's python format: find a local copy (the ``cifar-10-batches-py`` /
``cifar-100-python`` directory, its parent, or the ``.tar.gz`` torchvision downloads), read it, or
download it; or an ImageFolder copy of the same data set as images."""

from __future__ import annotations

import tarfile
from pathlib import Path, PurePosixPath

import numpy as np

from nas.core.errors import first_line
from nas.data.cache import DecodedCache
from nas.data.errors import DataError, DataPathError
from nas.data.folder import FolderSource, archive_problem, is_archive
from nas.data.splits import Arrays
from nas.data.unpickle import load_data_pickle

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


def _read_blobs(where: Path, wanted: tuple[str, ...]) -> dict[str, bytes]:
    if where.is_dir():
        return {f: (where / f).read_bytes() for f in wanted}
    blobs = {}
    with tarfile.open(where, "r:*") as tf:
        for m in tf:
            base = PurePosixPath(m.name).name
            if m.isfile() and base in wanted:
                blobs[base] = tf.extractfile(m).read()  # type: ignore[union-attr]
    return blobs


def _batch(batch: dict, key: bytes, source: str) -> tuple[np.ndarray, np.ndarray]:
    """A batch's images (N, 3, 32, 32) uint8 and labels (N,), checked before they are used."""
    data, labels = batch.get(b"data"), batch.get(key)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{source}: b'data' is not a uint8 array of 3072 values per image")
    if not isinstance(labels, list | np.ndarray) or len(labels) != len(data):
        raise DataError(f"{source}: {key!r} is not a list of {len(data)} labels")
    return data.reshape(-1, 3, 32, 32), np.asarray(labels, np.int64)


def read_cifar(name: str, where: Path) -> Arrays:
    """The python-format copy at ``where`` (directory or archive), decoded with a data-only unpickler."""
    folder, _a, _u, _m, k, train_files, test_file, label_key = CIFAR[name]
    meta_name = "batches.meta" if name == "cifar10" else "meta"
    names_key = b"label_names" if name == "cifar10" else b"fine_label_names"
    try:
        blobs = _read_blobs(where, (*train_files, test_file, meta_name))
        missing = [f for f in (*train_files, test_file, meta_name) if f not in blobs]
        if missing:
            raise KeyError(missing[0])
    except (KeyError, OSError, tarfile.TarError, EOFError) as e:
        raise DataError(
            f"{where} is not a complete {name} copy in torchvision's python format ({archive_problem(e)})"
        ) from None

    def load(f: str) -> dict:
        return load_data_pickle(blobs[f], str(where / f))

    parts = [_batch(load(f), label_key, str(where / f)) for f in train_files]
    x_test, y_test = _batch(load(test_file), label_key, str(where / test_file))
    names = load(meta_name).get(names_key)
    if not isinstance(names, list) or not all(isinstance(c, bytes) for c in names):
        raise DataError(f"{where / meta_name}: {names_key!r} is not a list of class names")
    classes = tuple(c.decode(errors="replace") for c in names)
    if len(classes) != k:
        raise DataError(f"{where}: expected {k} classes for {name}, found {len(classes)}")
    x_train = np.concatenate([x for x, _ in parts])
    y_train = np.concatenate([y for _, y in parts])
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
