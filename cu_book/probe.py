"""The linear probe on CIFAR-10: can the forgotten class still be read out of the frozen embeddings after
unlearning? One table per scale (profile), and a reading of CU against the original and Retrain.

The probe (`cu_core.diagnostics`, stored as `metrics.json["probe"]`) is a logistic regression fitted on the frozen
embeddings of the validation images and tested on the test images; `probe_forget` is its accuracy on the
forgotten class's test images (class task). Retrain, which never saw the class, sets the reference: not 0,
since a probe trained on labelled images of the class finds some structure in any embedding.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from cu_core import report

PROFILES = ["cifar-converged", "cifar-cpu"]
COLUMNS = {"probe_forget": "probe on the forgotten class (%)", "acc_forget_test": "classifier on the forgotten class (%)"}


def probe_rows(profiles: list[str] | None = None, task: str = "class",
               root: str | Path | None = None) -> pd.DataFrame:
    """Mean and std over seeds of the probe and output accuracy on the forgotten data, per profile and method
    (columns profile, method, probe_forget, probe_forget_std, acc_forget_test, acc_forget_test_std, n); the
    profiles in order, methods by probe accuracy, Retrain and the original first."""
    frames = []
    for profile in profiles or PROFILES:
        df = report.canonical(report.subruns(profile, root=root))
        if df.empty or "probe_forget" not in df:
            continue
        df = df[(df["task"] == task) & df["probe_forget"].notna()]
        if df.empty:
            continue
        stats = report.mean_std(df, ["method"], list(COLUMNS))
        stats["_order"] = stats["method"].map({"retrain": 0, "original": 1}).fillna(2)
        stats = stats.sort_values(["_order", "probe_forget"], ascending=[True, False]).drop(columns="_order")
        frames.append(stats.assign(profile=profile))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["profile", "method", *COLUMNS, *(f"{c}_std" for c in COLUMNS), "n"])


def probe_display(rows: pd.DataFrame) -> pd.DataFrame:
    """`probe_rows` as a display table: 'm ± s' per column, the seed count, indexed by profile and method."""
    if rows.empty:
        return pd.DataFrame({"note": ["No CIFAR-10 class-task run with a probe result yet."]})
    out = rows[["profile", "method"]].copy()
    for col, label in COLUMNS.items():
        out[label] = [report.fmt(m, s) for m, s in zip(rows[col], rows[f"{col}_std"])]
    out["seeds"] = rows["n"].astype(int)
    return out.set_index(["profile", "method"])


def probe_reading(rows: pd.DataFrame) -> str:
    """One sentence per profile: the probe on the forgotten class under the original, Retrain and CU, and where
    CU stands between them (share of the original-to-Retrain distance it closed)."""
    texts = []
    for profile, part in rows.groupby("profile", sort=False):
        values = part.set_index("method")
        if not {"original", "retrain", "contrastive"} <= set(values.index):
            continue
        o, r, c = (values.loc[m] for m in ("original", "retrain", "contrastive"))
        span = float(o["probe_forget"] - r["probe_forget"])
        closed = (float(o["probe_forget"] - c["probe_forget"]) / span) if abs(span) > 1e-9 else float("nan")
        texts.append(f"In `{profile}` the probe reads the forgotten class at {report.fmt(o['probe_forget'], o['probe_forget_std'])} % "
                     f"under the original, {report.fmt(r['probe_forget'], r['probe_forget_std'])} % under Retrain and "
                     f"{report.fmt(c['probe_forget'], c['probe_forget_std'])} % under CU, whose own classifier gets "
                     f"{report.fmt(c['acc_forget_test'], c['acc_forget_test_std'])} % on those images: CU closes "
                     f"{100 * closed:.0f} % of the original's distance to Retrain in the representation.")
    return " ".join(texts) or "No CIFAR-10 profile has a class-task probe result for the original, Retrain and CU yet."
