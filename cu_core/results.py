"""Result files: atomic writes, run folders and provenance (versions, device, git commit).

Every write goes to a temporary name in the target's folder and is renamed into place, so a reader never
sees half a file and an interrupted run leaves nothing that looks finished. Files and folders get the modes the
umask allows (0644 / 0755 under umask 022), as `open` and `mkdir` would give them.

A results folder is written whole by `write_run_dir`, with a manifest (`.cu_manifest.json`, `MANIFEST`) that
lists the files the run wrote. An existing folder is replaced only when this project wrote it (`check_run_dir`):
a folder with a manifest whose every entry is a file the manifest lists, or (results written before manifests
existed, e.g. the committed `data/results/`) a folder holding `metrics.json` and nothing but the result files
`KNOWN_RESULT_FILES`. Anything else in the way (a user's file, a sub-folder, an experiment run folder of the
driver) is refused with a `ConfigError` naming "out" before any work, and only the files the project knows are
ever deleted. `read_metrics` and `run_complete` tell a driver that resumes a grid which runs are done: a
missing, truncated or schema-breaking `metrics.json` counts as not done, so the run is computed again.
"""
from __future__ import annotations

import json
import math
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError
from .paths import project_root


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


#: The manifest a results folder carries: the files `write_run_dir` wrote there (JSON, `write_manifest_payload`).
MANIFEST = ".cu_manifest.json"
#: The files a results folder written before manifests existed may hold (training and unlearning runs:
#: `cu_core.assess.write_run`); such a folder, with its `metrics.json`, counts as the project's own.
KNOWN_RESULT_FILES = ("metrics.json", "history.csv", "passes.csv", "outputs.npz")
#: What marks an experiment run folder of the driver (`cu_core.experiments.runner`): never a single run's `out`.
EXPERIMENT_MARKERS = ("config.json", "notebook.ipynb", "runs")


def read_manifest(folder: str | os.PathLike) -> list[str] | None:
    """The file names a results folder's manifest lists, or None (no manifest, or one that is not ours)."""
    file = Path(folder) / MANIFEST
    try:
        payload = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(payload, dict) or payload.get("written_by") != "cu_core":
        return None
    files = payload.get("files")
    if not isinstance(files, list) or not all(isinstance(f, str) and _plain_name(f) for f in files):
        return None
    return files


def _plain_name(name: str) -> bool:
    """A file name of its own folder: no separator, not hidden, not '..'."""
    return bool(name) and "/" not in name and "\\" not in name and not name.startswith(".")


def foreign_entries(folder: str | os.PathLike) -> list[str]:
    """What in an existing folder this project did not write, by name ("name/" for a folder, "name@" for a
    link): everything but the files its manifest lists (and the manifest), or for a folder without a manifest
    everything but `KNOWN_RESULT_FILES` (and then `metrics.json` must be there: a folder with only a
    `history.csv` is not recognisably ours). An empty list: the folder is a results folder of this project."""
    folder = Path(folder)
    listed = read_manifest(folder)
    known = set(KNOWN_RESULT_FILES) if listed is None else set(listed) | {MANIFEST}
    foreign = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.is_symlink():
            foreign.append(entry.name + "@")
        elif entry.is_dir():
            foreign.append(entry.name + "/")
        elif entry.name not in known or not entry.is_file():
            foreign.append(entry.name)
    if listed is None and not foreign and not (folder / "metrics.json").is_file() and any(folder.iterdir()):
        foreign.append("(no metrics.json and no manifest)")
    return foreign


def is_experiment_run(folder: str | os.PathLike) -> bool:
    """Whether `folder` looks like an experiment run folder of the driver (config.json, notebook.ipynb, runs/)."""
    folder = Path(folder)
    config, notebook, runs = (folder / name for name in EXPERIMENT_MARKERS)
    return runs.is_dir() or notebook.is_file() or (
        config.is_file() and (folder / "metrics.json").is_file()
        and _kind(folder / "metrics.json") == "experiment")


def _kind(file: Path) -> Any:
    try:
        payload = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return payload.get("kind") if isinstance(payload, dict) else None


def _writable_ancestor(path: Path) -> tuple[Path, bool]:
    """The nearest existing folder at or above `path`, and whether a new entry can be made in it."""
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    return probe, probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)


