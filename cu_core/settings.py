"""Config fields declared once: a field's default, its help text (what the command line and `papermill
--help-notebook` show) and the values it allows, in one `setting(...)`; `check_settings` checks every field of a
config against its declaration. A config's `__post_init__` calls it, then checks what involves several fields.

What a field allows follows from its declaration: `choices` (one of these), `check` (a function of its own, e.g.
`check_seed`), else its annotation: `bool` → True or False; `int` → an integer (not a bool) in [low, high]; `float`
→ a finite real number in the interval (`low_open`/`high_open` exclude the end). Other annotations (strings, paths,
tuples) are left to the config. Errors name `parameter` (default: the field's name) and what is allowed.
"""
from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Callable, Iterable
from typing import Any

from .errors import check_bool, check_choice, check_float, check_int


def setting(default: Any, help: str, *, low: float | None = None, high: float | None = None,
            low_open: bool = False, high_open: bool = False, choices: Iterable[Any] | None = None,
            parameter: str | None = None, check: Callable[[str, Any], None] | None = None) -> Any:
    """A dataclass field with its help text and the values it allows (see the module's docstring)."""
    allowed = {"low": low, "high": high, "low_open": low_open, "high_open": high_open,
               "choices": None if choices is None else tuple(choices), "parameter": parameter, "check": check}
    return dataclasses.field(default=default, metadata={"help": help, **{k: v for k, v in allowed.items()
                                                                         if v is not None and v is not False}})


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def check_settings(config: Any) -> None:
    """Check each field of the dataclass instance `config` against its `setting` declaration, in field order;
    raises the `ConfigError` of the first field that breaks it."""
    hints = _hints(type(config))
    for f in dataclasses.fields(config):
        meta, value = f.metadata, getattr(config, f.name)
        name = meta.get("parameter", f.name)
        if "check" in meta:
            meta["check"](name, value)
        elif "choices" in meta:
            check_choice(name, value, meta["choices"])
        elif hints[f.name] is bool:
            check_bool(name, value)
        elif hints[f.name] is int:
            check_int(name, value, meta.get("low"), meta.get("high"))
        elif hints[f.name] is float:
            check_float(name, value, meta.get("low"), meta.get("high"), low_open=meta.get("low_open", False),
                        high_open=meta.get("high_open", False))
