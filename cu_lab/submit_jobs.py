"""What one cluster job does on its node (`JobTask`, pickled by submitit), and the small state file it keeps.

Every job writes `<results>/<profile>/.submit/state/<job>.json` (atomically) when it starts ("running", with
its host, pid and Slurm job id), when it ends ("done", or "failed" with the error in one line), when submitit
requeues it ("requeued") and nothing else: `cu_lab.submit_status` reads these files, the job record
and the queue.

The work reuses the in-process driver and its locks: a reference job trains through the checkpoint cache (one
`flock` per checkpoint: a model needed by two jobs is trained once, a killed training resumes from its last
epoch); a method job computes one sub-run into the run's staging folder under a lock of its own (atomic, skipped
when complete); a run job is the driver's `execute` (the run's claim; busy: it waits for the holder, then checks
again). So a job started twice, killed or requeued never duplicates or loses a finished sub-run.

`JobTask` is `submitit.helpers.Checkpointable`. Submitit asks Slurm to send the job USR2 90 s before its time
limit (`--signal=USR2@90`), the signal it also expects on preemption; its handler then requeues the same job
(`scontrol requeue`: same job id, up to `max_num_timeout` times after time limits) and exits. A job requeued by
Slurm itself (`scontrol requeue` by hand, preemption with `PreemptMode=REQUEUE`) is killed and started again the
same way. Either way the job starts again from its beginning and resumes from what is on disk, and the jobs that
depend on it keep waiting for it (its job id does not change).
"""
from __future__ import annotations

import os
import socket
import time
import traceback
from pathlib import Path
from typing import Any

import submitit

from cu_core.locks import hold
from cu_core.results import atomic_write_json
from .submit_plan import Job, staging_folder, template_values

STATE_DIR = Path(".submit") / "state"


def submit_dir(root: Path, profile: str) -> Path:
    """`<results>/<profile>/.submit/`: the job record, the jobs' state files and (by default) their logs."""
    return Path(root) / profile / ".submit"


def state_file(root: Path, profile: str, job: str) -> Path:
    return submit_dir(root, profile) / "state" / f"{job}.json"


def _slurm_id() -> str | None:
    try:
        return str(submitit.JobEnvironment().job_id)
    except RuntimeError:  # not inside a submitit job (the debug executor)
        return None


def mark(root: Path, profile: str, job: Job, state: str, message: str = "") -> None:
    """Write the job's state file: state, time, host, pid, job id and message."""
    atomic_write_json(state_file(root, profile, job.name), {
        "job": job.name, "kind": job.kind, "state": state, "time": time.time(), "host": socket.gethostname(),
        "pid": os.getpid(), "job_id": _slurm_id() or os.environ.get("SLURM_JOB_ID"), "message": message[:2000]})


class JobTask(submitit.helpers.Checkpointable):
    """A picklable job: `Job`, the results folder, the profile, the environment to set (the submitting shell's
    `CU_*` folders) and the CPU threads of the job. Calling it does the work; raises when it fails."""

    def __init__(self, job: Job, root: str, profile: str, env: dict[str, str], threads: int) -> None:
        self.job, self.root, self.profile, self.env, self.threads = job, root, profile, env, threads

    def __call__(self) -> str:
        import torch

        saved, threads = dict(os.environ), torch.get_num_threads()  # restored after: debug jobs run in-process
        os.environ.update(self.env)
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(self.threads)
        os.environ.setdefault("TQDM_DISABLE", "1")
        torch.set_num_threads(self.threads)
        root = Path(self.root)
        mark(root, self.profile, self.job, "running")
        try:
            message = WORK[self.job.kind](self.job, root)
        except SystemExit:  # submitit's preemption/timeout handler: it has requeued this job, then exits
            mark(root, self.profile, self.job, "requeued", "preempted or timed out: requeued by submitit")
            raise
        except BaseException as err:  # noqa: BLE001 - recorded, then raised again (the job fails)
            text = " ".join(f"{type(err).__name__}: {err}".split())
            mark(root, self.profile, self.job, "failed", text)
            traceback.print_exc()
            raise
        finally:
            os.environ.clear()
            os.environ.update(saved)
            torch.set_num_threads(threads)
        mark(root, self.profile, self.job, "done", message)
        print(f"{self.job.name}: {message}", flush=True)
        return message


def _reference(job: Job, root: Path) -> str:
    from cu_core.config import RunConfig
    from cu_core.pipeline import prepare, train_reference

    prep = prepare(RunConfig.from_dict(job.payload["config"]))
    result = train_reference(prep, retrain=job.payload["retrain"])
    return f"{'loaded' if result.cache_hit else 'trained'} {job.label}: {result.checkpoint}"


def _method(job: Job, root: Path) -> str:
    from cu_core.results import read_metrics
    from cu_core.experiments import runs
    from cu_core.experiments.params import check_parameters
    from cu_core.experiments.status import run_state

    run, p = job.run, job.payload
    assert run is not None
    if run_state(root / run.folder)[0] == "done":
        return f"skipped {job.label}: its run is complete"
    staging = staging_folder(root, run)
    sub = staging / "runs" / p["subrun"]
    lock = submit_dir(root, run.profile) / "locks" / f"{run.experiment}.{run.run_id}.{p['subrun']}.lock"
    with hold(lock, what=job.label):  # beside the record: the experiment folder holds the driver's files only
        if read_metrics(sub / "metrics.json") is not None:
            return f"skipped {job.label}: complete"
        cfg = check_parameters(**template_values(run))
        runs.unlearning(staging, p["subrun"], cfg, p["method"], preset=p["preset"], overrides=p["overrides"],
                        ulira_shadows=p["ulira_shadows"])
    return f"computed {job.label} in {sub}"


def _run(job: Job, root: Path) -> str:
    from cu_core.experiments.runner import execute, lock_path

    run = job.run
    assert run is not None
    while True:
        outcome = execute(run, root)
        if outcome.status == "failed":
            raise RuntimeError(f"run {run.folder} failed: {outcome.message}")
        if outcome.status != "busy":
            return f"{outcome.status} {run.folder} ({outcome.seconds:.0f} s)"
        print(f"{run.folder} is {outcome.message}; waiting for it", flush=True)
        with hold(lock_path(root / run.folder), what=f"run {run.folder}"):
            pass


WORK: dict[str, Any] = {"originals": _reference, "retrains": _reference, "methods": _method, "runs": _run}

__all__ = ["JobTask", "WORK", "mark", "state_file", "submit_dir"]
