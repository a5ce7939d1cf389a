"""Image bytes → ``uint8`` (C, H, W) tensors, and the resize + center crop every decoded image gets."""

from __future__ import annotations

import io

import numpy as np
import torch

from nas.data.errors import DataError


def decode_one(data: bytes, size: tuple[int, int] | None) -> torch.Tensor:
    """One encoded image → RGB ``uint8`` (3, H, W), resized and center-cropped to ``size`` if given.
    torchvision's decoder (libjpeg-turbo) first; PIL for what it cannot read."""
    try:
        from torchvision.io import ImageReadMode, decode_image  # heavy import, needed only to decode

        img = decode_image(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.RGB)
    except (ImportError, RuntimeError, ValueError):
        from PIL import Image  # the fallback decoder, imported only when needed

        with Image.open(io.BytesIO(data)) as im:
            arr = np.asarray(im.convert("RGB"))
        img = torch.from_numpy(arr.copy()).permute(2, 0, 1)
    if size is not None and tuple(img.shape[1:]) != tuple(size):
        img = resize_center(img[None], size)[0]
    return img


def resize_center(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a uint8 batch so its shorter side fits, then center-crop to ``size`` (antialiased)."""
    from torchvision.transforms.v2 import functional as TF  # heavy import, needed only to resize

    h, w = x.shape[-2:]
    th, tw = size
    scale = max(th / h, tw / w)
    nh, nw = max(th, round(h * scale)), max(tw, round(w * scale))
    if (nh, nw) != (h, w):
        x = TF.resize(x, [nh, nw], antialias=True)
    return TF.center_crop(x, [th, tw])


def resize_array(images: torch.Tensor, size: tuple[int, int], chunk: int = 4096) -> torch.Tensor:
    """:func:`resize_center` over a whole uint8 (N, C, H, W) array, in chunks (no-op at ``size``)."""
    if tuple(images.shape[2:]) == tuple(size):
        return images
    return torch.cat([resize_center(images[i : i + chunk], size) for i in range(0, len(images), chunk)])


def image_size_of(data: bytes) -> tuple[int, int]:
    """``(H, W)`` of an encoded image, from its header."""
    from PIL import Image  # reads the header only; imported when a folder is first indexed

    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
    except Exception as e:  # PIL raises many types for bad files
        raise DataError(f"cannot read image ({type(e).__name__}: {e})") from None
    return h, w
