"""Batched augmentation of small images on the training device: random crop + flip as one gather, cutout
as one mask, all drawn from a generator seeded by ``(seed, epoch)`` alone (resumable epochs)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


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
