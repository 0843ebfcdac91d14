"""Results folders: written whole (`write_run_dir`) with a manifest, and replaced only when this project wrote them.

`check_run_dir` refuses, with a `ConfigError` naming "out" and before any work, a path that cannot become a
results folder; `foreign_entries` names what in an existing folder this project did not write. Only the files
the project knows are ever deleted. The module doc of `cu_core.results` (which re-exports all of this) tells the
rules in full.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .results_io import dir_mode


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
