"""The value checks `cu_core.schema.validate_metrics` is built from, and `SchemaError`.

Each check raises `SchemaError` (a `ConfigError`, hence a `ValueError`) whose `.path` is the dotted key path of
the offending value, e.g. "acc.test". Re-exported by `cu_core.schema`.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .errors import ConfigError


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING = _Missing()


class SchemaError(ConfigError):
    """A metrics.json payload breaks the schema; `.path` is the dotted key path (e.g. "acc.test")."""

    def __init__(self, path: str, value: object, allowed: str) -> None:
        self.path = path
        super().__init__(f"metrics.{path}" if path else "metrics", value, allowed)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _require(payload: Mapping[str, Any], key: str, prefix: str = "") -> Any:
    if key not in payload:
        raise SchemaError(prefix + key, MISSING, "a required key")
    return payload[key]


def _dict(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SchemaError(path, value, "a JSON object")
    return value


def _fraction(value: Any, path: str, *, nullable: bool = True) -> None:
    if value is None and nullable:
        return
    if not _is_number(value) or not 0.0 <= value <= 1.0:
        raise SchemaError(path, value, "a number in [0, 1]" + (" or null" if nullable else ""))


def _non_negative(value: Any, path: str, *, integer: bool = False, nullable: bool = False,
                  high: float | None = None) -> None:
    if value is None and nullable:
        return
    ok = _is_int(value) if integer else _is_number(value)
    if not ok or value < 0 or (high is not None and value > high):
        what = "an integer >= 0" if integer else ("a finite number >= 0" if high is None else
                                                    f"a number in [0, {high:g}]")
        raise SchemaError(path, value, what + (" or null" if nullable else ""))


def _finite_everywhere(value: Any, path: str = "") -> None:
    """No NaN or ±Infinity at any depth (nested objects and lists included)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise SchemaError(path, value, "a finite number: NaN and Infinity are never a result (null marks a value "
                          "that does not exist)")
    if isinstance(value, Mapping):
        for key, v in value.items():
            _finite_everywhere(v, f"{path}.{key}" if path else str(key))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _finite_everywhere(v, f"{path}[{i}]")


def _rates(value: Any, path: str) -> None:
    """{str: rate in [0, 1] or null}: attack results and probe accuracies."""
    for key, v in _dict(value, path).items():
        _fraction(v, f"{path}.{key}")


def _string(value: Any, path: str, *, nullable: bool = False) -> None:
    if not (isinstance(value, str) or (nullable and value is None)):
        raise SchemaError(path, value, "a string" + (" or null" if nullable else ""))

