"""The CPU channels-last guard: oneDNN (torch 2.14, AVX2) corrupts the heap in the backward of a channels-last
1×1 strided convolution with fewer than 8 input channels, so such models train contiguous on the CPU."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nas.data.datasets import load_dataset
from nas.train.config import TrainConfig
from nas.train.trainer import Trainer, unsafe_channels_last_conv


def _net(cin: int, kernel: int, stride: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, cin, 3, padding=1, bias=False),
        nn.Conv2d(cin, 8, kernel, stride, padding=kernel // 2, bias=False),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 4),
    )


@pytest.mark.parametrize(
    ("cin", "kernel", "stride", "unsafe"),
    [(4, 1, 2, True), (7, 1, 2, True), (8, 1, 2, False), (4, 1, 1, False), (4, 3, 2, False)],
)
def test_only_narrow_strided_1x1_convs_are_unsafe(cin: int, kernel: int, stride: int, unsafe: bool) -> None:
    found = unsafe_channels_last_conv(_net(cin, kernel, stride), torch.device("cpu"))
    assert (found == "1") is unsafe
    assert unsafe_channels_last_conv(_net(cin, kernel, stride), torch.device("meta")) is None


def test_trainer_keeps_such_a_model_contiguous_and_trains_it() -> None:
    data = load_dataset(
        "synthetic", val_size=16, train_subset=32, num_classes=4, image_size=8, use_cache=False
    )
    cfg = TrainConfig(epochs=1, batch_size=16, lr=0.05)
    assert Trainer(_net(8, 1, 2), data, cfg, device="cpu").channels_last is True
    narrow = Trainer(_net(4, 1, 2), data, cfg, device="cpu")
    assert narrow.channels_last is False
    assert narrow.fit()["val_top1"] is not None  # the backward that aborted the interpreter now runs
    with pytest.warns(UserWarning, match="oneDNN bug"):
        forced = Trainer(_net(4, 1, 2), data, TrainConfig(epochs=1, channels_last=True), device="cpu")
    assert forced.channels_last is False
