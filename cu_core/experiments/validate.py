"""Every input file checked before any work: `python -m cu_core.experiments validate --profile P` (or `--all`).

What is checked, and where:

- Profile YAML (`profile_problems`, called by `grid.load_profile`, so `list`, `run`, `status` and the book refuse a
  bad profile too): a JSON Schema (`profile_schema`, built from the templates' parameter cells) with known keys
  only (an unknown key is named with the closest allowed one), types with the key path, safe names for the
  profile and its experiments (they become folder names), seeds as 32-bit integers and a template that exists;
  then the parameters each template declares, no key set by both `grid` and a case, and no key given twice.
- Every run of a profile (`run_problems`): its parameters through `params.check_parameters`, as the template's
  first code cell checks them: the run config, the method, `method_overrides` and `variants` (JSON objects of
  the method's config fields), `methods`, `knob`/`values`/`base_overrides`, `forget_sizes`, `ulira_shadows`, ...;
  and no two runs in one folder.
- Templates (`validate_templates`): each template's own defaults pass the same checks.
- `book/data/paper_tables.yaml` (`validate_paper_tables`): a JSON Schema of the tables and the figure the book
  reads (the paper's column names, models, evaluated sets), then row lengths, percentages in [0, 100], finite,
  non-negative times and figure points within their batches.
- The CIFAR-10 archive of runs with `data_source: archive` (`archive_problem`): present in the data folder, and
  its sha256 (18 MB: cheap) the known copy's.

Checks that depend on the machine (a run that asks for CUDA where there is none, an archive that is not in this
machine's data folder) are notes for `validate` (errors with `--strict`) and errors for `run`, which calls the same
checks (`validate_profile(..., machine=True)`) before it starts any run.

The schema library is `jsonschema` (Draft 2020-12); its errors are rewritten into one line each that starts with
the key path (`experiments.compare.params.train_epochs: expected an integer, got '5' (a string)`).
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MAX_SEED, SAFE_NAME, SAFE_NAME_TEXT, ConfigError, InputFileError, did_you_mean
from ..paths import project_root
from . import grid

#: Template parameters a profile may not set: the driver sets them for every run.
DRIVER_SET = {"out_dir": "set by the driver (each run's own folder); remove it",
              "seed": "set by the driver from `seeds`; list the seeds there (at the top, or in the experiment)"}
JSON_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
TYPE_WORDS = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false",
              "object": "a mapping (key: value)", "array": "a list", "null": "nothing"}
PAPER_TABLES = project_root() / "book" / "data" / "paper_tables.yaml"
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
            "experiments": {"type": "object", "minProperties": 1, "propertyNames": {"pattern": _NAME_PATTERN},
                            "additionalProperties": experiment},
        }}


def profile_schema() -> dict[str, Any]:
    """The JSON Schema of a profile (its parameter keys and types come from the templates' parameter cells)."""
    key = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(grid.TEMPLATE_DIR.glob("*.ipynb")))
    return _profile_schema(key)


# --------------------------------------------------------------------------- schema errors → messages
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
        elif kind == "not":
            out.append(f"{where}: {_describe(value)} is not a finite number")
        else:
            out.append(f"{where}: {err.message}")
    return out


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


def origin(raw: dict[str, Any], run: grid.Run, name: str) -> str:
    """The key path in the profile that gave `run` its parameter `name` (the last of defaults, params, the case,
    the grid that sets it), or the template's default."""
    spec = raw["experiments"][run.experiment]
    if name in (spec.get("grid") or {}):
        return f"experiments.{run.experiment}.grid.{name}"
    for i, case in enumerate(spec.get("cases") or []):
        if name in case and all(run.params.get(k) == v for k, v in case.items()):
            return f"experiments.{run.experiment}.cases[{i}].{name}"
    if name in (spec.get("params") or {}):
        return f"experiments.{run.experiment}.params.{name}"
    if name in (raw.get("defaults") or {}):
        return f"defaults.{name}"
    if name == "seed":
        return f"experiments.{run.experiment}.seeds" if "seeds" in spec else "seeds"
    return f"experiments.{run.experiment} ({run.template}'s default {name})"


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


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@functools.lru_cache(maxsize=8)
def _archive_sha256(path: str, size: int, mtime_ns: int) -> str:
    from ..data.cifar_archive import sha256_file

    return sha256_file(path)


