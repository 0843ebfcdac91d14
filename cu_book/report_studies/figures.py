"""One figure per ablation knob (both tasks), or a placeholder saying what is missing."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..report import provenance
from ._common import TASKS, _same_value
from .ablations import ABLATION_METRICS, knob_default, knob_rows, knob_stats


def plot_knob(table: pd.DataFrame, knob: str, *, default: Any = None, tasks: tuple[str, ...] = TASKS,
              title: str = "") -> Any:
    """One figure for one knob: a row per task with results, the four `ABLATION_METRICS` panels of that task;
    mean ± std over seeds per value, Retrain's value of the same split as a grey cross on the accuracy panels,
    the default value's tick label in bold. `table` holds both tasks (column task). Returns the Figure, or None
    when the knob has no rows in any task."""
    import matplotlib.pyplot as plt

    present = [t for t in tasks if not knob_rows(table[table["task"] == t] if "task" in table else table, knob).empty]
    if not present:
        return None
    fig, axes = plt.subplots(len(present), 4, figsize=(13, 3.1 * len(present)), dpi=110, squeeze=False)
    for r, task in enumerate(present):
        rows = table[table["task"] == task]
        metrics = ABLATION_METRICS[task]
        stats = knob_stats(rows, knob, list(metrics))
        ref_cols = {"acc_forget_train": "retrain_acc_forget_train", "acc_test": "retrain_acc_test",
                    "acc_retain_test": "retrain_acc_retain_test"}
        refs = knob_stats(rows, knob, [c for c in ref_cols.values() if c in rows])
        x = np.arange(len(stats))
        for c, (col, label) in enumerate(metrics.items()):
            ax = axes[r][c]
            mean = stats[col].astype(float).to_numpy()
            std = np.nan_to_num(stats[f"{col}_std"].astype(float).to_numpy())
            ax.errorbar(x, mean, yerr=std, fmt="o-", color="C0", capsize=4, label="CU, mean ± std")
            ref = ref_cols.get(col)
            if ref is not None and ref in refs:
                ax.scatter(x, refs[ref].astype(float), marker="x", color="0.4", s=50, zorder=3, label="Retrain")
            ax.set_xticks(x, list(stats["label"]))
            if default is not None:
                for tick, value in zip(ax.get_xticklabels(), stats["value"]):
                    if _same_value(value, default):
                        tick.set_fontweight("bold")
            ax.set_xlabel(knob + (" (bold: default)" if default is not None else ""))
            ax.set_ylabel(label)
            if c == 0:
                n = int(stats["n"].min()) if len(stats) else 0
                ax.set_title(f"{task} task (seeds per value ≥ {n})", fontsize=9, loc="left")
                ax.legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def placeholder_figure(message: str, xlabel: str = "", ylabel: str = "") -> Any:
    """A small figure that says what is missing (a page glues it where a result figure would go)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 1.8), dpi=110)
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return fig


def knob_figure(table: pd.DataFrame, knob: str, profile: str = "ablations") -> tuple[Any, str]:
    """(`plot_knob` figure or a placeholder, caption provenance) for one knob of `ablation_both` output; the
    profile's default value is bold."""
    rows = knob_rows(table, knob)
    fig = plot_knob(table, knob, default=knob_default(knob, profile)) if not rows.empty else None
    if fig is None:
        fig = placeholder_figure(f"No results for the knob {knob!r} yet (profile {profile}).", knob, "metric")
    tasks = ", ".join(t for t in TASKS if t in set(rows.get("task", [])))
    what = f"the {knob} ablation"
    cap = provenance(rows, profile if not rows.empty else None, what)
    return fig, (cap + f" Tasks: {tasks}." if tasks else cap)
