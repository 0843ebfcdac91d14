"""A method's declared search space (`cu_core.unlearn.spaces`) drawn by an Optuna trial, and the method's own
settings in that space (a study's first trial).

`PASS_KNOBS` are the parameters that count passes over the data (CU's pass cap, the gradient methods' epochs): a
run's cost grows in proportion to them, so a study caps them to what is left of its budget (`suggest`'s `caps`)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna

from cu_core.unlearn.registry import METHODS
from cu_core.unlearn.spaces import Param
from cu_core.experiments.overrides import unlearn_config


PASS_KNOBS = ("max_passes", "epochs")


def suggest(trial: optuna.Trial, space: Mapping[str, Param], caps: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Draw every parameter of `space` on `trial` (recorded in `trial.params`); returns the drawn values. An integer
    parameter named in `caps` is drawn from [low, min(high, cap)] (never below its declared low)."""
    drawn: dict[str, Any] = {}
    for name, p in space.items():
        if p.kind == "choice":
            drawn[name] = trial.suggest_categorical(name, list(p.choices))
        elif p.kind == "int":
            high = max(int(p.low), min(int(p.high), (caps or {}).get(name, int(p.high))))
            drawn[name] = trial.suggest_int(name, int(p.low), high, log=p.log)
        else:
            drawn[name] = trial.suggest_float(name, float(p.low), float(p.high), log=p.log)
    return drawn


def start_params(method: str, preset: str) -> dict[str, Any]:
    """The values of `method`'s space parameters in its config under `preset`: what a run with no tuning uses.
    A study enqueues them as its first trial (a value outside a declared range is used as it is; Optuna warns)."""
    config = unlearn_config(method, preset=preset)  # the config the driver builds for a run without overrides
    return {name: getattr(config, name) for name in METHODS[method].space}
