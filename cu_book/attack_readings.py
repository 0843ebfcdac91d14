"""Membership inference on every method, for the attacks page of the "Beyond the paper" chapter.

Three single-model attacks per task and method (`attack_stats`, mean and std over seeds of `COLUMNS`): the paper's
member rate on the forget images and on held-out retain images, MIA-efficacy and the loss attack, as a table
(`attack_markdown`), a sentence (`attack_reading`) and one figure row per task (`attack_figure`, Retrain's value
as the target line). Then the U-LiRA-style attack with shadow models (`ulira_rows` of the `attacks_sample`
experiment): its table and whether it separates CU from Retrain beyond its own noise (`ulira_reading`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cu_book import report
from cu_book import report_studies as rs

ATTACKS = {"paper_forget_member_rate": "paper's attack:\nforget images called member (%)",
           "mia_efficacy": "MIA-efficacy:\nforget images called non-member (%)",
           "loss_attack_accuracy": "loss attack:\naccuracy (%)"}  # the figure's three panels
COLUMNS = {"paper_forget_member_rate": "Member rate, forget (%)",
           "paper_heldout_member_rate": "Member rate, held-out retain (%)",
           "mia_efficacy": "MIA-efficacy (%)", "loss_attack_accuracy": "Loss attack acc. (%)"}
ULIRA = ["ulira_balanced_accuracy", "ulira_tpr_1pct_fpr", "ulira_shadows"]
MARGIN = 2.0  # points above chance (or above Retrain's own deviation from it) before the U-LiRA attack counts
NOT_RUN = "Not run yet."


def attack_stats(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per task of `rs.TASKS` with rows in `df` (`report.canonical` sub-runs): `report.mean_std` of `COLUMNS` per
    method (columns method, <col>, <col>_std, n), Retrain first, the original model last, the others by name."""
    out = {}
    for task in rs.TASKS:
        rows = rs.task_rows(df, task)
        if rows.empty:
            continue
        stats = report.mean_std(rows, ["method"], list(COLUMNS))
        order = stats["method"].map({"retrain": 0, "original": 2}).fillna(1)
        out[task] = stats.assign(_o=order).sort_values(["_o", "method"]).drop(columns="_o").reset_index(drop=True)
    return out


def attack_markdown(stats: pd.DataFrame | None, profile: str, task: str) -> str:
    """One task's `attack_stats` as a Markdown table ('mean ± std' per attack, where the method acts, the seed
    count), or a note that `profile` has no results for `task`."""
    if stats is None:
        return rs.note_table(f"No `{profile}` results for the {task} task were found.")
    table = pd.DataFrame({"Method": stats["method"], "Acts on": [rs.method_space(m) for m in stats["method"]]})
    for col, name in COLUMNS.items():
        table[name] = [rs.fmt_pm(m, s) for m, s in zip(stats[col], stats[f"{col}_std"])]
    table["Seeds"] = stats["n"].astype(int)
    return rs.markdown_table(table)


def attack_caption(df: pd.DataFrame, task: str, profile: str) -> str:
    """Provenance of one task's rows, or "Not run yet."."""
    rows = rs.task_rows(df, task)
    return NOT_RUN if rows.empty else rs.provenance(rows, profile)


def attack_reading(stats: pd.DataFrame | None) -> str:
    """The three attacks on Retrain, the original and CU in one paragraph, and how far each attack's means spread
    over all methods; "Not run yet." without results."""
    if stats is None:
        return NOT_RUN
    s = stats.set_index("method")
    if not {"retrain", "original", "contrastive"} <= set(s.index):
        return "CU, Retrain or the original model has no result here yet."
    r, o, c = s.loc["retrain"], s.loc["original"], s.loc["contrastive"]

    def pm(row: pd.Series, col: str) -> str:
        return rs.fmt_pm(row[col], row[f"{col}_std"])

    spread = {col: float(np.nanmax(s[col]) - np.nanmin(s[col])) for col in ATTACKS}
    rate, mia, loss = "paper_forget_member_rate", "mia_efficacy", "loss_attack_accuracy"
    return (f"Retrain's member rate on the forget images is {pm(r, rate)} %, the original model's {pm(o, rate)} % "
            f"and CU's {pm(c, rate)} %. MIA-efficacy: Retrain {pm(r, mia)} %, original {pm(o, mia)} %, "
            f"CU {pm(c, mia)} %. The loss attack's accuracy is {pm(r, loss)} % on Retrain and {pm(c, loss)} % on CU. "
            f"Across all methods the mean of each attack spans {spread[rate]:.1f} points (member rate), "
            f"{spread[mia]:.1f} (MIA-efficacy) and {spread[loss]:.1f} (loss attack).")


