"""Pretrained weight files in the torch hub cache, read as data: checked against the published hash,
then loaded with ``torch.load(weights_only=True)``.

torchvision's own loader unpickles the cached file with ``weights_only=False`` and checks its hash only
when it downloads it, so a file planted in the cache would run code. torchvision names every file
``<name>-<hash>.pth``, ``<hash>`` the first hex digits of its SHA-256 (torch.hub's ``check_hash``
convention); a file whose digest does not start with them is refused before anything reads it.
"""

from __future__ import annotations

import hashlib
import pickle
import re
from pathlib import Path
from typing import Any

import torch

from nas.core.errors import first_line

_HASH = re.compile(r"-([a-f0-9]{6,})\.")  # torch.hub's HASH_REGEX, at least 6 digits to mean anything


def hub_path(url: str) -> Path:
    """Where torch.hub keeps (or would keep) the file of ``url``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name


def published_hash(url: str) -> str:
    """The SHA-256 prefix a weights URL's file name carries."""
    m = _HASH.search(Path(url).name)
    if m is None:
        raise ValueError(f"weights URL {url} carries no SHA-256 prefix in its file name (<name>-<hash>.pth)")
    return m.group(1)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def verified_state_dict(url: str, download: bool = False) -> dict[str, Any]:
    """The state dict of ``url`` from the hub cache (downloaded there first when absent and ``download``),
    its hash checked and loaded as tensors only; ``ValueError`` naming the file otherwise."""
    path, prefix = hub_path(url), published_hash(url)
    if not path.is_file():
        if not download:
            raise ValueError(
                f"pretrained weights are not on this machine: expected {path} (torchvision downloads them "
                f"there, e.g. on a machine with internet access)"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(url, str(path), hash_prefix=prefix)
    digest = sha256(path)
    if not digest.startswith(prefix):
        raise ValueError(
            f"pretrained weights {path} have SHA-256 {digest[:12]}…, not the published {prefix}…: "
            "the file is damaged or not torchvision's; delete it"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as e:
        raise ValueError(f"pretrained weights {path} are not a plain state dict ({first_line(e)})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"pretrained weights {path} are not a state dict of tensors")
    return state
