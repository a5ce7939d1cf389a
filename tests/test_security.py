"""No data file runs code: a crafted CIFAR batch and a crafted weights file are refused, and a marker
file their payload would create never appears."""

from __future__ import annotations

import hashlib
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

import nas
from nas.cli import main
from nas.data.datasets import load_dataset
from nas.data.errors import DataError
from nas.data.unpickle import load_data_pickle

NAMES = "airplane automobile bird cat deer dog frog horse ship truck".split()


class Payload:
    """What an attacker pickles: unpickling it calls ``os.system`` (``posix.system``)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def batch(n: int, rng: np.random.Generator, label_key: bytes = b"labels", i: int = 1) -> dict:
    """A batch laid out as the real CIFAR-10 ones are."""
    return {
        b"batch_label": f"training batch {i} of 5".encode(),
        label_key: [int(v) for v in rng.integers(0, 10, n)],
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [f"img_{i}_{j}.png".encode() for j in range(n)],
    }


def write_cifar10(d: Path, protocol: int = 2, n: int = 8) -> Path:
    rng = np.random.default_rng(0)
    d.mkdir(parents=True)
    for i, name in enumerate([*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"], 1):
        (d / name).write_bytes(pickle.dumps(batch(n, rng, i=i), protocol=protocol))
    meta = {b"label_names": [c.encode() for c in NAMES], b"num_cases_per_batch": n, b"num_vis": 3072}
    (d / "batches.meta").write_bytes(pickle.dumps(meta, protocol=protocol))
    return d


def dry_run(capsys, tmp_path: Path, data: Path) -> tuple[int, str]:
    argv = ["train", "resnet20", "--dataset", "cifar10", "--data-dir", str(data), "--dry-run"]
    code = main([*argv, "--cache-dir", str(tmp_path / "cache"), "--preset", "tiny"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_a_cifar_batch_written_as_the_real_ones_loads(tmp_path, protocol):
    d = write_cifar10(tmp_path / "cifar-10-batches-py", protocol)
    ds = load_dataset("cifar10", d, cache_dir=tmp_path / "c")
    first = pickle.loads((d / "data_batch_1").read_bytes(), encoding="bytes")
    assert ds.classes == tuple(NAMES) and len(ds.train) == 40 and len(ds.test) == 8
    assert np.array_equal(ds.train.images[:8].numpy().reshape(8, -1), first[b"data"])


@pytest.mark.parametrize("archive", [False, True])
def test_a_crafted_cifar_batch_runs_no_code_through_the_cli(capsys, tmp_path, archive):
    d = write_cifar10(tmp_path / "data" / "cifar-10-batches-py")
    marker = tmp_path / "pwned"
    evil = {b"data": np.zeros((8, 3072), np.uint8), b"labels": Payload(marker)}
    (d / "data_batch_1").write_bytes(pickle.dumps(evil, protocol=2))
    data = d
    if archive:
        data = tmp_path / "cifar-10-python.tar.gz"
        with tarfile.open(data, "w:gz") as tf:
            tf.add(d, arcname="cifar-10-batches-py")
    code, err = dry_run(capsys, tmp_path, data)
    assert not marker.exists()
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "data_batch_1" in err and "system" in err, err


def test_the_unpickler_admits_only_array_data(tmp_path):
    marker = tmp_path / "m"
    for bad, why in [
        ({b"x": Payload(marker)}, "system"),
        ({b"x": np.array([object()], dtype=object)}, "references|objects"),  # object arrays pickle objects
        ({b"x": Path("/etc")}, "pathlib"),
        ([1, 2], "holds a list"),
    ]:
        with pytest.raises(DataError, match=why) as e:
            load_data_pickle(pickle.dumps(bad), "some/file")
        assert str(e.value).startswith("some/file is not a CIFAR python-format batch")
    assert not marker.exists()
    with pytest.raises(DataError, match="some/file"):
        load_data_pickle(b"not a pickle", "some/file")


def test_a_batch_with_wrong_arrays_names_the_file(capsys, tmp_path):
    d = write_cifar10(tmp_path / "cifar-10-batches-py")
    (d / "test_batch").write_bytes(pickle.dumps({b"data": np.zeros((4, 10), np.uint8), b"labels": [0] * 4}))
    code, err = dry_run(capsys, tmp_path, d)
    assert code == 2 and "test_batch: b'data' is not a uint8 array" in err and err.count("\n") == 1, err


# --- pretrained weights: hash-checked, read as tensors only ------------------------------------------


def _weights(name: str):
    import torchvision

    return torchvision.models.get_model_weights(name).DEFAULT


@pytest.fixture
def hub(tmp_path, monkeypatch) -> Path:
    """An empty torch hub cache under ``TORCH_HOME``; returns its checkpoints directory."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    d = Path(torch.hub.get_dir()) / "checkpoints"
    d.mkdir(parents=True)
    return d


def _evil_weights(path: Path, marker: Path) -> None:
    path.write_bytes(pickle.dumps({"conv.weight": Payload(marker)}, protocol=2))


def test_a_planted_weights_file_in_the_hub_cache_runs_no_code(hub, tmp_path):
    marker = tmp_path / "pwned"
    url = _weights("resnet18").url
    _evil_weights(hub / Path(url).name, marker)
    published = r"resnet18-f37072fd\.pth have SHA-256 \w+…, not the published f37072fd"
    with pytest.raises(ValueError, match=published):
        nas.build("resnet18", weights="torchvision")
    assert not marker.exists()


def test_a_crafted_file_with_the_right_hash_is_still_not_unpickled(hub, tmp_path):
    from nas.weights.hubfile import sha256, verified_state_dict

    marker = tmp_path / "pwned"
    staged = tmp_path / "evil.pth"
    _evil_weights(staged, marker)
    name = f"evil-{sha256(staged)[:8]}.pth"
    staged.rename(hub / name)
    with pytest.raises(ValueError, match=rf"{name} are not a plain state dict"):
        verified_state_dict(f"https://download.pytorch.org/models/{name}")
    assert not marker.exists()


def test_weights_with_the_published_hash_load(hub, monkeypatch):
    import torchvision

    ref = torchvision.models.resnet18()
    staged = hub / "staged.pth"
    torch.save(ref.state_dict(), staged)
    digest = hashlib.sha256(staged.read_bytes()).hexdigest()
    enum = _weights("resnet18")
    monkeypatch.setattr(enum.value, "url", f"https://download.pytorch.org/models/resnet18-{digest[:8]}.pth")
    staged.rename(hub / Path(enum.url).name)
    ours = nas.build("resnet18", input_size=32, weights="torchvision").eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(ours(x), ref.eval()(x), atol=1e-5, rtol=1e-4)
    assert "get_state_dict" not in vars(enum)  # the builder's loader is back as torchvision wrote it
