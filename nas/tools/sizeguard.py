"""The size guard for networks: the parameters and activation memory :func:`nas.tools.describe.describe`
estimates on the meta device (no allocation), against the memory of the device that would hold them."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import torch

from nas.core.errors import ConfigError
from nas.core.memory import check_fits, human_bytes

_SIZES = re.compile(r"sizes=\[([\d, ]+)\]")


def network_bytes(d: dict[str, Any], batch: int = 1, train: bool = False) -> float:
    """Bytes to run ``describe``'s network on ``batch`` images: fp32 weights (training: plus gradients and
    two optimizer slots) and every layer's output for each image (what backward keeps)."""
    return d["params"] * 4 * (4 if train else 1) + d["activation_bytes"] * batch


def check_network(
    d: dict[str, Any],
    *,
    batch: int = 1,
    train: bool = False,
    device: torch.device | str | None = None,
    fields: tuple[str, str] = ("width", "input_size"),
    fixes: Sequence[str] = (),
) -> None:
    """:class:`ConfigError` when the network ``d`` describes does not fit the device: on ``fields[0]``
    when its parameters dominate, else on ``fields[1]`` (the input size)."""
    params, acts = d["params"], d["activation_bytes"] * batch
    what = (
        f"network {d['name']!r} needs ~{params:.1e} parameters and ~{acts / 4:.1e} activation values"
        f" for {batch} image{'s' if batch != 1 else ''} of {'x'.join(map(str, d['input_size'][1:]))}"
    )
    field = fields[0] if params * 4 >= acts else fields[1]
    check_fits(network_bytes(d, batch, train), what, field, device=device, fixes=fixes)


def too_large(name: str, e: Exception) -> ConfigError | None:
    """The size-guard error for torch refusing a tensor whose size overflows (even on the meta device),
    e.g. width 1e12; ``None`` for any other error."""
    text = str(e)
    if "overflow" not in text:
        return None
    m = _SIZES.search(text)
    n = math.prod(int(x) for x in m.group(1).split(",")) if m else 2**63
    return ConfigError(
        "width", f"network {name!r} needs ~{n:.1e} parameters in one layer ({human_bytes(4 * n)}), "
        "more than any device holds",
    )  # fmt: skip
