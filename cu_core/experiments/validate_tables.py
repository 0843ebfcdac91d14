"""`book/data/paper_tables.yaml`, the paper's tables and figure the book reads: its JSON Schema
(`paper_tables_schema`), what the schema cannot say (`paper_tables_problems`), and the validated tables
(`load_paper_tables`). Re-exported by `cu_core.experiments.validate`.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..errors import InputFileError
from ..paths import project_root
from . import grid
from .validate_messages import Report, _describe, schema_messages

PAPER_TABLES = project_root() / "book" / "data" / "paper_tables.yaml"
PAPER_MODELS = ("RN18", "RN34", "RN50", "RN101")
PAPER_SETS = ("D^r_ts", "D^u_tr", "D^u_ts", "D_ts", "D^r_tr")
TIME_UNITS = ("seconds", "minutes")


def paper_tables_schema() -> dict[str, Any]:
    """The JSON Schema of `book/data/paper_tables.yaml` (the tables and the figure the book's pages read)."""
    from ..unlearn.registry import PAPER_NAMES as PAPER_METHODS

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
