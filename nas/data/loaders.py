"""The two input pipelines, as loaders yielding normalised ``(x, y)`` batches on the training device.

* :class:`TensorLoader` — small images (≤ 64 px): one ``uint8`` (N, C, H, W) tensor moved to the device
  once; every batch is cut out of it by index, augmented batch-wise (:mod:`nas.data.augment`; no
  per-image Python work) and normalised with one fused multiply-add.
* :class:`FolderLoader` — large images (ImageNet-style) stream from files through torchvision
  transforms in DataLoader workers (RandomResizedCrop + flip; resize + center crop for evaluation, at
  an optional FixRes test size).

The order and augmentation of an epoch are functions of ``(seed, epoch)`` alone, so an interrupted run
resumed at epoch ``e`` sees exactly the batches an uninterrupted one sees.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from nas.data.augment import AugmentSpec, crop_flip, cutout_, epoch_generator
from nas.data.splits import FileSplit


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
        from PIL import Image  # imported in the DataLoader worker that decodes

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
        from torchvision.transforms import v2 as T  # heavy import, needed only for large images

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
