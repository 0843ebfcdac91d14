"""The datasets: scikit-learn digits (embedded default), CIFAR-10 and SVHN, as uint8 arrays.

Every loader returns an `ArrayDataset`: images (N, C, H, W) uint8 and labels (N,) int64, plus the name to
print under tables and figures. Pixels stay uint8 until a batch is drawn (see `loader.py`).

Digits. scikit-learn's `load_digits` has 1,797 grey 8×8 images with values 0..16 and no train/test split.
We keep the native 8×8 single channel by default (every model here pools adaptively, so it runs on 8×8
and stays fast enough for many seeds and shadow models on a CPU), scale 0..16 to 0..255, and fix one
stratified 80/20 train/test split with seed 0 (1,437 / 360 images), independent of experiment seeds,
like CIFAR's fixed test set. `digits_size=16` or `32` upsamples by pixel repetition for models that want
larger inputs.

CIFAR-10. The original through torchvision (files already in the data directory, or a download where
the internet is reachable), else the JPEG archive `cifar10_jpeg.npz` in the data directory
(`cifar_archive.py`). `source` forces one of them.

SVHN. torchvision's `SVHN` (the `train` and `test` splits; `extra` is not used), under `<data_dir>/svhn`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .. import paths
from ..errors import ConfigError, DataError, check_choice
from . import cifar_archive


@dataclass(frozen=True)
class DatasetInfo:
    """Static facts about a dataset, known before loading it (used to validate configs)."""

    name: str
    num_classes: int
    channels: int
    image_size: int
    train_size: int
    test_size: int


DATASETS: dict[str, DatasetInfo] = {
    "digits": DatasetInfo("digits", 10, 1, 8, 1437, 360),
    "cifar10": DatasetInfo("cifar10", 10, 3, 32, 50000, 10000),
    "svhn": DatasetInfo("svhn", 10, 3, 32, 73257, 26032),
}
SPLITS = ("train", "test")
SOURCES = ("auto", "torchvision", "archive")
DIGITS_SIZES = (8, 16, 32)
NORMALIZATIONS = ("dataset", "authors")
#: The statistics hard-coded in the authors' code for every dataset (CIFAR-10's mean, and the std
#: values widely copied from older CIFAR code), used with normalization="authors".
AUTHORS_MEAN = (0.4914, 0.4822, 0.4465)
AUTHORS_STD = (0.2023, 0.1994, 0.2010)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@dataclass(frozen=True)
class ArrayDataset:
    """One split of a dataset held in memory."""

    images: np.ndarray  # (N, C, H, W) uint8
    labels: np.ndarray  # (N,) int64
    classes: tuple[str, ...]
    name: str  # registry name, e.g. "cifar10"
    display: str  # what tables and figures print, e.g. "CIFAR-10 (JPEG copy)"
    split: str
    source: str  # "scikit-learn", "torchvision" or "archive:<sha256>"

    def __len__(self) -> int:
        return len(self.labels)


def load_dataset(name: str, split: str, data_dir: str | Path | None = None, *, source: str = "auto",
                 download: bool = True, digits_size: int = 8, cache_dir: str | Path | None = None,
                 archive_sha256: str | None = cifar_archive.ARCHIVE_SHA256) -> ArrayDataset:
    """Load one split of a dataset as uint8 arrays.

    Args:
        name: "digits", "cifar10" or "svhn".
        split: "train" or "test".
        data_dir: where archives and torchvision files live; default `CU_DATA_DIR` or `<project>/data`.
        source: CIFAR-10 only: "auto" (torchvision files if present, else the archive, else a download),
            "torchvision" or "archive".
        download: let torchvision download where the internet is reachable.
        digits_size: digits only: 8 (native), 16 or 32 (pixel repetition).
        cache_dir: where the decoded archive is cached; default `CU_CACHE_DIR` or `<project>/data/cache`.
        archive_sha256: the archive's expected sha256 (None skips the check).

    Raises:
        ConfigError: unknown name, split, source or digits size.
        DataError: the data cannot be found or fails its checksum.
    """
    check_choice("dataset", name, DATASETS)
    check_choice("split", split, SPLITS)
    check_choice("source", source, SOURCES)
    check_choice("digits_size", digits_size, DIGITS_SIZES)
    loader = _LOADERS[name]
    return loader(split, paths.data_dir(data_dir), source=source, download=download, digits_size=digits_size,
                  cache=paths.cache_dir(cache_dir), archive_sha256=archive_sha256)


@lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)[:, None]  # (1797, 1, 8, 8)
    labels = digits.target.astype(np.int64)
    idx_train, idx_test = train_test_split(np.arange(len(labels)), test_size=0.2, stratify=labels,
                                           random_state=0)
    idx_train, idx_test = np.sort(idx_train), np.sort(idx_test)
    return images[idx_train], labels[idx_train], images[idx_test], labels[idx_test]


def _digits(split: str, size: int) -> ArrayDataset:
    x_train, y_train, x_test, y_test = _digits_arrays()
    images, labels = (x_train, y_train) if split == "train" else (x_test, y_test)
    factor = size // 8
    if factor > 1:
        images = images.repeat(factor, axis=2).repeat(factor, axis=3)
    display = "scikit-learn digits (8×8)" if size == 8 else f"scikit-learn digits (8×8 upsampled to {size}×{size})"
    return ArrayDataset(np.ascontiguousarray(images), labels.copy(), tuple(str(i) for i in range(10)),
                        "digits", display, split, "scikit-learn")


def _cifar10(split: str, root: Path, source: str, download: bool, cache: Path,
             archive_sha256: str | None) -> ArrayDataset:
    archive = root / cifar_archive.ARCHIVE_NAME
    have_original = (root / "cifar-10-batches-py").is_dir()
    if source == "archive" or (source == "auto" and not have_original and archive.is_file()):
        images, labels, classes, sha = cifar_archive.load_archive(archive, split, cache, archive_sha256)
        return ArrayDataset(images, labels, classes, "cifar10", "CIFAR-10 (JPEG copy)", split, f"archive:{sha}")
    if source == "auto" and not have_original and not download:
        raise DataError(f"CIFAR-10 not found in data_dir={root}: expected {cifar_archive.ARCHIVE_NAME} or "
                        "torchvision's cifar-10-batches-py/, and download=False")
    from torchvision.datasets import CIFAR10

    try:
        ds = CIFAR10(root=str(root), train=split == "train", download=download and not have_original)
    except Exception as err:  # offline download attempts raise URLError, RuntimeError, ...
        raise DataError(f"CIFAR-10 not available in data_dir={root}: no {cifar_archive.ARCHIVE_NAME} there "
                        f"and torchvision could not load or download the original ({err}). Put the archive in "
                        "the data directory (parameter data_dir or CU_DATA_DIR).") from None
    images = np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2))
    return ArrayDataset(images, np.asarray(ds.targets, dtype=np.int64), tuple(ds.classes), "cifar10",
                        "CIFAR-10", split, "torchvision")


def _svhn(split: str, root: Path, download: bool) -> ArrayDataset:
    from torchvision.datasets import SVHN

    try:
        ds = SVHN(root=str(root / "svhn"), split=split, download=download)
    except Exception as err:
        raise DataError(f"SVHN not available under data_dir={root}/svhn: torchvision could not load or "
                        f"download {split}_32x32.mat ({err}).") from None
    return ArrayDataset(np.ascontiguousarray(ds.data, dtype=np.uint8), np.asarray(ds.labels, dtype=np.int64),
                        tuple(str(i) for i in range(10)), "svhn", "SVHN", split, "torchvision")


# One loader per dataset of `DATASETS`: loader(split, data root, **the options of `load_dataset`).
_LOADERS: dict[str, Callable[..., ArrayDataset]] = {
    "digits": lambda split, root, *, digits_size, **_: _digits(split, digits_size),
    "cifar10": lambda split, root, *, source, download, cache, archive_sha256, **_: _cifar10(
        split, root, source, download, cache, archive_sha256),
    "svhn": lambda split, root, *, download, **_: _svhn(split, root, download),
}
if set(_LOADERS) != set(DATASETS):  # a dataset added to one table only fails at import, not at its first use
    raise ImportError(f"cu_core.data.datasets: DATASETS {sorted(DATASETS)} and _LOADERS {sorted(_LOADERS)} differ")


def normalization_stats(train: ArrayDataset, variant: str = "dataset") -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel (mean, std) in [0, 1] units.

    variant="dataset": computed from the given training split (the default, for every dataset).
    variant="authors": the CIFAR-10 constants of the authors' code, which it also uses for SVHN
    (3-channel datasets only).
    """
    check_choice("normalization", variant, NORMALIZATIONS)
    channels = train.images.shape[1]
    if variant == "authors":
        if channels != 3:
            raise ConfigError("normalization", variant, f"'authors' needs 3-channel images; {train.name} has "
                              f"{channels}; use 'dataset'")
        return AUTHORS_MEAN, AUTHORS_STD
    total = np.zeros(channels)
    squares = np.zeros(channels)
    count = 0
    for start in range(0, len(train), 4096):  # chunks keep float64 temporaries small
        block = train.images[start:start + 4096].astype(np.float64) / 255.0
        total += block.sum(axis=(0, 2, 3))
        squares += np.square(block).sum(axis=(0, 2, 3))
        count += block.shape[0] * block.shape[2] * block.shape[3]
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 1e-12))
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)