def check_run_dir(out_dir: str | os.PathLike) -> None:
    """Refuse a path that cannot become a results folder; call it before any work (`write_run_dir` calls it too).

    Allowed: a new path (its nearest existing parent a writable folder), an empty folder, or a results folder
    this project wrote (`foreign_entries` is empty: one with a manifest holding only the files it lists, or a
    folder from before manifests holding `metrics.json` and only `KNOWN_RESULT_FILES`), which `write_run_dir`
    replaces. Refused with a `ConfigError` naming "out": an empty path, an existing file, a symbolic link, the
    working directory or one of its parents, an experiment run folder of the driver (config.json, notebook.ipynb,
    runs/), any other folder with contents (it is never replaced: nothing in it is touched), and a path that
    cannot be written.
    """
    text = os.fspath(out_dir)
    if not str(text).strip():
        raise ConfigError("out", text, "a folder path (the path is empty)")
    path = Path(text).expanduser()
    if path.is_symlink():
        raise ConfigError("out", str(text), "a folder path that is not a symbolic link (a link is never replaced: "
                          "give the folder it points to, or a new path)")
    if path.exists() and not path.is_dir():
        raise ConfigError("out", str(text), "a directory path (an existing file is in the way)")
    if path.is_dir():
        resolved, cwd = path.resolve(), Path.cwd().resolve()
        if resolved == cwd or resolved in cwd.parents:
            raise ConfigError("out", str(text), "a folder of its own: this path is the working directory or one of "
                              "its parents, which a results folder would replace")
        if is_experiment_run(path):
            raise ConfigError("out", str(text), "a new or empty folder, or an earlier results folder of a single run: "
                              "this is an experiment run folder of `python -m cu_core.experiments` (config.json, "
                              "notebook.ipynb, runs/), which a single run never replaces")
        try:
            foreign = foreign_entries(path)
        except OSError as err:
            raise ConfigError("out", str(text), f"a folder that can be read ({err.strerror or err})") from None
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            raise ConfigError("out", str(text), "a new or empty folder, or an earlier results folder of this project "
                              f"(with its {MANIFEST}, or holding only {', '.join(KNOWN_RESULT_FILES)}): this folder "
                              f"holds files this project did not write ({shown}) and is never replaced")
    where, writable = _writable_ancestor(path.parent if path.is_dir() else path)
    if not writable:
        raise ConfigError("out", str(text), f"a path that can be written: {where} is "
                          + ("not a folder" if where.exists() and not where.is_dir() else "not writable"))


def write_manifest_payload(names: list[str]) -> str:
    """The text of a results folder's manifest listing `names`."""
    from . import __version__

    return json.dumps({"written_by": "cu_core", "version": __version__, "files": sorted(names)}, indent=2) + "\n"


