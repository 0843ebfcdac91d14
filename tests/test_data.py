import numpy as np
import pytest
import scipy.io
import torch

from cu_core.data import (ARCHIVE_NAME, Augment, DeviceData, augment_batch, load_dataset, normalization_stats,
                          write_archive)
from cu_core.data.datasets import AUTHORS_MEAN, AUTHORS_STD
from cu_core.errors import ConfigError, DataError


def _smooth_images(n, seed):
    """Smooth colour gradients (JPEG keeps them within a few grey levels)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:32, 0:32] / 31.0
    out = np.empty((n, 3, 32, 32), dtype=np.uint8)
    for i in range(n):
        a, b, c = rng.uniform(0, 1, (3, 3))
        out[i] = np.clip(255 * (a[:, None, None] * yy + b[:, None, None] * xx + c[:, None, None]) / 3, 0, 255)
    return out


@pytest.fixture()
def tiny_archive(tmp_path):
    train = (_smooth_images(12, 0), np.arange(12) % 10)
    test = (_smooth_images(5, 1), np.array([0, 1, 2, 3, 4]))
    classes = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    sha = write_archive(data_dir / ARCHIVE_NAME, {"train": train, "test": test}, classes)
    return {"dir": data_dir, "sha": sha, "train": train, "test": test, "cache": tmp_path / "cache"}


def test_archive_round_trip_and_cache(tiny_archive, monkeypatch):
    a = tiny_archive
    for split in ("train", "test"):
        ds = load_dataset("cifar10", split, a["dir"], source="archive", cache_dir=a["cache"], archive_sha256=a["sha"])
        images, labels = a[split]
        assert ds.images.shape == images.shape and ds.images.dtype == np.uint8
        np.testing.assert_array_equal(ds.labels, labels)
        assert np.abs(ds.images.astype(int) - images.astype(int)).mean() < 4  # lossy, but close
        assert ds.display == "CIFAR-10 (JPEG copy)" and ds.source == f"archive:{a['sha']}"
    cached = list(a["cache"].glob("cifar10_jpeg-*.npz"))
    assert len(cached) == 1 and a["sha"][:16] in cached[0].name
    # The second load reads the cache: decoding is not called again.
    import cu_core.data.cifar_archive as arch
    monkeypatch.setattr(arch, "_decode_split", lambda *args: pytest.fail("decoded twice"))
    again = load_dataset("cifar10", "train", a["dir"], cache_dir=a["cache"], archive_sha256=a["sha"])
    assert again.images.shape == (12, 3, 32, 32)


def test_auto_source_prefers_archive_offline(tiny_archive):
    a = tiny_archive
    ds = load_dataset("cifar10", "test", a["dir"], cache_dir=a["cache"], archive_sha256=a["sha"])
    assert ds.source.startswith("archive:")


def test_tampered_archive_is_refused(tiny_archive):
    a = tiny_archive
    path = a["dir"] / ARCHIVE_NAME
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="checksum"):
        load_dataset("cifar10", "train", a["dir"], source="archive", cache_dir=a["cache"], archive_sha256=a["sha"])
    assert not a["cache"].exists() or not list(a["cache"].glob("*.npz"))


def test_unknown_archive_fails_the_default_checksum(tiny_archive):
    with pytest.raises(DataError, match="checksum"):
        load_dataset("cifar10", "train", tiny_archive["dir"], source="archive", cache_dir=tiny_archive["cache"])


def test_missing_archive_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="data_dir|CU_DATA_DIR"):
        load_dataset("cifar10", "train", tmp_path, source="archive", cache_dir=tmp_path / "c")
    with pytest.raises(DataError, match="cifar10_jpeg.npz"):
        load_dataset("cifar10", "train", tmp_path, download=False, cache_dir=tmp_path / "c")


def test_data_dir_from_environment(tiny_archive, monkeypatch):
    monkeypatch.setenv("CU_DATA_DIR", str(tiny_archive["dir"]))
    monkeypatch.setenv("CU_CACHE_DIR", str(tiny_archive["cache"]))
    ds = load_dataset("cifar10", "test", archive_sha256=tiny_archive["sha"])
    assert len(ds) == 5


def test_svhn_through_torchvision_on_synthetic_mat_files(tmp_path, monkeypatch):
    """torchvision's SVHN parser on small arrays of the real layout: X (32, 32, 3, N), y (N, 1) in 1..10."""
    import torchvision.datasets

    rng = np.random.default_rng(0)
    root = tmp_path / "svhn"
    root.mkdir()
    x = rng.integers(0, 256, (32, 32, 3, 6), dtype=np.uint8)
    y = np.array([[10], [1], [2], [9], [10], [5]])
    scipy.io.savemat(root / "train_32x32.mat", {"X": x, "y": y})
    monkeypatch.setattr(torchvision.datasets.SVHN, "_check_integrity", lambda self: True)  # md5 of the real files
    ds = load_dataset("svhn", "train", tmp_path, download=False)
    assert ds.images.shape == (6, 3, 32, 32) and ds.display == "SVHN"
    np.testing.assert_array_equal(ds.labels, [0, 1, 2, 9, 0, 5])  # label 10 means digit 0
    np.testing.assert_array_equal(ds.images[2, 1], x[:, :, 1, 2])  # (H, W, C, N) -> (N, C, H, W)
    assert normalization_stats(ds, "authors") == (AUTHORS_MEAN, AUTHORS_STD)  # the authors' variant for SVHN
    own_mean, _ = normalization_stats(ds, "dataset")
    np.testing.assert_allclose(own_mean, x.mean(axis=(0, 1, 3)) / 255)


