"""How validation speaks: one line per JSON Schema error, starting with its key path (`schema_messages`), and
the `Report` of one input file. Re-exported by `cu_core.experiments.validate`.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import SAFE_NAME_TEXT, did_you_mean

TYPE_WORDS = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false",
              "object": "a mapping (key: value)", "array": "a list", "null": "nothing"}


def key_path(parts: Iterable[Any]) -> str:
    """['experiments', 'x', 'cases', 0, 'task'] → 'experiments.x.cases[0].task'."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _describe(value: Any) -> str:
    kind = {bool: "true/false", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a mapping", type(None): "nothing"}.get(type(value), type(value).__name__)
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return "nothing (an empty value)" if value is None else f"{shown} ({kind})"


def _expected(types: Any) -> str:
    names = [types] if isinstance(types, str) else list(types)
    return " or ".join(TYPE_WORDS.get(t, t) for t in names if t != "null") or "nothing"


def schema_messages(instance: Any, schema: dict[str, Any], *, hints: dict[str, str] | None = None,
                    allowed_at: Callable[[list[Any]], list[str] | None] | None = None) -> list[str]:
    """Every error of `instance` against `schema`, one line each, starting with its key path. Unknown keys name
    the closest allowed key (difflib) and the allowed ones (`allowed_at(path)` may narrow them, e.g. to one
    template's parameters); `hints` explains keys that are known but refused."""
    from jsonschema import Draft202012Validator

    hints = hints or {}
    out = []
    errors = Draft202012Validator(schema).iter_errors(instance)
    for err in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
        path = key_path(err.absolute_path)
        where = path or "(top level)"
        kind, value = err.validator, err.instance
        if kind == "additionalProperties":
            allowed = list(err.schema.get("properties", {}))
            narrowed = allowed_at(list(err.absolute_path)) if allowed_at else None
            allowed = narrowed if narrowed is not None else allowed
            for key in sorted(set(value) - set(allowed), key=str):
                at = key_path([*err.absolute_path, key])
                if key in hints:
                    out.append(f"{at}: {hints[key]}")
                else:
                    out.append(f"{at}: unknown key{did_you_mean(key, allowed)}; allowed here: {', '.join(allowed)}")
        elif kind == "type":
            out.append(f"{where}: expected {_expected(err.validator_value)}, got {_describe(value)}")
        elif kind == "required":
            missing = [k for k in err.validator_value if k not in value]
            out.append(f"{where}: missing key {', '.join(repr(k) for k in missing)}")
        elif kind == "pattern" and err.schema_path and "propertyNames" in err.schema_path:
            out.append(f"{key_path([*err.absolute_path, value])}: the name {value!r} is not {SAFE_NAME_TEXT}")
        elif kind == "pattern":
            out.append(f"{where}: {value!r} is not {SAFE_NAME_TEXT}")
        elif kind == "enum":
            options = err.validator_value
            out.append(f"{where}: {_describe(value)} is not one of {', '.join(repr(o) for o in options)}"
                       + (did_you_mean(value, options) if isinstance(value, str) else ""))
        elif kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            bounds = {k: err.schema.get(k) for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
                      if k in err.schema}
            text = {"minimum": ">= {}", "maximum": "<= {}", "exclusiveMinimum": "> {}", "exclusiveMaximum": "< {}"}
            out.append(f"{where}: {_describe(value)} is out of range: expected "
                       + " and ".join(text[k].format(v) for k, v in bounds.items()))
        elif kind == "minItems":
            out.append(f"{where}: expected at least {err.validator_value} value(s), got {len(value)}")
        elif kind == "maxItems":
            out.append(f"{where}: expected at most {err.validator_value} value(s), got {len(value)}")
        elif kind == "uniqueItems":
            out.append(f"{where}: a value is listed twice in {_describe(value)}")
        elif kind == "minProperties":
            out.append(f"{where}: expected at least {err.validator_value} entry, got none")
        elif kind == "not" and err.schema_path and "propertyNames" in err.schema_path:
            out.append(f"{key_path([*err.absolute_path, value])}: the name {value!r} is reserved (the folder of "
                       "`tune`'s studies beside the experiments' folders); choose another name")
        elif kind == "not":
            out.append(f"{where}: {_describe(value)} is not a finite number")
        else:
            out.append(f"{where}: {err.message}")
    return out

@dataclass
class Report:
    """What one input file's validation found: errors (refused), notes (machine-dependent: errors for `run` and
    with `--strict`), and how many items (runs, tables, templates) were checked."""

    source: str
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: int = 0
    what: str = "runs"

    def ok(self, strict: bool = False) -> bool:
        return not self.errors and not (strict and self.notes)

    def lines(self, strict: bool = False) -> list[str]:
        count = f"{self.checked} {self.what}"
        extra = f", {len(self.notes)} note{'s' if len(self.notes) != 1 else ''}" if self.notes else ""
        if self.errors:
            head = f"FAIL {self.source}: {len(self.errors)} problem{'s' if len(self.errors) != 1 else ''}{extra}"
        else:
            head = f"{'FAIL' if strict and self.notes else 'ok':5s}{self.source}: {count}{extra}"
        return [head, *(f"  error: {e}" for e in self.errors), *(f"  note: {n}" for n in self.notes)]

