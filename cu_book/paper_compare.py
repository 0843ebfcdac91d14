"""The paper's tables beside ours: `book/data/paper_tables.yaml` in long form, our sub-runs in the same form, the
side-by-side display table, and a claim's rule applied per model (a verdict).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from cu_core.experiments.validate_tables import PAPER_TABLES, load_paper_tables
from cu_core.unlearn.registry import PAPER_NAMES

from .formatting import fmt, mean_std, natural_key
from .method_names import paper_label



def paper_tables(path: str | Path = PAPER_TABLES) -> dict[str, Any]:
    """The paper's tables and Figure 2 as transcribed in `book/data/paper_tables.yaml`, validated against their
    schema (`cu_core.experiments.validate_tables.load_paper_tables`)."""
    return load_paper_tables(path)


# The paper's column names (book/data/paper_tables.yaml) -> cu_core method names.
PAPER_METHODS = PAPER_NAMES  # the paper's column and legend names -> method names


def paper_table(tables: dict[str, Any], name: str) -> pd.DataFrame:
    """One table of paper_tables.yaml in long form: model, eval (None for the time tables), column (the
    paper's name), method (cu_core's), value."""
    table = tables[name]
    columns = table["columns"]
    rows = []
    for row in table["rows"]:
        model, evaluated = row[0], (row[1] if len(row) == len(columns) + 2 else None)
        for column, value in zip(columns, row[-len(columns):]):
            rows.append({"model": model, "eval": evaluated, "column": column,
                         "method": PAPER_METHODS.get(column, column), "value": float(value)})
    return pd.DataFrame(rows)


def side_by_side(paper: pd.DataFrame, ours: pd.DataFrame | list[tuple[str, pd.DataFrame]], label: str = "Ours",
                 digits: int = 2) -> pd.DataFrame:
    """A display table: the paper's rows, then ours, indexed by source, model (and eval when given), with one
    column per paper column. `paper` is `paper_table` output; `ours` has model, eval, column and text (preformatted
    strings), or is a list of (label, such frame) for several sources. A paper column without our result reads
    "not run"."""
    columns = list(dict.fromkeys(paper["column"]))
    index = ["model", "eval"] if paper["eval"].notna().any() else ["model"]
    top = paper.assign(text=[f"{v:.{digits}f}" for v in paper["value"]])
    frames = []
    for source, part in [("Paper (v1)", top), *(ours if isinstance(ours, list) else [(label, ours)])]:
        if part.empty:
            continue
        wide = part.pivot_table(index=index, columns="column", values="text", aggfunc="first", sort=False)
        wide = wide.reindex(columns=columns).fillna("not run")
        frames.append(pd.concat({source: wide}, names=["Source"]))
    table = pd.concat(frames)
    table.columns = [paper_label(c) for c in table.columns]  # one spelling per method (cu_book.method_names)
    table.columns.name = None
    table.index.names = ["Source"] + [{"model": "Model", "eval": "Eval"}[i] for i in index]
    return table


def verdict(ok: bool | None) -> str:
    """'holds', 'does not hold', or 'not tested at this scale' (ok is None)."""
    return "not tested at this scale" if ok is None else ("holds" if ok else "does not hold")


def ours_long(df: pd.DataFrame, evals: dict[str | None, str], columns: list[str], digits: int = 1) -> pd.DataFrame:
    """Our numbers in `paper_table`'s long form: model, eval, column, method, mean, std, n and text ('m ± s').
    `evals` maps the paper's evaluated set (None for the time tables) to our column; `columns` are the paper's
    column names (a method without results has no row)."""
    wanted = {PAPER_METHODS[c]: c for c in columns}
    rows = []
    if df.empty:
        return pd.DataFrame(columns=["model", "eval", "column", "method", "mean", "std", "n", "text"])
    sub = df[df["method"].isin(wanted)]
    stats = mean_std(sub, ["model", "method"], list(evals.values()))
    stats = stats.sort_values("model", key=lambda s: s.map(natural_key), kind="stable")
    for _, r in stats.iterrows():
        for evaluated, col in evals.items():
            if pd.isna(r[col]):
                continue
            rows.append({"model": r["model"], "eval": evaluated, "column": wanted[r["method"]],
                         "method": r["method"], "mean": float(r[col]), "std": float(r[f"{col}_std"]),
                         "n": int(r["n"]), "text": fmt(float(r[col]), float(r[f"{col}_std"]), digits)})
    return pd.DataFrame(rows, columns=["model", "eval", "column", "method", "mean", "std", "n", "text"])


def nested(long: pd.DataFrame, value: str) -> dict[str, dict[str, dict[Any, float]]]:
    """`paper_table` / `ours_long` output as {model: {method: {eval: value}}}, the input of a claim's rule."""
    out: dict[str, dict[str, dict[Any, float]]] = {}
    for _, r in long.iterrows():
        out.setdefault(r["model"], {}).setdefault(r["method"], {})[r["eval"]] = float(r[value])
    return out


def judge(rule: Any, values: dict[str, dict[str, dict[Any, float]]]) -> tuple[bool | None, str]:
    """Apply `rule(methods) -> (ok or None, why)` to each model of `values`; the claim holds when it holds for
    every model tested, is untested (None) when no model could be tested. `why` names the model when there are
    several."""
    results = {model: rule(methods) for model, methods in values.items()}
    tested = {m: r for m, r in results.items() if r[0] is not None}
    if not tested:
        reasons = {r[1] for r in results.values()}
        return None, "; ".join(sorted(reasons)) if reasons else "No profile has results for this table"
    ok = all(r[0] for r in tested.values())
    if len(results) == 1:
        return ok, next(iter(results.values()))[1]
    return ok, "; ".join(f"{m}: {r[1]}" for m, r in results.items())


def paper_count(rule: Any, paper: pd.DataFrame) -> str:
    """How many of the paper's models satisfy `rule` on the paper's own numbers, e.g. '4 of 4 models'."""
    results = [rule(methods)[0] for methods in nested(paper, "value").values()]
    return f"{sum(bool(r) for r in results)} of {len(results)} models"