def archive_problem(data_dir: Path | None = None) -> tuple[str | None, str | None]:
    """(error, note) about the CIFAR-10 JPEG archive of the data folder: a missing file is a note (this machine
    lacks it), a file whose sha256 is not the known copy's an error."""
    from ..data.cifar_archive import ARCHIVE_NAME, ARCHIVE_SHA256
    from ..paths import data_dir as default_data_dir, source_of

    folder = default_data_dir(data_dir)
    path = folder / ARCHIVE_NAME
    if not path.is_file():
        return None, (f"the CIFAR-10 archive {path} is not on this machine ({source_of('data', data_dir, 'data_dir')}"
                      f"); runs with data_source 'archive' need it")
    stat = path.stat()
    actual = _archive_sha256(str(path), stat.st_size, stat.st_mtime_ns)
    if actual != ARCHIVE_SHA256:
        return (f"the CIFAR-10 archive {path} has sha256 {actual}, not the known copy's {ARCHIVE_SHA256}: it is "
                "damaged or another file; copy it again"), None
    return None, None


def _run_values(run: grid.Run) -> dict[str, Any]:
    """The values a run's template sees: its declared defaults, then the run's parameters."""
    return {**{n: p.default for n, p in grid.declared_parameters(run.template).items()}, **run.params}


def run_problems(raw: dict[str, Any], runs: list[grid.Run], *, machine: bool) -> tuple[list[str], list[str]]:
    """(errors, notes) of the runs' parameters, each checked by `params.check_parameters` as its template's first
    cell will check it; one line per distinct problem, starting with the key path that set the bad value."""
    from .params import check_parameters

    errors: list[str] = []
    notes: list[str] = []
    cuda = None
    archive_checked = False
    seen_folders: dict[str, grid.Run] = {}
    for run in runs:
        if run.folder in seen_folders:
            errors.append(f"experiments.{run.experiment}: two runs share the folder {run.folder} (the same "
                          "parameters twice: a repeated case or grid value)")
        seen_folders[run.folder] = run
        if run.problem:
            errors.append(f"experiments.{run.experiment}: {run.problem}")
            continue
        values = _run_values(run)
        device = values.get("device", "auto")
        if isinstance(device, str) and device.startswith("cuda"):
            cuda = _cuda() if cuda is None else cuda
            if not cuda:
                notes.append(f"{origin(raw, run, 'device')}: device={device!r}, but CUDA is not available on this "
                             "machine: the runs need a GPU machine")
                values["device"] = "cpu"  # check everything else as if on one
        try:
            check_parameters(**values)
        except ConfigError as err:
            name = getattr(err, "template_parameter", None) or err.parameter
            where = origin(raw, run, name) if name in values else f"experiments.{run.experiment}"
            errors.append(f"{where}: {err}")
        if (values.get("dataset") == "cifar10" and values.get("data_source") == "archive"
                and not archive_checked):
            archive_checked = True
            error, note = archive_problem()
            errors += [error] if error else []
            notes += [note] if note else []
    return list(dict.fromkeys(errors)), list(dict.fromkeys(notes))


def validate_profile(name_or_path: str, *, only: list[str] | None = None, seeds: list[int] | None = None,
                     machine: bool = False) -> Report:
    """A profile's schema, then every run's parameters (`run_problems`); nothing is run or written."""
    try:
        path = grid.profile_path(name_or_path)
    except ConfigError as err:
        return Report(f"profile {name_or_path}", errors=[str(err)])
    report = Report(f"profile {path.stem if path.parent == grid.PROFILE_DIR else path}")
    try:
        raw = grid.read_yaml(path)
        problems = profile_problems(raw)
        if problems:
            report.errors = problems
            return report
        runs = grid.expand(grid.load_profile(str(path)), only=only, seeds=seeds)
    except InputFileError as err:
        report.errors = err.problems
        return report
    except ConfigError as err:
        report.errors = [str(err)]
        return report
    report.checked = len(runs)
    report.errors, report.notes = run_problems(raw, runs, machine=machine)
    if machine:
        report.errors, report.notes = report.errors + report.notes, []
    return report


def validate_templates() -> Report:
    """Each template's own defaults pass `check_parameters` (what `papermill template.ipynb out.ipynb` runs)."""
    from .params import check_parameters

    report = Report("templates", what="templates")
    for template in grid.templates():
        report.checked += 1
        try:
            check_parameters(**{n: p.default for n, p in grid.declared_parameters(template).items()})
        except ConfigError as err:
            report.errors.append(f"{template} (its defaults): {err}")
    return report


# --------------------------------------------------------------------------- the paper's tables
PAPER_MODELS = ("RN18", "RN34", "RN50", "RN101")
PAPER_SETS = ("D^r_ts", "D^u_tr", "D^u_ts", "D_ts", "D^r_tr")
TIME_UNITS = ("seconds", "minutes")


