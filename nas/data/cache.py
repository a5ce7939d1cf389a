"""The on-disk cache of decoded image arrays, and the fingerprints that name its entries.

The cache (:class:`DecodedCache`) lives under ``$NAS_CACHE_DIR`` or ``~/.cache/nas`` (or a ``cache_dir``
given by the caller); entries are keyed by the source (path, size, mtime or checksum) and the decoding
parameters, and written atomically. Folder indexes and unpacked archives live beside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

CACHE_VERSION = 1


def default_cache_dir() -> Path:
    """``$NAS_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/nas`` or ``~/.cache/nas``."""
    env = os.environ.get("NAS_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "nas"


FULL_HASH_LIMIT = 256 * 2**20  # files up to this size are hashed whole; larger ones head + tail + size


def file_checksum(path: str | Path, limit: int = FULL_HASH_LIMIT, chunk: int = 4 * 2**20) -> str:
    """SHA-256 of a file's content (of its first and last ``chunk`` bytes when larger than ``limit``:
    a multi-gigabyte archive is not read whole just to name a cache entry)."""
    h = hashlib.sha256()
    p = Path(path)
    size = p.stat().st_size
    with p.open("rb") as f:
        if size <= limit:
            for block in iter(lambda: f.read(chunk), b""):
                h.update(block)
        else:
            h.update(f.read(chunk))
            f.seek(size - chunk)
            h.update(f.read(chunk))
            h.update(str(size).encode())
    return h.hexdigest()


def source_fingerprint(
    path: str | Path, listing: Sequence[tuple[str, int, int]] | None = None
) -> dict[str, Any]:
    """What identifies a data source: for a file (an archive) its resolved path, size and content
    checksum; for a directory its path and a hash of its listing ``(relative path, size, mtime_ns)``."""
    p = Path(path).expanduser().resolve()
    if p.is_dir():
        h = hashlib.sha256()
        for name, size, mtime in sorted(listing or ()):
            h.update(f"{name}\0{size}\0{mtime}\n".encode())
        return {"path": str(p), "listing": h.hexdigest()[:32], "files": len(listing or ())}
    st = p.stat()
    return {"path": str(p), "size": st.st_size, "sha256": file_checksum(p)}


def cache_key(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable parts (source fingerprint, decode parameters, indices)."""
    h = hashlib.sha256()
    h.update(json.dumps([CACHE_VERSION, *parts], sort_keys=True, default=str).encode())
    return h.hexdigest()[:24]


def indices_digest(indices: np.ndarray | Sequence[int] | None) -> str | None:
    if indices is None:
        return None
    a = np.ascontiguousarray(np.asarray(indices, dtype=np.int64))
    return hashlib.sha256(a.tobytes()).hexdigest()[:24]


class DecodedCache:
    """Decoded ``uint8`` image arrays on disk: ``<root>/decoded/<key>/{images.npy, labels.npy, meta.json}``.

    ``get`` returns ``None`` on a miss or a damaged entry (which is then removed); ``put`` writes into a
    temporary directory and renames it into place, so readers never see a half-written entry.
    """

    def __init__(self, root: str | Path | None = None, enabled: bool = True) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        self.enabled = enabled

    def _dir(self, key: str) -> Path:
        return self.root / "decoded" / key

    def get(self, key: str) -> tuple[np.ndarray, np.ndarray, dict[str, Any]] | None:
        if not self.enabled:
            return None
        d = self._dir(key)
        try:
            meta = json.loads((d / "meta.json").read_text())
            images = np.load(d / "images.npy", mmap_mode="r")
            labels = np.load(d / "labels.npy")
            if images.shape[0] != labels.shape[0] or images.dtype != np.uint8:
                raise ValueError("inconsistent cache entry")
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            shutil.rmtree(d, ignore_errors=True)
            return None
        return images, labels, meta

    def put(self, key: str, images: np.ndarray, labels: np.ndarray, meta: dict[str, Any]) -> None:
        if not self.enabled:
            return
        final = self._dir(key)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=final.parent))
            np.save(tmp / "images.npy", np.ascontiguousarray(images, dtype=np.uint8))
            np.save(tmp / "labels.npy", np.ascontiguousarray(labels, dtype=np.int64))
            (tmp / "meta.json").write_text(json.dumps(meta, default=str))
            try:
                os.replace(tmp, final)
            except OSError:  # another process won the race: keep theirs
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            pass  # a read-only or full cache must never stop training
