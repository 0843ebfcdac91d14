"""One training run end to end: data → split → model (original or retrained) → accuracies → result files.

`run_training` is what `python -m cu_core train` calls; notebooks and the experiment driver call it too.

Before any work the output folder is checked (`check_out_dir`): only a new path, an empty folder or a results
folder this project wrote is accepted. A run that diverges (a non-finite loss, weight, model output or
measurement) stops with a `FloatingPointError` naming the step and the hyperparameters, and writes nothing:
no NaN is ever written as a finished result (`require_finite`, then the schema in `results.write_run_dir`).

The run's data and reference models come from `cu_core.references` (`Prepared`, `prepare`, `train_reference`,
`train_reference_on`, `selection_split`), its checks and records from `cu_core.pipeline_records` (`check_out_dir`,
`require_finite`, `rows_csv`); both are re-exported here.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import paths
from .assess import assess, assess_reference, training_cost, write_run
from .config import RunConfig
from .data import Part
from .errors import ConfigError, check_choice, check_int
from .gap import avg_gap
from .references import (
    Prepared,
    prepare,
    selection_split,
    train_reference,
    train_reference_on,  # noqa: F401  (re-exported: from cu_core.pipeline import train_reference_on)
)
from .pipeline_records import (
    _diverged,
    _display_path,
    _provenance,
    _settings,
    check_out_dir,
    require_finite,
    rows_csv,
)
from .ulira import shadow_halves, shadow_scores, ulira_attack
from .unlearn import METHODS, unlearn
from .unlearn.contrastive import stopping_set
from .unlearn.presets import preset_for, preset_name
from .unlearn.retrain import RetrainConfig


def run_training(cfg: RunConfig, *, retrain: bool = False, out_dir: str | Path | None = None,
                 cache_dir: str | Path | None = None) -> dict[str, Any]:
    """Train (or load) the original or retrained model, assess it and write `out_dir` atomically.

    Writes `metrics.json` (schema: `cu_core.schema`), `history.csv` and `outputs.npz`; returns the metrics.
    """
    check_out_dir(out_dir)
    prep = prepare(cfg, cache_dir=cache_dir)
    what = f"training the {'retrained' if retrain else 'original'} model"
    try:
        result = train_reference(prep, retrain=retrain, cache_dir=cache_dir)
        ev, found, eval_seconds = assess(result.model, prep, seed=cfg.split.seed)
    except FloatingPointError as err:
        raise _diverged(err, what, _settings(cfg.train)) from err
    n_train = len(prep.split.retain if retrain else prep.split.train)
    metrics = {
        "kind": "retrain" if retrain else "original",
        **found,
        "seconds": {"train": result.seconds, "eval": eval_seconds},
        "cost": training_cost(n_train, len(result.history), cfg.train.batch_size),
        "rte": 1.0 if retrain else None,
        **_provenance(prep),
        "checkpoint": _display_path(result.checkpoint),
        "cache_hit": result.cache_hit,
        "best_epoch": result.best_epoch,
        "selected_on": selection_split(prep.split, retrain),
    }
    try:
        require_finite(metrics)
    except FloatingPointError as err:
        raise _diverged(err, what, _settings(cfg.train)) from err
    write_run(out_dir, metrics, {"history.csv": rows_csv(result.history)}, ev)
    return metrics


def heldout_part(prep: Prepared, stop_rule: str) -> Part:
    """What CU's stopping rule evaluates besides the forget set (Eq. 8/9), from `Prepared.parts`."""
    forget, _, heldout = prep.parts(stop_rule)
    return stopping_set(heldout, forget, prep.split.task)


