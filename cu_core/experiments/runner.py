"""Execute a profile's runs with papermill: resume, keep going after failures, report them all at the end.

Each run executes its template into a hidden staging folder `<experiment>/.<run_id>.partial/` (the template
writes its sub-runs there, and skips those already complete, so an interrupted run resumes), then adds the
executed notebook (with `mystnb.execution_mode: off`, so the book shows it without re-running it),
`config.json`, a summary `metrics.json` (kind "experiment") and `history.csv` (one row per sub-run), and
renames the folder into place. A run whose folder holds a valid `metrics.json` is skipped. The staging folder's
`attempts.json` times every attempt at the run, so the summary's `seconds.wall` of a resumed run counts the work
of the attempts that were interrupted too (`cu_book.run_times` reads it).

Several drivers may work on one results folder at once (e.g. one per core, or one per GPU): a run is claimed by
holding a kernel `flock` lock on `<experiment>/.<run_id>.lock` (`cu_core.locks.try_hold`, through the `filelock`
library). A driver that finds a run claimed reports it as "busy" and moves on. The kernel releases a claim when its
driver exits, however it exits (killed included), so a dead driver's runs are simply free again: the next driver
claims them and resumes the staging folder they left. Nothing is guessed from the lock file's contents (the
`host:pid` it holds is for people to read). On shared filesystems the claims hold across machines only where
`flock` does (NFSv4, NFSv3 with lockd, Lustre mounted with `-o flock`; see `cu_core.locks`); where `flock` fails
the driver stops with `cu_core.locks.LocksUnsupported` before it runs anything.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from tqdm.auto import tqdm

from ..errors import ConfigError
from ..locks import try_hold
from ..paths import results_dir
from ..results import (atomic_write_json, atomic_write_text, damaged_subruns_of, device_description, git_commit,
                       is_experiment_run, read_metrics, versions)
from .grid import TEMPLATE_DIR, Run


@dataclass
class Outcome:
    run: Run
    status: str  # "done", "skipped" (complete before), "busy" (claimed by another live driver), "failed"
    seconds: float
    message: str = ""


def _error_message(err: BaseException) -> str:
    """The notebook's own exception (papermill wraps it), in one line."""
    ename, evalue = getattr(err, "ename", None), getattr(err, "evalue", None)
    text = f"{ename}: {evalue}" if ename else f"{type(err).__name__}: {err}"
    return " ".join(text.split())[:1000]


def _mark_not_executable(notebook: Path) -> None:
    nb = json.loads(notebook.read_text())
    nb.setdefault("metadata", {}).setdefault("mystnb", {})["execution_mode"] = "off"
    atomic_write_text(notebook, json.dumps(nb, indent=1) + "\n")


ATTEMPTS = "attempts.json"  # in the staging folder: [{"start": unix time, "seconds": float or null}, ...]


def _begin_attempt(staging: Path) -> list[dict[str, Any]]:
    """Record that an attempt at the run starts now, and close the one before it when its driver died.

    A driver that died could not time itself: its attempt is taken to have lasted until the newest file it
    left in the staging folder (what it finished before it died), a lower bound on the time it spent."""
    file = staging / ATTEMPTS
    try:
        attempts = json.loads(file.read_text())
    except (OSError, ValueError):
        attempts = []
    if attempts and attempts[-1].get("seconds") is None:
        newest = max((p.stat().st_mtime for p in staging.rglob("*") if p.is_file() and p.name != ATTEMPTS),
                     default=attempts[-1]["start"])
        attempts[-1]["seconds"] = max(0.0, newest - attempts[-1]["start"])
    attempts.append({"start": time.time(), "seconds": None})
    atomic_write_text(file, json.dumps(attempts))
    return attempts


def _end_attempt(staging: Path, attempts: list[dict[str, Any]], seconds: float) -> list[float]:
    """Close the current attempt with its measured `seconds`; every attempt's seconds so far."""
    attempts[-1]["seconds"] = seconds
    atomic_write_text(staging / ATTEMPTS, json.dumps(attempts))
    return [float(a["seconds"]) for a in attempts]


def _finish(run: Run, staging: Path, final: Path, attempts: list[float]) -> None:
    """Add the summary files to `staging` and rename it to `final` (replacing an older, incomplete folder).

    `seconds.wall` is the sum over every attempt at the run (`attempts`, also written: one entry for a run
    that was never interrupted); `seconds.last_attempt` the attempt that completed it."""
    from .runs import table  # imports torch: only where a run finishes (claims stay cheap to import)

    _mark_not_executable(staging / "notebook.ipynb")
    rows = table(staging)
    atomic_write_json(staging / "config.json", {"profile": run.profile, "experiment": run.experiment,
                                                "template": run.template, "run_id": run.run_id,
                                                "parameters": run.params})
    atomic_write_text(staging / "history.csv", rows.to_csv(index=False))
    atomic_write_json(staging / "metrics.json", {
        "kind": "experiment", "experiment": run.experiment, "template": run.template, "profile": run.profile,
        "run_id": run.run_id, "parameters": run.params, "runs": sorted(rows["run"]) if len(rows) else [],
        "seconds": {"wall": sum(attempts), "last_attempt": attempts[-1]}, "attempts": attempts,
        "versions": versions(),
        "device": str(rows["device"].iloc[0]) if len(rows) else device_description("cpu"),
        "git_commit": git_commit()})
    if final.exists():  # an older, incomplete or damaged copy of this run: ours only if it looks like a run folder
        if not is_experiment_run(final):
            raise ConfigError("results", str(final), "a folder the driver wrote (config.json, notebook.ipynb, "
                              "runs/): this one holds something else and is never replaced; move it away")
        old = final.with_name(f".{final.name}.old")
        os.replace(final, old)
        os.replace(staging, final)
        shutil.rmtree(old)
        return
    os.replace(staging, final)


