"""`python -m cu_lab tune`: one method's hyperparameters searched at a budget of processed examples.

    python -m cu_lab tune --profile quick --method contrastive --task class --budget 200000
    python -m cu_lab tune ... --objective retrain-free      # no Retrain in the criterion
    python -m cu_lab tune ... --no-eval                     # the search only (e.g. a second process)

Start the same command in several processes (or cluster jobs) to share one study; run it again to resume.
Every parameter is checked before any work (exit 2 naming it). After the budget is spent the best trial and the
method's default are evaluated on the profile's seeds (test set) and `summary.json` is written.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from cu_core.errors import ConfigError
from .tune_objectives import OBJECTIVES, OBJECTIVE_TEXT


def add_parser(sub: Any) -> None:
    """The `tune` sub-command's arguments."""
    p = sub.add_parser("tune", help="search a method's hyperparameters at a budget of processed examples",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", required=True, help="a profile name or YAML file (its data, model and preset)")
    p.add_argument("--method", required=True, help="a registered method with a search space")
    p.add_argument("--task", required=True, help="class | sample (the profile's compare_methods experiment)")
    p.add_argument("--budget", required=True, type=_int("--budget"), metavar="N",
                   help="examples processed (forward + backward, the runs' cost.samples) over all trials")
    p.add_argument("--objective", default="oracle", help="; ".join(f"{k}: {v}" for k, v in OBJECTIVE_TEXT.items()))
    p.add_argument("--seed", type=_int("--seed"), default=0, help="split seed of the search and sampler seed")
    p.add_argument("--eval-seeds", nargs="+", type=_int("--eval-seeds"), default=None,
                   help="seeds of the test evaluation (default: the profile's)")
    p.add_argument("--max-trials", type=_int("--max-trials"), default=None, help="also stop after this many trials")
    p.add_argument("--no-eval", action="store_true", help="search only; no test evaluation")
    p.add_argument("--results-dir", default=None, help="default: $CU_RESULTS_DIR or <project>/data/results")
    p.add_argument("--threads", type=_int("--threads"), default=None, metavar="N", help="PyTorch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _int(flag: str) -> Any:
    def parse(text: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be an integer, got {text!r}") from None
    return parse


def tune_main(args: argparse.Namespace) -> int:
    """Check the request (exit 2 on a bad one), run the study, evaluate; print the summary as JSON."""
    from .tune_setup import TuneRequest, check_request

    if args.threads is not None and args.threads < 1:
        print(f"error: --threads must be a positive integer, got {args.threads}", file=sys.stderr)
        return 2
    try:
        if args.objective not in OBJECTIVES:
            raise ConfigError("objective", args.objective, "one of " + ", ".join(OBJECTIVES))
        plan = check_request(TuneRequest(args.profile, args.method, args.task, args.budget, args.objective,
                                         args.seed, None if args.eval_seeds is None else tuple(args.eval_seeds),
                                         args.max_trials, args.results_dir, None, not args.no_progress))
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.threads is not None:
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)
        import torch

        torch.set_num_threads(args.threads)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from .tune_study import run_study

    study = run_study(plan)
    if args.no_eval:
        from .tune_study import spent

        print(json.dumps({"study": str(plan.folder), "trials": len(study.trials), "spent": spent(study)}))
        return 0
    from .tune_eval import summarise

    summary = summarise(plan, study)
    print(json.dumps({k: summary.get(k) for k in ("method", "task", "objective", "budget", "spent", "trials",
                                                  "best_value", "best_params")}))
    return 0
