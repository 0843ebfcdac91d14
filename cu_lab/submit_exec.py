"""Hand a plan's jobs to submitit: Slurm (every job at once, each with its `afterok` dependencies), local processes
or in-process (both honouring the dependencies from this process), and keep the job record.

**Slurm.** One Slurm job per planned job (no job arrays: each job has its own dependencies), submitted in the
plan's order with `--dependency=afterok:<ids of its references and methods>` and `--kill-on-invalid-dep=yes`, so
a method starts as soon as its two references are trained, and the jobs behind a failed one are cancelled (and
planned again by the next `submit`). `--array-parallelism N` caps how many run at once: the jobs take N job names
in turn and each also waits for the jobs before it with its name (`--dependency=singleton`).
**local.** The same jobs as local processes (`submitit.LocalExecutor`), at most N at once (default 2), each
started when its dependencies are done; this command waits for them all. **debug.** The same, in this process,
one after the other (`submitit.DebugExecutor`; for tests).

The record `<results>/<profile>/.submit/jobs.json` (written atomically after every submission) maps each job to
its executor, job id, kind, run, dependencies and log files. A new `submit` reads it: a job still queued or
running (Slurm: `squeue` lists it; local: its process lives) is not submitted again, and the new jobs depend on
it.
"""
from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import submitit
from tqdm.auto import tqdm

from cu_core.results import atomic_write_json
from .submit_jobs import JobTask, mark, submit_dir
from .submit_plan import Job
from cu_core.experiments.resources import Resources

RECORD = "jobs.json"


@dataclass
class Options:
    """Where and how the jobs of one `submit` go."""

    profile: str
    root: Path
    executor: str  # slurm | local | debug
    resources: dict[str, Resources]
    logs: Path
    env: dict[str, str]
    partition: str | None = None
    parallelism: int | None = None


def record_path(root: Path, profile: str) -> Path:
    return submit_dir(root, profile) / RECORD


def load_record(root: Path, profile: str) -> dict[str, Any]:
    """The job record (empty when none was written or it cannot be read)."""
    import json

    try:
        record = json.loads(record_path(root, profile).read_text())
        return record if isinstance(record, dict) and isinstance(record.get("jobs"), dict) else {"jobs": {}}
    except (OSError, ValueError):
        return {"jobs": {}}


