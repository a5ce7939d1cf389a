import os

import pytest
import torch

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # Ray, if a test starts it, stays on loopback


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