def attack_figure(stats: dict[str, pd.DataFrame], df: pd.DataFrame, profile: str) -> Any:
    """One row per task of `stats`, one panel per attack of `ATTACKS`: every method but Retrain (mean ± std over
    seeds), Retrain's mean as a red dashed line; a placeholder figure without results."""
    import matplotlib.pyplot as plt

    if not stats:
        return rs.placeholder_figure(f"No {profile}-profile results yet.", "attack value (%)", "method")
    fig, axes = plt.subplots(len(stats), 3, figsize=(14, 5.0 * len(stats)), dpi=110, squeeze=False)
    for r_i, (task, block) in enumerate(stats.items()):
        s = block[block["method"] != "retrain"]
        ref = block[block["method"] == "retrain"]
        for c_i, (col, label) in enumerate(ATTACKS.items()):
            ax = axes[r_i][c_i]
            y = np.arange(len(s))
            ax.errorbar(s[col], y, xerr=np.nan_to_num(s[f"{col}_std"].astype(float)), fmt="o", color="C0",
                        capsize=3)
            if not ref.empty:
                ax.axvline(float(ref[col].iloc[0]), color="C3", linestyle="--", label="Retrain")
                ax.legend(fontsize=8, loc="best")
            ax.set_yticks(y, s["method"] if c_i == 0 else [""] * len(y))
            ax.invert_yaxis()
            ax.set_xlabel(label)
            if c_i == 0:
                ax.set_ylabel(f"method ({task} task)")
    fig.suptitle(rs.provenance(df, profile), fontsize=9)
    fig.tight_layout()
    return fig


def ulira_rows(profile: str = "ablations", experiment: str = "attacks_sample",
               root: str | Path | None = None) -> pd.DataFrame:
    """The sub-runs of `experiment` (`rs.attack_table`) that carry a U-LiRA-style result."""
    att = rs.attack_table(profile, experiment, root=root)
    return att.dropna(subset=["ulira_balanced_accuracy"]) if not att.empty else att


def _ulira_stats(rows: pd.DataFrame) -> pd.DataFrame:
    return report.mean_std(rows, ["run", "method"], ULIRA)


def ulira_markdown(rows: pd.DataFrame, profile: str = "ablations", experiment: str = "attacks_sample") -> str:
    """`ulira_rows` per sub-run and method as a Markdown table (balanced accuracy, TPR at 1 % FPR, shadow models,
    seeds), or a note that the experiment has no U-LiRA result yet."""
    if rows.empty:
        return rs.note_table(f"The `{experiment}` experiment of the `{profile}` profile has no U-LiRA result yet.")
    stats = _ulira_stats(rows)
    acc, tpr = "ulira_balanced_accuracy", "ulira_tpr_1pct_fpr"
    table = pd.DataFrame({"Sub-run": stats["run"], "Method": stats["method"],
                          "Balanced accuracy (%)": [rs.fmt_pm(m, s) for m, s in zip(stats[acc], stats[f"{acc}_std"])],
                          "TPR at 1 % FPR (%)": [rs.fmt_pm(m, s, 2) for m, s in zip(stats[tpr], stats[f"{tpr}_std"])],
                          "Shadow models": stats["ulira_shadows"].astype(int), "Seeds": stats["n"].astype(int)})
    return rs.markdown_table(table)


def ulira_caption(rows: pd.DataFrame, profile: str = "ablations") -> str:
    """Provenance of `ulira_rows`, or "Not run yet."."""
    return NOT_RUN if rows.empty else rs.provenance(rows, profile)


def ulira_reading(rows: pd.DataFrame) -> str:
    """Whether the per-example attack does better than chance against CU, by more than its own deviation from
    chance on the retrained shadows (and at least `MARGIN` points)."""
    if rows.empty:
        return ("The per-example attack has not been run yet, so this page cannot say whether it separates "
                "CU from Retrain.")
    by = _ulira_stats(rows).set_index("method")
    if not {"contrastive", "retrain"} <= set(by.index):
        return "The attack has run, but not on both CU and Retrain yet."
    c, r = by.loc["contrastive"], by.loc["retrain"]
    noise = abs(r["ulira_balanced_accuracy"] - 50)
    if c["ulira_balanced_accuracy"] > 50 + max(MARGIN, noise):
        verdict = ("the attack does better than chance against CU, by more than its deviation from chance on the "
                   "retrained shadows: CU leaves a per-example trace")
    else:
        verdict = (f"the attack does no better than chance against CU; its own deviation from 50 % on the "
                   f"retrained shadows ({noise:.1f} points) shows how noisy it is with this pool of shadows")
    return (f"The per-example attack reaches {c['ulira_balanced_accuracy']:.1f} % balanced accuracy "
            f"against CU and {r['ulira_balanced_accuracy']:.1f} % against the retrained shadows (chance: 50 %), with "
            f"a TPR at 1 % FPR of {c['ulira_tpr_1pct_fpr']:.2f} % and {r['ulira_tpr_1pct_fpr']:.2f} %: {verdict} "
            f"(a margin of at least {MARGIN:g} points is required to call a difference).")