def lock_path(folder: Path) -> Path:
    """The lock file that claims the run whose final folder is `folder`."""
    return folder.parent / f".{folder.name}.lock"


@contextmanager
def claim(folder: Path) -> Iterator[str | None]:
    """Claim the run whose final folder is `folder` without waiting: yields None while claimed (released on exit,
    or by the kernel when this process dies), else who holds it ('host:pid' as its lock file says)."""
    with try_hold(lock_path(folder)) as owner:
        yield owner


def execute(run: Run, root: Path, *, kernel: str = "python3") -> Outcome:
    """Run one template (unless complete or claimed by another driver); never raises for a failing notebook."""
    final = root / run.folder
    if _done(final):
        return Outcome(run, "skipped", 0.0)
    if run.problem:
        return Outcome(run, "failed", 0.0, run.problem)
    with claim(final) as owner:
        if owner is not None:
            return Outcome(run, "busy", 0.0, f"being run by {owner}")
        if _done(final):  # finished by another driver since the first check
            return Outcome(run, "skipped", 0.0)
        _reopen(final)
        return _execute(run, final, kernel)


def _done(final: Path) -> bool:
    """A run is done when its summary is valid and none of its sub-runs is damaged (`damaged_subruns_of`)."""
    return read_metrics(final) is not None and not damaged_subruns_of(final)


def _reopen(final: Path) -> None:
    """A finished run with a damaged sub-run goes back to staging, so that its template recomputes that sub-run
    and loads the others (held under the run's claim)."""
    staging = final.parent / f".{final.name}.partial"
    if final.is_dir() and is_experiment_run(final) and not staging.exists():
        os.replace(final, staging)


def _execute(run: Run, final: Path, kernel: str) -> Outcome:
    import papermill

    start = time.perf_counter()
    staging = final.parent / f".{run.run_id}.partial"
    staging.mkdir(parents=True, exist_ok=True)
    attempts = _begin_attempt(staging)
    try:
        papermill.execute_notebook(str(TEMPLATE_DIR / run.template), str(staging / "notebook.ipynb"),
                                   parameters={**run.params, "out_dir": str(staging)}, kernel_name=kernel,
                                   progress_bar=False, cwd=str(TEMPLATE_DIR))
        _finish(run, staging, final, _end_attempt(staging, attempts, time.perf_counter() - start))
    except Exception as err:  # noqa: BLE001 — any failure of one run is reported, the grid goes on
        _end_attempt(staging, attempts, time.perf_counter() - start)
        return Outcome(run, "failed", time.perf_counter() - start, _error_message(err))
    return Outcome(run, "done", time.perf_counter() - start)


def run_grid(runs: list[Run], *, results: str | Path | None = None, progress: bool = True,
             threads: int | None = None) -> list[Outcome]:
    """Execute `runs` in order; the outcome of each (failures included). `threads`: the CPU threads of each
    notebook kernel (OMP_NUM_THREADS / MKL_NUM_THREADS, which the kernels inherit); None keeps the environment's."""
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be a positive integer, got {threads!r}")
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    root = results_dir(results)
    if runs:  # a filesystem without flock stops the driver here (LocksUnsupported, a ConfigError), not run by run
        with claim(root / runs[0].folder):
            pass
    outcomes = []
    os.environ.setdefault("TQDM_DISABLE", "1")  # the kernels inherit it: no nested bars in the notebooks
    bar = tqdm(runs, desc="experiments", unit="run", disable=not progress)
    for run in bar:
        bar.set_postfix_str(f"{run.experiment}/{run.run_id}"[:60])
        outcomes.append(execute(run, root))
    return outcomes


def summary(outcomes: list[Outcome]) -> dict[str, Any]:
    counts = {s: sum(o.status == s for o in outcomes) for s in ("done", "skipped", "busy", "failed")}
    return {**counts, "seconds": round(sum(o.seconds for o in outcomes), 1),
            "failures": [{"run": o.run.folder, "message": o.message, "params": o.run.params}
                         for o in outcomes if o.status == "failed"],
            "busy": [{"run": o.run.folder, "message": o.message} for o in outcomes if o.status == "busy"]}


__all__ = ["Outcome", "claim", "execute", "run_grid", "summary"]
