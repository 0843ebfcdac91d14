"""Errors raised for bad input, before any work starts."""
from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Sequence

#: The largest seed: NumPy's legacy seeding and scikit-learn's `random_state` take 32-bit integers only.
MAX_SEED = 2**32 - 1
#: Names that become folder names (profiles, experiments, sub-runs): letters, digits, '_' and '-', starting with a
#: letter or digit, so never a path separator, '..', a hidden name or a space.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
SAFE_NAME_TEXT = ("a safe name: letters, digits, '_' and '-' only, starting with a letter or digit, at most 100 "
                  "characters (it becomes a folder name: no '/', '..', '.' or spaces)")


class ConfigError(ValueError):
    """A parameter has a bad value. The message names the parameter, the value and what is allowed."""

    def __init__(self, parameter: str, value: object, allowed: str) -> None:
        self.parameter = parameter
        self.value = value
        self.allowed = allowed
        super().__init__(f"{parameter}={value!r} is not allowed: {allowed}")


class InputFileError(ConfigError):
    """An input file (a profile, the paper's tables, ...) breaks its schema. `problems` lists every problem, each
    starting with its key path (e.g. `experiments.compare.params.train_epochs: expected an integer, got '5'`)."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        self.parameter, self.value = source, None
        self.allowed = "a file that passes its schema"
        count = len(self.problems)
        ValueError.__init__(self, f"{source}: {count} problem{'s' if count != 1 else ''}:\n  "
                            + "\n  ".join(self.problems))


class DataError(RuntimeError):
    """A data file is missing, corrupt or tampered with."""


def did_you_mean(name: object, allowed: Iterable[object], cutoff: float = 0.6) -> str:
    """' (did you mean 'x'?)' for the closest of `allowed` to `name` (difflib), or ''."""
    close = difflib.get_close_matches(str(name), [str(a) for a in allowed], n=1, cutoff=cutoff)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def check_choice(parameter: str, value: object, allowed: Iterable[object]) -> None:
    """Raise `ConfigError` unless `value` is one of `allowed` (the message adds the closest name, if any)."""
    allowed = tuple(allowed)
    try:
        ok = value in allowed
    except TypeError:  # an unhashable value against a mapping's keys
        ok = False
    if not ok:
        hint = did_you_mean(value, allowed) if isinstance(value, str) else ""
        raise ConfigError(parameter, value, "expected one of " + ", ".join(repr(a) for a in allowed) + hint)


def check_seed(parameter: str, value: object) -> None:
    """Raise `ConfigError` unless `value` is a seed: an int (not bool) in [0, MAX_SEED]."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise ConfigError(parameter, value, f"expected an integer >= 0 and <= {MAX_SEED} (seeds are 32-bit: NumPy "
                          "and scikit-learn take no larger)")


def check_name(parameter: str, value: object, *, dots: bool = False) -> None:
    """Raise `ConfigError` unless `value` is a `SAFE_NAME` (it becomes a folder name). `dots`: '.' is allowed inside
    (sub-run names such as 'temperature-0.1'), but never '..'."""
    ok = isinstance(value, str) and (SAFE_NAME.fullmatch(value.replace(".", "_")) if dots else
                                     SAFE_NAME.fullmatch(value)) and ".." not in value
    if not ok:
        text = SAFE_NAME_TEXT.replace("'_' and '-'", "'_', '-' and '.'").replace(" '..', '.' or", " '..' or") \
            if dots else SAFE_NAME_TEXT
        raise ConfigError(parameter, value, text)


def check_int(parameter: str, value: object, low: int | None = None, high: int | None = None) -> None:
    """Raise `ConfigError` unless `value` is an int (not bool) in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(parameter, value, f"expected an integer{_interval_text(low, high, False, False)}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(parameter, value, f"expected an integer{_interval_text(low, high, False, False)}")


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
