"""Why CU stops where it stops on the sample task: the forget and held-out accuracy after every pass (`passes.csv`
of each CU sub-run), where Eq. 9 fired, and the sentences the diagnosis page reads from them.

A run's curve starts at pass 0, the untouched model: a traced run (`trace=True`) records it; for an untraced
sample-task run it is the original's forget and held-out accuracy from `metrics.json` (the same model on the same
images). Accuracies are in percent here (passes.csv holds fractions). The rule fired at the first pass ≥ 1 whose
`condition_met` is true (`stop_pass`); a traced run goes on past it. The class sweep and the remedies are read in
`cu_book.remedies`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from cu_book import report
from cu_core.results import read_metrics

COMMAND = "python -m cu_core.experiments run --profile cifar-converged --only diagnosis_sample remedies --threads 1"
TROUGH = 2.0  # points: a stop with held-out accuracy this far below its start counts as inside a trough
GUARD = 3.0  # points: the held-out floor of remedy B (`heldout_guard=0.03`) used for the preview on traced curves
KEEP = ["profile", "experiment", "run_id", "run", "method", "task", "seed", "dataset", "model", "hardware",
        "epochs_trained", "avg_gap", "acc_test", "path"]
CURVE_COLUMNS = [*KEEP, "lambda_ul", "stop_rule", "traced", "repair_steps", "heldout_guard", "stop_reason",
                 "label", "pass0", "retrain_forget", "retrain_heldout", "pass", "steps", "forget_acc",
                 "heldout_acc", "threshold", "condition_met", "paper_condition", "heldout_floor"]
PANEL = ["profile", "epochs_trained"]  # one figure panel / one reading per profile and training length
NAN = float("nan")


def _flags(values: pd.Series) -> pd.Series:
    """A passes.csv boolean column (True/False as written by pandas, or 1/0) as bools; missing → False."""
    return values.astype(str).str.strip().str.lower().isin(["true", "1", "1.0"])


def read_passes(path: str | Path) -> pd.DataFrame:
    """One sub-run's passes.csv with boolean `condition_met` (and `paper_condition` when present); empty if none."""
    file = Path(path) / "passes.csv"
    if not file.is_file():
        return pd.DataFrame()
    rows = pd.read_csv(file)
    for col in ("condition_met", "paper_condition"):
        if col in rows:
            rows[col] = _flags(rows[col])
    return rows


def stop_pass(rows: pd.DataFrame, paper: bool = False) -> int | None:
    """The pass at which the rule fired in one sub-run's rows: the first pass ≥ 1 with `condition_met`; None if it
    never did. `paper=True` reads `paper_condition` (Eq. 9 alone) where a guarded run carries it."""
    if rows.empty:
        return None
    if "path" in rows and rows["path"].nunique() > 1:
        raise ValueError("stop_pass reads one sub-run's rows; group by 'path' first")
    col = "paper_condition" if paper and "paper_condition" in rows and rows["paper_condition"].notna().any() \
        else "condition_met"
    hit = rows[(rows["pass"] >= 1) & _flags(rows[col])]
    return int(hit["pass"].min()) if not hit.empty else None


def guarded_stop(rows: pd.DataFrame, guard: float = GUARD) -> int | None:
    """Where Eq. 9 with a held-out floor (remedy B) would have stopped one sub-run: the first pass ≥ 1 where Eq. 9
    holds and held-out accuracy (%) is at least its pass-0 value − `guard` points; None without a pass 0 or a hit."""
    start = rows.loc[rows["pass"] == 0, "heldout_acc"]
    if rows.empty or start.empty:
        return None
    col = "paper_condition" if "paper_condition" in rows and rows["paper_condition"].notna().any() else "condition_met"
    hit = rows[(rows["pass"] >= 1) & _flags(rows[col]) & (rows["heldout_acc"] >= float(start.iloc[0]) - guard)]
    return int(hit["pass"].min()) if not hit.empty else None


def _label(run: str, lam: float) -> str:
    return f"λ_UL = {lam:g}" if run.startswith("lambda_ul-") else f"{run} (λ_UL = {lam:g})"


