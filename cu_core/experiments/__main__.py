"""`python -m cu_core.experiments`: run a profile's grid of templates (see `cu_core.experiments.grid`).

    python -m cu_core.experiments profiles
    python -m cu_core.experiments validate --profile quick           # or --all: every profile, template, table
    python -m cu_core.experiments list --profile quick
    python -m cu_core.experiments run --profile quick [--only compare_class] [--seeds 0 1] [--results-dir DIR]
    python -m cu_core.experiments run --profile cifar-cpu --threads 1    # one of two drivers on a 2-core machine
    python -m cu_core.experiments status --profile cifar-cpu          # done / missing / damaged / running runs

`run` first checks everything `validate` checks (the profile's schema, every run's parameters, the data archive,
CUDA where a run asks for it) and that the results and cache folders can be written; any problem stops it with
exit status 2 before any run starts. Runs whose results exist are skipped; a failed run does not stop the others;
every failure is listed at the end and the exit status is 1 when any run failed. Several drivers can share one
results folder (start one per core or per GPU): each claims a run with a lock, and lists the runs it left to a
live other driver as BUSY (not a failure). `validate` exits 2 on any problem (0 with notes about what this
machine lacks, 2 with `--strict`); `status` exits 0.

Cluster jobs (`submit`) and tuning at a budget (`tune`) build on this driver in their own package: `python -m cu_lab`.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence

from ..errors import ConfigError
from .grid import expand, load_profile, profiles


def add_selection(p: argparse.ArgumentParser, *, results: bool = True) -> None:
    p.add_argument("--only", nargs="+", default=None, metavar="NAME", help="only these experiments")
    p.add_argument("--seeds", nargs="+", type=int, default=None, help="replace the profile's seeds")
    if results:
        p.add_argument("--results-dir", default=None, help="default: $CU_RESULTS_DIR or <project>/data/results")


def add_status_flags(p: argparse.ArgumentParser) -> None:
    """The flags of `status` (profile, selection, `--json`); `python -m cu_lab status` adds the same."""
    p.add_argument("--profile", required=True, help="a profile name (see `python -m cu_core.experiments profiles`) "
                   "or a YAML file")
    add_selection(p)
    p.add_argument("--json", action="store_true", help="one JSON object instead of the text")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cu_core.experiments", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("profiles", help="list the profiles")
    validate = sub.add_parser("validate", help="check profiles, templates and input files; run nothing",
                              description="Check a profile (its schema, then every run's parameters as the "
                              "templates check them, and the data archive it reads) or, with --all, every profile, "
                              "every template's defaults and book/data/paper_tables.yaml. Nothing is run or "
                              "written. Exit 2 on any problem.")
    which = validate.add_mutually_exclusive_group(required=True)
    which.add_argument("--profile", help="a profile name (see `profiles`) or a YAML file")
    which.add_argument("--all", action="store_true", help="every profile, template and input file")
    validate.add_argument("--strict", action="store_true", help="what this machine lacks (CUDA, the CIFAR-10 "
                          "archive) is an error too, as for `run`")
    for name, text in (("list", "show the runs a profile expands to"), ("run", "execute a profile's runs"),
                       ("status", "show which runs are done, missing, damaged or running")):
        p = sub.add_parser(name, help=text)
        if name == "status":
            add_status_flags(p)
            continue
        p.add_argument("--profile", required=True, help="a profile name (see `profiles`) or a YAML file")
        add_selection(p)
        if name == "run":
            p.add_argument("--no-progress", action="store_true", help="no progress bar")
            p.add_argument("--threads", type=int, default=None, metavar="N",
                           help="PyTorch CPU threads of each notebook kernel (sets OMP_NUM_THREADS and "
                                "MKL_NUM_THREADS; default: the environment's, else one per core). With several "
                                "drivers on one machine give each cores / drivers, or they slow each other down")
    return parser


def _validate(args: argparse.Namespace) -> int:
    from .validate import iter_lines, validate_all, validate_profile

    reports = validate_all() if args.all else [validate_profile(args.profile)]
    for line in iter_lines(reports, args.strict):
        print(line)
    bad = [r for r in reports if not r.ok(args.strict)]
    if bad:
        print(f"error: {len(bad)} of {len(reports)} checked input(s) failed", file=sys.stderr)
        return 2
    return 0


def _preflight(args: argparse.Namespace) -> None:
    """Before `run` starts anything: every check of `validate` (machine included) and the folders it writes."""
    from .. import paths
    from ..errors import InputFileError
    from .validate import validate_profile

    report = validate_profile(args.profile, only=args.only, seeds=args.seeds, machine=True)
    if report.errors:
        raise InputFileError(report.source, report.errors)
    paths.writable_dir("results", args.results_dir, flag="--results-dir")
    paths.writable_dir("cache", None, flag="CU_CACHE_DIR")


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in ("submit", "tune"):  # their home since they left the core
        print(f"error: `{argv[0]}` is `python -m cu_lab {argv[0]}` (see `python -m cu_lab --help`)", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    if args.command == "profiles":
        code = 0
        for name in profiles():
            try:
                print(f"{name:16s} {load_profile(name).description}")
            except ConfigError as err:
                print(f"{name:16s} INVALID: {' '.join(str(err).split())[:200]}")
                code = 2
        return code
    if args.command == "validate":
        return _validate(args)
    if getattr(args, "threads", None) is not None and args.threads < 1:
        print(f"error: --threads must be a positive integer, got {args.threads}", file=sys.stderr)
        return 2
    try:
        profile = load_profile(args.profile)
        runs = expand(profile, only=args.only, seeds=args.seeds)
        if args.command == "run":
            _preflight(args)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.command == "list":
        for run in runs:
            print(run.folder, json.dumps(run.params, sort_keys=True), f"PROBLEM: {run.problem}" if run.problem else "")
        return 0
    if args.command == "status":
        from ..paths import results_dir
        from .status import report_json, report_lines, status

        root = results_dir(args.results_dir)
        states = status(runs, root)
        print(report_json(profile.name, states, root) if args.json
              else "\n".join(report_lines(profile.name, states, root)))
        return 0
    from .runner import run_grid, summary

    try:  # a filesystem without working locks, or an unwritable results folder, stops the driver before any run
        outcomes = run_grid(runs, results=args.results_dir, progress=not args.no_progress, threads=args.threads)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    result = summary(outcomes)
    print(json.dumps({k: v for k, v in result.items() if k not in ("failures", "busy")}))
    for busy in result["busy"]:
        print(f"BUSY {busy['run']}: {busy['message']}", file=sys.stderr)
    for failure in result["failures"]:
        print(f"FAILED {failure['run']}: {failure['message']}", file=sys.stderr)
    return 1 if result["failed"] else 0


def exit_with(entry: Callable[[], int]) -> None:
    """Run a command-line `entry` and exit with its status; a reader that leaves early (`... status | head`) gets
    no traceback (the command's own `__main__` guard calls this; `cu_lab` does too)."""
    try:
        sys.exit(entry())
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


if __name__ == "__main__":
    exit_with(main)
