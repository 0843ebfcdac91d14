"""Atomic writes: every file goes to a temporary name in its folder and is renamed into place.

A reader never sees half a file and an interrupted run leaves nothing that looks finished. Files get the mode the
umask allows (0644 under umask 022), as `open` would give them. `to_jsonable` turns numpy values, paths and
tuples into plain JSON types (NaN → None). Re-exported by `cu_core.results`.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np


def umask() -> int:
    """The process's umask, read without changing it where the system allows (Linux: /proc/self/status)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: the classic read-by-setting (not thread-safe, but brief)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode `open()` gives a new file: 0o666 less the umask (0o644 under umask 022)."""
    return 0o666 & ~umask()


def dir_mode() -> int:
    """The mode `mkdir` gives a new folder: 0o777 less the umask (0o755 under umask 022)."""
    return 0o777 & ~umask()


def _atomic(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Call `write(handle)` on a temporary file beside `path`, then rename it to `path`.

    `tempfile.mkstemp` creates its file 0600; it is given the umask's mode first, so the result reads like any
    other file the user writes (0644 under umask 022)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, file_mode())
        with os.fdopen(fd, mode) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return _atomic(path, lambda h: h.write(text), mode="w")


def to_jsonable(value: Any) -> Any:
    """Plain JSON types from numpy scalars/arrays, paths, tuples and dataclass-like dicts; NaN → None."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def atomic_write_json(path: str | os.PathLike, payload: Mapping[str, Any]) -> Path:
    return atomic_write_text(path, json.dumps(to_jsonable(payload), indent=2, sort_keys=False) + "\n")


def atomic_save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> Path:
    return _atomic(path, lambda h: np.savez(h, **arrays))


def atomic_torch_save(path: str | os.PathLike, obj: Any) -> Path:
    import torch

    return _atomic(path, lambda h: torch.save(obj, h))
