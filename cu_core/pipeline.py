"""One training run end to end: data → split → model (original or retrained) → accuracies → result files.

`run_training` is what `python -m cu_core train` calls; notebooks and the experiment driver call it too.

Before any work the output folder is checked (`check_out_dir`): only a new path, an empty folder or a results
folder this project wrote is accepted. A run that diverges (a non-finite loss, weight, model output or
measurement) stops with a `FloatingPointError` naming the step and the hyperparameters, and writes nothing:
no NaN is ever written as a finished result (`require_finite`, then the schema in `results.write_run_dir`).
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch


from . import paths
from .assess import assess, assess_reference, training_cost, write_run
from .config import RunConfig
from .data import ArrayDataset, DeviceData, Part, Split, load_dataset, make_split, normalization_stats
from .errors import ConfigError, check_choice, check_int
from .gap import avg_gap
from .results import check_run_dir, device_description, git_commit, versions
from .runtime import resolve_device
from .train import TrainResult, train_model
from .ulira import shadow_halves, shadow_scores, ulira_attack
from .unlearn import METHODS, unlearn
from .unlearn.contrastive import stopping_set
from .unlearn.retrain import RetrainConfig


@dataclass
class Prepared:
    """A run's data on its device, with the split and the data's identity (for cache keys)."""

    cfg: RunConfig
    train: DeviceData
    test: DeviceData
    split: Split
    num_classes: int
    display: str  # dataset name for tables and figures, e.g. "CIFAR-10 (JPEG copy)"
    identity: dict[str, Any]
    device: torch.device

    def parts(self, stop_rule: str | None = None) -> tuple[Part, Part, Part]:
        """(forget, retain, held-out) sets for an unlearning method. Held-out is the validation split, or
        the whole test set for CU's paper rule (`stop_rule="test"`)."""
        split = self.split
        heldout = (Part(self.test, np.arange(len(self.test)), "test") if stop_rule == "test"
                   else Part(self.train, split.val, "val"))
        return Part(self.train, split.forget, "forget"), Part(self.train, split.retain, "retain"), heldout


def prepare(cfg: RunConfig, *, cache_dir: str | Path | None = None) -> Prepared:
    """Load the dataset, compute normalisation, make the split and move both arrays to the device."""
    d = cfg.data
    load = dict(source=d.source, download=d.download, digits_size=d.digits_size, cache_dir=cache_dir,
                archive_sha256=d.archive_sha256)
    train: ArrayDataset = load_dataset(d.dataset, "train", d.data_dir, **load)
    test: ArrayDataset = load_dataset(d.dataset, "test", d.data_dir, **load)
    mean, std = normalization_stats(train, d.normalization)
    s = cfg.split
    common = dict(task=s.task, forget_class=s.forget_class, num_forget=s.num_forget, seed=s.seed,
                  val_fraction=s.val_fraction, class_drop_last=s.class_drop_last, num_classes=len(train.classes))
    atypical = s.task == "sample" and s.forget_selection == "atypical"
    split = make_split(train.labels, test.labels, forget_selection="random" if atypical else s.forget_selection,
                       **common)
    device = resolve_device(cfg.train.device)
    identity = {"dataset": d.dataset, "source": train.source, "normalization": d.normalization,
                "digits_size": d.digits_size if d.dataset == "digits" else None, "n_train": len(train)}
    train_data = DeviceData(train, mean, std, device, identity)
    if atypical:  # the same validation split and pool; the forget set by held-out loss (cu_core.atypical)
        from .atypical import heldout_losses

        pool = np.sort(np.concatenate([split.forget, split.retain]))
        scores = heldout_losses(cfg, train_data, pool, split.val, len(train.classes), identity, device, cache_dir)
        split = make_split(train.labels, test.labels, forget_selection="atypical", scores=scores, **common)
    return Prepared(cfg, train_data, DeviceData(test, mean, std, device, identity), split, len(train.classes),
                    train.display, identity, device)


def train_reference(prep: Prepared, *, retrain: bool, cache_dir: str | Path | None = None) -> TrainResult:
    """The original model (trained on forget ∪ retain) or the retrained reference (retain only).

    The retrained model of a class task is selected on the validation images of the remaining classes
    (it can never classify the forgotten class, so those images carry no information for selection).
    """
    split = prep.split
    idx = split.retain if retrain else split.train
    val = getattr(split, selection_split(split, retrain))
    return train_model(prep.cfg.model, prep.cfg.train, prep.train, idx, val, prep.num_classes,
                       checkpoint_dir=paths.cache_dir(cache_dir) / "checkpoints", data_identity=prep.identity,
                       device=prep.device)


