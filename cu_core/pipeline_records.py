"""What a run checks and records besides its numbers: the output folder (`check_out_dir`), finite results
(`require_finite`), divergence messages with the hyperparameters, provenance and CSV rows (`rows_csv`).

Used by `cu_core.pipeline`, which re-exports the public names.
"""
from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import paths
from .results import check_run_dir, device_description, git_commit, versions

if TYPE_CHECKING:
    from .references import Prepared


def check_out_dir(out_dir: str | Path | None) -> None:
    """Refuse an output path that cannot become a results folder, before any work (`results.check_run_dir`:
    a new path, an empty folder or a results folder this project wrote; never a folder holding anything else,
    nor an experiment run folder of the driver)."""
    if out_dir is not None:
        check_run_dir(out_dir)


def _settings(values: Any) -> str:
    """A config (dataclass or dict) as 'name=value, ...' for error messages."""
    items = dataclasses.asdict(values) if dataclasses.is_dataclass(values) else dict(values)
    return ", ".join(f"{k}={v!r}" for k, v in items.items())


def _diverged(err: FloatingPointError, what: str, settings: str) -> FloatingPointError:
    """`err` with what was being computed and its hyperparameters (unless the message has them already)."""
    text = str(err)
    if "hyperparameters:" not in text:
        text = f"{text} ({what}; hyperparameters: {settings})"
    return FloatingPointError(text)


def require_finite(value: Any, path: str = "metrics") -> None:
    """Raise `FloatingPointError` naming the first NaN or ±inf number in a result (nested dicts and lists):
    a run whose measurements are not finite is never written as finished (`to_jsonable` would turn them into
    null)."""
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        raise FloatingPointError(f"{path} is {float(value)}: a result must be finite")
    if isinstance(value, np.ndarray) and value.dtype.kind == "f" and not np.isfinite(value).all():
        raise FloatingPointError(f"{path} holds non-finite values: a result must be finite")
    if isinstance(value, dict):
        for key, v in value.items():
            require_finite(v, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            require_finite(v, f"{path}[{i}]")


def _provenance(prep: Prepared) -> dict[str, Any]:
    """The keys every metrics.json carries besides its numbers."""
    return {"config": prep.cfg.to_dict(), "dataset": prep.display, "split_sha256": prep.split.sha256,
            "split_sizes": prep.split.sizes(), "seed": prep.cfg.train.seed, "versions": versions(),
            "device": device_description(prep.device), "git_commit": git_commit()}


def _display_path(path: Path) -> str:
    """A path relative to the project when it lies inside it (results stay portable), else absolute."""
    try:
        return str(Path(path).resolve().relative_to(paths.project_root()))
    except ValueError:
        return str(path)


def rows_csv(rows: list[dict[str, Any]]) -> str:
    """CSV text of a list of flat dicts: the union of their keys in first-seen order (a row without a column,
    e.g. SCRUB's max-steps without the min-steps' CE, leaves that cell empty)."""
    out = io.StringIO()
    if rows:
        columns = list(dict.fromkeys(key for row in rows for key in row))
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return out.getvalue()
