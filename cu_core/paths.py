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

The command lines probe the folders they will write before any work (`writable_dir`, `probe_writable`): a file
in the way or a folder that cannot be written is a `ConfigError` naming where the path came from (the flag,
e.g. `--cache-dir`, or the environment variable, e.g. `CU_CACHE_DIR`), not a traceback hours later.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import ConfigError

#: The folder of `tune`'s studies inside a profile's results (`<results>/<profile>/tuning/`, beside the experiments'
#: folders; no experiment may take this name, `validate_profiles`).
TUNING_DIR = "tuning"

#: The environment variable of each kind of folder.
ENVIRONMENT = {"data": "CU_DATA_DIR", "cache": "CU_CACHE_DIR", "results": "CU_RESULTS_DIR"}


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


def _nearest_existing(path: Path) -> Path:
    probe = path
    while not os.path.lexists(probe) and probe.parent != probe:
        probe = probe.parent
    return probe


def probe_writable(path: str | os.PathLike, flag: str) -> Path:
    """Check, before any work, that `path` is a folder that can be written, or can be made as one: its nearest
    existing part must be a folder in which a file can be created (probed by creating and removing one, so a
    read-only filesystem or a missing permission shows even to root). Returns the path; raises `ConfigError`
    naming `flag` (where the path came from, e.g. "--out" or "CU_CACHE_DIR") otherwise. Creates nothing."""
    text = os.fspath(path)
    if not str(text).strip():
        raise ConfigError(flag, text, "a folder path (the path is empty)")
    target = Path(text).expanduser()
    if target.exists() and not target.is_dir():
        raise ConfigError(flag, str(text), "a folder: a file is in the way at that path")
    where = _nearest_existing(target)
    if not where.is_dir():
        raise ConfigError(flag, str(text), f"a folder path: {where} is a file, so no folder can be made below it")
    try:
        fd, name = tempfile.mkstemp(prefix=".cu_write_probe.", dir=where)
    except OSError as err:
        raise ConfigError(flag, str(text), f"a folder that can be written: {where} cannot be written "
                          f"({err.strerror or err})") from None
    os.close(fd)
    os.unlink(name)
    return target


def source_of(kind: str, value: object | None, flag: str) -> str:
    """Where the `kind` folder ("data", "cache", "results") comes from: `flag` when a value was given, else its
    environment variable when set, else "the default <kind> folder"."""
    if value is not None:
        return flag
    return ENVIRONMENT[kind] if os.environ.get(ENVIRONMENT[kind]) else f"the default {kind} folder"


def writable_dir(kind: str, value: str | os.PathLike | None = None, *, flag: str) -> Path:
    """The `kind` folder ("cache" or "results") as `cache_dir`/`results_dir` resolve it, probed with
    `probe_writable`; errors name `flag`, the environment variable or the default, whichever gave the path."""
    resolve = {"data": data_dir, "cache": cache_dir, "results": results_dir}[kind]
    return probe_writable(resolve(value), source_of(kind, value, flag))