def train_reference_on(prep: Prepared, train_idx: np.ndarray, *, seed: int,
                       cache_dir: str | Path | None = None) -> TrainResult:
    """A model with the run's recipe trained on `train_idx` (e.g. a shadow model), selected on validation."""
    train_cfg = dataclasses.replace(prep.cfg.train, seed=seed)
    return train_model(prep.cfg.model, train_cfg, prep.train, train_idx, prep.split.val, prep.num_classes,
                       checkpoint_dir=paths.cache_dir(cache_dir) / "checkpoints", data_identity=prep.identity,
                       device=prep.device)


def selection_split(split: Split, retrain: bool) -> str:
    """Name of the validation part a model is selected on (and whose accuracy history.csv's val_acc is)."""
    return "val_retain" if retrain and split.task == "class" else "val"


def check_out_dir(out_dir: str | Path | None) -> None:
    """Refuse an output path that cannot become a results folder, before any work (`results.check_run_dir`:
    a new path, an empty folder or a results folder this project wrote; never a folder holding anything else,
    nor an experiment run folder of the driver)."""
    if out_dir is not None:
        check_run_dir(out_dir)


def _settings(values: Any) -> str:
    """A config (dataclass or dict) as 'name=value, ...' for error messages."""
    items = dataclasses.asdict(values) if dataclasses.is_dataclass(values) else dict(values)
    return ", ".join(f"{k}={v!r}" for k, v in items.items())


def _diverged(err: FloatingPointError, what: str, settings: str) -> FloatingPointError:
    """`err` with what was being computed and its hyperparameters (unless the message has them already)."""
    text = str(err)
    if "hyperparameters:" not in text:
        text = f"{text} ({what}; hyperparameters: {settings})"
    return FloatingPointError(text)


def require_finite(value: Any, path: str = "metrics") -> None:
    """Raise `FloatingPointError` naming the first NaN or ±inf number in a result (nested dicts and lists):
    a run whose measurements are not finite is never written as finished (`to_jsonable` would turn them into
    null)."""
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        raise FloatingPointError(f"{path} is {float(value)}: a result must be finite")
    if isinstance(value, np.ndarray) and value.dtype.kind == "f" and not np.isfinite(value).all():
        raise FloatingPointError(f"{path} holds non-finite values: a result must be finite")
    if isinstance(value, dict):
        for key, v in value.items():
            require_finite(v, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            require_finite(v, f"{path}[{i}]")


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


def _provenance(prep: Prepared) -> dict[str, Any]:
    """The keys every metrics.json carries besides its numbers."""
    return {"config": prep.cfg.to_dict(), "dataset": prep.display, "split_sha256": prep.split.sha256,
            "split_sizes": prep.split.sizes(), "seed": prep.cfg.train.seed, "versions": versions(),
            "device": device_description(prep.device), "git_commit": git_commit()}


def _display_path(path: Path) -> str:
    """A path relative to the project when it lies inside it (results stay portable), else absolute."""
    try:
        return str(Path(path).resolve().relative_to(paths.project_root()))
    except ValueError:
        return str(path)


def heldout_part(prep: Prepared, stop_rule: str) -> Part:
    """What CU's stopping rule evaluates besides the forget set (Eq. 8/9), from `Prepared.parts`."""
    forget, _, heldout = prep.parts(stop_rule)
    return stopping_set(heldout, forget, prep.split.task)


def run_unlearning(cfg: RunConfig, mcfg: Any = None, *, method: str = "contrastive",
                   out_dir: str | Path | None = None, cache_dir: str | Path | None = None,
                   ulira_shadows: int = 0) -> dict[str, Any]:
    """Load (or train and cache) the original and retrained models, unlearn with `method` (any name in
    `cu_core.unlearn.METHODS`; `mcfg` its config, default its defaults), assess the unlearned model next to
    Retrain, write.

    Writes `metrics.json` (the training schema plus "method", "epochs", "steps", "samples", "stop_reason",
    "unlearn_config", the original's and Retrain's accuracies, attacks and probe, the Avg. Gap to Retrain,
    cost and RTE = Retrain's training seconds / unlearning seconds), `history.csv` (one row per optimiser
    step), `passes.csv` (one row per pass: forget accuracy, and for CU the held-out accuracy and the
    stopping check) and `outputs.npz`. With `ulira_shadows > 0` the U-LiRA-style shadow attack on the method
    is added ("ulira").
    """
    check_out_dir(out_dir)
    check_choice("method", method, METHODS)
    if method == "retrain":  # Retrain uses exactly the original model's recipe (and shares its cache)
        mcfg = RetrainConfig(**dataclasses.asdict(cfg.train), cache_dir=None if cache_dir is None else str(cache_dir))
    mcfg = METHODS[method].config() if mcfg is None else mcfg
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


def rows_csv(rows: list[dict[str, Any]]) -> str:
    """CSV text of a list of flat dicts: the union of their keys in first-seen order (a row without a column,
    e.g. SCRUB's max-steps without the min-steps' CE, leaves that cell empty)."""
    out = io.StringIO()
    if rows:
        columns = list(dict.fromkeys(key for row in rows for key in row))
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return out.getvalue()


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
