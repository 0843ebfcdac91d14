"""Where the cluster jobs of a profile stand (`job_states`, `run_jobs`, `job_lines` for `status`), and the
listing of a profile's jobs with their resources (`plan_frame`, for `submit --dry-run` and the book's appendix).

A job's state comes from three sources: its state file (`cu_lab.submit_jobs.mark`: running, done,
failed, requeued), the record (`submit_exec.load_record`: job id, logs) and the queue (Slurm: `squeue`; local: is
its process alive). Queued: in the queue, not started. Running: started and still in the queue (or alive). Done.
A job requeued (preempted, timed out, `scontrol requeue`) is queued again, then running, under the same job id
(a requeue by Slurm kills the attempt, which may say "failed" first: pending again in the queue, it is queued).
Failed: it said so, or it started and left the queue without saying it ended (killed: `scancel`, the node died,
out of memory), or it left the queue without starting (cancelled, or a job it depends on failed). A run is done
when its results are (`cu_core.experiments.status`), else running / queued / failed after its jobs, in that order.
"""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import pandas as pd

from cu_core.experiments.status import RunState
from .submit_exec import load_record, slurm_queue
from .submit_jobs import state_file
from .submit_plan import Job
from cu_core.experiments.resources import Resources

QUEUED_STATES = {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD",
                 "SUSPENDED"}


def _marker(root: Path, profile: str, name: str) -> dict[str, Any]:
    try:
        return json.loads(state_file(root, profile, name).read_text())
    except (OSError, ValueError):
        return {}


def _pid_alive(marker: dict[str, Any]) -> bool:
    if marker.get("host") != socket.gethostname() or not isinstance(marker.get("pid"), int):
        return False
    try:
        os.kill(marker["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def job_states(root: Path, profile: str) -> dict[str, dict[str, Any]]:
    """Every recorded job of `profile`: its record entry plus "state" (queued, running, done, failed) and
    "message"."""
    record = load_record(root, profile)
    queue = slurm_queue() if any(e.get("executor") == "slurm" for e in record["jobs"].values()) else {}
    out = {}
    for name, entry in record["jobs"].items():
        marker = _marker(root, profile, name)
        said, message = marker.get("state"), marker.get("message", "")
        if entry.get("executor") == "slurm":
            in_queue = None if queue is None else queue.get(str(entry.get("job_id")))
            if said == "failed" and in_queue in QUEUED_STATES:  # requeued after its attempt failed or was killed
                state, message = "queued", f"requeued; its last attempt: {message}"
            elif said in ("done", "failed"):
                state = said
            elif in_queue is not None or queue is None:
                state = "queued" if (in_queue in QUEUED_STATES or (in_queue and not said)) else "running"
                message = message or (f"squeue: {in_queue}" if in_queue else "squeue does not answer")
            elif said in ("running", "requeued"):
                state = "failed"
                message = ("killed: it started and left the queue without ending (scancel, time limit, node "
                           "failure or out of memory)")
            else:
                state, message = "failed", "left the queue without starting (cancelled, or a dependency failed)"
        else:
            state = "queued" if said in (None, "requeued") else said
            if said in ("running", "requeued") and not _pid_alive(marker):
                state, message = "failed", "killed: its process is gone without ending"
        out[name] = {**entry, "state": state, "message": message}
    return out


def run_jobs(states: list[RunState], jobs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per run: its state after its results and its jobs, the job ids and, when failed, the failures' logs."""
    rows = []
    for s in states:
        mine = {n: j for n, j in jobs.items() if s.run.folder in j.get("runs", [])}
        row = {"run": s.run.folder, "state": s.state, "jobs": sorted({str(j["job_id"]) for j in mine.values()}),
               "failures": []}
        if s.state != "done":
            by_state = {j["state"] for j in mine.values()}
            row["state"] = ("running" if "running" in by_state or s.state == "running" else
                            "queued" if "queued" in by_state else "failed" if "failed" in by_state else s.state)
        if row["state"] == "failed":
            row["failures"] = [{"job": n, "job_id": j["job_id"], "message": j["message"], "log": j.get("stderr")}
                               for n, j in mine.items() if j["state"] == "failed"]
        rows.append(row)
    return rows


def job_lines(profile: str, states: list[RunState], root: Path) -> list[str]:
    """The cluster part of `status` (nothing when the profile was never submitted)."""
    jobs = job_states(root, profile)
    if not jobs:
        return []
    rows = run_jobs(states, jobs)
    counts = {k: sum(r["state"] == k for r in rows) for k in ("done", "queued", "running", "failed")}
    other = len(rows) - sum(counts.values())
    lines = [f"jobs of {profile} (record {root / profile / '.submit' / 'jobs.json'}): runs "
             + ", ".join(f"{n} {k}" for k, n in counts.items()) + (f", {other} not submitted" if other else "")]
    for row in rows:
        if row["state"] in ("queued", "running", "failed"):
            lines.append(f"  {row['state']:8s} {row['run']}  jobs {' '.join(row['jobs'])}")
            for f in row["failures"]:
                lines.append(f"    failed job {f['job_id']} ({f['job']}): {f['message']}; log {f['log']}")
    return lines


def plan_frame(jobs: list[Job], resources: dict[str, Resources]) -> pd.DataFrame:
    """One row per job: its name, kind, what it does, the jobs it waits for and its resources."""
    return pd.DataFrame([{"job": j.name, "kind": j.kind, "what": j.label, "after": len(j.deps),
                          "gpus": resources[j.kind].gpus, "cpus": resources[j.kind].cpus,
                          "minutes": resources[j.kind].minutes, "mem_gb": resources[j.kind].mem_gb} for j in jobs],
                        columns=["job", "kind", "what", "after", "gpus", "cpus", "minutes", "mem_gb"])


def plan_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per kind: how many jobs, their resources each, and the GPU-hours they may take at most."""
    rows = []
    for kind, part in frame.groupby("kind", sort=False):
        first = part.iloc[0]
        rows.append({"kind": kind, "jobs": len(part), "gpus": first.gpus, "cpus": first.cpus,
                     "minutes": first.minutes, "max GPU-hours": round(float((part.gpus * part.minutes).sum()) / 60, 1)})
    return pd.DataFrame(rows)


def dry_run(profile: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What `submit --profile PROFILE --dry-run` lists on an empty results folder: the summary per job kind
    (`plan_summary`) and one row per job (`plan_frame`), with the profile's resources (the book's appendix)."""
    from cu_core.experiments.grid import expand, load_profile, profile_path, read_yaml
    from .submit_plan import plan
    from cu_core.experiments.resources import profile_resources

    resources = profile_resources(read_yaml(profile_path(profile)).get("resources"))
    frame = plan_frame(plan(expand(load_profile(profile)), None), resources)
    return plan_summary(frame), frame


__all__ = ["dry_run", "job_lines", "job_states", "plan_frame", "plan_summary", "run_jobs"]
