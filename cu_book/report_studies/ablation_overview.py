"""Overviews of an ablation profile: which declared knob values have results (`coverage`) and one row per knob and
task with its default and lowest-gap values (`ablation_summary`)."""
from __future__ import annotations

import pandas as pd

from ._common import TASKS, _same_value, fmt_pm, value_label
from .ablations import best_value, expected_cases, knob_default, knob_rows, knob_stats


def coverage(table: pd.DataFrame, profile: str, experiment: str) -> pd.DataFrame:
    """Per knob declared by the profile (and any other knob found): the declared values, the values found, the
    seeds found and whether it is complete. Columns knob, declared, found, seeds, missing (text)."""
    declared = expected_cases(profile, experiment)
    knobs = [k for k, _ in declared]
    if not table.empty and "knob" in table:
        knobs += [k for k in dict.fromkeys(table["knob"]) if k not in knobs]
    rows = []
    values_of = dict(declared)
    for knob in knobs:
        part = knob_rows(table, knob)
        found = list(dict.fromkeys(part["label"])) if not part.empty else []
        wanted = [value_label(v) for v in values_of.get(knob, [])]
        missing = [v for v in wanted if not any(_same_value(v, f) for f in found)]
        seeds = sorted({int(s) for s in part["seed"]}) if not part.empty else []
        rows.append({"knob": knob, "declared": ", ".join(wanted), "found": ", ".join(found),
                     "seeds": ", ".join(map(str, seeds)) or "none",
                     "missing": "nothing" if not missing else ("every value" if len(missing) == len(wanted)
                                                               else ", ".join(missing))})
    return pd.DataFrame(rows, columns=["knob", "declared", "found", "seeds", "missing"])


def ablation_summary(table: pd.DataFrame, profile: str = "ablations") -> pd.DataFrame:
    """One row per (knob, task) with results: the default value and its Avg. Gap, the value with the lowest
    mean Avg. Gap and that gap (mean ± std over seeds), the range of mean passes, and the seeds found."""
    cols = ["knob", "task", "default", "gap at default", "lowest-gap value", "lowest gap", "passes (range of means)",
            "seeds"]
    rows = []
    if table.empty:
        return pd.DataFrame(columns=cols)
    declared = [k for task in TASKS for k, _ in expected_cases(profile, f"ablation_{task}")]
    for knob in dict.fromkeys(declared + list(table["knob"])):
        for task in TASKS:
            part = table[table["task"] == task]
            stats = knob_stats(part, knob, ["avg_gap", "epochs"])
            if stats.empty:
                continue
            default = knob_default(knob, profile, f"ablation_{task}")
            at = stats[[_same_value(v, default) for v in stats["value"]]]
            best = best_value(part, knob)
            passes = stats["epochs"].astype(float)
            seeds = sorted({int(x) for x in knob_rows(part, knob)["seed"]})
            rows.append({"knob": knob, "task": task, "default": value_label(default),
                         "gap at default": fmt_pm(at["avg_gap"].iloc[0], at["avg_gap_std"].iloc[0]) if len(at) else "–",
                         "lowest-gap value": best["label"] or "–", "lowest gap": fmt_pm(best["mean"], best["std"]),
                         "passes (range of means)": f"{passes.min():.1f} – {passes.max():.1f}",
                         "seeds": ", ".join(map(str, seeds))})
    return pd.DataFrame(rows, columns=cols)
