"""Prose the ablation pages and the questions share, computed from the results (never typed by hand)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ._common import fmt_pm, mean_text, task_rows
from .ablations import knob_rows, knob_stats, value_mean

#: The utility a task keeps: remaining-class test accuracy (class task), test accuracy (sample task).
UTILITY = {"class": "acc_retain_test", "sample": "acc_test"}


def utility_cost(table: pd.DataFrame, value: str, task: str) -> float:
    """Points of utility CU loses against Retrain at one value of the `model` knob (mean over seeds; NaN if absent)."""
    rows = task_rows(table, task)
    kept = value_mean(rows, "model", value, UTILITY[task])["mean"]
    retrain = value_mean(rows, "model", value, "retrain_" + UTILITY[task])["mean"]
    return retrain - kept


def vit_caveat(table: pd.DataFrame, margin: float = 5.0) -> str:
    """What the CNN-vs-ViT ablation (`ablation_table` rows) can and cannot say: whether the original ViT learned
    the task at all (at least 80 % of the CNN's test accuracy), and whether CU with the CNN's settings costs the
    ViT more than `margin` points of utility beyond what it costs the CNN (both against their own Retrain)."""
    # the class task's originals, the same rows as the "Original test acc." cell of the summary table
    rows = task_rows(table, "class") if not table.empty and (table["task"] == "class").any() else table
    vit = value_mean(rows, "model", "vit_tiny", "original_acc_test")
    cnn = value_mean(rows, "model", "cnn4", "original_acc_test")
    if not vit["n"]:
        return "The ViT runs have not been written yet."
    if vit["mean"] < 0.8 * cnn["mean"]:
        return (f"Caution: the original ViT reaches only {mean_text(vit)} % test accuracy against {mean_text(cnn)} % "
                "for the CNN: with this recipe (the CNN's, on tiny images) the Transformer has not learned the task, "
                "so its unlearning numbers say little about CU on Transformers; they show only that the loss runs "
                "on one.")
    text = (f"The original ViT reaches {mean_text(vit)} % test accuracy against {mean_text(cnn)} % for the CNN, so "
            "both start from a working model.")
    worse = []
    for task in ("class", "sample"):
        v, c = utility_cost(table, "vit_tiny", task), utility_cost(table, "cnn4", task)
        if v == v and c == c and v > c + margin:
            worse.append(f"{v:.1f} points below its Retrain in the {task} task (the CNN: {c:.1f})")
    if worse:
        text += (" But CU with the settings chosen for the CNN (the digits preset: learning rate, ω, λ) costs the "
                 "ViT far more utility: it ends " + " and ".join(worse) + ". The loss runs on a Transformer; its "
                 "settings do not carry over, and a ViT needs its own (the exercises of question 10).")
    return text


#: The columns of `knob_overview`: (ablation_table column, display name).
OVERVIEW_COLUMNS = [("acc_forget_train", "forget acc. (%)"), ("acc_test", "test acc. (%)"),
                    ("mia_efficacy", "MIA-eff. (%)"), ("avg_gap", "Avg. Gap ↓"), ("epochs", "passes")]


def knob_overview(table: pd.DataFrame, reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """One display row per (knob, value) of an `ablation_table` (one task): forget and test accuracy,
    MIA-efficacy, Avg. Gap and passes, mean ± std over seeds. With `reference` (the same table), the original
    model's and Retrain's forget and test accuracies are added as the first two rows, for scale."""
    cols = [c for c, _ in OVERVIEW_COLUMNS]
    rows = []
    if reference is not None and not reference.empty:
        for kind in ("original", "retrain"):
            row = {"knob": kind, "value": "–"}
            for col, name in OVERVIEW_COLUMNS:
                source = f"{kind}_{col}"
                vals = pd.to_numeric(reference[source], errors="coerce").dropna() if source in reference else []
                row[name] = fmt_pm(float(vals.mean()), None) if len(vals) else "–"
            rows.append(row)
    for knob in dict.fromkeys(table["knob"]) if not table.empty else []:
        stats = knob_stats(table, knob, cols)
        for _, s in stats.iterrows():
            rows.append({"knob": knob, "value": s["label"],
                         **{name: fmt_pm(s[col], s[f"{col}_std"]) for col, name in OVERVIEW_COLUMNS}})
    return pd.DataFrame(rows, columns=["knob", "value", *[n for _, n in OVERVIEW_COLUMNS]])


def stop_rule_reading(table: pd.DataFrame) -> str:
    """How CU's Eq. 9 stopping rule played out in a sample-task knob study (`ablation_table` rows with a
    `stop_rule` knob): the forget and held-out accuracies at the start and at the stop, read from the `val`
    sub-run's `passes.csv`, next to Retrain's, and the setting with the lowest Avg. Gap."""
    rows = table[(table["knob"] == "stop_rule") & (table["value"].astype(str) == "val")] if not table.empty else table
    if rows.empty:
        return "The knob study has no results yet."
    r = rows.sort_values("seed").iloc[0]
    path = Path(r["path"]) / "passes.csv"
    if not path.is_file():
        return "The stopping rule's pass log (passes.csv) was not found."
    passes = pd.read_csv(path)
    last = passes.iloc[-1]
    text = (f"CU stops when the forget accuracy is at most the held-out accuracy (Eq. 9). Starting from the original "
            f"model's {r['original_acc_forget_train']:.1f} % on the forget images and {r['original_acc_test']:.1f} % "
            f"on the test set, it ran {len(passes)} passes and stopped at {100 * last['forget_acc']:.1f} % (forget) "
            f"against {100 * last['heldout_acc']:.1f} % (held-out)"
            + (": the held-out accuracy fell with the forget accuracy, so the rule chased a moving target. "
               if 100 * last["heldout_acc"] < r["original_acc_test"] - 2 else
               "; the held-out accuracy stayed near its start. ")
            + "Retrain, the goal, keeps "
            + f"{r['retrain_acc_forget_train']:.1f} % on the forget images and {r['retrain_acc_test']:.1f} % on the "
            "test set.")
    return text + best_setting_reading(table, float(r["avg_gap"]))


def best_setting_reading(table: pd.DataFrame, preset_gap: float, cap: int | None = None) -> str:
    """The setting of a knob study with the lowest Avg. Gap among those whose every run the stopping rule ended,
    and, reported as such, the settings with a run that hit the `cap`-pass cap (default: CU's `max_passes`): their
    numbers are where the cap cut the run off, not where the method stopped."""
    from cu_core.unlearn.contrastive import ContrastiveConfig

    cap = cap or ContrastiveConfig().max_passes
    stopped, capped = [], []
    for knob in dict.fromkeys(table["knob"]):
        rows = knob_rows(table, knob)
        for _, s in knob_stats(table, knob, ["avg_gap"]).dropna(subset=["avg_gap"]).iterrows():
            passes = pd.to_numeric(rows.loc[rows["label"] == s["label"], "epochs"], errors="coerce")
            hit, n = int((passes >= cap).sum()), len(passes)
            if hit:
                capped.append(f"{knob} = {s['label']} ({s['avg_gap']:.2f} points; {hit} of {n} "
                              f"run{'' if n == 1 else 's'} hit the {cap}-pass cap)")
            else:
                stopped.append((float(s["avg_gap"]), knob, str(s["label"])))
    text = ""
    if stopped:
        gap, knob, label = min(stopped)
        text += (f" Among the settings whose runs the stopping rule ended, the lowest Avg. Gap, {gap:.2f} points, "
                 f"comes with {knob} = {label} (at the preset's settings: {preset_gap:.2f}).")
    if capped:
        text += (" These settings hit the pass cap instead of stopping by the rule, so their numbers are where the "
                 "cap cut the run off, not a result of the method: " + "; ".join(capped) + ".")
    return text


def cu_cost_reading(rows: pd.DataFrame) -> str:
    """What CU's unlearning cost in one task (`report.subruns` rows of one slot): its seconds (mean ± std over
    seeds), its passes over the forget set, its time as a share of the same seed's Retrain training, and that
    share per processed example (time ratio / example ratio: 1 means CU processes an example as fast as training
    does)."""
    cu = rows[rows["method"] == "contrastive"] if not rows.empty else rows
    cols = ["seconds", "retrain_seconds", "samples", "retrain_samples", "epochs"]
    numbers = cu[cols].apply(pd.to_numeric, errors="coerce").dropna() if not cu.empty else cu
    if numbers.empty:
        return "CU's unlearning cost was not recorded here."
    share = 100 * numbers["seconds"] / numbers["retrain_seconds"]
    per_example = (numbers["seconds"] / numbers["retrain_seconds"]) / (numbers["samples"] / numbers["retrain_samples"])

    def pm(values: pd.Series, digits: int = 1) -> str:
        return fmt_pm(float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else None, digits)

    stops = cu.loc[numbers.index, "stop_reason"].fillna("?").value_counts() if "stop_reason" in cu else pd.Series()
    text = (f"CU's unlearning took {pm(numbers['seconds'], 0 if numbers['seconds'].mean() >= 100 else 1)} s and "
            f"{pm(numbers['epochs'])} passes over the forget set ({len(numbers)} seed{'s' if len(numbers) > 1 else ''}"
            + (f"; stopped by: {', '.join(f'{k} ×{v}' for k, v in stops.items())}" if len(stops) else "")
            + f"): {pm(share)} % of Retrain's training time, {pm(per_example, 2)} times Retrain's cost per "
            "processed example.")
    if float(share.mean()) > 100:
        text += " Here CU costs more than retraining from scratch."
    return text
