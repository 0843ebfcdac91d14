"""Shared readers and text helpers of the study tables."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from ..report import as_finite as _as_float, fmt

TASKS = ("class", "sample")


def _same_value(a: Any, b: Any) -> bool:
    fa, fb = _as_float(a), _as_float(b)
    if fa is not None and fb is not None:
        return math.isclose(fa, fb, rel_tol=1e-9, abs_tol=1e-12)
    return str(a).strip().lower() == str(b).strip().lower()


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def run_parameters(run_dir: str | Path) -> dict[str, Any]:
    """The template parameters of one experiment run (its `config.json`), or {} when it is missing or broken."""
    path = Path(run_dir) / "config.json"
    try:
        return dict(json.loads(path.read_text()).get("parameters") or {})
    except (OSError, ValueError, AttributeError):
        return {}


def split_subrun(name: str) -> tuple[str, str]:
    """'lambda_ce-0.0' → ('lambda_ce', '0.0'); 'forget_selection-first_n' → ('forget_selection', 'first_n').

    Knob names hold no hyphen, so the first hyphen separates knob and value; a name without one is
    (name, '')."""
    knob, _, value = name.partition("-")
    return knob, value


def value_label(value: Any) -> str:
    """A value as the figures show it: numbers without trailing zeros ('0.0' → '0', '4' → '4'), text as is."""
    number = _as_float(value)
    return f"{number:g}" if number is not None else str(value)


def task_rows(table: pd.DataFrame, task: str) -> pd.DataFrame:
    """The rows of one task (column `task`) of a results table; the table itself when it is empty."""
    return table[table["task"] == task] if not table.empty else table


fmt_pm = fmt  # one formatter for mean ± std: cu_book.report.fmt


def markdown_table(df: pd.DataFrame) -> str:
    """A DataFrame as a Markdown (MyST) table, cells as text; '|' in a cell is escaped."""
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(cell(c) for c in df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def note_table(text: str) -> str:
    """A one-cell Markdown table holding a note (e.g. what is missing), for places that must hold a table."""
    return markdown_table(pd.DataFrame({"Note": [text]}))


def delta_text(delta: dict[str, float], digits: int = 1) -> str:
    """A `paired_delta` as '+12.3 ± 4.5 points (3 seeds)' ('–' when no seed has both values)."""
    if not delta["n"]:
        return "–"
    m, s, n = delta["mean"], delta["std"], int(delta["n"])
    spread = "" if math.isnan(s) else f" ± {s:.{digits}f}"
    return f"{m:+.{digits}f}{spread} points ({n} seed{'s' if n != 1 else ''})"


def change_text(delta: dict[str, float], digits: int = 1, unit: str = "points") -> str:
    """A `paired_delta` in words: 'drops by 98.8 ± 1.2 points (98.8 → 0.0; 3 seeds)', 'rises by …', or
    'does not change (…)' when the mean change rounds to 0; 'was not measured' when no seed has both values."""
    if not delta["n"]:
        return "was not measured (no seed has both values yet)"
    m, s, n = delta["mean"], delta["std"], int(delta["n"])
    spread = "" if math.isnan(s) else f" ± {s:.{digits}f}"
    where = f"{delta['base']:.{digits}f} → {delta['other']:.{digits}f}; {n} seed{'s' if n != 1 else ''}"
    if round(m, digits) == 0:
        return f"does not change ({where})"
    return f"{'drops' if m < 0 else 'rises'} by {abs(m):.{digits}f}{spread} {unit} ({where})"


def mean_text(stat: dict[str, float], digits: int = 1, unit: str = "") -> str:
    """A `value_mean` as '12.3 ± 4.5 %' ('–' when missing)."""
    text = fmt_pm(stat["mean"], stat["std"], digits)
    return text if text == "–" or not unit else f"{text}{unit}"
