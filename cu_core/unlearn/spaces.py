"""Search spaces of the methods' hyperparameters, declared with each method (its `registry.Method.space`).

A space maps config fields to a `Param`: a float range (`real`, on a log scale with `log=True`), an integer range
(`integer`) or a list of values (`choice`), each with `source`: where its range comes from (the method's paper or
code). `python -m cu_lab tune` draws from it with Optuna (`cu_lab.tune_space`); the
drawn values override the run's preset (`cu_core.unlearn.presets`), the fields a space leaves out keep it.

No range here lets a method read the test set (CU's `stop_rule` space has no "test").
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KINDS = ("float", "int", "choice")


@dataclass(frozen=True)
class Param:
    """One hyperparameter's range: `kind` float or int in [low, high] (log scale with `log`), or one of `choices`."""

    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Param kind {self.kind!r}: one of {KINDS}")
        if self.kind == "choice":
            if not self.choices:
                raise ValueError("a choice Param needs choices")
        elif self.low is None or self.high is None or not self.low < self.high or (self.log and self.low <= 0):
            raise ValueError(f"Param range [{self.low}, {self.high}] (log={self.log}): low < high, and low > 0 on a "
                             "log scale")

    def describe(self) -> str:
        """'[1e-4, 1e-2] log', '[1, 8]' or '{val, fixed}' for tables."""
        if self.kind == "choice":
            return "{" + ", ".join(str(c) for c in self.choices) + "}"
        return f"[{self.low:g}, {self.high:g}]" + (" log" if self.log else "")


def real(low: float, high: float, *, log: bool = False, source: str = "") -> Param:
    """A float range."""
    return Param("float", low, high, log, (), source)


def integer(low: int, high: int, *, log: bool = False, source: str = "") -> Param:
    """An integer range (both ends included)."""
    return Param("int", low, high, log, (), source)


def choice(*values: Any, source: str = "") -> Param:
    """One of `values`."""
    return Param("choice", choices=tuple(values), source=source)


def check_space(name: str, config: type, space: Mapping[str, Param]) -> None:
    """Every key of `space` is a field of `config`, every value a `Param` (ValueError naming the method)."""
    fields = {f.name for f in dataclasses.fields(config)}
    for key, param in space.items():
        if key not in fields:
            raise ValueError(f"method {name!r}: space key {key!r} is not a field of {config.__name__}")
        if not isinstance(param, Param):
            raise ValueError(f"method {name!r}: space[{key!r}] is not a Param")


def lr_epochs(lr: tuple[float, float], epochs: tuple[int, int], source: str) -> dict[str, Param]:
    """The learning rate (log scale) and the number of epochs, the two knobs every gradient method shares."""
    return {"lr": real(*lr, log=True, source=source), "epochs": integer(*epochs, source=source)}