def slurm_queue() -> dict[str, str] | None:
    """Job id -> state of every job `squeue` lists (None: no squeue, or it failed)."""
    try:
        out = subprocess.run(["squeue", "-h", "-o", "%i %T"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return dict(line.split(None, 1) for line in out.stdout.splitlines() if len(line.split()) == 2)


def _entry(job: Job, executor: str, job_id: str, paths: Any, res: Resources) -> dict[str, Any]:
    return {"executor": executor, "job_id": job_id, "kind": job.kind, "label": job.label, "runs": list(job.runs),
            "deps": list(job.deps), "stdout": str(paths.stdout), "stderr": str(paths.stderr),
            "resources": res.to_dict(), "submitted": time.time()}


def submit_slurm(jobs: list[Job], opts: Options, alive: dict[str, str], record: dict[str, Any]) -> list[str]:
    """Submit `jobs` to Slurm (those in `alive`, name -> job id, are not submitted again); lines to print."""
    executor = submitit.SlurmExecutor(folder=opts.logs / "%j", max_num_timeout=3)
    ids, lines = dict(alive), []
    for i, job in enumerate(jobs):
        if job.name in alive:
            lines.append(f"kept      {alive[job.name]:>8s} {job.kind:9s} {job.label} (still in the queue)")
            continue
        res = opts.resources[job.kind]
        after = [ids[d] for d in job.deps if d in ids]
        deps = ([f"afterok:{':'.join(after)}"] if after else []) + (["singleton"] if opts.parallelism else [])
        name = f"cu-{opts.profile}-{i % opts.parallelism}" if opts.parallelism else f"cu-{opts.profile}-{job.kind}"
        executor.update_parameters(
            job_name=name, time=res.minutes, cpus_per_task=res.cpus, gpus_per_node=res.gpus or None,
            mem=f"{res.mem_gb:g}G" if res.mem_gb else None, partition=opts.partition,
            dependency=",".join(deps) or None, comment=job.name[:200],
            additional_parameters={"kill-on-invalid-dep": "yes"})
        sub = executor.submit(JobTask(job, str(opts.root), opts.profile, opts.env, res.cpus))
        ids[job.name] = str(sub.job_id)
        record["jobs"][job.name] = _entry(job, "slurm", str(sub.job_id), sub.paths, res)
        atomic_write_json(record_path(opts.root, opts.profile), record)
        lines.append(f"submitted {sub.job_id:>8s} {job.kind:9s} {job.label}"
                     + (f" (after {', '.join(after)})" if after else ""))
    return lines


def run_here(jobs: list[Job], opts: Options, record: dict[str, Any], *, progress: bool = True) -> list[str]:
    """Run `jobs` as local processes (at most `opts.parallelism`, default 2) or, for `debug`, in this process,
    each once its dependencies are done; a job whose dependency failed is not started. Lines to print."""
    debug = opts.executor == "debug"
    width = 1 if debug else (opts.parallelism or 2)
    planned = {j.name for j in jobs}
    state: dict[str, str] = {}
    pending, running, lines = list(jobs), {}, []
    bar = tqdm(total=len(jobs), desc=f"{opts.executor} jobs", unit="job", disable=not progress, file=sys.stderr)
    try:
        while pending or running:
            for job in list(pending):
                deps = [d for d in job.deps if d in planned]
                if any(state.get(d) == "failed" for d in deps):
                    pending.remove(job)
                    state[job.name] = "failed"
                    mark(opts.root, opts.profile, job, "failed", "not started: a job it depends on failed")
                    lines.append(f"not started {job.kind:9s} {job.label}: a job it depends on failed")
                    bar.update()
                elif all(state.get(d) == "done" for d in deps) and len(running) < width:
                    pending.remove(job)
                    running[job.name] = (job, _start(job, opts, record))
            for name, (job, sub) in list(running.items()):
                if debug or sub.done():
                    del running[name]
                    error = _outcome(sub)
                    state[name] = "failed" if error else "done"
                    lines.append(f"{state[name]:6s} {job.kind:9s} {job.label}" + (f": {error}" if error else ""))
                    bar.update()
            if running and not debug:
                time.sleep(0.5)
    except KeyboardInterrupt:
        for _, sub in running.values():
            sub.cancel(check=False)
        raise
    finally:
        bar.close()
    return lines


def _start(job: Job, opts: Options, record: dict[str, Any]) -> Any:
    res = opts.resources[job.kind]
    if opts.executor == "debug":
        executor: Any = submitit.DebugExecutor(folder=opts.logs / "%j")
    else:
        executor = submitit.LocalExecutor(folder=opts.logs / "%j")
        executor.update_parameters(timeout_min=res.minutes, gpus_per_node=res.gpus)
    sub = executor.submit(JobTask(job, str(opts.root), opts.profile, opts.env, res.cpus))
    record["jobs"][job.name] = _entry(job, opts.executor, str(sub.job_id), sub.paths, res)
    atomic_write_json(record_path(opts.root, opts.profile), record)
    return sub


def _outcome(sub: Any) -> str:
    """'' when the job succeeded, else its error in one line (the debug executor runs the job here; its
    `exception()`, unlike its `result()`, never opens a debugger)."""
    try:
        err = sub.exception()
    except Exception as failure:  # noqa: BLE001 - e.g. a local job killed before it wrote its result
        err = failure
    if err is None:
        return ""
    text = [line for line in str(err).strip().splitlines() if line.strip()]
    return " ".join((text[-1] if text else type(err).__name__).split())[:500]


__all__ = ["Options", "load_record", "record_path", "run_here", "slurm_queue", "submit_slurm"]