def _curve(row: pd.Series) -> pd.DataFrame:
    """The pass rows of one CU sub-run (percent), with the sub-run's settings; empty for a `no_heldout` run."""
    passes, metrics = read_passes(row["path"]), read_metrics(Path(row["path"]) / "metrics.json")
    cfg = (metrics or {}).get("unlearn_config") or {}
    rule = cfg.get("stop_rule", "val")
    if passes.empty or metrics is None or rule == "no_heldout":  # no_heldout's "held-out" column is a confidence
        return pd.DataFrame()
    heldout = "test" if rule == "test" else "val"
    original, retrain = metrics.get("acc_original") or {}, metrics.get("acc_retrain") or {}
    pass0 = "recorded" if (passes["pass"] == 0).any() else None
    if pass0 is None and row["task"] == "sample" and None not in (original.get("forget_train"), original.get(heldout)):
        start = {"pass": 0, "steps": 0, "forget_acc": original["forget_train"], "heldout_acc": original[heldout],
                 "condition_met": False}
        passes, pass0 = pd.concat([pd.DataFrame([start]), passes], ignore_index=True), "original"
    for col in ("forget_acc", "heldout_acc", "threshold", "heldout_floor"):
        if col in passes:
            passes[col] = 100 * pd.to_numeric(passes[col], errors="coerce")
    lam = float(cfg.get("lambda_ul", NAN))
    settings = {**{k: row.get(k) for k in KEEP}, "lambda_ul": lam, "stop_rule": rule,
                "traced": bool(cfg.get("trace", False)), "repair_steps": int(cfg.get("repair_steps", 0) or 0),
                "heldout_guard": float(cfg.get("heldout_guard", 1.0)), "stop_reason": metrics.get("stop_reason"),
                "label": _label(str(row["run"]), lam), "pass0": pass0,
                "retrain_forget": 100 * retrain["forget_train"] if retrain.get("forget_train") is not None else NAN,
                "retrain_heldout": 100 * retrain[heldout] if retrain.get(heldout) is not None else NAN}
    return passes.assign(**settings).reindex(columns=CURVE_COLUMNS)


def stop_curves(profile: str, experiment: str, runs: str | None = None,
                root: str | Path | None = None) -> pd.DataFrame:
    """Long frame of every CU sub-run's passes.csv rows in `profile`/`experiment` (sub-runs whose name starts with
    `runs` only, e.g. "lambda_ul-"): `CURVE_COLUMNS`, accuracies in %, sorted by panel, λ_UL and pass. `pass0` says
    where pass 0 came from ("recorded", "original", or None). `no_heldout` runs are left out. Empty (with these
    columns) when nothing matches."""
    df = report.subruns(profile, experiment, root=root)
    if not df.empty:
        df = df[df["method"] == "contrastive"]
        if runs:
            df = df[df["run"].str.startswith(runs)]
    frames = [c for _, r in df.iterrows() if not (c := _curve(r)).empty]
    if not frames:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values([*PANEL, "lambda_ul", "run", "pass"], kind="stable").reset_index(drop=True)


def stop_summary(curves: pd.DataFrame, guard: float = GUARD) -> pd.DataFrame:
    """One row per sub-run of `stop_curves` output: its settings, `stop_pass` (where the rule fired),
    `paper_stop` (Eq. 9 alone), `guard_stop` (`guarded_stop` with `guard` points), the start (pass 0), the
    stop, the lowest held-out accuracy and its pass / steps, the last pass recorded; `drop_at_stop` and
    `max_drop` are held-out points below the start. Empty when `curves` is."""
    rows = []
    for _, g in curves.groupby("path", sort=False):
        g = g.sort_values("pass")
        first, last = g.iloc[0], g.iloc[-1]
        start = g[g["pass"] == 0]
        s0 = float(start["heldout_acc"].iloc[0]) if not start.empty else NAN
        f0 = float(start["forget_acc"].iloc[0]) if not start.empty else NAN
        after = g[g["pass"] >= 1]
        low = after.loc[after["heldout_acc"].idxmin()] if not after.empty else last
        k = stop_pass(g)
        at = g[g["pass"] == k].iloc[0] if k is not None else None
        rows.append({**{c: first[c] for c in CURVE_COLUMNS[:CURVE_COLUMNS.index("pass")]},
                     "stop_pass": k, "paper_stop": stop_pass(g, paper=True), "guard_stop": guarded_stop(g, guard),
                     "start_forget": f0, "start_heldout": s0,
                     "stop_steps": NAN if at is None else float(at["steps"]),
                     "stop_forget": NAN if at is None else float(at["forget_acc"]),
                     "stop_heldout": NAN if at is None else float(at["heldout_acc"]),
                     "min_heldout": float(low["heldout_acc"]), "min_pass": int(low["pass"]),
                     "min_steps": float(low["steps"]), "end_pass": int(last["pass"]),
                     "end_forget": float(last["forget_acc"]), "end_heldout": float(last["heldout_acc"])})
    columns = [*CURVE_COLUMNS[:CURVE_COLUMNS.index("pass")], "stop_pass", "paper_stop", "guard_stop", "start_forget",
               "start_heldout", "stop_steps", "stop_forget", "stop_heldout", "min_heldout", "min_pass", "min_steps",
               "end_pass", "end_forget", "end_heldout"]
    out = pd.DataFrame(rows, columns=columns)
    out["drop_at_stop"] = out["start_heldout"] - out["stop_heldout"]
    out["max_drop"] = out["start_heldout"] - out["min_heldout"]
    return out


