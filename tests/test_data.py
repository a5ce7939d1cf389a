"""Data layer: sources (synthetic, CIFAR python format, ImageFolder dirs and archives, the real CIFAR-10
JPEGs), honest splits, the decoded-array cache, batched augmentation, the file pipeline, errors."""

from __future__ import annotations

import pickle
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from shared_data import CIFAR_TAR

import nas.data.folder as F
from nas.data.augment import AugmentSpec, crop_flip, cutout_, epoch_generator
from nas.data.batch import load_image_batch
from nas.data.datasets import load_dataset
from nas.data.errors import DataError
from nas.data.loaders import TensorLoader
from nas.data.splits import balanced_split, balanced_subset


def make_folder(root: Path, classes=("cat", "dog", "emu"), n_train=6, n_test=3, size=12, split=True, seed=0):
    """An ImageFolder of random PNG (lossless) images; returns {relative path: uint8 CHW array}."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for part, n in (("train", n_train), ("test", n_test)) if split else (("", n_train),):
        for c in classes:
            d = root / part / c if part else root / c
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                a = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                Image.fromarray(a).save(d / f"{i:03d}.png")
                arrays[str((d / f"{i:03d}.png").relative_to(root))] = a.transpose(2, 0, 1)
    return arrays


# ------------------------------------------------------------------------------------------- splits


def test_balanced_split_and_subset():
    labels = np.repeat(np.arange(4), [50, 50, 30, 70])
    tr, va = balanced_split(labels, 40, seed=1)
    assert len(va) == 40 and len(set(tr) & set(va)) == 0 and len(tr) + len(va) == 200
    assert np.bincount(labels[va]).tolist() == [10, 10, 10, 10]
    assert np.array_equal(balanced_split(labels, 40, seed=1)[1], va)  # seeded
    assert not np.array_equal(balanced_split(labels, 40, seed=2)[1], va)
    _, va_frac = balanced_split(labels, 0.1, seed=0)
    assert len(va_frac) == 20
    assert len(balanced_split(labels, 0, seed=0)[1]) == 0
    sub = balanced_subset(labels, 102, seed=0)
    counts = np.bincount(labels[sub])
    assert len(sub) == 102 and len(set(sub)) == 102 and counts.max() - counts.min() <= 1
    # a class with too few images gives what it has, the others make up the rest
    small = balanced_subset(np.repeat(np.arange(3), [2, 50, 50]), 30, seed=0)
    assert np.bincount(np.repeat(np.arange(3), [2, 50, 50])[small]).tolist() == [2, 14, 14]
    with pytest.raises(DataError, match="larger than"):
        balanced_subset(labels, 201)
    with pytest.raises(DataError, match="leaves no training"):
        balanced_split(labels, 200)


def test_synthetic():
    ds = load_dataset(
        "synthetic", val_size=100, train_subset=300, num_classes=5, image_size=16, use_cache=False
    )
    assert ds.num_classes == 5 and ds.image_size == (3, 16, 16) and ds.pipeline == "memory"
    assert (len(ds.train), len(ds.val), len(ds.test)) == (300, 100, 500)
    assert ds.train.images.dtype == torch.uint8 and ds.train.images.shape[1:] == (3, 16, 16)
    assert torch.bincount(ds.train.labels).tolist() == [60] * 5
    again = load_dataset("synthetic", val_size=100, train_subset=300, num_classes=5, image_size=16)
    assert torch.equal(again.train.images, ds.train.images)
    assert all(0.05 < s < 0.5 for s in ds.std) and all(0.2 < m < 0.8 for m in ds.mean)


# ---------------------------------------------------------------------------------- ImageFolder


def test_imagefolder_dir_archive_and_cache(tmp_path, monkeypatch):
    root = tmp_path / "folder"
    arrays = make_folder(root)
    cache = tmp_path / "cache"
    ds = load_dataset("imagefolder", root, cache_dir=cache)
    assert ds.classes == ("cat", "dog", "emu") and ds.image_size == (3, 12, 12)
    assert (len(ds.train), len(ds.test)) == (18, 9) and ds.val is None
    # pixels are exactly the PNGs', in class then file order
    expected = np.stack([arrays[f"train/{c}/{i:03d}.png"] for c in ds.classes for i in range(6)])
    assert np.array_equal(ds.train.images.numpy(), expected)
    assert ds.train.labels.tolist() == [0] * 6 + [1] * 6 + [2] * 6

    # a changed file in a directory changes its key: the new pixels are decoded
    new = np.full((12, 12, 3), 7, np.uint8)
    Image.fromarray(new).save(root / "train/cat/000.png")
    changed = load_dataset("imagefolder", root, cache_dir=cache)
    assert (changed.train.images[0] == 7).all() and torch.equal(changed.train.images[1:], ds.train.images[1:])
    Image.fromarray(arrays["train/cat/000.png"].transpose(1, 2, 0)).save(root / "train/cat/000.png")

    # the same tree as a .tar.gz (with a top-level directory) gives the same arrays
    tar = tmp_path / "folder.tar.gz"
    with tarfile.open(tar, "w:gz") as tf:
        tf.add(root, arcname="mydata")
    ds2 = load_dataset(str(tar), cache_dir=cache, val_size=3)
    assert ds2.classes == ds.classes and len(ds2.val) == 3 and len(ds2.train) == 15
    assert torch.bincount(ds2.val.labels).tolist() == [1, 1, 1]
    assert np.array_equal(ds2.test.images.numpy(), ds.test.images.numpy())

    # decoded arrays are cached: a second load decodes nothing
    def boom(*a, **k):
        raise AssertionError("decoded again")

    monkeypatch.setattr(F, "decode_one", boom)
    ds3 = load_dataset(str(tar), cache_dir=cache, val_size=3)
    assert torch.equal(ds3.train.images, ds2.train.images) and torch.equal(ds3.val.labels, ds2.val.labels)
    # a changed source is a different cache key: it is decoded again
    with tarfile.open(tar, "w:gz") as tf:
        tf.add(root, arcname="other")
    with pytest.raises(DataError, match="decoded again"):
        load_dataset(str(tar), cache_dir=cache, val_size=3)


def test_flat_imagefolder_resize_and_subset(tmp_path):
    root = tmp_path / "flat"
    make_folder(root, n_train=10, split=False, size=20)
    ds = load_dataset(
        "imagefolder", root, cache_dir=tmp_path / "c", image_size=8, val_size=0.2, train_subset=12
    )
    assert ds.test is None and "no test split" in ds.info["note"]
    assert ds.image_size == (3, 8, 8) and ds.train.images.shape == (12, 3, 8, 8)
    assert len(ds.val) == 6 and torch.bincount(ds.train.labels).tolist() == [4, 4, 4]


def test_file_pipeline_for_large_images(tmp_path):
    root = tmp_path / "big"
    make_folder(root, n_train=3, n_test=2, size=80)
    ds = load_dataset("imagefolder", root, cache_dir=tmp_path / "c", image_size=72, test_image_size=64)
    assert ds.pipeline == "files" and ds.image_size == (3, 72, 72) and ds.test_image_size == 64
    tr = ds.loader("train", 4, train=True, augment=AugmentSpec(cutout=8), workers=0, seed=3)
    x, y = next(iter(tr))
    assert x.shape == (4, 3, 72, 72) and x.dtype == torch.float32 and y.shape == (4,)
    assert len(tr) == 2  # 9 images, batch 4, last partial batch dropped
    te = ds.loader("test", 4, workers=0)
    xs = [x for x, _ in te]
    assert [x.shape[0] for x in xs] == [4, 2] and xs[0].shape[2:] == (64, 64)
    tr.set_epoch(0)
    a = next(iter(tr))[0]
    tr.set_epoch(0)
    assert torch.equal(a, next(iter(tr))[0])  # (seed, epoch) decides the batch
    # an archive is unpacked only when its files are needed
    tar = tmp_path / "big.tar"
    with tarfile.open(tar, "w") as tf:
        tf.add(root, arcname="big")
    ds2 = load_dataset(str(tar), cache_dir=tmp_path / "c2", image_size=72)
    assert not (tmp_path / "c2" / "extracted").exists()
    x2, _ = next(iter(ds2.loader("test", 6, workers=0)))
    assert x2.shape == (6, 3, 72, 72) and (tmp_path / "c2" / "extracted").is_dir()


def test_every_folder_that_trains_gives_a_proxy_batch(tmp_path):
    """The proxy batch reads folders with the training reader: a flat <class>/<image> tree, image types
    beyond JPEG/PNG and hidden files skipped, as in training; its labels are the training labels."""
    root, cache = tmp_path / "flat", tmp_path / "c"
    make_folder(root, n_train=4, split=False, size=8)
    for i, c in enumerate(("cat", "dog", "emu")):
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(root / c / "extra.bmp")
    (root / "cat" / ".hidden.png").write_bytes(b"not an image")
    ds = load_dataset("imagefolder", root, cache_dir=cache)
    x, y = load_image_batch(root, 15, seed=1, cache_dir=cache)
    assert x.shape == (15, 3, 8, 8) and len(ds.train) == 15
    assert sorted(y.tolist()) == sorted(ds.train.labels.tolist())
    x4, y4 = load_image_batch(root, 4, seed=1, cache_dir=cache)
    assert torch.equal(x4, x[:4]) and torch.equal(y4, y[:4])  # the n smallest hashes, in order
    assert not torch.equal(load_image_batch(root, 4, seed=2, cache_dir=cache)[0], x4)
    tar = tmp_path / "flat.tar.gz"
    with tarfile.open(tar, "w:gz") as tf:
        tf.add(root, arcname="flat")
    xt, yt = load_image_batch(tar, 15, seed=1, cache_dir=cache)
    assert xt.shape == x.shape and sorted(yt.tolist()) == sorted(y.tolist())
    with pytest.raises(ValueError, match="no images"):
        load_image_batch(root, 4, split="test", cache_dir=cache)


# ----------------------------------------------------------------------------- CIFAR python format


def write_cifar_python(root: Path, n_per_batch=20, seed=0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    d = root / "cifar-10-batches-py"
    d.mkdir(parents=True)
    xs, ys = [], []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        x = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
        y = [int(v) for v in rng.integers(0, 10, n_per_batch)]
        (d / name).write_bytes(pickle.dumps({b"data": x, b"labels": y}))
        xs.append(x)
        ys.append(y)
    names = [c.encode() for c in ("airplane automobile bird cat deer dog frog horse ship truck").split()]
    (d / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}))
    return np.concatenate(xs[:5]).reshape(-1, 3, 32, 32), np.concatenate(ys[:5])


def test_cifar_python_format_dir_and_archive(tmp_path):
    x, y = write_cifar_python(tmp_path / "data")
    for where in (tmp_path / "data", tmp_path / "data" / "cifar-10-batches-py"):
        ds = load_dataset("cifar10", where, cache_dir=tmp_path / "c")
        assert ds.classes[0] == "airplane" and len(ds.train) == 100 and len(ds.test) == 20
        assert np.array_equal(ds.train.images.numpy(), x) and ds.train.labels.tolist() == y.tolist()
    arch = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(arch, "w:gz") as tf:
        tf.add(tmp_path / "data" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    ds = load_dataset("cifar10", arch, cache_dir=tmp_path / "c")
    assert np.array_equal(ds.train.images.numpy(), x)


def test_failed_download_is_one_clear_line(tmp_path, monkeypatch):
    def offline(*a, **k):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DataError) as e:
        load_dataset("cifar100", cache_dir=tmp_path)
    msg = str(e.value)
    assert "could not download cifar100" in msg and "\n" not in msg
    assert getattr(e.value, "field", None) == "data_dir" and "--data-dir" not in msg  # the CLI names flags


def test_bad_inputs(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset("imagefolder", tmp_path / "nope")
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(DataError, match="no images found"):
        load_dataset("imagefolder", tmp_path / "empty", cache_dir=tmp_path / "c")
    make_folder(tmp_path / "three")
    with pytest.raises(DataError, match="cifar10 has 10 classes"):
        load_dataset("cifar10", tmp_path / "three", cache_dir=tmp_path / "c")
    with pytest.raises(DataError, match="unknown dataset"):
        load_dataset("mnist")
    with pytest.raises(DataError, match="train_subset"):
        load_dataset("imagefolder", tmp_path / "three", cache_dir=tmp_path / "c", train_subset=100)


# ------------------------------------------------------------------------------------- augmentation


def test_crop_flip_is_a_window_of_the_padded_image():
    x = torch.randint(0, 256, (16, 3, 8, 8), dtype=torch.uint8)
    out = crop_flip(x, 2, True, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == torch.uint8
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    flips = 0
    for i in range(16):
        windows = [padded[i, :, a : a + 8, b : b + 8] for a in range(5) for b in range(5)]
        plain = any(torch.equal(out[i], w) for w in windows)
        mirrored = any(torch.equal(out[i], w.flip(-1)) for w in windows)
        assert plain or mirrored
        flips += mirrored and not plain
    assert 0 < flips < 16
    same = crop_flip(x, 0, False, None)
    assert torch.equal(same, x)


def test_cutout_and_loader():
    x = torch.ones(64, 3, 10, 10)
    cutout_(x, 4, torch.Generator().manual_seed(0))
    zeros = (x[:, 0] == 0).sum((1, 2))
    assert zeros.max() == 16 and zeros.min() >= 4 and torch.equal(x[:, 0] == 0, x[:, 2] == 0)

    images = torch.randint(0, 256, (50, 3, 8, 8), dtype=torch.uint8)
    labels = torch.arange(50)
    kw = dict(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), seed=7)
    ev = TensorLoader(images, labels, 16, **kw)
    xs, ys = zip(*ev)
    assert [len(y) for y in ys] == [16, 16, 16, 2] and torch.equal(torch.cat(ys), labels)
    assert torch.allclose(torch.cat(xs), (images.float() / 255 - 0.5) / 0.25, atol=1e-5)
    tr = TensorLoader(images, labels, 16, shuffle=True, drop_last=True, augment=AugmentSpec(cutout=4), **kw)
    assert len(tr) == 3
    tr.set_epoch(1)
    a = [(x.clone(), y.clone()) for x, y in tr]
    tr.set_epoch(1)
    b = list(tr)
    assert all(torch.equal(p[0], q[0]) and torch.equal(p[1], q[1]) for p, q in zip(a, b))
    tr.set_epoch(2)
    assert not torch.equal(next(iter(tr))[1], a[0][1])
    assert len(set(torch.cat([y for _, y in a]).tolist())) == 48  # a permutation, last 2 dropped
    assert (
        epoch_generator(1, 2, torch.device("cpu")).initial_seed()
        != epoch_generator(2, 1, "cpu").initial_seed()
    )


# ---------------------------------------------------------------------------------- real CIFAR-10


@pytest.fixture(scope="session")
def nas_cache(tmp_path_factory):
    """One decoded-array cache per test session (shared by the test modules that use real data)."""
    return tmp_path_factory.getbasetemp() / "nas-cache"


@pytest.mark.skipif(CIFAR_TAR is None, reason="shared CIFAR-10 JPEG archive not present")
def test_real_cifar10_jpegs(nas_cache):
    opts = {"val_size": 0, "train_subset": 2000, "test_subset": 1000}  # as tests/test_train.py
    ds = load_dataset("cifar10", CIFAR_TAR, cache_dir=nas_cache, **opts)
    assert ds.classes[:3] == ("airplane", "automobile", "bird") and ds.image_size == (3, 32, 32)
    assert (len(ds.train), ds.val, len(ds.test)) == (2000, None, 1000)
    assert torch.bincount(ds.train.labels).tolist() == [200] * 10
    assert torch.bincount(ds.test.labels).tolist() == [100] * 10
    assert abs(ds.mean[0] - 0.49) < 0.03 and abs(ds.std[0] - 0.247) < 0.03  # CIFAR-10's statistics
    again = load_dataset("cifar10", CIFAR_TAR, cache_dir=nas_cache, **opts)
    assert again.info["load_seconds"] < 2.0
    assert torch.equal(again.train.images, ds.train.images)
