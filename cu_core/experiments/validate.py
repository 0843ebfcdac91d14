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

The checks live in `validate_messages` (schema errors → lines, `Report`), `validate_profiles` (the profile
schema), `validate_runs` (runs, templates, the archive) and `validate_tables` (the paper's tables); every name is
re-exported here.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from . import grid
from .validate_messages import TYPE_WORDS, Report, _describe, _expected, key_path, schema_messages  # noqa: F401
from .validate_profiles import (  # noqa: F401  (_profile_schema, _value_schema, ...: kept importable)
    _NAME_PATTERN,
    DRIVER_SET,
    JSON_TYPES,
    _profile_schema,
    _value_schema,
    parameter_types,
    profile_problems,
    profile_schema,
)
from .validate_runs import (  # noqa: F401
    origin,
    _archive_sha256,
    _cuda,
    _run_values,
    archive_problem,
    run_problems,
    validate_profile,
    validate_templates,
)
from .validate_tables import (  # noqa: F401
    PAPER_MODELS,
    PAPER_SETS,
    PAPER_TABLES,
    TIME_UNITS,
    load_paper_tables,
    paper_tables_problems,
    paper_tables_schema,
    validate_paper_tables,
)


def validate_all(*, machine: bool = False) -> list[Report]:
    """Every profile of `cu_core/experiments/profiles/`, the templates' defaults and the paper's tables."""
    reports = [validate_profile(name, machine=machine) for name in grid.profiles()]
    reports.append(validate_templates())
    reports.append(validate_paper_tables())
    return reports


def iter_lines(reports: Iterable[Report], strict: bool = False) -> Iterator[str]:
    """The lines of every report (`Report.lines`), one report after another."""
    for report in reports:
        yield from report.lines(strict)


__all__ = ["DRIVER_SET", "Report", "archive_problem", "load_paper_tables", "origin", "paper_tables_problems",
           "paper_tables_schema", "profile_problems", "profile_schema", "run_problems", "schema_messages",
           "validate_all", "validate_paper_tables", "validate_profile", "validate_templates"]
