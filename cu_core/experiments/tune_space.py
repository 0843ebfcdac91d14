"""A method's declared search space (`cu_core.unlearn.spaces`) drawn by an Optuna trial."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna

from ..unlearn.spaces import Param


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
