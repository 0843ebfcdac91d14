"""Question 7: what membership inference can and cannot show. Four single-model attack numbers on the original
model, CU and Retrain (sample task) with the sentence that calibrates them against Retrain's spread, the power
rule's verdict on the paper's attack, and the U-LiRA-style shadow-model attack."""
from __future__ import annotations

from typing import Any

import pandas as pd

from . import power, report
from .report_studies import fmt_pm, markdown_table, note_table, placeholder_figure

#: The single-model attack numbers of `report.subruns` (%): column → axis label.
ATTACKS = {"paper_forget_member_rate": "paper's attack:\nforget called member (%)",
           "paper_heldout_member_rate": "paper's attack: held-out\nretain called member (%)",
           "mia_efficacy": "MIA-efficacy (%)", "loss_attack_accuracy": "loss attack\naccuracy (%)"}
#: The models compared.
SHOWN = ["original", "contrastive", "retrain"]


def sample_rows(df: pd.DataFrame, shown: list[str] = SHOWN) -> pd.DataFrame:
    """The sample-task rows of `shown` methods in default sub-runs `df` (`questions.default_runs`)."""
    return df[(df["task"] == "sample") & df["method"].isin(shown)] if not df.empty else df


def attack_figure(sample: pd.DataFrame, profile: str = "quick") -> Any:
    """Bars (mean over seeds, whiskers: std) of the `ATTACKS` numbers per model of `sample_rows`; a placeholder
    without rows."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    if sample.empty:
        return placeholder_figure(f"No sample-task results of the {profile} profile yet.", "attack", "value (%)")
    long = sample.melt(id_vars=["method", "seed"], value_vars=list(ATTACKS), var_name="attack", value_name="value")
    long["attack"] = long["attack"].map(ATTACKS)
    fig, ax = plt.subplots(figsize=(10, 4), dpi=110)
    sns.barplot(data=long, x="attack", y="value", hue="method",
                hue_order=[m for m in SHOWN if m in set(long["method"])], errorbar="sd", capsize=0.1, ax=ax)
    ax.set(xlabel="attack", ylabel="value (%)")
    fig.tight_layout()
    return fig


def attack_text(sample: pd.DataFrame) -> str:
    """The paper's attack's forget member rate under Retrain, the original model and CU, whether the original
    model's distance to Retrain exceeds Retrain's own seed-to-seed spread, and the loss attack's accuracy on the
    three models (mean ± std over seeds); a sentence saying the comparison has not been run without rows."""
    if sample.empty:
        return "The sample-task comparison has not been run yet."
    st = report.mean_std(sample, ["method"], list(ATTACKS)).set_index("method")

    def v(m: str, c: str) -> str:
        return fmt_pm(st.loc[m, c], st.loc[m, f"{c}_std"]) if m in st.index else "–"

    rate = "paper_forget_member_rate"
    gap_orig = abs(st.loc["original", rate] - st.loc["retrain", rate]) \
        if {"original", "retrain"} <= set(st.index) else float("nan")
    sd_r = st.loc["retrain", f"{rate}_std"] if "retrain" in st.index else float("nan")
    return (f"On the sample task the paper's attack calls {v('retrain', rate)} % of the "
            f"forget images members under Retrain, a model that never saw them, {v('original', rate)} % "
            f"under the original model and {v('contrastive', rate)} % under CU. "
            + ("" if gap_orig != gap_orig or sd_r != sd_r else
               f"The difference between the original model and Retrain, {gap_orig:.1f} points, is "
               f"{'smaller than' if gap_orig < sd_r else 'about' if gap_orig < 2 * sd_r else 'larger than'} "
               f"Retrain's own seed-to-seed spread ({fmt_pm(sd_r)} points). ")
            + "The loss attack, whose chance level "
            f"is 50 %, reaches {v('original', 'loss_attack_accuracy')} % on the original model, "
            f"{v('contrastive', 'loss_attack_accuracy')} % on CU and {v('retrain', 'loss_attack_accuracy')} % on "
            "Retrain.")


def power_text(df: pd.DataFrame, tolerance: float = 5.0) -> str:
    """The book's power rule (`power.runs_power`, tolerance in points) on the paper's attack in the sample-task
    rows of `df`: whether a verdict can rest on it here, and why; '' without rows."""
    if df.empty:
        return ""
    check = power.runs_power(df[df["task"] == "sample"], "paper_forget_member_rate", tolerance)
    return ("By the book's power rule the attack can support a verdict here: " if check.testable else
            "By the book's power rule no verdict can rest on this attack here: ") + check.reason + "."


def ulira_rows(att: pd.DataFrame) -> pd.DataFrame:
    """The sub-runs of an `attack_table` that ran the U-LiRA-style attack (its balanced accuracy is not missing)."""
    return att.dropna(subset=["ulira_balanced_accuracy"]) if not att.empty else att


def _ulira_stats(shadowed: pd.DataFrame) -> pd.DataFrame:
    return report.mean_std(shadowed, ["run", "method"], ["ulira_balanced_accuracy", "ulira_tpr_1pct_fpr"])


def ulira_table(shadowed: pd.DataFrame) -> str:
    """Per sub-run of `ulira_rows`: the attack's balanced accuracy and TPR at 1 % FPR (mean ± std over seeds), as
    a Markdown table; a note that the experiment has not finished without rows."""
    if shadowed.empty:
        return note_table("No U-LiRA-style result yet: the `attacks_sample` experiment of the "
                          "`ablations` profile has not finished.")
    st = _ulira_stats(shadowed)
    return markdown_table(pd.DataFrame({
        "Sub-run": st["run"],
        "Balanced accuracy (%)": [fmt_pm(m, s) for m, s in zip(st["ulira_balanced_accuracy"],
                                                                st["ulira_balanced_accuracy_std"])],
        "TPR at 1 % FPR (%)": [fmt_pm(m, s, 2) for m, s in zip(st["ulira_tpr_1pct_fpr"],
                                                               st["ulira_tpr_1pct_fpr_std"])]}))


def ulira_text(shadowed: pd.DataFrame) -> str:
    """'contrastive: 51.2 % balanced accuracy, retrained shadows: 50.1 % …' per method of `ulira_rows`, or that
    the shadow-model experiment has not finished."""
    if shadowed.empty:
        return "not available yet: the shadow-model experiment has not finished at build time"
    by = _ulira_stats(shadowed).set_index("method")
    return ", ".join(f"{ {'retrain': 'retrained shadows'}.get(m, m)}: {by.loc[m, 'ulira_balanced_accuracy']:.1f} % "
                     "balanced accuracy" for m in by.index)


def ulira_caption(shadowed: pd.DataFrame, profile: str = "ablations") -> str:
    """The caption provenance of the U-LiRA-style table, or 'Not run yet.' without rows."""
    return report.provenance(shadowed, profile) if not shadowed.empty else "Not run yet."
