"""Questions 6 and 9: when CU stops and what must be tuned. The stopping rules side by side (`stop_rule`
ablation), what the default rule watches pass by pass (`passes.csv`), whether the no-held-out rule stands in for
held-out data, and how much the Avg. Gap moves across the values of each knob (sensitivity)."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .report import provenance
from .report_studies import (TASKS, task_rows, UTILITY, cap_text, knob_default, knob_stats, markdown_table, mean_text,
                             note_table, paired_delta, placeholder_figure, value_label, value_mean)

RULES = ("val", "test", "no_heldout")
#: The knobs whose sensitivity question 9 measures.
KNOBS = ["temperature", "lambda_ul", "lambda_ce", "omega"]


def stop_rule_summary(table: pd.DataFrame) -> str:
    """The data-driven stopping rules (`RULES`) of both tasks side by side as a Markdown table: passes, forget
    accuracy (CU and Retrain), kept accuracy, Avg. Gap (means ± std over seeds) and how many runs ended at the
    pass cap; a note without `stop_rule` results."""
    summary = []
    for task in TASKS:
        r = task_rows(table, task)
        for rule in RULES:
            if not value_mean(r, "stop_rule", rule, "epochs")["n"]:
                continue

            def mean(col: str) -> str:
                return mean_text(value_mean(r, "stop_rule", rule, col))

            summary.append({"Task": task, "Rule": rule, "Passes": mean("epochs"),
                            "Forget acc. (%)": mean("acc_forget_train"),
                            "Retrain forget acc. (%)": mean("retrain_acc_forget_train"),
                            "Kept acc. (%)": mean(UTILITY[task]), "Avg. Gap": mean("avg_gap"),
                            "Ended at the cap": cap_text(r, "stop_rule", rule)})
    return markdown_table(pd.DataFrame(summary)) if summary else note_table(
        "No stop_rule ablation results were found.")


def stop_trace_figure(traces: pd.DataFrame, profile: str = "quick") -> Any:
    """One panel per task of the default CU runs' `passes.csv` rows (`questions.run_logs`, columns task and seed):
    the forget set's accuracy and the threshold the stopping rule compares it with, in %, against the pass; one
    line style per seed. A placeholder without any record."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    if traces.empty:
        return placeholder_figure(f"No passes.csv of a default CU run yet ({profile} profile).", "pass",
                                  "accuracy (%)")
    tasks = [k for k in TASKS if (traces["task"] == k).any()]
    fig, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 3.8), dpi=110, squeeze=False)
    for ax, task in zip(axes[0], tasks):
        part = traces[traces["task"] == task]
        long = part.melt(id_vars=["pass", "seed"], value_vars=["forget_acc", "threshold"], var_name="curve",
                         value_name="accuracy")
        long["accuracy"] = 100 * long["accuracy"]
        sns.lineplot(data=long, x="pass", y="accuracy", hue="curve", style="seed", marker="o", markersize=4, ax=ax)
        ax.set(xlabel="pass over the forget set", ylabel="accuracy (%)",
               title=f"{task} task: stop when forget_acc ≤ threshold")
    fig.tight_layout()
    return fig


def lowest_sample_forget(traces: pd.DataFrame) -> str:
    """How far below 100 % the lowest forget-set accuracy of any sample-task pass in `traces` is (points, one
    decimal); '–' without sample-task records."""
    if traces.empty or "sample" not in set(traces["task"]):
        return "–"
    return f"{100 * (1 - traces[traces['task'] == 'sample']['forget_acc'].min()):.1f}"


def no_heldout_verdict(rows: pd.DataFrame) -> str:
    """Whether the no-held-out rule works about as well as the validation rule in one task's rows: its paired
    Avg. Gap change (worse by more than 2 points: clearly worse, naming the runs that ended at the pass cap)."""
    d = paired_delta(rows, "stop_rule", "avg_gap", "val", "no_heldout")
    if not d["n"]:
        return "not measured yet"
    if d["mean"] <= 2:
        return f"the proxy works about as well as held-out data (gap change {d['mean']:+.1f} points)"
    capped = cap_text(rows, "stop_rule", "no_heldout")
    return (f"the proxy is clearly worse than held-out data (gap {d['mean']:+.1f} points"
            + ("" if capped.startswith(("none", "no run")) else
               f"; {capped} ended at the pass cap: the proxy never fired and the run overshot") + ")")


