"""The sample-task trough in words: the sentences of the diagnosis page, computed from `cu_book.diagnosis`'s pass
curves (`stop_summary` rows) and from the profile's Table 4 runs.

A *trough* is a stretch of passes during which the held-out accuracy sits well below where it started and later
climbs back: the unlearning steps damage the whole model for a while, not only its memory of the forget set.
Eq. 9 compares two accuracies, forget ≤ held-out; it cannot tell "the forget set fell to the held-out level"
from "both fell", so it can fire inside a trough, with a model that is worse than Retrain everywhere.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from cu_book import report

from .diagnosis import COMMAND, GUARD, PANEL, TROUGH, loss_terms, panel_name


def curves_status(curves: pd.DataFrame) -> str:
    """Which curves exist at build time, traced or not, and the command for the missing traced ones."""
    if curves.empty:
        return f"No CU pass curves were found at build time. The traced runs come from: {COMMAND}."
    parts = []
    for (profile, epochs), g in curves.groupby(PANEL, sort=False):
        lams = ", ".join(f"{v:g}" for v in sorted(g["lambda_ul"].unique()))
        how = "traced past the stop" if g["traced"].all() else "untraced: each curve ends where its run stopped"
        parts.append(f"{panel_name(profile, epochs)}, λ_UL {lams} ({how})")
    text = "Curves at build time: " + "; ".join(parts) + "."
    if not curves["traced"].any():
        text += f" The traced runs (both originals, 12 passes each) have not been run yet: {COMMAND}."
    return text


def symptom(profile: str = "cifar-cpu", num_forget: int = 500, root: str | Path | None = None) -> dict[str, float]:
    """Table 4's failure in numbers, over seeds of `profile`'s sample task: CU's Avg. Gap, the untouched
    original's (`original_gap`), CU's passes, CU's and Retrain's test accuracy (means, stds, n); {} if not run."""
    from cu_book.report_studies.studies import original_gap  # cu_book.report_studies imports matplotlib

    df = report.canonical(report.subruns(profile, root=root))
    if df.empty:
        return {}
    df = df[(df["task"] == "sample") & (df["num_forget"] == num_forget)]
    cu, rt = df[df["method"] == "contrastive"], df[df["method"] == "retrain"]
    if cu.empty or rt.empty:
        return {}
    orig = original_gap(df)
    return {"num_forget": float(num_forget), "cu_gap": float(cu["avg_gap"].mean()),
            "cu_gap_std": float(cu["avg_gap"].std(ddof=1)),
            "orig_gap": orig["mean"], "orig_gap_std": orig["std"], "n": float(len(cu)),
            "cu_passes": float(cu["epochs"].mean()), "cu_test": float(cu["acc_test"].mean()),
            "retrain_test": float(rt["acc_test"].mean())}


def _pct(v: float) -> str:
    return f"{v:.1f} %"


def trough_reading(summary: pd.DataFrame, lambda_ul: float = 3.0) -> str:
    """Per panel, the run at `lambda_ul` in words: how far held-out accuracy falls and by which pass, where Eq. 9
    fires and how far held-out is then below its start (inside a trough when ≥ `TROUGH` points), what a traced run
    shows afterwards, and where a `GUARD`-point floor would have stopped it."""
    rows = summary[summary["lambda_ul"] == lambda_ul] if not summary.empty else summary
    rows = rows[rows["start_heldout"].notna()] if not rows.empty else rows
    if rows.empty:
        return f"No sample-task curve at λ_UL = {lambda_ul:g} with a known start was found."
    texts = []
    for _, r in rows.iterrows():
        t = (f"On {panel_name(r['profile'], r['epochs_trained'])} (seed {int(r['seed'])}), with "
             f"λ_UL = {lambda_ul:g} the held-out accuracy falls {r['max_drop']:.1f} points, from "
             f"{_pct(r['start_heldout'])} to {_pct(r['min_heldout'])} by pass {r['min_pass']} "
             f"({r['min_steps']:.0f} steps)")
        if r["stop_pass"] is None or pd.isna(r["stop_pass"]):
            texts.append(t + f", and Eq. 9 does not fire within the {r['end_pass']} passes run.")
            continue
        where = "inside the trough" if r["drop_at_stop"] >= TROUGH else "not in a trough"
        t += (f", and Eq. 9 fires at pass {int(r['stop_pass'])}, when held-out is {r['drop_at_stop']:.1f} points "
              f"below its start ({where}): forget {_pct(r['stop_forget'])} against held-out "
              f"{_pct(r['stop_heldout'])}, while Retrain scores {_pct(r['retrain_forget'])} on the forget set.")
        if r["traced"]:
            t += (f" Traced on, held-out accuracy is at {_pct(r['end_heldout'])} by pass {r['end_pass']} "
                  f"({r['start_heldout'] - r['end_heldout']:.1f} points below its start).")
            g = r["guard_stop"]
            t += (f" A floor {GUARD:g} points below the start (remedy B) would have stopped it at pass {int(g)}."
                  if g is not None and not pd.isna(g) else
                  f" A floor {GUARD:g} points below the start (remedy B) is never met together with Eq. 9 within "
                  f"{r['end_pass']} passes.")
        else:
            t += " The run stopped there (untraced), so what held-out accuracy does afterwards is not recorded."
        texts.append(t)
    return " ".join(texts)


def margin_reading(summary: pd.DataFrame, lambda_ul: float = 3.0) -> str:
    """Why the rule fired where it did, per panel: the memorisation margin (forget − held-out at the start) that
    Eq. 9 needs to close, and how much each accuracy fell by the stop at `lambda_ul`."""
    rows = summary[(summary["lambda_ul"] == lambda_ul) & summary["start_heldout"].notna()
                   & summary["stop_forget"].notna()] if not summary.empty else summary
    if rows.empty:
        return "No curve with a start and a stop at this λ_UL was found."
    return " ".join(
        f"On {panel_name(r['profile'], r['epochs_trained'])}, the untouched model recognises the forget "
        f"set {r['start_forget'] - r['start_heldout']:.1f} points better than held-out images "
        f"({_pct(r['start_forget'])} against {_pct(r['start_heldout'])}); by pass {int(r['stop_pass'])} forget "
        f"accuracy has fallen {r['start_forget'] - r['stop_forget']:.1f} points and held-out accuracy "
        f"{r['drop_at_stop']:.1f}, so the margin closed with both depressed, and the forget accuracy stops "
        f"{r['retrain_forget'] - r['stop_forget']:.1f} points below Retrain's {_pct(r['retrain_forget'])}."
        for _, r in rows.iterrows())


def _per_panel(summary: pd.DataFrame, clause: Any, lead: str) -> str:
    """One sentence per panel (profile, training length): `lead`, then `clause(row)` of each run from low λ_UL to
    high (a clause that is '' or None is left out); '' when no panel has a clause."""
    texts = []
    for (profile, epochs), g in summary.groupby(PANEL, sort=False):
        parts = [c for _, r in g.sort_values("lambda_ul").iterrows() if (c := clause(r))]
        if parts:
            texts.append(f"On {panel_name(profile, epochs)}{lead}" + "; ".join(parts) + ".")
    return " ".join(texts)


def _lambda_clause(r: pd.Series) -> str:
    gap = "" if r["traced"] or pd.isna(r["avg_gap"]) else f", Avg. Gap {r['avg_gap']:.1f}"
    if r["stop_pass"] is None or pd.isna(r["stop_pass"]):
        return (f"{r['label']} never meets Eq. 9 in {r['end_pass']} passes (last: forget "
                f"{_pct(r['end_forget'])}, held-out {_pct(r['end_heldout'])}{gap})")
    drop = "" if pd.isna(r["start_heldout"]) else \
        f", held-out at most {r['max_drop']:.1f} points below its start in the passes run"
    return (f"{r['label']} stops at pass {int(r['stop_pass'])} at {r['stop_forget']:.1f} / "
            f"{r['stop_heldout']:.1f} % (forget / held-out){drop}{gap}")


def lambda_reading(summary: pd.DataFrame) -> str:
    """Per panel, every λ_UL in one clause: where Eq. 9 fired (forget / held-out there), the deepest held-out
    drop before it, and the run's Avg. Gap when untraced (a traced run's final model is past its stop)."""
    if summary.empty:
        return "No curves yet."
    return _per_panel(summary, _lambda_clause, ": ")


def symptom_reading(s: dict[str, float], profile: str = "cifar-cpu") -> str:
    """`symptom` in one sentence, or that the profile has no sample-task runs of CU and Retrain."""
    if not s:
        return f"The profile {profile} has no sample-task results of CU and Retrain yet."
    return (f"On {profile} ({int(s['num_forget'])} random CIFAR-10 training images, {int(s['n'])} seeds) CU's "
            f"Avg. Gap to Retrain is {report.fmt(s['cu_gap'], s['cu_gap_std'])} points, against "
            f"{report.fmt(s['orig_gap'], s['orig_gap_std'])} "
            f"for the untouched original: unlearning moves the model away from Retrain. CU stops after "
            f"{s['cu_passes']:.1f} passes on average, with a test accuracy of {s['cu_test']:.1f} % against "
            f"Retrain's {s['retrain_test']:.1f} %.")


def _loss_clause(r: pd.Series) -> str:
    terms = loss_terms(r["path"]).set_index("pass")
    end = int(r["stop_pass"]) if not pd.isna(r["stop_pass"]) else int(r["end_pass"])
    if terms.empty or 1 not in terms.index or end not in terms.index:
        return ""
    a, b = float(terms.at[1, "loss_ce"]), float(terms.at[end, "loss_ce"])
    return f"{a:.2f} in pass 1 and {b:.2f} in pass {end} at {r['label']} (×{b / a:.1f})"


def loss_reading(summary: pd.DataFrame) -> str:
    """Per panel, the retain cross-entropy (Eq. 7's second term, unweighted, history.csv) in the first pass and in
    the pass where each run stopped (or its last), from low λ_UL to high: does the CE term hold the model?"""
    if summary.empty:
        return "No curves yet."
    return _per_panel(summary, _loss_clause, ", the retain cross-entropy is ") or \
        "No loss history was found for these runs."


def lambda_advice(summary: pd.DataFrame) -> str:
    """Today's evidence on λ_UL from untraced runs (one Avg. Gap per run), per panel: the λ_UL with the lowest Avg.
    Gap, whether the rule or the pass cap ended it, and the paper's λ_UL = 3 beside it; '' without untraced runs."""
    rows = summary[~summary["traced"].astype(bool) & summary["avg_gap"].notna()] if not summary.empty else summary
    texts = []
    for (profile, epochs), g in ([] if rows.empty else rows.groupby(PANEL, sort=False)):
        best = g.loc[g["avg_gap"].idxmin()]
        how = "the rule fired" if pd.notna(best["stop_pass"]) else \
            f"the rule never fired; the {best['end_pass']}-pass cap ended it"
        seeds = ", ".join(str(int(s)) for s in sorted(g["seed"].unique()))
        text = (f"On {panel_name(profile, epochs)} (seed {seeds}) the lowest Avg. Gap is {best['label']}'s, "
                f"{best['avg_gap']:.1f} ({how})")
        paper = g[g["lambda_ul"] == 3.0]
        if not paper.empty and paper.index[0] != best.name:
            text += f", against {float(paper['avg_gap'].iloc[0]):.1f} at the paper's λ_UL = 3"
        texts.append(text + ".")
    return " ".join(texts)
