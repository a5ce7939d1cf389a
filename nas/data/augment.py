"""The small-image pipeline (≤ 64 px): decoded ``uint8`` tensors in memory, batched augmentation on the
training device, and an on-disk cache of decoded arrays.

Images are decoded once into one ``(N, C, H, W)`` ``uint8`` tensor, moved to the training device once,
and every batch is cut out of it by index: random crop with zero padding and horizontal flip are one
gather (no per-image Python work), normalisation is one fused multiply-add, cutout one mask. The
randomness of an epoch (order, crop offsets, flips, cutout squares) comes from a generator seeded by
``(seed, epoch)`` alone, so an interrupted run resumed at epoch ``e`` sees exactly the batches an
uninterrupted one sees.

The decoded-array cache (:class:`DecodedCache`) lives under ``$NAS_CACHE_DIR`` or ``~/.cache/nas``
(or a ``cache_dir`` given by the caller); entries are keyed by the source (path, size, mtime) and the
decoding parameters, and written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

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


@dataclass(frozen=True)
class AugmentSpec:
    """Batched augmentation for small images: random crop after ``crop_padding`` pixels of zero
    padding (CIFAR's standard 4), horizontal flip, and cutout of a ``cutout``×``cutout`` square
    (DeVries & Taylor 2017; applied after normalisation, so the square is zero = the mean)."""

    crop_padding: int = 4
    flip: bool = True
    cutout: int = 0

    def __post_init__(self) -> None:
        if self.crop_padding < 0 or self.cutout < 0:
            raise ValueError("crop_padding and cutout must be >= 0")

    @property
    def active(self) -> bool:
        return self.crop_padding > 0 or self.flip or self.cutout > 0


def crop_flip(x: torch.Tensor, padding: int, flip: bool, gen: torch.Generator | None) -> torch.Tensor:
    """Random ``H×W`` crops of the zero-padded batch ``x`` (N, C, H, W), each optionally mirrored, as one
    gather. Returns a channels-last-strided tensor of the same shape and dtype."""
    n, _c, h, w = x.shape
    dev = x.device
    if padding:
        x = torch.nn.functional.pad(x, (padding, padding, padding, padding))
        oy = torch.randint(0, 2 * padding + 1, (n,), device=dev, generator=gen)
        ox = torch.randint(0, 2 * padding + 1, (n,), device=dev, generator=gen)
    else:
        oy = ox = torch.zeros(n, dtype=torch.long, device=dev)
    ar_h = torch.arange(h, device=dev)
    ar_w = torch.arange(w, device=dev)
    rows = oy[:, None] + ar_h  # (N, H)
    cols = ox[:, None] + ar_w  # (N, W)
    if flip:
        mirror = torch.rand(n, device=dev, generator=gen) < 0.5
        cols = torch.where(mirror[:, None], ox[:, None] + (w - 1 - ar_w), cols)
    # advanced indices on dims 0, 2, 3 around a slice → result (N, H, W, C)
    out = x[torch.arange(n, device=dev)[:, None, None], :, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2)


def cutout_(x: torch.Tensor, size: int, gen: torch.Generator | None) -> torch.Tensor:
    """Zero a ``size``×``size`` square per image, centred uniformly over the image (clipped at the
    border, as DeVries & Taylor), in place on a float batch."""
    n, _c, h, w = x.shape
    dev = x.device
    cy = torch.randint(0, h, (n, 1), device=dev, generator=gen)
    cx = torch.randint(0, w, (n, 1), device=dev, generator=gen)
    half = size // 2
    ys = torch.arange(h, device=dev)[None]
    xs = torch.arange(w, device=dev)[None]
    in_y = (ys >= cy - half) & (ys < cy - half + size)  # (N, H)
    in_x = (xs >= cx - half) & (xs < cx - half + size)  # (N, W)
    keep = ~(in_y[:, :, None] & in_x[:, None, :])  # (N, H, W)
    return x.mul_(keep[:, None].to(x.dtype))


def epoch_generator(seed: int, epoch: int, device: torch.device) -> torch.Generator:
    """The generator of one epoch's randomness, a function of ``(seed, epoch)`` only."""
    g = torch.Generator(device=device)
    g.manual_seed((int(seed) * 1_000_003 + int(epoch) * 7_919 + 12_345) % (2**63 - 1))
    return g


class TensorLoader:
    """Batches of an in-memory ``uint8`` image tensor, augmented and normalised on ``device``.

    Yields ``(x, y)``: ``x`` float32 (N, C, H, W), normalised with ``mean``/``std`` (0-255 scale
    statistics divided by 255, i.e. the usual [0, 1] ones), channels-last if asked; ``y`` int64.
    ``set_epoch(e)`` selects the epoch whose order and augmentation the next iteration uses.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        *,
        mean: Sequence[float],
        std: Sequence[float],
        shuffle: bool = False,
        drop_last: bool = False,
        augment: AugmentSpec | None = None,
        device: torch.device | str = "cpu",
        seed: int = 0,
        channels_last: bool = False,
    ) -> None:
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise TypeError("TensorLoader takes a uint8 (N, C, H, W) tensor")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.device = torch.device(device)
        self.images = images.to(self.device)
        self.labels = labels.to(self.device, torch.long)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last and len(images) >= batch_size
        self.augment = augment if augment is not None and augment.active else None
        self.seed = int(seed)
        self.channels_last = channels_last
        c = images.shape[1]
        m = torch.tensor(list(mean), dtype=torch.float32, device=self.device).view(1, c, 1, 1)
        s = torch.tensor(list(std), dtype=torch.float32, device=self.device).view(1, c, 1, 1)
        self._scale = 1.0 / (255.0 * s)  # x_norm = x_uint8 * scale + shift
        self._shift = -m / s
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.images)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    @property
    def num_samples(self) -> int:
        return len(self.images)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "seed": self.seed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.seed = int(state["epoch"]), int(state["seed"])

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.addcmul(self._shift, x.float(), self._scale)  # keeps x's memory format
        if self.channels_last:
            return out.contiguous(memory_format=torch.channels_last)
        return out.contiguous()

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.images)
        gen = epoch_generator(self.seed, self.epoch, self.device) if (self.shuffle or self.augment) else None
        order = torch.randperm(n, device=self.device, generator=gen) if self.shuffle else None
        aug = self.augment
        for b in range(len(self)):
            sl = slice(b * self.batch_size, min(n, (b + 1) * self.batch_size))
            idx = order[sl] if order is not None else None
            x = self.images[idx] if idx is not None else self.images[sl]
            y = self.labels[idx] if idx is not None else self.labels[sl]
            if aug is not None and (aug.crop_padding or aug.flip):
                x = crop_flip(x, aug.crop_padding, aug.flip, gen)
            x = self._normalize(x)
            if aug is not None and aug.cutout:
                cutout_(x, aug.cutout, gen)
            yield x, y


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
