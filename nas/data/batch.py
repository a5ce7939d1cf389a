"""A seeded minibatch of real images for the zero-cost proxies (``nas calibrate``, a search's proxies).

It reads ImageFolder directories and archives through :mod:`nas.data.folder`, the reader training
uses, so every image folder that trains can be proxy-scored. The batch depends only on the seed and the
file names: the ``n`` images whose ``sha1(seed:path)`` is smallest, in that order.
"""

from __future__ import annotations

import hashlib
import heapq
import io
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from nas.data.cache import DecodedCache, default_cache_dir
from nas.data.errors import DataError
from nas.data.folder import FolderIndex, open_folder

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def load_image_batch(
    path: str | Path,
    n: int = 64,
    *,
    seed: int = 0,
    split: str = "train",
    size: int | None = None,
    mean: Sequence[float] = CIFAR10_MEAN,
    std: Sequence[float] = CIFAR10_STD,
    cache_dir: str | Path | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded minibatch ``(images, labels)`` of ``split`` ("train", or the name of the test split's
    directory: "test", "val", ...) of an ImageFolder directory or ``.tar[.gz]`` archive (see
    :mod:`nas.data.folder`), resized to ``size`` × ``size`` if given and normalised with ``mean``/``std``.
    Labels are the training labels (class directories in sorted order). ``cache_dir`` holds an archive's
    index (default: :func:`nas.data.cache.default_cache_dir`).
    """
    from PIL import Image  # imported only when images are decoded

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"image data {str(path)!r} does not exist")
    folder = open_folder(path, DecodedCache(cache_dir if cache_dir is not None else default_cache_dir()))
    key = _split_key(folder.index, split)
    if key is None:
        raise DataError(f"image data {str(path)!r} has no images under a {split!r}/<class>/ folder")
    paths, labels = folder.index.splits[key]
    digest = [int.from_bytes(hashlib.sha1(f"{seed}:{p}".encode()).digest()[:8], "big") for p in paths]
    chosen = heapq.nsmallest(n, range(len(paths)), key=digest.__getitem__)
    xs = []
    for data in folder.read([paths[i] for i in chosen]):
        img = Image.open(io.BytesIO(data)).convert("RGB")
        if size is not None and img.size != (size, size):
            img = img.resize((size, size), Image.BILINEAR)
        xs.append(torch.from_numpy(np.asarray(img, dtype=np.float32).copy()).permute(2, 0, 1) / 255.0)
    folder.release()
    x = torch.stack(xs)
    x = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    return x, torch.tensor([labels[i] for i in chosen], dtype=torch.long)


def _split_key(index: FolderIndex, split: str) -> str | None:
    """The index's split ("train" / "test") that ``split`` names: "train", or the test directory's name."""
    if split == "train":
        return "train"
    test = index.splits.get("test", ([], []))[0]
    if test and PurePosixPath(test[0]).parts[-3] == split:
        return "test"
    return None