def paper_tables_schema() -> dict[str, Any]:
    """The JSON Schema of `book/data/paper_tables.yaml` (the tables and the figure the book's pages read)."""
    from ..report import PAPER_METHODS

    table = {"type": "object", "required": ["title", "columns", "rows"], "additionalProperties": False,
             "properties": {
                 "title": {"type": "string"},
                 "unit": {"enum": list(TIME_UNITS)},
                 "forget_class": {"type": "integer", "minimum": 0, "maximum": 9},
                 "num_forget": {"type": "integer", "minimum": 1},
                 "columns": {"type": "array", "minItems": 1, "uniqueItems": True,
                             "items": {"enum": list(PAPER_METHODS)}},
                 "rows": {"type": "array", "minItems": 1, "items": {
                     "type": "array", "minItems": 2,
                     "prefixItems": [{"enum": list(PAPER_MODELS)}],
                     "items": {"type": ["string", "number"]}}}}}
    point = {"type": "array", "minItems": 2, "maxItems": 2,
             "prefixItems": [{"type": "number", "minimum": 0}, {"type": "number", "minimum": 0, "maximum": 1}]}
    figure = {"type": "object", "required": ["title", "last_batch", "curves"], "additionalProperties": False,
              "properties": {"title": {"type": "string"}, "last_batch": {"type": "integer", "minimum": 1},
                             "curves": {"type": "object", "minProperties": 1,
                                        "propertyNames": {"enum": list(PAPER_METHODS)},
                                        "additionalProperties": {"type": "array", "minItems": 1, "items": point}}}}
    names = [f"table{i}" for i in range(1, 8)]
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "the paper's tables",
            "type": "object", "required": [*names, "figure2"], "additionalProperties": False,
            "properties": {**{n: table for n in names}, "figure2": figure}}


def paper_tables_problems(raw: Any) -> list[str]:
    """The schema, then what it cannot say: each row holds a model, an evaluated set (accuracy and rate tables
    only), and one value per column; percentages lie in [0, 100]; a figure point lies within its batches."""
    problems = schema_messages(raw, paper_tables_schema())
    if problems:
        return problems
    for name, table in raw.items():
        if name == "figure2":
            for curve, points in table["curves"].items():
                for i, (x, _) in enumerate(points):
                    if x > table["last_batch"]:
                        problems.append(f"figure2.curves.{curve}[{i}]: batch {x} is past last_batch "
                                        f"{table['last_batch']}")
            continue
        timed = "unit" in table
        width = len(table["columns"]) + (1 if timed else 2)
        for i, row in enumerate(table["rows"]):
            at = f"{name}.rows[{i}]"
            if len(row) != width:
                problems.append(f"{at}: expected {width} entries (the model, {'' if timed else 'the evaluated set, '}"
                                f"one value per column of {len(table['columns'])}), got {len(row)}")
                continue
            values = row[1:] if timed else row[2:]
            if not timed and row[1] not in PAPER_SETS:
                problems.append(f"{at}[1]: expected the evaluated set (one of {', '.join(PAPER_SETS)}), got "
                                f"{_describe(row[1])}")
            for j, value in enumerate(values, start=len(row) - len(values)):
                if isinstance(value, (str, bool)):
                    problems.append(f"{at}[{j}]: expected a number, got {_describe(value)}")
                elif not math.isfinite(value):
                    problems.append(f"{at}[{j}]: {value} is not a finite number")
                elif value < 0:
                    problems.append(f"{at}[{j}]: {value} is negative")
                elif not timed and value > 100:
                    problems.append(f"{at}[{j}]: {value} is not a percentage in [0, 100]")
    return problems


def validate_paper_tables(path: str | Path = PAPER_TABLES) -> Report:
    report = Report(str(Path(path).relative_to(project_root()) if Path(path).is_relative_to(project_root())
                        else path), what="tables")
    try:
        raw = grid.read_yaml(path)
    except InputFileError as err:
        report.errors = err.problems
        return report
    report.errors = paper_tables_problems(raw)
    report.checked = len(raw) if isinstance(raw, dict) else 0
    return report


def load_paper_tables(path: str | Path = PAPER_TABLES) -> dict[str, Any]:
    """The paper's tables, validated (`InputFileError` listing every problem otherwise): what the book should read."""
    raw = grid.read_yaml(path)
    problems = paper_tables_problems(raw)
    if problems:
        raise InputFileError(str(path), problems)
    return raw


# --------------------------------------------------------------------------- everything
def validate_all(*, machine: bool = False) -> list[Report]:
    """Every profile of `cu_core/experiments/profiles/`, the templates' defaults and the paper's tables."""
    reports = [validate_profile(name, machine=machine) for name in grid.profiles()]
    reports.append(validate_templates())
    reports.append(validate_paper_tables())
    return reports


def iter_lines(reports: Iterable[Report], strict: bool = False) -> Iterator[str]:
    for report in reports:
        yield from report.lines(strict)


__all__ = ["DRIVER_SET", "Report", "archive_problem", "load_paper_tables", "origin", "paper_tables_problems",
           "paper_tables_schema", "profile_problems", "profile_schema", "run_problems", "schema_messages",
           "validate_all", "validate_paper_tables", "validate_profile", "validate_templates"]
