"""Where data, caches and results live.

Every directory comes from an explicit parameter first, then an environment variable, then a default
under the project's `data/` folder:

| what | parameter | environment | default |
|---|---|---|---|
| raw data (archives, torchvision downloads) | `data_dir` | `CU_DATA_DIR` | `<project>/data` |
| caches (decoded images, checkpoints) | `cache_dir` | `CU_CACHE_DIR` | `<project>/data/cache` |
| results | `results_dir` | `CU_RESULTS_DIR` | `<project>/data/results` |

The cache does not follow `CU_DATA_DIR`, so a read-only data directory (a shared copy of an archive)
works. `<project>` is the checkout that holds this package (found by its `pyproject.toml`); for an installed
package without a checkout it is the current working directory.
"""
from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The repository root when cu_core runs from a checkout, else the working directory."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").is_file() and (here / "cu_core").is_dir() else Path.cwd()


def data_dir(value: str | os.PathLike | None = None) -> Path:
    if value is not None:
        return Path(value).expanduser()
    env = os.environ.get("CU_DATA_DIR")
    return Path(env).expanduser() if env else project_root() / "data"


def cache_dir(value: str | os.PathLike | None = None) -> Path:
    if value is not None:
        return Path(value).expanduser()
    env = os.environ.get("CU_CACHE_DIR")
    return Path(env).expanduser() if env else project_root() / "data" / "cache"


def results_dir(value: str | os.PathLike | None = None) -> Path:
    if value is not None:
        return Path(value).expanduser()
    env = os.environ.get("CU_RESULTS_DIR")
    return Path(env).expanduser() if env else project_root() / "data" / "results"