def panel_name(profile: str, epochs: Any) -> str:
    """'the 5-epoch original of cifar-cpu' (a panel of the figure, a clause of the readings)."""
    return f"the {int(epochs)}-epoch original of {profile}"


def loss_terms(path: str | Path, per_pass: bool = True) -> pd.DataFrame:
    """The unweighted terms of Eq. 7 of one sub-run's unlearning steps (history.csv without repair steps):
    columns pass, steps, loss_ul, loss_ce; per-pass means when `per_pass`, else one row per step. Empty if none."""
    file = Path(path) / "history.csv"
    if not file.is_file():
        return pd.DataFrame(columns=["pass", "steps", "loss_ul", "loss_ce"])
    hist = pd.read_csv(file)
    hist = hist[hist["phase"] == "unlearn"] if "phase" in hist else hist
    hist = hist.assign(steps=hist["step"])[["pass", "steps", "loss_ul", "loss_ce"]]
    return hist.groupby("pass", as_index=False).mean() if per_pass else hist.reset_index(drop=True)


def curve_figure(curves: pd.DataFrame, x: str = "pass", losses: bool = False) -> Any:
    """Forget (solid) and held-out (dashed) accuracy against `x` ("pass" or "steps"), one colour per sub-run
    (λ_UL), one panel per profile and training length (the first 3); a star and a dotted line where the rule
    fired; Retrain's forget accuracy in grey. `losses`: a second row with the two unweighted terms of Eq. 7 from
    history.csv (L_UL solid, CE dashed; per-pass means against passes). A placeholder when `curves` is empty."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from cu_book.report_studies import placeholder_figure

    if curves.empty:
        return placeholder_figure(f"No CU pass curves yet. Run:\n{COMMAND.replace(' --only', chr(10) + '--only')}")
    panels = list(curves.groupby(PANEL, sort=False))[:3]
    fig, axes = plt.subplots(1 + losses, len(panels), figsize=(7.4, 2.9 + 2.1 * losses), dpi=110, squeeze=False,
                             sharex="col")
    summary = stop_summary(curves).set_index("path")
    labels = list(dict.fromkeys(curves.sort_values(["lambda_ul", "run"], kind="stable")["label"]))
    for j, ((profile, epochs), g) in enumerate(panels):
        ax = axes[0, j]
        for path, run in g.groupby("path", sort=False):
            colour, s = f"C{labels.index(run['label'].iloc[0]) % 10}", summary.loc[path]
            ax.plot(run[x], run["forget_acc"], "-", color=colour, marker="o", markersize=2.5, linewidth=1.3)
            ax.plot(run[x], run["heldout_acc"], "--", color=colour, linewidth=1.3)
            if s["stop_pass"] is not None and not pd.isna(s["stop_pass"]):
                at = run[run["pass"] == s["stop_pass"]].iloc[0]
                ax.axvline(at[x], color=colour, linestyle=":", linewidth=0.9)
                ax.plot(at[x], at["forget_acc"], "*", color=colour, markersize=10, markeredgecolor="black")
            if losses:
                hist = loss_terms(path, per_pass=x == "pass")
                axes[1, j].plot(hist[x], hist["loss_ul"], "-", color=colour, linewidth=1.1)
                axes[1, j].plot(hist[x], hist["loss_ce"], "--", color=colour, linewidth=1.1)
        ax.axhline(float(g["retrain_forget"].mean()), color="0.5", linestyle=":", linewidth=1.0)
        traced = "traced" if g["traced"].all() else "untraced"
        ax.set_title(f"{profile} · {int(epochs)}-epoch original ({traced})", fontsize=8.5)
        axes[0, 0].set_ylabel("accuracy (%)", fontsize=8.5)
        if losses:
            axes[1, 0].set_ylabel("loss term (unweighted)", fontsize=8.5)
        axes[-1, j].set_xlabel("pass over the forget set" if x == "pass" else "optimiser steps", fontsize=8.5)
    for ax in axes.flat:
        ax.tick_params(labelsize=8)
    handles = [Line2D([], [], color=f"C{i % 10}", linewidth=2, label=lab) for i, lab in enumerate(labels)]
    handles += [Line2D([], [], color="k", linestyle="-", label="forget set"),
                Line2D([], [], color="k", linestyle="--", label="held-out"),
                Line2D([], [], color="k", marker="*", linestyle="", markersize=9, label="Eq. 9 fires"),
                Line2D([], [], color="0.5", linestyle=":", label="Retrain: forget set")]
    if losses:
        handles += [Line2D([], [], color="k", linestyle="-", linewidth=1, label="row 2: L_UL (solid), CE (dashed)")]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=7.5, frameon=False)
    fig.tight_layout(rect=(0, 0.42 / fig.get_figheight(), 1, 1))
    return fig
