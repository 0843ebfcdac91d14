"""CIFAR-10 from a JPEG archive (`cifar10_jpeg.npz`), for machines that cannot download the original.

Archive format (plain `np.load`, no pickle):

| key | shape / dtype | meaning |
|---|---|---|
| `train_jpeg`, `test_jpeg` | (bytes,) uint8 | the JPEG files of one split, concatenated |
| `train_offsets`, `test_offsets` | (N + 1,) int64 | image i is `jpeg[offsets[i]:offsets[i + 1]]` |
| `train_labels`, `test_labels` | (N,) uint8 | class index |
| `classes` | (C,) str | class names |

The archive is checked against a sha256 before use (the known copy's by default), decoded once, and the
decoded uint8 arrays are cached in the cache directory under a name that carries the archive's hash.
The pixels are lossy (JPEG quality 75): results made from it are labelled "CIFAR-10 (JPEG copy)".
"""
from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from ..errors import DataError
from ..results import atomic_save_npz

ARCHIVE_NAME = "cifar10_jpeg.npz"
#: sha256 of the known archive (the JPEG copy of CIFAR-10, 18,411,189 bytes).
ARCHIVE_SHA256 = "773dd6655c2f48985720a54022dd0868084cd5c5091c271750f4556ffe29b00f"
_SPLITS = ("train", "test")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_archive(path: Path, expected_sha256: str | None = ARCHIVE_SHA256) -> str:
    """Check that the archive exists and has the expected hash; return its sha256.

    Raises:
        DataError: missing file, or a hash that differs (a corrupt or tampered copy).
    """
    if not path.is_file():
        raise DataError(f"CIFAR-10 archive not found: {path}. Put {ARCHIVE_NAME} in the data directory "
                        "(parameter data_dir or environment variable CU_DATA_DIR), or let torchvision "
                        "download the original where the internet is reachable.")
    actual = sha256_file(path)
    if expected_sha256 is not None and actual != expected_sha256.lower():
        raise DataError(f"CIFAR-10 archive {path} failed its checksum: sha256 {actual}, expected "
                        f"{expected_sha256}. The file is corrupt or was modified; copy it again.")
    return actual


def _decode_split(archive: np.lib.npyio.NpzFile, split: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        buf, offsets = archive[f"{split}_jpeg"], archive[f"{split}_offsets"].astype(np.int64)
        labels = archive[f"{split}_labels"].astype(np.int64)
    except KeyError as err:
        raise DataError(f"CIFAR-10 archive {path} lacks key {err}; expected {split}_jpeg, "
                        f"{split}_offsets, {split}_labels") from None
    n = len(labels)
    if len(offsets) != n + 1 or offsets[0] != 0 or offsets[-1] != len(buf) or np.any(np.diff(offsets) <= 0):
        raise DataError(f"CIFAR-10 archive {path}: {split}_offsets do not index {split}_jpeg")
    images = np.empty((n, 3, 32, 32), dtype=np.uint8)
    for i in tqdm(range(n), desc=f"decode CIFAR-10 {split}", unit="img", leave=False, mininterval=1.0):
        try:
            img = Image.open(io.BytesIO(buf[offsets[i]:offsets[i + 1]].tobytes())).convert("RGB")
        except Exception as err:  # PIL raises several types for broken bytes
            raise DataError(f"CIFAR-10 archive {path}: {split} image {i} does not decode ({err})") from None
        if img.size != (32, 32):
            raise DataError(f"CIFAR-10 archive {path}: {split} image {i} is {img.size}, expected 32x32")
        images[i] = np.asarray(img).transpose(2, 0, 1)
    return images, labels


def load_archive(path: Path, split: str, cache_dir: Path,
                 expected_sha256: str | None = ARCHIVE_SHA256) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], str]:
    """Images (N, 3, 32, 32) uint8, labels (N,) int64, class names and the archive's sha256.

    The first call decodes both splits and caches them as `cache_dir/cifar10_jpeg-<sha[:16]>.npz`.
    """
    if split not in _SPLITS:
        raise ValueError(f"split={split!r} is not allowed: expected one of {_SPLITS}")
    sha = verify_archive(path, expected_sha256)
    cached = cache_dir / f"cifar10_jpeg-{sha[:16]}.npz"
    if cached.is_file():
        try:
            with np.load(cached, allow_pickle=False) as data:
                return (data[f"{split}_images"], data[f"{split}_labels"].astype(np.int64),
                        tuple(str(c) for c in data["classes"]), sha)
        except Exception:  # a damaged cache is rebuilt from the verified archive
            cached.unlink(missing_ok=True)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {}
            for name in _SPLITS:
                arrays[f"{name}_images"], arrays[f"{name}_labels"] = _decode_split(archive, name, path)
            arrays["classes"] = np.asarray([str(c) for c in archive["classes"]])
    except DataError:
        raise
    except Exception as err:  # without a checksum (expected_sha256=None) a damaged file reaches np.load
        raise DataError(f"CIFAR-10 archive {path} cannot be read ({type(err).__name__}: {err}); the file is "
                        f"corrupt or not an archive in the documented format; copy it again.") from None
    atomic_save_npz(cached, **arrays)
    return arrays[f"{split}_images"], arrays[f"{split}_labels"], tuple(arrays["classes"].tolist()), sha


def write_archive(path: str | os.PathLike, splits: dict[str, tuple[np.ndarray, np.ndarray]],
                  classes: tuple[str, ...], quality: int = 75) -> str:
    """Write an archive in the format above from uint8 images (N, 3, 32, 32); return its sha256.

    Used by the tests (tiny synthetic archives) and to document the format.
    """
    arrays: dict[str, np.ndarray] = {"classes": np.asarray(classes)}
    for split, (images, labels) in splits.items():
        blobs = []
        for image in images:
            out = io.BytesIO()
            Image.fromarray(np.ascontiguousarray(image.transpose(1, 2, 0))).save(out, "JPEG", quality=quality)
            blobs.append(np.frombuffer(out.getvalue(), dtype=np.uint8))
        arrays[f"{split}_jpeg"] = np.concatenate(blobs)
        arrays[f"{split}_offsets"] = np.concatenate([[0], np.cumsum([len(b) for b in blobs])]).astype(np.int64)
        arrays[f"{split}_labels"] = np.asarray(labels, dtype=np.uint8)
    with open(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    return sha256_file(path)