def sensitivity(table: pd.DataFrame, knobs: list[str] = KNOBS, profile: str = "ablations") -> pd.DataFrame:
    """Per task and knob with results: the values tried, the lowest and highest mean Avg. Gap over them, the mean
    at the profile's default value (NaN if it was not tried) and the value with the lowest gap (columns task,
    knob, values, min, max, default, best); empty without results."""
    sens = []
    for task in TASKS:
        r = task_rows(table, task)
        for knob in knobs:
            stats = knob_stats(r, knob, ["avg_gap"]).dropna(subset=["avg_gap"])
            if stats.empty:
                continue
            default = knob_default(knob, profile, f"ablation_{task}")
            at = stats[[value_label(v) == value_label(default) for v in stats["value"]]]
            sens.append({"task": task, "knob": knob, "values": ", ".join(stats["label"]),
                         "min": float(stats["avg_gap"].min()), "max": float(stats["avg_gap"].max()),
                         "default": float(at["avg_gap"].iloc[0]) if len(at) else np.nan,
                         "best": str(stats.loc[stats["avg_gap"].idxmin(), "label"])})
    return pd.DataFrame(sens)


def sensitivity_figure(sens: pd.DataFrame) -> Any:
    """One bar per (knob, task) of `sensitivity`: the range of the mean Avg. Gap, the default as a red dot; a
    placeholder without results."""
    import matplotlib.pyplot as plt

    if sens.empty:
        return placeholder_figure("No ablation results yet.", "Avg. Gap to Retrain (points)", "knob")
    fig, ax = plt.subplots(figsize=(8, 0.5 + 0.45 * len(sens)), dpi=110)
    y = np.arange(len(sens))
    ax.hlines(y, sens["min"], sens["max"], color="C0", linewidth=3, label="range over the knob's values")
    ax.scatter(sens["default"], y, color="C3", zorder=3, label="default value")
    ax.set_yticks(y, [f"{k} ({t})" for k, t in zip(sens["knob"], sens["task"])])
    ax.invert_yaxis()
    ax.set_xlabel("Avg. Gap to Retrain (points, mean over seeds)")
    ax.set_ylabel("knob (task)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def sensitivity_table(sens: pd.DataFrame) -> str:
    """`sensitivity` as a Markdown table (gaps with one decimal), or a note without results."""
    if sens.empty:
        return note_table("No ablation results were found.")
    tab = sens.assign(**{"lowest gap": sens["min"].map("{:.1f}".format),
                         "highest gap": sens["max"].map("{:.1f}".format),
                         "gap at default": sens["default"].map("{:.1f}".format)})
    return markdown_table(tab[["task", "knob", "values", "gap at default", "lowest gap", "best", "highest gap"]]
                          .rename(columns={"best": "lowest-gap value"}))


def sensitivity_text(sens: pd.DataFrame) -> str:
    """Which knob moves the Avg. Gap most and which least (with their ranges), or 'cannot be measured yet'."""
    if sens.empty:
        return "cannot be measured yet"
    worst = sens.loc[(sens["max"] - sens["min"]).idxmax()]
    calm = sens.loc[(sens["max"] - sens["min"]).idxmin()]
    return (f"the Avg. Gap moves most with {worst['knob']} in the {worst['task']} task "
            f"({worst['min']:.1f} to {worst['max']:.1f} points across {worst['values']}) and least with "
            f"{calm['knob']} in the {calm['task']} task ({calm['min']:.1f} to {calm['max']:.1f})")


def sensitivity_caption(table: pd.DataFrame, knobs: list[str] = KNOBS, profile: str = "ablations") -> str:
    """The caption provenance of the sensitivity figure and table: the rows of `knobs` in `table`."""
    used = table[table["knob"].isin(knobs)] if not table.empty else table
    return provenance(used, profile if not used.empty else None, "these knobs")
