"""Execute a profile's runs with papermill: resume, keep going after failures, report them all at the end.

Each run executes its template into a hidden staging folder `<experiment>/.<run_id>.partial/` (the template
writes its sub-runs there, and skips those already complete, so an interrupted run resumes), then adds the
executed notebook (with `mystnb.execution_mode: off`, so the book shows it without re-running it),
`config.json`, a summary `metrics.json` (kind "experiment") and `history.csv` (one row per sub-run), and
renames the folder into place. A run whose folder holds a valid `metrics.json` is skipped.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..paths import results_dir
from ..results import atomic_write_json, atomic_write_text, device_description, git_commit, read_metrics, versions
from .grid import TEMPLATE_DIR, Run
from .runs import table


@dataclass
class Outcome:
    run: Run
    status: str  # "done", "skipped" (complete before), "failed"
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


def _finish(run: Run, staging: Path, final: Path, seconds: float) -> None:
    """Add the summary files to `staging` and rename it to `final` (replacing an older, incomplete folder)."""
    _mark_not_executable(staging / "notebook.ipynb")
    rows = table(staging)
    atomic_write_json(staging / "config.json", {"profile": run.profile, "experiment": run.experiment,
                                                "template": run.template, "run_id": run.run_id,
                                                "parameters": run.params})
    atomic_write_text(staging / "history.csv", rows.to_csv(index=False))
    atomic_write_json(staging / "metrics.json", {
        "kind": "experiment", "experiment": run.experiment, "template": run.template, "profile": run.profile,
        "run_id": run.run_id, "parameters": run.params, "runs": sorted(rows["run"]) if len(rows) else [],
        "seconds": {"wall": seconds}, "versions": versions(),
        "device": str(rows["device"].iloc[0]) if len(rows) else device_description("cpu"),
        "git_commit": git_commit()})
    if final.exists():
        shutil.rmtree(final)
    os.replace(staging, final)


def execute(run: Run, root: Path, *, kernel: str = "python3") -> Outcome:
    """Run one template (unless complete); never raises for a failing notebook."""
    import papermill

    final = root / run.folder
    if read_metrics(final) is not None:
        return Outcome(run, "skipped", 0.0)
    start = time.perf_counter()
    if run.problem:
        return Outcome(run, "failed", 0.0, run.problem)
    staging = final.parent / f".{run.run_id}.partial"
    staging.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(str(TEMPLATE_DIR / run.template), str(staging / "notebook.ipynb"),
                                   parameters={**run.params, "out_dir": str(staging)}, kernel_name=kernel,
                                   progress_bar=False, cwd=str(TEMPLATE_DIR))
        _finish(run, staging, final, time.perf_counter() - start)
    except Exception as err:  # noqa: BLE001 — any failure of one run is reported, the grid goes on
        return Outcome(run, "failed", time.perf_counter() - start, _error_message(err))
    return Outcome(run, "done", time.perf_counter() - start)


def run_grid(runs: list[Run], *, results: str | Path | None = None, progress: bool = True) -> list[Outcome]:
    """Execute `runs` in order; the outcome of each (failures included)."""
    root = results_dir(results)
    outcomes = []
    os.environ.setdefault("TQDM_DISABLE", "1")  # the kernels inherit it: no nested bars in the notebooks
    bar = tqdm(runs, desc="experiments", unit="run", disable=not progress)
    for run in bar:
        bar.set_postfix_str(f"{run.experiment}/{run.run_id}"[:60])
        outcomes.append(execute(run, root))
    return outcomes


def summary(outcomes: list[Outcome]) -> dict[str, Any]:
    counts = {s: sum(o.status == s for o in outcomes) for s in ("done", "skipped", "failed")}
    return {**counts, "seconds": round(sum(o.seconds for o in outcomes), 1),
            "failures": [{"run": o.run.folder, "message": o.message, "params": o.run.params}
                         for o in outcomes if o.status == "failed"]}


__all__ = ["Outcome", "execute", "run_grid", "summary"]
