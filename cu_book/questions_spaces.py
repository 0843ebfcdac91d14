"""Question 1: does acting on the representation remove more than acting on inputs or outputs? The class-task
comparison of every method grouped by where it acts (output accuracy against linear-probe accuracy on the
forgotten class), the sentence that answers the question, and the t-SNE of the geometry experiment."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import report
from .probe import tsne_panels
from .questions import default_runs
from .report_studies import fmt_pm, markdown_table, method_space, note_table, placeholder_figure, tsne_table

#: The methods compared: CU, the output- and input-space baselines, Retrain and the original model.
METHODS = ["contrastive", "random_label", "neggrad", "neggrad_plus", "salun", "scrub", "unsir", "boundary_shrink",
           "boundary_expanding", "retrain", "original"]
#: The numbers compared per method (%, Avg. Gap in points).
COLUMNS = ["acc_forget_test", "acc_retain_test", "probe_forget", "avg_gap"]
_NAMES = [("acc_forget_test", "Output acc., forgotten class (%)"),
          ("acc_retain_test", "Output acc., other classes (%)"),
          ("probe_forget", "Probe acc., forgotten class (%)"), ("avg_gap", "Avg. Gap")]


def class_rows(profile: str = "quick", methods: list[str] = METHODS, root: str | Path | None = None) -> pd.DataFrame:
    """The default class-task sub-runs of `methods` in `profile` (empty when none was written)."""
    df = default_runs(profile, root)
    return df[(df["task"] == "class") & df["method"].isin(methods)] if not df.empty else df


def space_stats(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds of `COLUMNS` per method of `class_rows`, with where the method acts (`space`) and
    its probe accuracy minus Retrain's (`probe − Retrain`, NaN without Retrain); sorted by space and method.
    Empty when `rows` is."""
    if rows.empty:
        return pd.DataFrame(columns=["method", *COLUMNS, *[f"{c}_std" for c in COLUMNS], "n", "space"])
    stats = report.mean_std(rows, ["method"], COLUMNS)
    stats["space"] = [method_space(m) for m in stats["method"]]
    ref = stats.set_index("method")
    stats["probe − Retrain"] = stats["probe_forget"] - float(ref.loc["retrain", "probe_forget"]) \
        if "retrain" in ref.index else np.nan
    return stats.sort_values(["space", "method"]).reset_index(drop=True)


def space_table(stats: pd.DataFrame, profile: str = "quick") -> str:
    """`space_stats` as a Markdown table (method, where it acts, mean ± std of every column, probe − Retrain), or a
    note that `profile` has no class-task results."""
    if stats.empty:
        return note_table(f"No class-task results of the `{profile}` profile were found.")
    table = pd.DataFrame({"Method": stats["method"], "Acts on": stats["space"]})
    for col, name in _NAMES:
        table[name] = [fmt_pm(m, s) for m, s in zip(stats[col], stats[f"{col}_std"])]
    table["Probe − Retrain (points)"] = [fmt_pm(v) for v in stats["probe − Retrain"]]
    return markdown_table(table)


def space_figure(stats: pd.DataFrame, profile: str = "quick") -> Any:
    """Output accuracy (x) against probe accuracy (y) on the forgotten class's test images, one point (± std) per
    method of `space_stats`, coloured by where it acts; a placeholder when there are no results."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    if stats.empty:
        return placeholder_figure(f"No {profile}-profile class-task results yet.", "forget-class test acc. (%)",
                                  "probe acc. (%)")
    fig, ax = plt.subplots(figsize=(7.5, 5), dpi=110)
    spaces = list(dict.fromkeys(stats["space"]))
    colours = dict(zip(spaces, sns.color_palette("colorblind", len(spaces))))
    for _, r in stats.iterrows():
        ax.errorbar(r["acc_forget_test"], r["probe_forget"], xerr=np.nan_to_num(float(r["acc_forget_test_std"])),
                    yerr=np.nan_to_num(float(r["probe_forget_std"])), fmt="o", color=colours[r["space"]], capsize=2)
        ax.annotate(r["method"], (r["acc_forget_test"], r["probe_forget"]), fontsize=8, xytext=(4, 3),
                    textcoords="offset points")
    ax.legend([plt.Line2D([], [], marker="o", linestyle="", color=colours[s]) for s in spaces], spaces,
              title="acts on", fontsize=8, loc="lower right")
    ax.set_xlabel("output accuracy on the forgotten class's test images (%)")
    ax.set_ylabel("linear-probe accuracy on the same images (%)")
    fig.tight_layout()
    return fig


def space_answer(rows: pd.DataFrame) -> str:
    """The end of the sentence 'The claim that acting on the representation removes the class from the
    representation …': supported when CU's probe accuracy is within 5 points of Retrain's, otherwise not, naming
    the compared methods (in the order they appear in `rows`) that end closer to Retrain's probe accuracy."""
    if rows.empty:
        return "cannot be answered yet: the class-task comparison has not been run"
    ref = report.mean_std(rows, ["method"], COLUMNS).set_index("method")
    if not {"contrastive", "retrain"} <= set(ref.index):
        return "cannot be answered yet: CU or Retrain is missing"
    c, r = ref.loc["contrastive"], ref.loc["retrain"]
    if not c["probe_forget"] > r["probe_forget"] + 5:
        return (f"is supported here: CU's probe accuracy, {fmt_pm(c['probe_forget'], c['probe_forget_std'])} %, is "
                f"within 5 points of Retrain's {fmt_pm(r['probe_forget'], r['probe_forget_std'])} %")
    closer = [m for m in ref.index if m not in ("contrastive", "retrain", "original")
              and abs(ref.loc[m, "probe_forget"] - r["probe_forget"]) < abs(c["probe_forget"] - r["probe_forget"])]
    return (f"is not supported at this scale: CU brings the forgotten class's output accuracy to "
            f"{fmt_pm(c['acc_forget_test'], c['acc_forget_test_std'])} %, but a linear probe still reads "
            f"{fmt_pm(c['probe_forget'], c['probe_forget_std'])} % of the class from its embeddings, "
            f"against {fmt_pm(r['probe_forget'], r['probe_forget_std'])} % for Retrain; "
            f"{len(closer)} of the compared output- and input-space methods ({', '.join(closer) or 'none'}) "
            f"end closer to Retrain's probe accuracy")


def tsne_figure(profile: str = "ablations", experiment: str = "geometry_class",
                root: str | Path | None = None) -> tuple[Any, str]:
    """(figure, caption provenance) of the t-SNE of the first run of a geometry experiment: one panel per model
    (original, the method, Retrain), the legend on the last; a placeholder and 'Not run yet.' without one."""
    frame = tsne_table(profile, experiment, root)
    if frame.empty:
        return placeholder_figure(f"No t-SNE of the class task yet ({experiment}, {profile} profile).",
                                  "t-SNE 1", "t-SNE 2"), "Not run yet."
    one = frame[frame["run_id"] == frame["run_id"].iloc[0]]
    fig = tsne_panels(one, 5, 4.4)
    runs = report.subruns(profile, experiment, root)
    return fig, report.provenance(runs[runs["run_id"] == one["run_id"].iloc[0]], profile)
