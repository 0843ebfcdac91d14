"""Questions 2 and 4: what the terms of Eq. (7) do while CU runs. The two loss terms at every optimiser step
(`history.csv` of the default CU runs) with their first-to-last change, the passes CU ran, and the per-pass
record (`passes.csv`) of the class-task runs with and without the cross-entropy term."""
from __future__ import annotations

from typing import Any

import pandas as pd

from .questions import run_logs
from .report_studies import TASKS, fmt_pm, knob_rows, placeholder_figure, task_rows

#: The two terms of Eq. (7) in `history.csv`: column → axis label.
LOSS_TERMS = [("loss_ul", "contrastive term $\\mathcal{L}_{UL}$"), ("loss_ce", "cross-entropy on the retain batch")]
#: The per-pass accuracies that the class task's stopping rule (Eq. 8) watches: column → axis label.
PASS_CURVES = [("forget_acc", "forget-class training accuracy"),
               ("heldout_acc", "held-out accuracy, forgotten class")]


def loss_history(cu: pd.DataFrame) -> pd.DataFrame:
    """Every CU sub-run's `history.csv` (one row per optimiser step: step, loss_ul, loss_ce, …) with its task
    and seed; empty when no run wrote one."""
    return run_logs(cu, "history.csv", ("task", "seed"))


def history_figure(hist: pd.DataFrame, profile: str = "quick") -> Any:
    """The two terms of Eq. (7) against the optimiser step, one row of panels per task with a history, one line
    per seed; a placeholder without any history."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    if hist.empty:
        return placeholder_figure(f"No history.csv of a contrastive run in the {profile} profile yet.",
                                  "optimiser step", "loss")
    tasks = [t for t in TASKS if (hist["task"] == t).any()]
    fig, axes = plt.subplots(len(tasks), 2, figsize=(11, 3.3 * len(tasks)), dpi=110, squeeze=False)
    for i, task in enumerate(tasks):
        h = hist[hist["task"] == task]
        for j, (col, label) in enumerate(LOSS_TERMS):
            sns.lineplot(data=h, x="step", y=col, hue="seed", palette="colorblind", ax=axes[i][j], linewidth=1)
            axes[i][j].set(xlabel="optimiser step", ylabel=label, title=f"{task} task")
    fig.tight_layout()
    return fig


def loss_trend(hist: pd.DataFrame, task: str, column: str) -> str:
    """'first → last' of one loss term of `loss_history` in one task (means over seeds of each run's first and
    last step, two decimals); '–' when the task has no history."""
    h = task_rows(hist, task)
    if h.empty:
        return "–"
    first = h.sort_values("step").groupby("seed").first()
    last = h.sort_values("step").groupby("seed").last()
    return f"{first[column].mean():.2f} → {last[column].mean():.2f}"


def passes_text(cu: pd.DataFrame, task: str) -> str:
    """The passes over the forget set that CU ran in one task, mean ± std over seeds ('–' without runs)."""
    part = task_rows(cu, task)
    return fmt_pm(part["epochs"].mean(), part["epochs"].std()) if not part.empty else "–"


def lambda_ce_trace_figure(rows: pd.DataFrame) -> Any:
    """Pass by pass, the accuracy on the forgotten class's training images and on its held-out images (`passes.csv`)
    of every run of the `lambda_ce` ablation in `rows` (one task's `ablation_table` rows), hue λ_CE, one line
    style per seed; a placeholder when no run wrote a per-pass record."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    runs = knob_rows(rows, "lambda_ce")
    runs = runs.assign(value=[f"λ_CE = {label}" for label in runs["label"]]) if not runs.empty else runs
    trace = run_logs(runs, "passes.csv", ("value", "seed"))
    if trace.empty:
        return placeholder_figure("No per-pass record of the λ_CE ablation yet.", "pass over the forget set",
                                  "accuracy")
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), dpi=110)
    for ax, (col, label) in zip(axes, PASS_CURVES):
        sns.lineplot(data=trace, x="pass", y=col, hue="value", style="seed", ax=ax, marker="o", markersize=4)
        ax.set(xlabel="pass over the forget set", ylabel=label)
    fig.tight_layout()
    return fig
