"""`python -m cu_core.experiments`: run a profile's grid of templates (see `cu_core.experiments.grid`).

    python -m cu_core.experiments profiles
    python -m cu_core.experiments list --profile quick
    python -m cu_core.experiments run --profile quick [--only compare_class] [--seeds 0 1] [--results-dir DIR]
    python -m cu_core.experiments run --profile cifar-cpu --threads 1    # one of two drivers on a 2-core machine

Runs whose results exist are skipped; a failed run does not stop the others; every failure is listed at the end
and the exit status is 1 when any run failed (2 for a bad command line or profile). Several drivers can share
one results folder (start one per core or per GPU): each claims a run with a lock file, and lists the runs it
left to a live other driver as BUSY (not a failure).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from ..errors import ConfigError
from .grid import expand, load_profile, profiles


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cu_core.experiments", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("profiles", help="list the profiles")
    for name, text in (("list", "show the runs a profile expands to"), ("run", "execute a profile's runs")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--profile", required=True, help="a profile name (see `profiles`) or a YAML file")
        p.add_argument("--only", nargs="+", default=None, metavar="NAME", help="only these experiments")
        p.add_argument("--seeds", nargs="+", type=int, default=None, help="replace the profile's seeds")
        p.add_argument("--results-dir", default=None, help="default: $CU_RESULTS_DIR or <project>/data/results")
        if name == "run":
            p.add_argument("--no-progress", action="store_true", help="no progress bar")
            p.add_argument("--threads", type=int, default=None, metavar="N",
                           help="PyTorch CPU threads of each notebook kernel (sets OMP_NUM_THREADS and "
                                "MKL_NUM_THREADS; default: the environment's, else one per core). With several "
                                "drivers on one machine give each cores / drivers, or they slow each other down")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "profiles":
        for name in profiles():
            print(f"{name:10s} {load_profile(name).description}")
        return 0
    if getattr(args, "threads", None) is not None and args.threads < 1:
        print(f"error: --threads must be a positive integer, got {args.threads}", file=sys.stderr)
        return 2
    try:
        runs = expand(load_profile(args.profile), only=args.only, seeds=args.seeds)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.command == "list":
        for run in runs:
            print(run.folder, json.dumps(run.params, sort_keys=True), f"PROBLEM: {run.problem}" if run.problem else "")
        return 0
    from .runner import run_grid, summary

    result = summary(run_grid(runs, results=args.results_dir, progress=not args.no_progress, threads=args.threads))
    print(json.dumps({k: v for k, v in result.items() if k not in ("failures", "busy")}))
    for busy in result["busy"]:
        print(f"BUSY {busy['run']}: {busy['message']}", file=sys.stderr)
    for failure in result["failures"]:
        print(f"FAILED {failure['run']}: {failure['message']}", file=sys.stderr)
    return 1 if result["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
