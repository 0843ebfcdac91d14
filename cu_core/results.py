"""Result files: atomic writes, run folders and provenance (versions, device, git commit).

Every write goes to a temporary name in the target's folder and is renamed into place, so a reader never
sees half a file and an interrupted run leaves nothing that looks finished. A results folder replaces only an
empty or earlier results folder (`check_run_dir`), never a folder with other contents. `read_metrics` and
`run_complete` tell a driver that resumes a grid which runs are done: a missing, truncated or schema-breaking
`metrics.json` counts as not done, so the run is computed again.
"""
from __future__ import annotations

import json
import math
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError
from .paths import project_root


def _atomic(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Call `write(handle)` on a temporary file beside `path`, then rename it to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
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


def check_run_dir(out_dir: str | os.PathLike) -> None:
    """Refuse a path that cannot become a results folder; call it before any work (`write_run_dir` calls it too).

    Allowed: a new path, an empty folder, or an earlier results folder (one holding `metrics.json`, which
    `write_run_dir` replaces). Refused with a `ConfigError` naming "out": an empty path, an existing file, the
    working directory or one of its parents, and an existing folder with other contents (it is never replaced).
    """
    text = os.fspath(out_dir)
    if not str(text).strip():
        raise ConfigError("out", text, "a folder path (the path is empty)")
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError("out", str(text), "a directory path (an existing file is in the way)")
    if path.is_dir():
        resolved, cwd = path.resolve(), Path.cwd().resolve()
        if resolved == cwd or resolved in cwd.parents:
            raise ConfigError("out", str(text), "a folder of its own: this path is the working directory or one of "
                              "its parents, which a results folder would replace")
        if not (path / "metrics.json").is_file() and any(path.iterdir()):
            raise ConfigError("out", str(text), "a new or empty folder, or an earlier results folder (one holding "
                              "metrics.json): this folder holds other files and is never replaced")


def write_run_dir(out_dir: str | os.PathLike, files: Mapping[str, str | bytes]) -> Path:
    """Write a results folder all at once: build it under a temporary name, then rename it into place.

    `files` maps file names to text or bytes. An existing folder at `out_dir` is replaced only after the
    new one is complete, and only if `check_run_dir` allows it (an empty or earlier results folder).
    """
    check_run_dir(out_dir)
    out = Path(out_dir).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        for name, content in files.items():
            if isinstance(content, bytes):
                (tmp / name).write_bytes(content)
            else:
                (tmp / name).write_text(content)
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def versions() -> dict[str, str]:
    """Versions of Python and of the libraries a result depends on."""
    import sklearn
    import torch
    import torchvision

    from . import __version__

    return {"python": platform.python_version(), "cu_core": __version__, "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": np.__version__, "scikit-learn": sklearn.__version__,
            "platform": platform.platform()}


def device_description(device: Any) -> str:
    """A short human description of the hardware, e.g. 'cpu (2 threads, x86_64)' or 'cuda: NVIDIA H100'."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu ({torch.get_num_threads()} threads, {platform.machine()})"


def git_commit() -> str | None:
    """The checkout's commit (with '+dirty' when files differ), or None outside a git checkout."""
    root = project_root()
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "")


def visible(path: str | os.PathLike, base: str | os.PathLike) -> bool:
    """False when a part of `path` below `base` is hidden ("."): the experiment driver's staging folders
    (`.<run_id>.partial/`) and lock files, whose contents are not finished results."""
    return not any(part.startswith(".") for part in Path(path).relative_to(base).parts)


def read_metrics(path: str | os.PathLike) -> dict[str, Any] | None:
    """The `metrics.json` payload of a finished run (a run folder or the file itself), or None when the run
    must be (re)computed.

    None, with a `RuntimeWarning` naming the file and the problem, when the file is missing (no warning then),
    unreadable, truncated or otherwise not JSON, not a JSON object, or breaks the schema
    (`cu_core.schema.validate_metrics`). Drivers that resume a grid of runs use it (or `run_complete`) to
    decide what is done: a corrupt file counts as missing, so the run is computed again and its folder replaced.
    """
    import warnings

    from .schema import validate_metrics

    file = Path(path)
    if file.is_dir() or file.name != "metrics.json":
        file = file / "metrics.json"
    if not file.is_file():
        return None
    try:
        payload = json.loads(file.read_text())
        validate_metrics(payload)
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError and SchemaError are ValueErrors
        warnings.warn(f"treating {file} as missing: {exc}", RuntimeWarning, stacklevel=2)
        return None
    return payload


def run_complete(run_dir: str | os.PathLike) -> bool:
    """Whether `run_dir` holds a readable, schema-valid `metrics.json` (see `read_metrics`)."""
    return read_metrics(run_dir) is not None


def load_runs(pattern: str, root: str | os.PathLike | None = None, *, validate: bool = False):
    """One row per run: every `metrics.json` matched by `pattern`, flattened into dotted columns.

    `pattern` is a glob relative to `root` (default: `cu_core.paths.results_dir()`) naming run folders
    ("quickstart/*"), `metrics.json` files ("quickstart/*/metrics.json") or, recursively, "**". Nested
    dicts become dotted columns ("acc.test", "config.train.seed", "mia.mia_efficacy"); lists stay as
    values. A "run_dir" column holds the run folder relative to `root` (POSIX separators). Folders or files
    whose path (below `root`) has a component starting with "." are skipped: those are `write_run_dir`'s
    temporary and replaced folders. A file that is not valid JSON (corrupt, truncated) or not a JSON object
    is skipped with a `RuntimeWarning`; with `validate=True` so is one that breaks the schema
    (`read_metrics`). Rows are sorted by run_dir; an empty match gives an empty frame
    with a "run_dir" column.
    """
    import warnings

    import pandas as pd

    from .paths import results_dir

    base = results_dir(root)
    files: set[Path] = set()
    for path in base.glob(pattern):
        candidate = path / "metrics.json" if path.is_dir() else path
        if candidate.name == "metrics.json" and candidate.is_file():
            if visible(candidate, base):
                files.add(candidate)
    rows = []
    for file in sorted(files):
        if validate:
            payload = read_metrics(file)
            if payload is None:
                continue
            rows.append({"run_dir": file.parent.relative_to(base).as_posix() or ".", **_flatten(payload)})
            continue
        try:
            payload = json.loads(file.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            warnings.warn(f"load_runs: skipping unreadable {file}: {exc}", RuntimeWarning, stacklevel=2)
            continue
        if not isinstance(payload, dict):
            warnings.warn(f"load_runs: skipping {file}: not a JSON object", RuntimeWarning, stacklevel=2)
            continue
        row = {"run_dir": file.parent.relative_to(base).as_posix() or "."}
        row.update(_flatten(payload))
        rows.append(row)
    if not rows:
        return pd.DataFrame({"run_dir": pd.Series(dtype=object)})
    return pd.DataFrame(rows).sort_values("run_dir", kind="stable").reset_index(drop=True)


def _flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} → {"a.b": 1}; an empty nested dict becomes None under its own key."""
    out: dict[str, Any] = {}
    for key, v in value.items():
        name = f"{prefix}{key}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, name + ".") if v else {name: None})
        else:
            out[name] = v
    return out