def run_unlearning(cfg: RunConfig, mcfg: Any = None, *, method: str = "contrastive",
                   out_dir: str | Path | None = None, cache_dir: str | Path | None = None,
                   ulira_shadows: int = 0, preset: str | dict[str, Any] | None = None) -> dict[str, Any]:
    """Load (or train and cache) the original and retrained models, unlearn with `method` (any name in
    `cu_core.unlearn.METHODS`; `mcfg` its config), assess the unlearned model next to Retrain, write.

    Without `mcfg` the method starts, as on the command line and in the driver, from its dataset's preset
    (`cu_core.unlearn.presets`; `preset` names another table, or "none" for the public defaults), and
    metrics.json records it as "preset" ({"name", "settings"}). A caller that built `mcfg` itself may pass the
    record of the preset it applied as `preset` (a dict), to be written the same way.

    Writes `metrics.json` (the training schema plus "method", "epochs", "steps", "samples", "stop_reason",
    "unlearn_config", the original's and Retrain's accuracies, attacks and probe, the Avg. Gap to Retrain,
    cost and RTE = Retrain's training seconds / unlearning seconds), `history.csv` (one row per optimiser
    step), `passes.csv` (one row per pass: forget accuracy, and for CU the held-out accuracy and the
    stopping check) and `outputs.npz`. With `ulira_shadows > 0` the U-LiRA-style shadow attack on the method
    is added ("ulira").
    """
    check_out_dir(out_dir)
    check_choice("method", method, METHODS)
    if METHODS[method].reference:  # Retrain uses exactly the original model's recipe (and shares its cache)
        mcfg = RetrainConfig(**dataclasses.asdict(cfg.train), cache_dir=None if cache_dir is None else str(cache_dir))
    elif mcfg is None:  # the method's defaults with its dataset's preset, as the command line and the driver do
        name = preset_name(cfg.data.dataset, preset if isinstance(preset, str) else None)
        preset = {"name": name, "settings": preset_for(cfg.data.dataset, method, name)}
        mcfg = METHODS[method].config(**preset["settings"])
    if cfg.split.task not in METHODS[method].tasks:
        raise ConfigError("task", cfg.split.task, f"method {method!r} supports {', '.join(METHODS[method].tasks)} "
                          "tasks only")
    if ulira_shadows:  # validated before any work: an even pool of >= 8 (every example in and out of >= 3 others)
        check_int("ulira_shadows", ulira_shadows, 8)
        shadow_halves(np.arange(4), ulira_shadows, 0)
    prep = prepare(cfg, cache_dir=cache_dir)
    try:
        original = train_reference(prep, retrain=False, cache_dir=cache_dir)
        retrained = train_reference(prep, retrain=True, cache_dir=cache_dir)
    except FloatingPointError as err:
        raise _diverged(err, "training the reference models", _settings(cfg.train)) from err
    settings = _settings(mcfg)
    split = prep.split
    forget_all, retain_all, val = prep.parts(getattr(mcfg, "stop_rule", None))  # CU's paper rule: test

    def unlearn_fn(model: torch.nn.Module, forget: Part, retain: Part):
        return unlearn(method, model, forget, retain, val, mcfg, task=split.task, num_classes=prep.num_classes)

    seed = cfg.split.seed
    try:
        result = unlearn_fn(original.model, forget_all, retain_all)
        ev, found, eval_seconds = assess(result.model, prep, seed=seed)
        found_original = assess_reference(original, prep, seed=seed, cache_dir=cache_dir)
        found_retrain = assess_reference(retrained, prep, seed=seed, cache_dir=cache_dir)
    except FloatingPointError as err:
        raise _diverged(err, f"unlearning with {method!r}", settings) from err
    metrics = {
        "kind": "unlearn",
        "method": method,
        **found,
        "seconds": {"unlearn": result.seconds["unlearn"], "eval": result.seconds["eval"] + eval_seconds,
                    "stop_checks": result.seconds["eval"], "original_train": original.seconds,
                    "retrain_train": retrained.seconds},
        "cost": {"steps": result.steps, "samples": result.samples,
                 "retrain_samples": training_cost(len(retain_all), len(retrained.history),
                                                  cfg.train.batch_size)["samples"]},
        "rte": retrained.seconds / max(result.seconds["unlearn"], 1e-9),
        "epochs": result.epochs,
        "steps": result.steps,
        "samples": result.samples,
        "stop_reason": result.stop_reason,
        "unlearn_config": dataclasses.asdict(mcfg),
        **({"preset": preset} if isinstance(preset, dict) else {}),
        "acc_original": found_original["acc"],
        "mia_original": found_original["mia"],
        "probe_original": found_original["probe"],
        "acc_retrain": found_retrain["acc"],
        "mia_retrain": found_retrain["mia"],
        "probe_retrain": found_retrain["probe"],
        **_provenance(prep),
        "checkpoint": _display_path(original.checkpoint),
    }
    metrics["gap"] = avg_gap(metrics, {"acc": found_retrain["acc"], "mia": found_retrain["mia"],
                                       "config": metrics["config"], "split_sha256": metrics["split_sha256"]})
    if ulira_shadows:
        scores, trained = shadow_scores(prep, ulira_shadows, lambda m, f, r: unlearn_fn(m, f, r).model,
                                        f"{method}:{json.dumps(dataclasses.asdict(mcfg), sort_keys=True)}",
                                        seed=seed, cache_dir=cache_dir)
        metrics["ulira"] = ulira_attack(scores, trained)
    try:
        require_finite(metrics)
    except FloatingPointError as err:
        raise _diverged(err, f"unlearning with {method!r}", settings) from err
    write_run(out_dir, metrics, {"history.csv": rows_csv(result.history), "passes.csv": rows_csv(result.passes)}, ev)
    return metrics


def quickstart(results_dir: str | Path | None = None, cache_dir: str | Path | None = None,
               cfg: RunConfig | None = None) -> dict[str, dict[str, Any]]:
    """The default (smallest) experiment: the original and the retrained model of the default config.

    Writes `<results>/quickstart/original/` and `<results>/quickstart/retrain/`.
    """
    cfg = cfg or RunConfig()
    root = paths.results_dir(results_dir) / "quickstart"
    for kind in ("original", "retrain"):  # both folders checked before any work
        check_out_dir(root / kind)
    return {kind: run_training(cfg, retrain=kind == "retrain", out_dir=root / kind, cache_dir=cache_dir)
            for kind in ("original", "retrain")}


__all__ = ["Prepared", "check_out_dir", "heldout_part", "prepare", "quickstart", "require_finite", "rows_csv",
           "run_training", "run_unlearning", "selection_split", "train_reference"]
