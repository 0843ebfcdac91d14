"""The regime study: when do the paper's claims become testable? The same comparison on originals trained longer.

A model that never memorised its forget set has nothing to forget: Retrain and the untouched original then agree
on it, and every claim that compares a method with Retrain passes or fails by noise. The `cifar-converged`
profile repeats a small comparison (Retrain, CU at lambda_UL 3 and 1, Bad Teacher, NegGrad+; seed 0) on cnn4
originals trained 5, 10 and 20 epochs (experiment `regime`); its 30-epoch point is the profile's main seed-0 runs
(`compare_class`, `compare_sample`). This module reads them into one row per (task, training length), draws the
study's figure and says in words from which length on the attack-based claims can be tested. The attack-power rule
itself lives in `cu_book.power`.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from cu_book import report
from cu_core.results import read_metrics

from .power import difference_interval, outside_band, power_rows

PROFILE = "cifar-converged"
EXPERIMENTS = ("regime", "compare_class", "compare_sample")  # the 5/10/20-epoch grid, then the 30-epoch runs
SEED, NUM_FORGET = 0, 500  # the study's seed; the sample task's forget-set size (the paper's)
COMMAND = ("python -m cu_core.experiments run --profile cifar-converged --only regime compare_class "
           "compare_sample --threads 1")
METHODS = {"contrastive": "CU (λ = 3)", "contrastive_lambda1": "CU (λ = 1)", "bad_teacher": "Bad Teacher",
           "neggrad_plus": "NegGrad+"}  # sub-run name → label
TASKS = {"class": "class task (class 5)", "sample": "500 random samples"}
COLUMNS = ["task", "epochs", "num_forget", "train_acc", "test_acc", "train_test_gap", "forget_acc_original",
           "forget_acc_retrain", "forget_acc_diff", "forget_acc_low", "forget_acc_high", "forget_differs",
           "signal", "signal_low", "signal_high", "signal_ok", "member_rate_diff", "member_rate_low",
           "member_rate_high", "member_rate_ok", "testable", *(f"gap_{m}" for m in METHODS)]
NAN = float("nan")
POWER = {"signal": "signal", "signal_low": "signal_low", "signal_high": "signal_high",  # ours → power_rows'
         "member_rate_diff": "paper_forget_member_rate_diff", "member_rate_low": "paper_forget_member_rate_low",
         "member_rate_high": "paper_forget_member_rate_high"}


def regime_runs(root: str | Path | None = None) -> pd.DataFrame:
    """The study's sub-runs (`cu_book.report.subruns` rows of `cifar-converged`): the `regime` grid and the main
    seed-0 comparisons, class task and the 500-sample task only (other seeds and forget-set sizes left out)."""
    df = report.subruns(PROFILE, root=root)
    if df.empty:
        return df
    keep = (df["experiment"].isin(EXPERIMENTS) & (df["seed"] == SEED)
            & ((df["task"] == "class") | (df["num_forget"] == NUM_FORGET)))
    return df[keep].reset_index(drop=True)


def _value(rows: pd.DataFrame, run: str, column: str) -> float:
    """`column` of sub-run `run` as a float (NaN when the sub-run or the value is missing)."""
    if run not in rows.index or column not in rows.columns or pd.isna(rows.at[run, column]):
        return NAN
    return float(rows.at[run, column])


def _flag(value: Any) -> bool:
    """A `power_rows` condition as a bool (missing: False)."""
    return bool(pd.notna(value) and value)


def _row(task: str, epochs: int, group: pd.DataFrame, tolerance: float) -> dict[str, Any] | None:
    """One row of `regime_table` from one (task, training length) group of sub-runs; None without an original."""
    originals = group.loc[group["run"] == "original", "run_id"]
    if originals.empty:
        return None
    group = group[group["run_id"] == originals.iloc[0]]  # one comparison run (a stray second copy is left out)
    rows = group.drop_duplicates("run").set_index("run")
    metrics = read_metrics(rows.at["original", "path"])
    if metrics is None:
        return None
    n_forget, n_retain = int(metrics["split_sizes"]["forget"]), int(metrics["split_sizes"]["retain"])
    forget, retain = _value(rows, "original", "acc_forget_train"), _value(rows, "original", "acc_retain_train")
    train = (forget * n_forget + retain * n_retain) / (n_forget + n_retain)  # accuracy on all training images
    test, retrained = _value(rows, "original", "acc_test"), _value(rows, "retrain", "acc_forget_train")
    row: dict[str, Any] = dict.fromkeys(COLUMNS, NAN)
    row.update(task=task, epochs=int(epochs), num_forget=n_forget, train_acc=train, test_acc=test,
               train_test_gap=train - test, forget_acc_original=forget, forget_acc_retrain=retrained,
               forget_acc_diff=forget - retrained, forget_differs=False, signal_ok=False, member_rate_ok=False)
    if not math.isnan(forget - retrained):  # the same forget images under two models (Newcombe, as the rule)
        low, high = difference_interval(forget / 100, n_forget, retrained / 100, n_forget)
        row.update(forget_acc_low=100 * low, forget_acc_high=100 * high, forget_differs=outside_band((low, high), 0))
    power = power_rows(group[group["run"].isin(["original", "retrain"])], tolerance,
                       {"paper_forget_member_rate": "forget"})
    if not power.empty:
        p = power.iloc[0]
        row.update({ours: float(p.get(theirs, NAN)) for ours, theirs in POWER.items()})
        row.update(signal_ok=_flag(p.get("signal_ok")), member_rate_ok=_flag(p.get("paper_forget_member_rate_ok")))
    row["testable"] = bool(row["signal_ok"] and row["member_rate_ok"])
    row.update({f"gap_{m}": _value(rows, m, "avg_gap") for m in METHODS})
    return row


def regime_table(root: str | Path | None = None, tolerance: float = 0.0) -> pd.DataFrame:
    """One row per (task, training epochs of the original), sorted, in percent / points (`COLUMNS`):

    - `train_acc`: the original's accuracy on all its training images (forget and retain accuracy weighted by the
      set sizes the run records), `test_acc`, `train_test_gap` = train − test;
    - `forget_acc_original`, `forget_acc_retrain`, `forget_acc_diff` (original − Retrain) with its 95 % Newcombe
      interval `forget_acc_low` / `_high`; `forget_differs`: the interval excludes zero;
    - `signal` (`_low`, `_high`, `_ok`): the paper attack's member-rate gap 2a − 1 on Retrain (`cu_book.power`);
    - `member_rate_diff` (`_low`, `_high`, `_ok`): the original's forget member rate minus Retrain's, ok when its
      interval lies outside ± `tolerance` points; `testable`: signal_ok and member_rate_ok (the power rule);
    - `gap_<sub-run>`: the Avg. Gap to Retrain of each method of `METHODS`.

    Empty (with these columns) when no result of the study exists yet."""
    runs = regime_runs(root)
    rows = [] if runs.empty else [
        _row(task, epochs, group, tolerance) for (task, epochs), group in runs.groupby(["task", "epochs_trained"])]
    table = pd.DataFrame([r for r in rows if r is not None], columns=COLUMNS)
    return table.sort_values(["task", "epochs"], kind="stable").reset_index(drop=True)


def _interval(value: float, low: float, high: float) -> str:
    return "–" if math.isnan(value) else f"{value:+.1f} [{low:+.1f}, {high:+.1f}]"


def regime_display(table: pd.DataFrame) -> pd.DataFrame:
    """`regime_table` as text for the page (one decimal; intervals as 'value [low, high]'; λ is CU's lambda_UL),
    one row per task and training length; a one-cell note naming the command when `table` is empty."""
    if table.empty:
        return pd.DataFrame({"Note": [f"Not run yet: {COMMAND}"]})

    def num(v: float) -> str:
        return "–" if pd.isna(v) else f"{v:.1f}"

    out = pd.DataFrame({
        "task": [TASKS.get(t, t) for t in table["task"]], "epochs": table["epochs"],
        "original: train / test": [f"{num(a)} / {num(b)}" for a, b in zip(table["train_acc"], table["test_acc"])],
        "forget acc.: original / Retrain": [f"{num(a)} / {num(b)}" for a, b in
                                            zip(table["forget_acc_original"], table["forget_acc_retrain"])],
        "forget acc.: original − Retrain": [_interval(*r) for r in zip(
            table["forget_acc_diff"], table["forget_acc_low"], table["forget_acc_high"])],
        "attack power on Retrain": [_interval(*r) for r in zip(
            table["signal"], table["signal_low"], table["signal_high"])],
        "forget member rate: original − Retrain": [_interval(*r) for r in zip(
            table["member_rate_diff"], table["member_rate_low"], table["member_rate_high"])],
        "Avg. Gap: " + " / ".join(METHODS.values()): [" / ".join(num(r[f"gap_{m}"]) for m in METHODS)
                                                      for _, r in table.iterrows()]})
    return out


def regime_caption(runs: pd.DataFrame) -> str:
    """Provenance of `regime_runs`, or that the study has no results yet."""
    return report.provenance(runs, PROFILE if not runs.empty else None, "the regime study")


def regime_status(table: pd.DataFrame) -> str:
    """Which training lengths have results, per task, in one sentence (or that none has)."""
    if table.empty:
        return "No result of the study existed at build time: the figure and the table below are placeholders."
    found = [f"{TASKS[t]}: {', '.join(str(int(e)) for e in sorted(table.loc[table['task'] == t, 'epochs']))} epochs"
             for t in TASKS if t in set(table["task"])]
    return f"Training lengths with results at build time: {'; '.join(found)}."


def regime_figure(table: pd.DataFrame) -> Any:
    """The study's figure, x = training epochs of the original, one row of panels per task: (a) memorisation (the
    original's train, test and forget accuracy, Retrain's forget accuracy), (b) attack power on Retrain and the
    original − Retrain forget member rate, each with its 95 % band, (c) Avg. Gap per method. A placeholder naming
    the command when `table` is empty."""
    import matplotlib.pyplot as plt

    from cu_book.report_studies import placeholder_figure

    if table.empty:
        return placeholder_figure(f"No {PROFILE} regime results yet. Run:\n" + COMMAND.replace(" --only", "\n--only"))
    tasks = [t for t in TASKS if t in set(table["task"])]
    fig, axes = plt.subplots(len(tasks), 3, figsize=(7.4, 2.5 * len(tasks) + 0.9), dpi=110, squeeze=False,
                             sharex=True)
    ticks = sorted(set(table["epochs"]))
    for axrow, task in zip(axes, tasks):
        t = table[table["task"] == task]
        x = t["epochs"]
        a, b, c = axrow
        for col, label, style in (("train_acc", "original: train", "-"), ("test_acc", "original: test", "-"),
                                  ("forget_acc_original", "original: forget set", "-"),
                                  ("forget_acc_retrain", "Retrain: forget set", "--")):
            a.plot(x, t[col], style, marker="o", markersize=4, label=label)
        for col, label, colour in (("signal", "attack power on Retrain (2a − 1)", "C0"),
                                   ("member_rate", "forget member rate: original − Retrain", "C3")):
            value = t[col] if col == "signal" else t[f"{col}_diff"]
            b.plot(x, value, marker="o", markersize=4, color=colour, label=label)
            b.fill_between(x, t[f"{col}_low"], t[f"{col}_high"], color=colour, alpha=0.2, linewidth=0)
        b.axhline(0, color="0.3", linewidth=0.8)
        for i, (m, label) in enumerate(METHODS.items()):
            c.plot(x, t[f"gap_{m}"], marker="os^v"[i], markersize=4, label=label)
        short = {"class": "class 5", "sample": "500 random"}[task]
        for ax, title, ylabel in ((a, "(a) memorisation", "accuracy (%)"), (b, "(b) attack power", "points"),
                                  (c, "(c) Avg. Gap to Retrain", "points (lower: closer)")):
            ax.set_title(f"{title} · {short}", fontsize=9)
            ax.set_ylabel(ylabel, fontsize=8.5)
            ax.tick_params(labelsize=8)
            ax.set_xticks(ticks)
    for ax in axes[-1]:
        ax.set_xlabel("training epochs", fontsize=8.5)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), fontsize=7.5, frameon=False)
    fig.tight_layout()
    return fig


def _from(t: pd.DataFrame, column: str) -> int | None:
    """The shortest training length from which `column` holds at every longer length run; None if none."""
    start = None
    for epochs, ok in zip(t["epochs"], t[column]):
        start = (start if start is not None else int(epochs)) if bool(ok) else None
    return start


def regime_reading(table: pd.DataFrame) -> str:
    """In words, per task: from which training length on the original's forget accuracy differs from Retrain's
    beyond noise, and from which length on the attack has power (signal on Retrain and original − Retrain forget
    member rate beyond noise); or that no length has results yet."""
    if table.empty:
        return f"No training length has results yet; the runs come from: {COMMAND}"
    parts = []
    for task in [t for t in TASKS if t in set(table["task"])]:
        t = table[table["task"] == task].sort_values("epochs")
        lengths = ", ".join(str(int(e)) for e in t["epochs"])
        differs, powered = _from(t, "forget_differs"), _from(t, "testable")
        text = f"{TASKS[task].capitalize()}, results at {lengths} epochs: "
        if differs is None:
            text += "at no length run does the original's forget accuracy differ from Retrain's beyond noise"
        else:
            r = t[t["epochs"] == differs].iloc[0]
            text += (f"from {differs} epochs on the original's forget accuracy differs from Retrain's beyond noise "
                     f"({r['forget_acc_original']:.1f} % against {r['forget_acc_retrain']:.1f} % at {differs})")
        if powered is None:
            text += ", and at no length does the paper's attack have power by the rule."
        else:
            r = t[t["epochs"] == powered].iloc[0]
            text += (f", and from {powered} epochs on the paper's attack has power (on Retrain "
                     f"{_interval(r['signal'], r['signal_low'], r['signal_high'])} points; original − Retrain forget "
                     f"member rate {_interval(r['member_rate_diff'], r['member_rate_low'], r['member_rate_high'])}).")
        parts.append(text)
    return " ".join(parts)
