"""`python -m cu_core.experiments status --profile P`: which runs of a profile are done, missing, damaged or running.

A run (one template execution, folder `<results>/<profile>/<experiment>/<run_id>/`) is

- **running** when its claim is held: a driver holds the kernel (flock) lock on `<experiment>/.<run_id>.lock`
  (`cu_core.experiments.runner.lock_path`). Whether it is held is asked of the kernel, without waiting, by taking
  the lock with `filelock` (`acquire(blocking=False)`) and releasing it at once; the lock file's contents (the
  holder's `host:pid`) are shown, never used to decide. A lock file that nobody holds is a finished or dead
  driver's, and says nothing. Without `filelock`, a lock file's presence counts as held.
- **done** when its `metrics.json` is valid (`cu_core.results.read_metrics`) and none of its sub-runs is damaged
  (`cu_core.results.damaged_subruns_of`): what the driver counts as done and skips;
- **damaged** when its folder is there but its `metrics.json` is missing, unreadable or breaks the schema
  (`read_metrics` returns None with a warning, whose text is shown), or a sub-run's is (or a sub-run its summary
  lists is gone): the driver computes it again (a damaged sub-run alone: the run is reopened, the others reused);
- **missing** otherwise (with a note when a staging folder `.<run_id>.partial/` holds work that a run resumes).

The probe takes the lock for an instant: a driver that tries to claim that very run in the same instant sees it
as busy and leaves it for its next pass (it does not fail). Nothing is written: the probe opens an existing lock
file only, and creates none.
"""
from __future__ import annotations

import json
import os
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..results import damaged_subruns_of
from .grid import Run

STATES = ("done", "missing", "damaged", "running")


def lock_path(folder: Path) -> Path:
    """The lock file that claims the run whose final folder is `folder` (as the runner names it)."""
    try:
        from .runner import lock_path as runner_lock_path
    except ImportError:  # pragma: no cover - a runner without the helper
        return folder.parent / f".{folder.name}.lock"
    return runner_lock_path(folder)


def lock_held(path: str | os.PathLike[str]) -> bool | None:
    """Whether a process holds the flock lock on `path` right now: False when the file is absent or the lock is
    free, None when it cannot be told (the file cannot be opened). Creates no file."""
    path = Path(path)
    if not os.path.lexists(path):
        return False
    try:
        from filelock import FileLock, Timeout
    except ImportError:  # pragma: no cover - filelock is a dependency; presence is the best guess without it
        return True
    lock = FileLock(path, fallback_to_soft=False, preserve_lock_file=True, thread_local=False)
    try:
        lock.acquire(blocking=False)
    except Timeout:
        return True
    except OSError:
        return None
    lock.release()
    return False


def _holder(path: Path) -> str:
    try:
        return " ".join(path.read_text(errors="replace").split())[:200]
    except OSError:
        return ""


def _metrics(path: Path) -> tuple[dict[str, Any] | None, str]:
    """`read_metrics(path)` and, when it returns None, why (its warning's text, or "missing")."""
    from ..results import read_metrics

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        payload = read_metrics(path)
    if payload is not None:
        return payload, ""
    why = next((str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)), "")
    return None, why or "metrics.json is missing"


def _age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    return (f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min" if seconds < 7200
            else f"{seconds / 3600:.1f} h")


def _staged(staging: Path) -> str:
    """What a run's staging folder holds: the sub-runs done there and when it was last written."""
    if not staging.is_dir():
        return ""
    subruns = sorted(p.parent.name for p in staging.glob("runs/*/metrics.json"))
    newest = max((p.stat().st_mtime for p in staging.rglob("*")), default=staging.stat().st_mtime)
    return (f"partial: {len(subruns)} sub-run(s) done in {staging.name}/, last written {_age(time.time() - newest)} "
            "ago; the next run resumes them")


@dataclass(frozen=True)
class RunState:
    run: Run
    state: str  # one of STATES
    detail: str = ""


def run_state(folder: Path) -> tuple[str, str]:
    """(state, detail) of the run whose final folder is `folder` (see the module's docstring)."""
    lock = lock_path(folder)
    held = lock_held(lock)
    if held:
        return "running", f"claimed by {_holder(lock) or 'another process'} ({lock.name} is locked)"
    note = " (its lock file could not be opened to ask whether a driver holds it)" if held is None else ""
    payload, why = _metrics(folder)
    if payload is None:
        if folder.is_dir():
            return "damaged", why + note
        return "missing", _staged(folder.parent / f".{folder.name}.partial") + note
    damaged = damaged_subruns_of(folder)  # what the driver checks too: such a run is reopened and recomputed
    if damaged:
        (sub, why), more = damaged[0], len(damaged) - 1
        return "damaged", f"sub-run {sub.name}: {why}" + (f" (and {more} more)" if more else "") + note
    return "done", note.strip()


def status(runs: list[Run], root: Path) -> list[RunState]:
    """The state of every run of `runs` under the results folder `root`."""
    return [RunState(run, *run_state(root / run.folder)) for run in runs]


def counts(states: list[RunState]) -> dict[str, int]:
    tally = Counter(s.state for s in states)
    return {state: tally.get(state, 0) for state in STATES}


def _summary(counted: dict[str, int]) -> str:
    return ", ".join(f"{n} {state}" for state, n in counted.items())


def report_lines(profile: str, states: list[RunState], root: Path) -> list[str]:
    """The text `status` prints: per experiment a header with its counts and one line per run, then a summary."""
    lines = [f"profile {profile}: results in {root / profile}"]
    experiments = list(dict.fromkeys(s.run.experiment for s in states))
    for exp in experiments:
        mine = [s for s in states if s.run.experiment == exp]
        lines.append(f"{exp} ({len(mine)} run{'s' if len(mine) != 1 else ''}): {_summary(counts(mine))}")
        for s in mine:
            lines.append(f"  {s.state:8s} {s.run.run_id}" + (f"  {s.detail}" if s.detail else ""))
    total = counts(states)
    lines.append(f"summary {profile}: {len(states)} run{'s' if len(states) != 1 else ''}: {_summary(total)}")
    return lines


def report_dict(profile: str, states: list[RunState], root: Path) -> dict[str, Any]:
    """The status report as one JSON-ready dict: profile, results folder, counts per state, one row per run."""
    return {"profile": profile, "results": str(root / profile), "counts": counts(states),
            "runs": [{"run": s.run.folder, "experiment": s.run.experiment, "state": s.state, "detail": s.detail}
                     for s in states]}


def report_json(profile: str, states: list[RunState], root: Path) -> str:
    """`report_dict` as one line of JSON (what `status --json` prints)."""
    return json.dumps(report_dict(profile, states, root))


__all__ = ["RunState", "STATES", "counts", "lock_held", "report_dict", "report_json", "report_lines", "run_state",
           "status"]