def write_run_dir(out_dir: str | os.PathLike, files: Mapping[str, str | bytes]) -> Path:
    """Write a results folder all at once: build it under a temporary name, then rename it into place.

    `files` maps plain file names (no folders, not hidden) to text or bytes; a manifest (`MANIFEST`) listing
    them is added. A `metrics.json` among them must be valid JSON with finite numbers only and pass the schema
    (`cu_core.schema.validate_metrics`): nothing that is not a finished result is ever written as one. An
    existing folder at `out_dir` is replaced only after the new one is complete, and only if `check_run_dir`
    allows it (it is checked again just before the swap); of the old folder only the files this project
    knows are deleted (a file that appeared there meanwhile is kept, with a warning naming the folder).
    """
    for name in files:
        if not (isinstance(name, str) and _plain_name(name) and name != MANIFEST):
            raise ConfigError("files", name, "plain, visible file names of the results folder (no '/', not "
                              f"hidden, not {MANIFEST!r})")
    if "metrics.json" in files:
        check_metrics_text(files["metrics.json"])
    check_run_dir(out_dir)
    out = Path(out_dir).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        os.chmod(tmp, dir_mode())  # mkdtemp makes 0700
        for name, content in files.items():
            if isinstance(content, bytes):
                (tmp / name).write_bytes(content)
            else:
                (tmp / name).write_text(content)
        (tmp / MANIFEST).write_text(write_manifest_payload(list(files)))
        old = None
        if out.exists():
            check_run_dir(out_dir)  # again, just before the swap: nothing foreign arrived while the run worked
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old)  # onto the empty placeholder
        os.replace(tmp, out)
        if old is not None:
            _remove_ours(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _remove_ours(folder: Path) -> None:
    """Delete a replaced results folder: only the files its manifest lists or `KNOWN_RESULT_FILES` (and the
    manifest); anything else (which `check_run_dir` did not see) is kept, with the folder, and a warning."""
    listed = read_manifest(folder)
    known = set(KNOWN_RESULT_FILES) | set(listed or ()) | {MANIFEST}
    for entry in folder.iterdir():
        if entry.name in known and entry.is_file() and not entry.is_symlink():
            entry.unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:
        warnings.warn(f"kept {folder}: the replaced results folder holds files this project did not write "
                      f"({', '.join(sorted(p.name for p in folder.iterdir()))})", RuntimeWarning, stacklevel=3)


def check_metrics_text(text: str | bytes) -> None:
    """Refuse the text of a `metrics.json` that is not a finished result: not JSON, NaN or Infinity anywhere,
    or breaking the schema (`SchemaError`, a `ConfigError`)."""
    from .schema import SchemaError, validate_metrics

    def _refuse(token: str) -> None:
        raise SchemaError("", token, "finite numbers only: NaN and Infinity are never written as a result")

    try:
        payload = json.loads(text, parse_constant=_refuse)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SchemaError("", "<not JSON>", f"a JSON object ({err})") from None
    validate_metrics(payload)


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


def metrics_problem(path: str | os.PathLike) -> tuple[dict[str, Any] | None, str | None]:
    """(payload, None) for a finished run's valid `metrics.json` (a run folder or the file itself), else
    (None, what is wrong): "missing", unreadable, not JSON, NaN/Infinity, not an object, or the schema error."""
    from .schema import validate_metrics

    file = Path(path)
    if file.is_dir() or file.name != "metrics.json":
        file = file / "metrics.json"
    if not file.is_file():
        return None, "missing"

    def _refuse(token: str) -> None:
        raise ValueError(f"{token} is not a finished result (non-finite number)")

    try:
        payload = json.loads(file.read_text(), parse_constant=_refuse)
        validate_metrics(payload)
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError and SchemaError are ValueErrors
        return None, str(exc) or type(exc).__name__
    return payload, None


def read_metrics(path: str | os.PathLike) -> dict[str, Any] | None:
    """The `metrics.json` payload of a finished run (a run folder or the file itself), or None when the run
    must be (re)computed.

    None, with a `RuntimeWarning` naming the file and the problem, when the file is missing (no warning then),
    unreadable, truncated or otherwise not JSON, holds NaN or Infinity, is not a JSON object, or breaks the
    schema (`cu_core.schema.validate_metrics`: keys, types and ranges, e.g. a member rate outside [0, 1]).
    Drivers that resume a grid of runs use it (or `run_complete`) to decide what is done: a damaged file counts
    as missing, so the run is computed again and its folder replaced (`check_run_dir` lets the project replace
    its own folders whatever their `metrics.json` holds).
    """
    payload, problem = metrics_problem(path)
    if payload is None and problem != "missing":
        file = Path(path)
        if file.is_dir() or file.name != "metrics.json":
            file = file / "metrics.json"
        warnings.warn(f"treating {file} as missing: {problem}", RuntimeWarning, stacklevel=2)
    return payload


def scan_subruns(run_folder: str | os.PathLike):
    """(sub-run folder, payload or None, problem or None) for an experiment run folder of the driver
    (`<run>/runs/<name>/`): every visible sub-run folder, with `metrics_problem`'s verdict, then every sub-run
    the run's own summary (`<run>/metrics.json`, kind "experiment") lists whose folder is gone (problem
    "missing: listed in <summary> but its folder is gone"). Hidden (".") folders are staging, not results."""
    run = Path(run_folder)
    present = set()
    for folder in sorted((run / "runs").glob("*")):
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        present.add(folder.name)
        payload, problem = metrics_problem(folder)
        yield folder, payload, problem
    summary, _ = metrics_problem(run)
    if summary is not None and summary.get("kind") == "experiment":
        for name in sorted(set(summary["runs"]) - present):
            yield run / "runs" / name, None, f"missing: listed in {run / 'metrics.json'} but its folder is gone"


def damaged_subruns_of(run_folder: str | os.PathLike) -> list[tuple[Path, str]]:
    """(sub-run folder, what is wrong) for each sub-run of an experiment run folder that is not a finished result
    (`scan_subruns`): a driver treats such a run as not done, so that its template recomputes them."""
    return [(folder, problem) for folder, _, problem in scan_subruns(run_folder) if problem is not None]


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
