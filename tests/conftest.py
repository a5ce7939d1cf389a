import os

import pytest
import torch

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # Ray, if a test starts it, stays on loopback


@pytest.fixture(autouse=True, scope="session")
def _one_thread_everywhere():
    # Tests run small models: one thread is as fast, and two threads on a busy 2-core machine can be
    # 100x slower (OpenMP workers spinning against other processes, e.g. Ray workers).
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def table() -> dict[str, float]:
    """The synthetic NAS-Bench-201 table: all 15,625 arch strings (search_spaces/nb201_synthetic.py)."""
    from search_spaces.nb201_synthetic import synthetic_nb201_table

    return synthetic_nb201_table(seed=0)


@pytest.fixture(scope="session")
def space():
    """The NAS-Bench-201 search space."""
    from nas.core.registry import SPACES

    return SPACES["nb201"]()
