"""The request of `python -m cu_lab tune`, checked before any work, and where its study lives.

    <results>/<profile>/tuning/<task>/<method>/<objective>/     one study: journal.log (Optuna's journal, the
        trial log several processes share), references.json, request.json, runs/trial-NNNN/ (ordinary run
        folders, written by the driver's `runs.unlearning`)
    <results>/<profile>/tuning/<task>/<method>/eval/runs/<default|oracle|retrain-free>-seed-S/   the test runs
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cu_core.config import RunConfig
from cu_core.errors import ConfigError, check_choice, check_int, check_seed, did_you_mean
from cu_core.paths import TUNING_DIR, results_dir
from cu_core.unlearn import METHODS
from cu_core.experiments.grid import load_profile
from cu_core.experiments.overrides import RUN_PARAMETERS, run_config
from .tune_objectives import OBJECTIVES

TEMPLATE = "compare_methods.ipynb"  # the experiments whose task and data a study takes from its profile


@dataclass(frozen=True)
class TuneRequest:
    """One study: `method` on `task` of `profile`, `budget` processed examples (forward + backward, the runs'
    `cost.samples` summed), minimising `objective`; the search on split seed `seed`, the evaluation on `eval_seeds`
    (None: the profile's seeds)."""

    profile: str
    method: str
    task: str
    budget: int
    objective: str = "oracle"
    seed: int = 0
    eval_seeds: tuple[int, ...] | None = None
    max_trials: int | None = None
    results_dir: str | None = None
    cache_dir: str | None = None
    progress: bool = True


@dataclass(frozen=True)
class TunePlan:
    """A checked request with what it resolves to: the run parameters of the task, its preset, the folders."""

    request: TuneRequest
    params: dict[str, Any]
    preset: str
    eval_seeds: tuple[int, ...]
    folder: Path  # the study's folder
    eval_folder: Path

    def config(self, seed: int) -> RunConfig:
        """The run's config on split seed `seed`."""
        return run_config(**{**{k: v for k, v in self.params.items() if k in RUN_PARAMETERS}, "seed": seed})


def task_params(profile_name: str, task: str) -> tuple[dict[str, Any], list[int]]:
    """The parameters of `profile`'s first `compare_methods` experiment on `task`, and its seeds."""
    profile = load_profile(profile_name)
    for spec in profile.experiments.values():
        params = {**profile.defaults, **(spec.get("params") or {})}
        if spec.get("template") == TEMPLATE and params.get("task", "class") == task:
            return params, list(spec.get("seeds", profile.seeds))
    raise ConfigError("task", task, f"a task of profile {profile_name!r}: it has no {TEMPLATE} experiment on it")


def check_request(req: TuneRequest) -> TunePlan:
    """Every parameter of `req`, before any work (`ConfigError` naming it), and the plan it resolves to."""
    check_choice("method", req.method, METHODS)
    method = METHODS[req.method]
    if not method.space:
        raise ConfigError("method", req.method, "a method with a search space (Retrain, the reference, has none): "
                          + ", ".join(n for n, m in METHODS.items() if m.space))
    check_choice("task", req.task, ("class", "sample"))
    if req.task not in method.tasks:
        raise ConfigError("task", req.task, f"a task of {req.method!r}: {', '.join(method.tasks)}")
    if isinstance(req.budget, bool) or not isinstance(req.budget, int) or req.budget < 1:
        raise ConfigError("budget", req.budget, "a positive integer: examples processed (forward + backward) over "
                          "all trials, e.g. 100000")
    if req.objective not in OBJECTIVES:
        raise ConfigError("objective", req.objective, "one of " + ", ".join(OBJECTIVES)
                          + did_you_mean(str(req.objective), OBJECTIVES))
    check_seed("seed", req.seed)
    if req.max_trials is not None:
        check_int("max_trials", req.max_trials, 1)
    params, seeds = task_params(req.profile, req.task)
    eval_seeds = tuple(seeds if req.eval_seeds is None else req.eval_seeds)
    for s in eval_seeds:
        check_seed("eval_seeds", s)
    plan_params = {**params, "seed": req.seed}
    run_config(**{k: v for k, v in plan_params.items() if k in RUN_PARAMETERS})  # the run's own checks
    root = results_dir(req.results_dir) / load_profile(req.profile).name / TUNING_DIR / req.task / req.method
    return TunePlan(req, plan_params, str(params.get("preset", "defaults")), eval_seeds, root / req.objective,
                    root / "eval")
