"""The evaluation after a study: its best trial, and the method's default (its preset), on the test set of the
profile's seeds, each an ordinary run of the driver; and `summary.json`, what the book reads.

The best trial is chosen on the study's objective alone (validation and forget set); the test set is read here
for the first time, once per seed.
"""
from __future__ import annotations

from typing import Any

import optuna
from optuna.trial import TrialState

from cu_core.results_io import atomic_write_json
from cu_core.experiments.runs import run_dir, unlearning
from .tune_reuse import copy_run, find
from .tune_reuse import key as run_key
from .tune_setup import TunePlan
from .tune_study import spent


def evaluate_settings(plan: TunePlan, label: str, overrides: dict[str, Any]) -> list[dict[str, Any]]:
    """`overrides` (over the preset) on every evaluation seed, as `eval/runs/<label>-seed-S`; one row each."""
    rows = []
    for seed in plan.eval_seeds:
        name, cfg = f"{label}-seed-{seed}", plan.config(seed)
        path = run_dir(plan.eval_folder, name)
        if not path.exists() and (same := find([plan.eval_folder], run_key(cfg, plan.request.method, plan.preset,
                                                                     overrides))) is not None:
            copy_run(same, path)  # the other objective's best (or the default) had these settings
        m = unlearning(plan.eval_folder, name, cfg, plan.request.method,
                       preset=plan.preset, overrides=overrides)
        rows.append({"seed": seed, "avg_gap": m["gap"]["avg_gap"], "samples": m["cost"]["samples"],
                     "seconds": m["seconds"]["unlearn"], "forget_acc": m["acc"]["forget_train"]})
    return rows


def search_fields(study: optuna.Study) -> dict[str, Any]:
    """What a study's search did, read from its trials: spent, trials, complete, failed, and the best trial's
    number, value, params, values and samples (absent while no trial is complete)."""
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    fields: dict[str, Any] = {"spent": spent(study), "trials": len(trials), "complete": len(complete),
                              "failed": sum(t.state == TrialState.FAIL for t in trials)}
    if complete:
        best = min(complete, key=lambda t: t.value)
        fields.update(best_trial=best.number, best_value=best.value, best_params=dict(best.params),
                      best_values=best.user_attrs.get("values"), best_samples=best.user_attrs.get("samples"))
    return fields


def summarise(plan: TunePlan, study: optuna.Study) -> dict[str, Any]:
    """Evaluate the best trial and the default, write `<study>/summary.json`, return it."""
    req = plan.request
    summary: dict[str, Any] = {
        "profile": req.profile, "method": req.method, "task": req.task,
        "objective": req.objective, "budget": req.budget, "search_seed": req.seed, **search_fields(study),
        "eval_seeds": list(plan.eval_seeds), "preset": plan.preset, "params": plan.params,
        "default": evaluate_settings(plan, "default", {}),
    }
    if "best_params" in summary:
        summary["tuned"] = evaluate_settings(plan, req.objective, dict(summary["best_params"]))
    atomic_write_json(plan.folder / "summary.json", summary)
    return summary
