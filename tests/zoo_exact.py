"""The exactness check the zoo-family tests share: our build of ``name`` against torchvision's."""

from __future__ import annotations

from nas.weights.reference import compare


def assert_exact(name: str, size: int = 64) -> None:
    """Equal parameters and per-image MACs (> 0), outputs after ``nas.transfer`` within 1e-5 (fp32, eval)."""
    r = compare(name, size)
    assert r["params"] == r["reference_params"]
    assert r["macs"] == r["reference_macs"] > 0
    assert r["max_rel_diff"] < 1e-5
