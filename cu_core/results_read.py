"""Reading finished results: a run's `metrics.json` (`read_metrics`, `run_complete`), the sub-runs of an
experiment run folder (`scan_subruns`) and every run under a pattern as one table (`load_runs`).

A missing, truncated or schema-breaking `metrics.json` counts as not done, so a driver that resumes a grid
computes the run again. Re-exported by `cu_core.results`.
"""
from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


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


def scan_subruns(run_folder: str | os.PathLike) -> Iterator[tuple[Path, dict[str, Any] | None, str | None]]:
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


def load_runs(pattern: str, root: str | os.PathLike | None = None, *, validate: bool = False) -> pd.DataFrame:
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
