"""A profile's structure: its JSON Schema (`profile_schema`, built from the templates' parameter cells), the
problems of its YAML contents (`profile_problems`, called by `grid.load_profile`). Re-exported by
`cu_core.experiments.validate`.
"""
from __future__ import annotations

import functools
import math
from typing import Any

from ..errors import MAX_SEED, SAFE_NAME, ConfigError, did_you_mean
from ..paths import TUNING_DIR
from . import templates as grid  # the template notebooks (grid.py imports this module)
from .resources import RESOURCES_SCHEMA
from .validate_messages import key_path, schema_messages

#: Template parameters a profile may not set: the driver sets them for every run.
DRIVER_SET = {"out_dir": "set by the driver (each run's own folder); remove it",
              "seed": "set by the driver from `seeds`; list the seeds there (at the top, or in the experiment)"}
JSON_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
_NAME_PATTERN = f"^{SAFE_NAME.pattern}$"

# --------------------------------------------------------------------------- the profile schema
def parameter_types() -> dict[str, str]:
    """Every template parameter's declared type ("str", "int", "float", "bool"), over all templates."""
    types: dict[str, str] = {}
    for template in grid.templates():
        for name, parameter in grid.declared_parameters(template).items():
            if types.setdefault(name, parameter.type) != parameter.type:
                raise ConfigError(f"{template}:{name}", parameter.type, f"the type other templates declare "
                                  f"({types[name]}): one parameter name, one type")
    return types


def _value_schema(kind: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": JSON_TYPES[kind]}
    if kind == "float":  # YAML's .nan / .inf are floats; no parameter means anything there
        schema["not"] = {"enum": [math.inf, -math.inf]}
    return schema


@functools.lru_cache(maxsize=8)
def _profile_schema(key: tuple[tuple[str, int], ...]) -> dict[str, Any]:
    types = {name: kind for name, kind in parameter_types().items() if name not in DRIVER_SET}
    values = {"type": ["object", "null"], "additionalProperties": False,
              "properties": {name: _value_schema(kind) for name, kind in types.items()}}
    seeds = {"type": "array", "minItems": 1, "uniqueItems": True,
             "items": {"type": "integer", "minimum": 0, "maximum": MAX_SEED}}
    experiment = {
        "type": "object", "required": ["template"], "additionalProperties": False,
        "properties": {
            "template": {"enum": grid.templates()},
            "description": {"type": "string"},
            "params": values,
            "grid": {"type": ["object", "null"], "additionalProperties": False,
                     "properties": {name: {"type": "array", "minItems": 1, "uniqueItems": True,
                                           "items": _value_schema(kind)} for name, kind in types.items()}},
            "cases": {"type": ["array", "null"], "minItems": 1, "items": {**values, "type": "object"}},
            "seeds": seeds,
        }}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "cu_core experiment profile",
        "type": "object", "required": ["name", "seeds", "experiments"], "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "pattern": _NAME_PATTERN},
            "description": {"type": "string"},
            "seeds": seeds,
            "defaults": values,
            "resources": RESOURCES_SCHEMA,  # per job kind, for `submit` (cu_core.experiments.resources)
            "experiments": {"type": "object", "minProperties": 1,  # an experiment may not take tune's folder name
                            "propertyNames": {"pattern": _NAME_PATTERN, "not": {"const": TUNING_DIR}},
                            "additionalProperties": experiment},
        }}


def profile_schema() -> dict[str, Any]:
    """The JSON Schema of a profile (its parameter keys and types come from the templates' parameter cells)."""
    key = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(grid.TEMPLATE_DIR.glob("*.ipynb")))
    return _profile_schema(key)

# --------------------------------------------------------------------------- profiles
def profile_problems(raw: Any) -> list[str]:
    """Every structural problem of a profile's YAML contents (empty: it passes): the schema, then parameters each
    experiment's template does not declare and keys set by both an experiment's grid and one of its cases."""
    def template_of(path: list[Any]) -> list[str] | None:
        """An experiment's params, grid or case: its template's parameters (when the template is known)."""
        if len(path) >= 3 and path[0] == "experiments" and path[2] in ("params", "grid", "cases"):
            spec = raw["experiments"].get(path[1])
            template = spec.get("template") if isinstance(spec, dict) else None
            if isinstance(template, str) and template in grid.templates():
                return [n for n in grid.declared_parameters(template) if n not in DRIVER_SET]
        return None

    problems = schema_messages(raw, profile_schema(), hints=DRIVER_SET, allowed_at=template_of)
    if problems or not isinstance(raw, dict):
        return problems
    defaults = raw.get("defaults") or {}
    for exp, spec in raw["experiments"].items():
        declared = grid.declared_parameters(spec["template"])
        sources = [(["defaults"], defaults), ([exp, "params"], spec.get("params") or {}),
                   ([exp, "grid"], spec.get("grid") or {})]
        sources += [([exp, "cases", i], case) for i, case in enumerate(spec.get("cases") or [])]
        for where, values in sources:
            prefix = where if where == ["defaults"] else ["experiments", *where]
            for key in values:
                if key not in declared:
                    scope = (f" (defaults apply to every experiment; experiment {exp!r})" if where == ["defaults"]
                             else "")
                    problems.append(f"{key_path([*prefix, key])}: {spec['template']} has no parameter {key!r}"
                                    f"{did_you_mean(key, declared)}{scope}; it declares {', '.join(declared)}")
        for i, case in enumerate(spec.get("cases") or []):
            for key in sorted(set(case) & set(spec.get("grid") or {})):
                problems.append(f"experiments.{exp}.cases[{i}].{key}: also a grid key of the experiment (the grid "
                                "value would win silently); set it in one place")
    return list(dict.fromkeys(problems))
