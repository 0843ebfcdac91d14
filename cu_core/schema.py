"""The `metrics.json` schema, in one place, and `validate_metrics`.

Every run folder holds one `metrics.json`. Training runs (`python -m cu_core train`, `run_training`) write the
common keys plus the training keys; unlearning runs (`python -m cu_core unlearn`, `run_unlearning`, baselines)
write the common keys plus the unlearning keys; later stages add the optional keys. Keys are never renamed;
unknown extra keys are allowed (a later stage may add more). JSON null stands for NaN (`to_jsonable`).

Common keys (every run):

| key | type | meaning |
|---|---|---|
| `kind` | str | `"original"` (trained on forget ∪ retain), `"retrain"` (retain only: the reference) or `"unlearn"` |
| `acc` | {str: float} | top-1 accuracy, a fraction in [0, 1] (null: empty set), on `forget_train` (D_f), `retain_train` (D_r), `val`, `test`; class tasks also `forget_test` (test images of the forgotten class) and `retain_test` (the other classes) |
| `seconds` | {str: float ≥ 0} | wall-clock seconds; training: `train`, `eval`; unlearning: `unlearn` (method only, no evaluation), `eval`, and e.g. `stop_checks`, `original_train` |
| `config` | dict | every parameter: `data` {dataset, ...}, `split` {task: "class" \\| "sample", forget_class (class task), num_forget (sample task), seed, ...}, `model` {name, ...}, `train` {epochs, ...} (the keys named are required: the book's tables read them) |
| `dataset` | str | display name, e.g. "CIFAR-10 (JPEG copy)" |
| `split_sha256` | str | sha256 (64 hex) of the split's index arrays |
| `split_sizes` | {str: int ≥ 0} | size of each index set (val, forget, retain, test_forget, ...) |
| `seed` | int | training seed |
| `versions` | {str: str} | python, cu_core, torch, torchvision, numpy, scikit-learn, platform |
| `device` | str | hardware, e.g. "cpu (2 threads, x86_64)" or "cuda: NVIDIA H100" |
| `git_commit` | str \\| null | commit of the checkout ("+dirty" when modified) |
| `checkpoint` | str \\| null | the trained (for unlearning: the original) model's checkpoint path |

Experiment summaries (`kind` "experiment", written by `python -m cu_core.experiments` beside the executed
template; its sub-runs under `runs/<name>/` are ordinary runs of the kinds below) need only: `experiment`,
`template`, `profile`, `run_id`, `parameters` (the template's parameters), `runs` (sub-run folder names),
`seconds` ({"wall": ...}), `versions`, `device`, `git_commit`. Drivers since the attempt record also write
`seconds.last_attempt` and `attempts` (the seconds of each attempt at the run; `wall` is their sum). Every
seconds value is a finite number >= 0.

Training runs (`kind` "original" / "retrain"):

| key | type | meaning |
|---|---|---|
| `cache_hit` | bool | the weights were loaded from the checkpoint cache, not trained now |
| `best_epoch` | int ≥ 0 | the selected epoch |
| `selected_on` | str | the validation part the model was selected on: "val" or "val_retain" |

Unlearning runs (`kind` "unlearn"):

| key | type | meaning |
|---|---|---|
| `method` | str | "contrastive", or a baseline's name |
| `acc_original` | {str: float} | `acc` of the original model the method started from (same keys as `acc`) |
| `steps` | int ≥ 0 | optimiser steps taken (required) |
| `samples` | int ≥ 0 | examples processed (forward passes over training images; required) |
| `epochs` | int ≥ 0 \\| null | passes over the forget set (null for one-shot methods) |
| `stop_reason` | str \\| null | why the loop stopped, e.g. "condition", "max_passes" |
| `unlearn_config` | dict | every parameter of the method |

Optional keys (any kind; written by later stages):

| key | type | meaning |
|---|---|---|
| `mia` | {str: float \\| null} | membership-inference results (attacks module), every one a rate or accuracy in [0, 1]: member rates, attack accuracies, `mia_efficacy` (SalUn's MIA-Efficacy) |
| `gap` | dict | `cu_core.gap.avg_gap` against Retrain: `avg_gap`, `ua`, `ra`, `ta` (in [0, 100], percentage points), `mia` (in [0, 100] or null), `terms` (3 or 4) |
| `probe` | {str: float \\| null} | `cu_core.diagnostics.linear_probe`: `probe_*_acc` fractions in [0, 1] |
| `acc_retrain`, `mia_retrain`, `probe_retrain`, `mia_original`, `probe_original` | as `acc`, `mia`, `probe` | the reference models' values (unlearning runs) |
| `ulira` | dict | the U-LiRA-style attack: `balanced_accuracy`, `tpr_at_1pct_fpr` in [0, 1]; `n_shadow`, `n_examples` integers ≥ 0 |
| `cost` | {"steps": int ≥ 0, "samples": int ≥ 0, "retrain_samples": int ≥ 0 (unlearning runs)} | compute cost of the method, for RTE; `samples` = examples through forward + backward; `retrain_samples` the same for Retrain on this split |
| `rte` | float ≥ 0 \\| null | run-time efficiency (state which flavour in the table: minutes, or t_retrain / t_method) |

No number anywhere in a payload may be NaN or ±Infinity (Python's `json` reads the tokens `NaN` and
`Infinity`; a result never holds them: null marks a value that does not exist).

`validate_metrics(payload)` checks all of the above (pure Python) and raises `SchemaError`, a `ConfigError`
(hence a `ValueError`) whose `.path` is the dotted key path, e.g. "acc.test", and whose message names it.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .schema_checks import (
    MISSING,  # noqa: F401  (kept importable from cu_core.schema)
    SchemaError,
    _dict,
    _finite_everywhere,
    _fraction,
    _is_int,
    _is_number,  # noqa: F401  (kept importable from cu_core.schema)
    _Missing,  # noqa: F401  (kept importable from cu_core.schema)
    _non_negative,
    _rates,
    _require,
    _string,
)

KINDS = ("original", "retrain", "unlearn")  # and "experiment": the summary of one executed template
EXPERIMENT_KEYS = ("experiment", "template", "profile", "run_id", "parameters", "runs", "seconds", "versions",
                   "device", "git_commit")
TASKS = ("class", "sample")
COMMON_KEYS = ("kind", "acc", "seconds", "config", "dataset", "split_sha256", "split_sizes", "seed", "versions",
               "device", "git_commit", "checkpoint")
TRAIN_KEYS = ("cache_hit", "best_epoch", "selected_on")
UNLEARN_KEYS = ("method", "acc_original", "steps", "samples")
ACC_KEYS = ("forget_train", "retain_train", "val", "test")
CLASS_ACC_KEYS = ("forget_test", "retain_test")
SECONDS_KEYS = {"original": ("train", "eval"), "retrain": ("train", "eval"), "unlearn": ("unlearn", "eval")}


def _accuracies(value: Any, path: str, task: str) -> None:
    acc = _dict(value, path)
    for key in ACC_KEYS + (CLASS_ACC_KEYS if task == "class" else ()):
        _fraction(_require(acc, key, f"{path}."), f"{path}.{key}")
    for key, v in acc.items():
        _fraction(v, f"{path}.{key}")


def validate_metrics(payload: Mapping[str, Any]) -> None:
    """Check a metrics.json payload against the schema above; raise `SchemaError` naming the key path."""
    _dict(payload, "")
    _finite_everywhere(payload)
    if payload.get("kind") == "experiment":
        for key in EXPERIMENT_KEYS:
            _require(payload, key)
        if not isinstance(payload["runs"], list) or not all(isinstance(r, str) for r in payload["runs"]):
            raise SchemaError("runs", payload["runs"], "a list of sub-run folder names")
        _dict(payload["parameters"], "parameters")
        for key, v in _dict(payload["seconds"], "seconds").items():
            _non_negative(v, f"seconds.{key}")
        if "attempts" in payload:
            if not isinstance(payload["attempts"], list):
                raise SchemaError("attempts", payload["attempts"], "a list of seconds (numbers >= 0)")
            for i, v in enumerate(payload["attempts"]):
                _non_negative(v, f"attempts[{i}]")
        return
    for key in COMMON_KEYS:
        _require(payload, key)
    kind = payload["kind"]
    if kind not in KINDS:
        raise SchemaError("kind", kind, "one of " + ", ".join(repr(k) for k in KINDS))
    for key in TRAIN_KEYS if kind in ("original", "retrain") else UNLEARN_KEYS:
        _require(payload, key)

    config = _dict(payload["config"], "config")
    data = _dict(_require(config, "data", "config."), "config.data")
    _string(_require(data, "dataset", "config.data."), "config.data.dataset")
    split = _dict(_require(config, "split", "config."), "config.split")
    task = _require(split, "task", "config.split.")
    if task not in TASKS:
        raise SchemaError("config.split.task", task, "one of " + ", ".join(repr(t) for t in TASKS))
    if task == "class" and not _is_int(_require(split, "forget_class", "config.split.")):
        raise SchemaError("config.split.forget_class", split["forget_class"], "an integer class index")
    if task == "sample":
        _non_negative(_require(split, "num_forget", "config.split."), "config.split.num_forget", integer=True)
    if not _is_int(_require(split, "seed", "config.split.")):
        raise SchemaError("config.split.seed", split["seed"], "an integer")
    model = _dict(_require(config, "model", "config."), "config.model")
    _string(_require(model, "name", "config.model."), "config.model.name")
    train = _dict(_require(config, "train", "config."), "config.train")
    _non_negative(_require(train, "epochs", "config.train."), "config.train.epochs", integer=True)

    _accuracies(payload["acc"], "acc", task)
    seconds = _dict(payload["seconds"], "seconds")
    for key in SECONDS_KEYS[kind]:
        _require(seconds, key, "seconds.")
    for key, v in seconds.items():
        _non_negative(v, f"seconds.{key}")

    _string(payload["dataset"], "dataset")
    sha = payload["split_sha256"]
    if not (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)):
        raise SchemaError("split_sha256", sha, "64 lowercase hex digits")
    for key, v in _dict(payload["split_sizes"], "split_sizes").items():
        _non_negative(v, f"split_sizes.{key}", integer=True)
    if not _is_int(payload["seed"]):
        raise SchemaError("seed", payload["seed"], "an integer")
    for key, v in _dict(payload["versions"], "versions").items():
        _string(v, f"versions.{key}")
    _string(payload["device"], "device")
    _string(payload["git_commit"], "git_commit", nullable=True)
    _string(payload["checkpoint"], "checkpoint", nullable=True)

    if kind == "unlearn":
        _string(payload["method"], "method")
        _accuracies(payload["acc_original"], "acc_original", task)
        if payload.get("acc_retrain") is not None:
            _accuracies(payload["acc_retrain"], "acc_retrain", task)
        _non_negative(payload["steps"], "steps", integer=True)
        _non_negative(payload["samples"], "samples", integer=True)
        if "epochs" in payload:
            _non_negative(payload["epochs"], "epochs", integer=True, nullable=True)
        if "stop_reason" in payload:
            _string(payload["stop_reason"], "stop_reason", nullable=True)
        if "unlearn_config" in payload:
            _dict(payload["unlearn_config"], "unlearn_config")
    else:
        if not isinstance(payload["cache_hit"], bool):
            raise SchemaError("cache_hit", payload["cache_hit"], "true or false")
        _non_negative(payload["best_epoch"], "best_epoch", integer=True)
        if payload["selected_on"] not in ("val", "val_retain"):
            raise SchemaError("selected_on", payload["selected_on"], "'val' or 'val_retain'")

    _optional(payload)


def _optional(payload: Mapping[str, Any]) -> None:
    for key in ("mia", "mia_original", "mia_retrain", "probe", "probe_original", "probe_retrain"):
        if payload.get(key) is not None:
            _rates(payload[key], key)  # member rates, attack accuracies, MIA-Efficacy, probe accuracies: [0, 1]
    if payload.get("gap") is not None:
        gap = _dict(payload["gap"], "gap")
        for key in ("avg_gap", "ua", "ra", "ta"):
            _non_negative(_require(gap, key, "gap."), f"gap.{key}", high=100.0)
        _non_negative(gap.get("mia"), "gap.mia", nullable=True, high=100.0)
        if "terms" in gap and gap["terms"] not in (3, 4):
            raise SchemaError("gap.terms", gap["terms"], "3 or 4")
    if payload.get("cost") is not None:
        cost = _dict(payload["cost"], "cost")
        for key in ("steps", "samples"):
            _non_negative(_require(cost, key, "cost."), f"cost.{key}", integer=True)
        if cost.get("retrain_samples") is not None:
            _non_negative(cost["retrain_samples"], "cost.retrain_samples", integer=True)
    if "rte" in payload:
        _non_negative(payload["rte"], "rte", nullable=True)
    if payload.get("ulira") is not None:
        ulira = _dict(payload["ulira"], "ulira")
        for key in ("balanced_accuracy", "tpr_at_1pct_fpr"):
            if key in ulira:
                _fraction(ulira[key], f"ulira.{key}")
        for key in ("n_shadow", "n_examples"):
            if key in ulira:
                _non_negative(ulira[key], f"ulira.{key}", integer=True)


__all__ = ["KINDS", "SchemaError", "validate_metrics"]
