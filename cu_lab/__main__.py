"""`python -m cu_lab`: campaigns on top of the experiment driver (`python -m cu_core.experiments`).

    python -m cu_lab submit --profile paper --dry-run          # the jobs and the resources of each
    python -m cu_lab submit --profile paper --partition gpu    # Slurm jobs; submit again to resume
    python -m cu_lab submit --profile smoke --executor local   # local processes; waits
    python -m cu_lab status --profile paper                    # runs done / missing / damaged and the jobs' states
    python -m cu_lab tune --profile quick --method contrastive --task class --budget 48000

`submit` (`cu_lab.submit_cli`) and `tune` (`cu_lab.tune_cli`) check every flag and the profile before any work: a
bad value exits 2 naming the flag, the value and what is allowed. `status` is the driver's `status` plus the state
of every job an earlier `submit` recorded (queued, running, done, failed); it exits 0.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from cu_core.errors import ConfigError
from cu_core.experiments.__main__ import add_selection, add_status_flags, exit_with
from cu_core.experiments.grid import Run, expand, load_profile

from . import submit_cli, tune_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cu_lab", description=(__doc__ or "").split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    submit_cli.add_parser(sub, add_selection)
    add_status_flags(sub.add_parser("status", help="which runs are done, missing, damaged or running, and the "
                                    "state of every job `submit` recorded (queued, running, done, failed)"))
    tune_cli.add_parser(sub)
    return parser


def _status(args: argparse.Namespace, profile_name: str, runs: list[Run]) -> int:
    from cu_core.experiments.status import report_dict, report_lines, status
    from cu_core.paths import results_dir

    from .submit_status import job_lines, job_states, run_jobs

    root = results_dir(args.results_dir)
    states = status(runs, root)
    if args.json:
        jobs = job_states(root, profile_name)
        print(json.dumps({**report_dict(profile_name, states, root), "jobs": run_jobs(states, jobs) if jobs else []}))
        return 0
    print("\n".join(report_lines(profile_name, states, root) + job_lines(profile_name, states, root)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "tune":
        return tune_cli.tune_main(args)
    try:
        profile = load_profile(args.profile)
        runs = expand(profile, only=args.only, seeds=args.seeds)
        if args.command == "submit":
            submit_cli.preflight(args)
            return submit_cli.submit_main(args, profile, runs)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return _status(args, profile.name, runs)


if __name__ == "__main__":
    exit_with(main)
