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

The code lives in four modules, all re-exported here (import from `cu_core.results`):
`cu_core.results_io` (atomic writes, `to_jsonable`), `cu_core.results_folder` (manifests, `check_run_dir`,
`write_run_dir`), `cu_core.results_read` (`read_metrics`, `scan_subruns`, `load_runs`) and
`cu_core.results_provenance` (versions, device, git commit).
"""
from __future__ import annotations

from .results_provenance import device_description, git_commit, versions
from .results_folder import (
    EXPERIMENT_MARKERS,
    KNOWN_RESULT_FILES,
    MANIFEST,
    _remove_ours,  # noqa: F401  (tests/test_data_safety.py)
    check_metrics_text,
    check_run_dir,
    foreign_entries,
    is_experiment_run,
    read_manifest,
    write_manifest_payload,
    write_run_dir,
)
from .results_io import (
    atomic_save_npz,
    atomic_torch_save,
    atomic_write_json,
    atomic_write_text,
    dir_mode,
    file_mode,
    to_jsonable,
    umask,
)
from .results_read import (
    damaged_subruns_of,
    load_runs,
    metrics_problem,
    read_metrics,
    run_complete,
    scan_subruns,
    visible,
)

__all__ = ["EXPERIMENT_MARKERS", "KNOWN_RESULT_FILES", "MANIFEST", "atomic_save_npz", "atomic_torch_save",
           "atomic_write_json", "atomic_write_text", "check_metrics_text", "check_run_dir", "damaged_subruns_of",
           "device_description", "dir_mode", "file_mode", "foreign_entries", "git_commit", "is_experiment_run",
           "load_runs", "metrics_problem", "read_manifest", "read_metrics", "run_complete", "scan_subruns",
           "to_jsonable", "umask", "versions", "visible", "write_manifest_payload", "write_run_dir"]
