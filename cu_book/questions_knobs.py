"""Questions 3, 8 and 10: readings of single ablation knobs (`ablation_table` rows). The ω sweep (passes,
examples and gap per value, the spread of the work across values), random against fixed retain batches, the
forget-set selection (random, first n, atypical) and the model and head ablations side by side."""
from __future__ import annotations

import pandas as pd

from .report import provenance
from .report_studies import (TASKS, task_rows, UTILITY, fmt_pm, knob_stats, markdown_table, mean_text, note_table,
                             value_mean)

#: The numbers of the forget-selection table: `ablation_table` column → display name.
SELECTION_COLUMNS = {"original_acc_forget_train": "Original (%)", "retrain_acc_forget_train": "Retrain (%)",
                     "acc_forget_train": "CU (%)", "acc_test": "CU test acc. (%)", "avg_gap": "Avg. Gap",
                     "epochs": "Passes", "mia_efficacy": "CU MIA-eff. (%)",
                     "retrain_mia_efficacy": "Retrain MIA-eff. (%)"}
SELECTIONS = ("random", "first_n", "atypical")
#: The values of the model and head ablations that question 10 compares.
ARCHITECTURES = (("model", ("cnn4", "vit_tiny")), ("head", ("supcon", "linear")))


def omega_summary(rows: pd.DataFrame) -> str:
    """Per value of ω in one task's rows: passes, examples processed and Avg. Gap (mean ± std over seeds),
    '; '-separated; 'was not measured yet' without an ω sweep."""
    stats = knob_stats(rows, "omega", ["epochs", "samples", "avg_gap"])
    if stats.empty:
        return "was not measured yet"
    return "; ".join(f"ω = {row['label']}: {fmt_pm(row['epochs'], row['epochs_std'])} passes, "
                     f"{fmt_pm(row['samples'], row['samples_std'], 0)} examples, gap "
                     f"{fmt_pm(row['avg_gap'], row['avg_gap_std'])}" for _, row in stats.iterrows())


def omega_work_ratio(rows: pd.DataFrame) -> str:
    """The largest over the smallest mean number of examples processed across the values of ω (two decimals;
    '–' without an ω sweep): near 1 when ω redistributes the same work over fewer, longer passes."""
    stats = knob_stats(rows, "omega", ["epochs", "samples", "avg_gap"])
    ratio = (stats["samples"].max() / stats["samples"].min()) if not stats.empty else float("nan")
    return "–" if ratio != ratio else f"{ratio:.2f}"


def sampling_spread(rows: pd.DataFrame) -> str:
    """The seed-to-seed standard deviation of the Avg. Gap with random and with sequential (fixed) retain
    batches: '1.2 (random) and 0.8 (sequential)' ('–' where fewer than two seeds exist)."""
    sd = {v: value_mean(rows, "retain_sampling", v, "avg_gap")["std"] for v in ("random", "sequential")}
    return f"{fmt_pm(sd['random'])} (random) and {fmt_pm(sd['sequential'])} (sequential)"


def forget_selection_table(rows: pd.DataFrame) -> str:
    """Per kind of forget set (`SELECTIONS`) of the sample task's rows: the forget-set accuracy of the original
    model, Retrain and CU, CU's test accuracy, Avg. Gap, passes and both MIA-efficacies (means ± std over
    seeds), as a Markdown table; a note when the ablation has no results."""
    table = []
    for value in SELECTIONS:
        if not value_mean(rows, "forget_selection", value, "acc_forget_train")["n"]:
            continue
        table.append({"Forget set": value, **{name: mean_text(value_mean(rows, "forget_selection", value, col))
                                              for col, name in SELECTION_COLUMNS.items()}})
    return markdown_table(pd.DataFrame(table)) if table else note_table(
        "No forget_selection ablation results were found yet.")


def atypical_answer(rows: pd.DataFrame) -> str:
    """The short answer of question 8: the trace of training on the atypical forget set (original minus Retrain
    forget accuracy) against a random one, and the share of it CU removes (and by how much it overshoots
    Retrain, beyond 1 point); a sentence saying the set was not run when a mean is missing."""
    def m(value: str, col: str) -> float:
        return value_mean(rows, "forget_selection", value, col)["mean"]

    o, t, c = m("atypical", "original_acc_forget_train"), m("atypical", "retrain_acc_forget_train"), \
        m("atypical", "acc_forget_train")
    if not (t == t and o == o and c == c):
        return "The atypical forget set has not been run yet, so this page cannot answer the question from data."
    trace = o - t
    removed = (o - c) / trace if trace > 0 else float("nan")
    return (f"On the atypical forget set the original model scores {o:.1f} % and Retrain {t:.1f} %: the "
            f"trace of training is {trace:.1f} points, against "
            f"{m('random', 'original_acc_forget_train') - m('random', 'retrain_acc_forget_train'):.1f} for a "
            f"random forget set. CU ends at {c:.1f} %, "
            + (f"which removes {100 * removed:.0f} % of that trace" if removed == removed else
               "so there was no trace to remove")
            + (f", overshooting Retrain by {t - c:.1f} points" if c < t - 1 else "") + ".")


def architecture_table(table: pd.DataFrame) -> str:
    """Both tasks' model (CNN against ViT) and head (projection head against linear) ablations side by side:
    the original's test accuracy, Retrain's and CU's kept accuracy, CU's forget accuracy, Avg. Gap, passes and
    seconds (means ± std over seeds), as a Markdown table; a note without results."""
    rows = []
    for task in TASKS:
        r = task_rows(table, task)
        for knob, values in ARCHITECTURES:
            for value in values:
                if not value_mean(r, knob, value, "avg_gap")["n"]:
                    continue

                def mean(col: str, digits: int = 1) -> str:
                    return mean_text(value_mean(r, knob, value, col), digits=digits)

                rows.append({"Task": task, "Knob": knob, "Value": value,
                             "Original test acc. (%)": mean("original_acc_test"),
                             "Retrain kept acc. (%)": mean("retrain_" + UTILITY[task]),
                             "CU kept acc. (%)": mean(UTILITY[task]), "CU forget acc. (%)": mean("acc_forget_train"),
                             "Avg. Gap": mean("avg_gap"), "Passes": mean("epochs"), "Seconds": mean("seconds", 2)})
    return markdown_table(pd.DataFrame(rows)) if rows else note_table("No model or head ablation results yet.")


def architecture_caption(table: pd.DataFrame, profile: str = "ablations") -> str:
    """The caption provenance of `architecture_table`: the rows of the model and head ablations in `table`."""
    rows = table[table["knob"].isin([knob for knob, _ in ARCHITECTURES])] if not table.empty else table
    return provenance(rows, profile if not table.empty else None, "the model and head ablations")