def test_svhn_missing_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="SVHN"):
        load_dataset("svhn", "test", tmp_path, download=False)


def test_digits_layout_and_sizes():
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert train.images.shape == (1437, 1, 8, 8) and test.images.shape == (360, 1, 8, 8)
    assert train.images.max() == 255 and set(np.unique(train.labels)) == set(range(10))
    big = load_dataset("digits", "train", digits_size=32)
    assert big.images.shape == (1437, 1, 32, 32)
    np.testing.assert_array_equal(big.images[:, :, ::4, ::4], train.images)
    with pytest.raises(ConfigError, match="normalization"):
        normalization_stats(train, "authors")


@pytest.mark.parametrize("kwargs, parameter", [(dict(name="mnist"), "dataset"), (dict(split="val"), "split"),
                                               (dict(source="web"), "source"), (dict(digits_size=12), "digits_size")])
def test_bad_dataset_arguments(kwargs, parameter):
    args = {"name": "digits", "split": "train"} | kwargs
    with pytest.raises(ConfigError) as err:
        load_dataset(args.pop("name"), args.pop("split"), **args)
    assert err.value.parameter == parameter


def test_device_data_normalises_and_batches_every_index_once():
    ds = load_dataset("digits", "test")
    mean, std = normalization_stats(ds)
    data = DeviceData(ds, mean, std)
    idx = np.arange(0, 360, 3)
    seen = []
    for x, y in data.batches(idx, 32, shuffle=True, generator=torch.Generator().manual_seed(0)):
        assert x.dtype == torch.float32 and x.shape[1:] == (1, 8, 8)
        raw = (x * std[0] + mean[0]) * 255
        pos = [int(np.flatnonzero((ds.images == r.round().to(torch.uint8).numpy()).all(axis=(1, 2, 3)))[0])
               for r in raw[:2]]
        assert all(ds.labels[p] == yy for p, yy in zip(pos, y[:2].tolist()))
        seen.append(y)
    assert sum(len(y) for y in seen) == len(idx)
    assert abs(float(torch.cat([b[0] for b in data.batches(np.arange(360), 360)]).mean())) < 0.05  # normalised


def test_augment_crop_and_flip_are_real_shifts():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (16, 3, 8, 8), dtype=torch.uint8)
    assert torch.equal(augment_batch(images, Augment(crop_padding=0, flip=False), g), images)
    flipped = augment_batch(images, Augment(crop_padding=0, flip=True), g)
    same = [(torch.equal(f, i), torch.equal(f, i.flip(2))) for f, i in zip(flipped, images)]
    assert all(a or b for a, b in same) and any(b for _, b in same) and any(a for a, _ in same)
    cropped = augment_batch(images, Augment(crop_padding=2, flip=False), g)
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    for out, pad in zip(cropped, padded):
        assert any(torch.equal(out, pad[:, dy:dy + 8, dx:dx + 8]) for dy in range(5) for dx in range(5))
