"""Errors raised for bad input, before any work starts."""
from __future__ import annotations

import math
from collections.abc import Iterable


class ConfigError(ValueError):
    """A parameter has a bad value. The message names the parameter, the value and what is allowed."""

    def __init__(self, parameter: str, value: object, allowed: str) -> None:
        self.parameter = parameter
        self.value = value
        self.allowed = allowed
        super().__init__(f"{parameter}={value!r} is not allowed: {allowed}")


class DataError(RuntimeError):
    """A data file is missing, corrupt or tampered with."""


def check_choice(parameter: str, value: object, allowed: Iterable[object]) -> None:
    """Raise `ConfigError` unless `value` is one of `allowed`."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ConfigError(parameter, value, "expected one of " + ", ".join(repr(a) for a in allowed))


def check_int(parameter: str, value: object, low: int | None = None, high: int | None = None) -> None:
    """Raise `ConfigError` unless `value` is an int (not bool) in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(parameter, value, f"expected an integer{_range_text(low, high)}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(parameter, value, f"expected an integer{_range_text(low, high)}")


def check_float(parameter: str, value: object, low: float | None = None, high: float | None = None,
                *, low_open: bool = False, high_open: bool = False) -> None:
    """Raise `ConfigError` unless `value` is a finite real number in the given (open or closed) interval.

    NaN and +-inf are refused everywhere: no hyperparameter of this project means anything at infinity, and an
    infinite learning rate or temperature would only fail later, as a non-finite loss after minutes of work.
    """
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
          and (isinstance(value, int) or math.isfinite(value)))
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        raise ConfigError(parameter, value, "expected a finite number" + _interval_text(low, high, low_open, high_open))


def check_bool(parameter: str, value: object) -> None:
    if not isinstance(value, bool):
        raise ConfigError(parameter, value, "expected True or False")


def _interval_text(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high}"
    return ""


def _range_text(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f" in [{low}, {high}]"
    if low is not None:
        return f" >= {low}"
    if high is not None:
        return f" <= {high}"
    return ""
