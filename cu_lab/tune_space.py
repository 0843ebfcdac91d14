"""A method's declared search space (`cu_core.unlearn.spaces`) drawn by an Optuna trial, and the method's own
settings in that space (a study's first trial)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna

from cu_core.unlearn.registry import METHODS
from cu_core.unlearn.spaces import Param
from cu_core.experiments.overrides import unlearn_config


def suggest(trial: optuna.Trial, space: Mapping[str, Param]) -> dict[str, Any]:
    """Draw every parameter of `space` on `trial` (recorded in `trial.params`); returns the drawn values."""
    drawn: dict[str, Any] = {}
    for name, p in space.items():
        if p.kind == "choice":
            drawn[name] = trial.suggest_categorical(name, list(p.choices))
        elif p.kind == "int":
            drawn[name] = trial.suggest_int(name, int(p.low), int(p.high), log=p.log)
        else:
            drawn[name] = trial.suggest_float(name, float(p.low), float(p.high), log=p.log)
    return drawn


def start_params(method: str, preset: str) -> dict[str, Any]:
    """The values of `method`'s space parameters in its config under `preset`: what a run with no tuning uses.
    A study enqueues them as its first trial (a value outside a declared range is used as it is; Optuna warns)."""
    config = unlearn_config(method, preset=preset)  # the config the driver builds for a run without overrides
    return {name: getattr(config, name) for name in METHODS[method].space}
