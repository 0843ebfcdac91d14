"""`python -m cu_lab submit`: a profile's runs as cluster jobs (Slurm through submitit), local
processes or in-process jobs, resumable by submitting again.

    python -m cu_lab submit --profile paper --partition gpu          # Slurm; returns at once
    python -m cu_lab submit --profile paper --dry-run                # the jobs and their resources
    python -m cu_lab submit --profile smoke --executor local         # 2 local processes; waits
    python -m cu_lab status --profile paper                          # runs done/queued/running/failed

The jobs (`cu_lab.submit_plan`), what they run (`submit_jobs`), how they are handed over
(`submit_exec`) and followed (`submit_status`) are documented in their modules. Every flag is checked before any
work: a bad value exits 2 naming the flag, the value and what is allowed; so does a profile that `validate`
refuses (with `--executor slurm` the submitting machine's lack of a GPU is not an error: the jobs run elsewhere).
Exit status: 0 when everything was submitted (Slurm) or every job succeeded (local, debug), 1 when a job failed.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable

EXECUTORS = ("slurm", "local", "debug")


def _number(kind: type, low: float, *, above: bool = False) -> Callable[[str], Any]:
    """An argparse type: a `kind` number >= low (> low with `above`); the error names what is allowed."""
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or value != value or value in (float("inf"), float("-inf")) or (
                value <= low if above else value < low):
            word = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not allowed: expected {word} {'>' if above else '>='} "
                                             f"{low:g}")
        return value
    parse.__name__ = kind.__name__  # what argparse calls the type in its messages
    return parse


def add_parser(sub: Any, add_selection: Callable[[argparse.ArgumentParser], None]) -> None:
    """The `submit` subcommand and its flags."""
    p = sub.add_parser("submit", help="run a profile as cluster jobs (Slurm), local processes or in-process jobs",
                       description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--profile", required=True, help="a profile name (see `profiles`) or a YAML file")
    add_selection(p)
    p.add_argument("--executor", choices=EXECUTORS, default="slurm",
                   help="slurm (sbatch, returns at once), local (processes here, waits) or debug (in this process)")
    p.add_argument("--partition", default=None, help="Slurm partition (default: the cluster's default)")
    p.add_argument("--gpus-per-job", type=_number(int, 0), default=None, metavar="N",
                   help="GPUs of every job (default: the profile's `resources`, else 0)")
    p.add_argument("--cpus-per-job", type=_number(int, 1), default=None, metavar="N", help="CPU cores of every job")
    p.add_argument("--time", type=_number(int, 1), default=None, metavar="MINUTES", help="time limit of every job")
    p.add_argument("--mem-gb", type=_number(float, 0, above=True), default=None, metavar="GB",
                   help="memory of every job (default: the partition's)")
    p.add_argument("--array-parallelism", type=_number(int, 1), default=None, metavar="N",
                   help="at most N jobs at once (Slurm: N job names with --dependency=singleton; local: default 2)")
    p.add_argument("--logs", default=None, metavar="DIR", help="job logs (default <results>/<profile>/.submit/logs;"
                   " on a cluster it must be on the shared filesystem)")
    p.add_argument("--dry-run", action="store_true", help="list the jobs and their resources; submit nothing")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (local, debug)")


def _environment(root: Path) -> dict[str, str]:
    """The folders the jobs must use, as this shell resolves them (absolute)."""
    from cu_core import paths

    return {"CU_RESULTS_DIR": str(root), "CU_CACHE_DIR": str(paths.cache_dir().resolve()),
            "CU_DATA_DIR": str(paths.data_dir().resolve())}


def preflight(args: argparse.Namespace) -> None:
    """What must hold before anything is planned: sbatch for Slurm, the profile as `validate` checks it, the
    results, cache and logs folders writable. Raises `ConfigError` (exit 2)."""
    from cu_core import paths
    from cu_core.errors import ConfigError, InputFileError
    from cu_core.experiments.validate import validate_profile

    if args.executor == "slurm" and not args.dry_run and shutil.which("sbatch") is None:
        raise ConfigError("--executor", "slurm", "a machine where sbatch is on PATH (a Slurm login node); here "
                          "there is none: use --executor local, or --dry-run to list the jobs")
    report = validate_profile(args.profile, only=args.only, seeds=args.seeds,
                              machine=args.executor != "slurm" and not args.dry_run)
    if report.errors:
        raise InputFileError(report.source, report.errors)
    if not args.dry_run:
        paths.writable_dir("results", args.results_dir, flag="--results-dir")
        paths.writable_dir("cache", None, flag="CU_CACHE_DIR")
        if args.logs:
            paths.probe_writable(Path(args.logs), "--logs")


def submit_main(args: argparse.Namespace, profile: Any, runs: list[Any]) -> int:
    """Plan, then list (`--dry-run`), submit (Slurm) or run (local, debug) the jobs; print what was done."""
    from cu_core import paths
    from cu_core.errors import ConfigError
    from cu_core.results import atomic_write_json
    from cu_core.experiments.grid import profile_path, read_yaml
    from cu_core.experiments.status import status
    from .submit_exec import Options, load_record, record_path, run_here, submit_slurm
    from .submit_jobs import state_file, submit_dir
    from .submit_plan import plan
    from cu_core.experiments.resources import profile_resources
    from .submit_status import job_lines, job_states, plan_frame, plan_summary

    root = paths.results_dir(args.results_dir).resolve()
    resources = profile_resources(read_yaml(profile_path(args.profile)).get("resources"),
                                  {"gpus": args.gpus_per_job, "cpus": args.cpus_per_job, "minutes": args.time,
                                   "mem_gb": args.mem_gb})
    known = job_states(root, profile.name) if not args.dry_run else {}
    alive = {n: str(e["job_id"]) for n, e in known.items() if e["state"] in ("queued", "running")}
    if alive and args.executor != "slurm":
        raise ConfigError("--executor", args.executor, f"a profile none of whose jobs is still running: {len(alive)} "
                          f"job(s) of an earlier submit are ({', '.join(sorted(alive.values())[:5])}); wait for "
                          "them (`status`) or stop them first")
    done_refs = {n for n, e in known.items() if e["state"] == "done" and e["kind"] in ("originals", "retrains")}
    jobs = plan(runs, root, done_jobs=done_refs)
    if args.dry_run:
        frame = plan_frame(jobs, resources)
        print(f"profile {profile.name}: {len(frame)} job(s) to submit for results in {root / profile.name}")
        if len(frame):
            print(plan_summary(frame).to_string(index=False))
            print(frame.drop(columns=["mem_gb"]).to_string(index=False, max_colwidth=70))
        return 0
    if not jobs:
        print(f"profile {profile.name}: every run is done in {root / profile.name}; nothing to submit")
        return 0
    logs = Path(args.logs).resolve() if args.logs else submit_dir(root, profile.name) / "logs"
    opts = Options(profile.name, root, args.executor, resources, logs, _environment(root), args.partition,
                   args.array_parallelism)
    record = load_record(root, profile.name)
    record.update(profile=profile.name, results=str(root))
    record.setdefault("submissions", []).append({"time": time.time(), "executor": args.executor,
                                                 "argv": sys.argv[1:], "jobs": len(jobs)})
    for job in jobs:  # an earlier attempt's state file says nothing about this one
        if job.name not in alive:
            state_file(root, profile.name, job.name).unlink(missing_ok=True)
    atomic_write_json(record_path(root, profile.name), record)
    if args.executor == "slurm":
        lines = submit_slurm(jobs, opts, alive, record)
    else:
        lines = run_here(jobs, opts, record, progress=not args.no_progress)
    print("\n".join(lines))
    print(f"{len(jobs)} job(s) for profile {profile.name}; logs in {logs}; record {record_path(root, profile.name)}")
    states = status(runs, root)
    print("\n".join(job_lines(profile.name, states, root)))
    if args.executor == "slurm":
        print(f"follow them: python -m cu_lab status --profile {args.profile} --results-dir {root}; "
              "submit again to resume (done runs are skipped, queued and running jobs kept, failed ones retried)")
        return 0
    failed = [job for job in jobs if job_states(root, profile.name).get(job.name, {}).get("state") == "failed"]
    return 1 if failed else 0


__all__ = ["EXECUTORS", "add_parser", "preflight", "submit_main"]
