"""Every run of a profile checked as its template will check it (`run_problems`, `validate_profile`), the
templates' own defaults (`validate_templates`), the CIFAR-10 archive runs need (`archive_problem`) and where in
the profile a run's parameter came from (`origin`).
Re-exported by `cu_core.experiments.validate`.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from ..errors import ConfigError, InputFileError
from . import grid
from .validate_messages import Report
from .validate_profiles import profile_problems


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@functools.lru_cache(maxsize=8)
def _archive_sha256(path: str, size: int, mtime_ns: int) -> str:
    from ..data.cifar_archive import sha256_file

    return sha256_file(path)


def archive_problem(data_dir: Path | None = None) -> tuple[str | None, str | None]:
    """(error, note) about the CIFAR-10 JPEG archive of the data folder: a missing file is a note (this machine
    lacks it), a file whose sha256 is not the known copy's an error."""
    from ..data.cifar_archive import ARCHIVE_NAME, ARCHIVE_SHA256
    from ..paths import data_dir as default_data_dir, source_of

    folder = default_data_dir(data_dir)
    path = folder / ARCHIVE_NAME
    if not path.is_file():
        return None, (f"the CIFAR-10 archive {path} is not on this machine ({source_of('data', data_dir, 'data_dir')}"
                      f"); runs with data_source 'archive' need it")
    stat = path.stat()
    actual = _archive_sha256(str(path), stat.st_size, stat.st_mtime_ns)
    if actual != ARCHIVE_SHA256:
        return (f"the CIFAR-10 archive {path} has sha256 {actual}, not the known copy's {ARCHIVE_SHA256}: it is "
                "damaged or another file; copy it again"), None
    return None, None


def _run_values(run: grid.Run) -> dict[str, Any]:
    """The values a run's template sees: its declared defaults, then the run's parameters."""
    return {**{n: p.default for n, p in grid.declared_parameters(run.template).items()}, **run.params}


def run_problems(raw: dict[str, Any], runs: list[grid.Run], *, machine: bool) -> tuple[list[str], list[str]]:
    """(errors, notes) of the runs' parameters, each checked by `params.check_parameters` as its template's first
    cell will check it; one line per distinct problem, starting with the key path that set the bad value."""
    from .params import check_parameters

    errors: list[str] = []
    notes: list[str] = []
    cuda = None
    archive_checked = False
    seen_folders: dict[str, grid.Run] = {}
    for run in runs:
        if run.folder in seen_folders:
            errors.append(f"experiments.{run.experiment}: two runs share the folder {run.folder} (the same "
                          "parameters twice: a repeated case or grid value)")
        seen_folders[run.folder] = run
        if run.problem:
            errors.append(f"experiments.{run.experiment}: {run.problem}")
            continue
        values = _run_values(run)
        device = values.get("device", "auto")
        if isinstance(device, str) and device.startswith("cuda"):
            cuda = _cuda() if cuda is None else cuda
            if not cuda:
                notes.append(f"{origin(raw, run, 'device')}: device={device!r}, but CUDA is not available on this "
                             "machine: the runs need a GPU machine")
                values["device"] = "cpu"  # check everything else as if on one
        try:
            check_parameters(**values)
        except ConfigError as err:
            name = getattr(err, "template_parameter", None) or err.parameter
            where = origin(raw, run, name) if name in values else f"experiments.{run.experiment}"
            errors.append(f"{where}: {err}")
        if (values.get("dataset") == "cifar10" and values.get("data_source") == "archive"
                and not archive_checked):
            archive_checked = True
            error, note = archive_problem()
            errors += [error] if error else []
            notes += [note] if note else []
    return list(dict.fromkeys(errors)), list(dict.fromkeys(notes))


def validate_profile(name_or_path: str, *, only: list[str] | None = None, seeds: list[int] | None = None,
                     machine: bool = False) -> Report:
    """A profile's schema, then every run's parameters (`run_problems`); nothing is run or written."""
    try:
        path = grid.profile_path(name_or_path)
    except ConfigError as err:
        return Report(f"profile {name_or_path}", errors=[str(err)])
    report = Report(f"profile {path.stem if path.parent == grid.PROFILE_DIR else path}")
    try:
        raw = grid.read_yaml(path)
        problems = profile_problems(raw)
        if problems:
            report.errors = problems
            return report
        runs = grid.expand(grid.load_profile(str(path)), only=only, seeds=seeds)
    except InputFileError as err:
        report.errors = err.problems
        return report
    except ConfigError as err:
        report.errors = [str(err)]
        return report
    report.checked = len(runs)
    report.errors, report.notes = run_problems(raw, runs, machine=machine)
    if machine:
        report.errors, report.notes = report.errors + report.notes, []
    return report


def validate_templates() -> Report:
    """Each template's own defaults pass `check_parameters` (what `papermill template.ipynb out.ipynb` runs)."""
    from .params import check_parameters

    report = Report("templates", what="templates")
    for template in grid.templates():
        report.checked += 1
        try:
            check_parameters(**{n: p.default for n, p in grid.declared_parameters(template).items()})
        except ConfigError as err:
            report.errors.append(f"{template} (its defaults): {err}")
    return report


def origin(raw: dict[str, Any], run: grid.Run, name: str) -> str:
    """The key path in the profile that gave `run` its parameter `name` (the last of defaults, params, the case,
    the grid that sets it), or the template's default."""
    spec = raw["experiments"][run.experiment]
    if name in (spec.get("grid") or {}):
        return f"experiments.{run.experiment}.grid.{name}"
    for i, case in enumerate(spec.get("cases") or []):
        if name in case and all(run.params.get(k) == v for k, v in case.items()):
            return f"experiments.{run.experiment}.cases[{i}].{name}"
    if name in (spec.get("params") or {}):
        return f"experiments.{run.experiment}.params.{name}"
    if name in (raw.get("defaults") or {}):
        return f"defaults.{name}"
    if name == "seed":
        return f"experiments.{run.experiment}.seeds" if "seeds" in spec else "seeds"
    return f"experiments.{run.experiment} ({run.template}'s default {name})"

