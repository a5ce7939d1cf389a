"""The memory a device has, and the guard every large allocation passes first.

An absurd size (width 1e12, a 100000-pixel image) must be a one-line error naming the estimate, not a
1.2 TB allocation attempt that thrashes the machine or a torch traceback. Callers estimate what they are
about to allocate (``nas.tools.sizeguard`` for networks, the synthetic reader for images) and call
:func:`check_fits`, which compares it with the device's memory: available RAM on the CPU, total memory on
a GPU.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch

from nas.core.errors import ConfigError


def _available_ram() -> int:
    """Available RAM in bytes (``MemAvailable``: free plus reclaimable cache), else free pages."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not a POSIX system: no limit we can know
        return 1 << 62


def device_memory(device: torch.device | str | None = None) -> tuple[int, str]:
    """Bytes the device can hold and how to name them (``"this machine's 24 GB of available RAM"``)."""
    dev = torch.device(device or "cpu")
    if dev.type == "cuda" and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(dev)
        return props.total_memory, f"the {human_bytes(props.total_memory)} of {dev} ({props.name})"
    ram = _available_ram()
    return ram, f"this machine's {human_bytes(ram)} of available RAM"


def human_bytes(n: float) -> str:
    """``16 TB``, ``24 GB``, ``512 MB``: decimal units, two significant digits."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB"):
        if n < 1000:
            return f"{n:.2g} {unit}" if n < 10 else f"{n:.0f} {unit}"
        n /= 1000
    return f"{n:.0f} YB"


def check_fits(
    need: float,
    what: str,
    field: str,
    *,
    device: torch.device | str | None = None,
    fixes: Sequence[str] = (),
) -> None:
    """Raise :class:`ConfigError` for ``field`` when ``need`` bytes exceed the device's memory;
    ``what`` says what needs them (``"network 'resnet20' needs ~4.0e12 parameters"``)."""
    have, where = device_memory(device)
    if need > have:
        raise ConfigError(field, f"{what} ({human_bytes(need)}), more than {where}", fixes=fixes)
