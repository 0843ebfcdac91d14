"""What the representation still knows: t-SNE maps of the embeddings and a linear probe on the frozen embeddings.

The probe (`cu_core.diagnostics`, stored as `metrics.json["probe"]`) is a logistic regression fitted on the frozen
embeddings of the validation images and tested on the test images; `probe_forget` is its accuracy on the
forgotten class's test images (class task) or on the forget images (sample task). Retrain, which never saw the
forgotten data, sets the reference: not 0, since a probe trained on labelled images of the class finds some
structure in any embedding. On CIFAR-10: one table per scale (profile) and a reading of CU against the original
and Retrain (`probe_rows`, `probe_display`, `probe_reading`). On digits, every method: output against probe
accuracy (`probe_figure`) and CU's place among the methods (`probe_texts`); and the t-SNE maps of the
`geometry_<task>` experiments (`tsne_figure`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cu_book import report
from cu_book import report_studies as rs
from cu_book.beyond import SPACES, space_colours, space_legend

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


def probe_caption(rows: pd.DataFrame, root: str | Path | None = None) -> str:
    """Provenance of every profile in `probe_rows`, or "No results yet."."""
    return " ".join(report.provenance(report.canonical(report.subruns(p, root=root)), p, "the probe")
                    for p in dict.fromkeys(rows["profile"])) or "No results yet."


def tsne_figure(task: str, profile: str = "ablations", root: str | Path | None = None) -> tuple[Any, str]:
    """(figure, caption) of the t-SNE maps of experiment `geometry_<task>`: one panel per model (original, CU,
    Retrain) of the first run of the lowest seed; a placeholder figure and "Not run yet." without results."""
    frame = rs.tsne_table(profile, f"geometry_{task}", root=root)
    if frame.empty:
        return rs.placeholder_figure(f"No t-SNE of the {task} task yet (experiment geometry_{task} of the "
                                     f"{profile} profile).", "t-SNE 1", "t-SNE 2"), "Not run yet."
    runs = report.subruns(profile, f"geometry_{task}", root=root)
    seed = sorted(frame["seed"].dropna().unique())[0] if frame["seed"].notna().any() else None
    one = frame[frame["seed"] == seed] if seed is not None else frame
    one = one[one["run_id"] == one["run_id"].iloc[0]]
    fig = tsne_panels(one, 5.2, 4.6)
    run_id = one["run_id"].iloc[0]
    return fig, rs.provenance(runs[runs["run_id"] == run_id], profile) + f" Run: {run_id}."


OUTPUT = {"class": "acc_forget_test", "sample": "acc_forget_train"}  # the model's own accuracy on the same images
XLABEL = {"class": "output accuracy on the forgotten class's test images (%)",
          "sample": "output accuracy on the forget images (%)"}
YLABEL = {"class": "probe accuracy on the forgotten class's test images (%)",
          "sample": "probe accuracy on the forget images (%)"}


def _task_stats(df: pd.DataFrame, task: str) -> pd.DataFrame:
    return report.mean_std(df[df["task"] == task], ["method"], ["probe_forget", OUTPUT[task]])


def probe_figure(df: pd.DataFrame, profile: str = "quick") -> Any:
    """Output accuracy (x) against probe accuracy (y) on the forgotten data, per method (mean ± std over seeds of
    `report.canonical` rows `df`), one panel per task, coloured by where the method acts."""
    import matplotlib.pyplot as plt

    present = [t for t in rs.TASKS if not df.empty and (df["task"] == t).any()]
    if not present:
        return rs.placeholder_figure(f"No {profile}-profile results yet.", "output accuracy (%)", "probe accuracy (%)")
    colours = space_colours()
    fig, axes = plt.subplots(1, len(present), figsize=(6.2 * len(present), 5), dpi=110, squeeze=False)
    for ax, task in zip(axes[0], present):
        out = OUTPUT[task]
        for _, r in _task_stats(df, task).iterrows():
            ax.errorbar(r[out], r["probe_forget"], xerr=np.nan_to_num(float(r[f"{out}_std"])),
                        yerr=np.nan_to_num(float(r["probe_forget_std"])), fmt="o",
                        color=colours.get(rs.method_space(r["method"]), "0.5"), capsize=2,
                        markersize=7 if r["method"] in ("contrastive", "retrain") else 5)
            ax.annotate(r["method"], (r[out], r["probe_forget"]), fontsize=7, xytext=(4, 3), textcoords="offset points")
        ax.set_xlabel(XLABEL[task])
        ax.set_ylabel(YLABEL[task])
        ax.set_title(f"{task} task", fontsize=10)
    space_legend(fig, SPACES, marker=True, y=1.06)
    fig.tight_layout()
    return fig


def probe_texts(df: pd.DataFrame, task: str) -> tuple[str, str]:
    """(reading, verdict) for one task: the probe under the original, Retrain and CU beside CU's own classifier,
    CU's rank by distance to Retrain's probe accuracy; and whether CU's probe sits above Retrain's (by > 5 points:
    the information is still in the representation)."""
    stats = _task_stats(df, task).set_index("method") if not df.empty and (df["task"] == task).any() else pd.DataFrame()
    if not {"contrastive", "retrain", "original"} <= set(stats.index):
        return ("CU, Retrain or the original model has no probe result here yet.",
                "The probe has not been run on CU and Retrain yet.")
    c, r, o = stats.loc["contrastive"], stats.loc["retrain"], stats.loc["original"]
    out = OUTPUT[task]
    dist = (stats.drop(index=["retrain", "original"])["probe_forget"] - r["probe_forget"]).abs().sort_values()
    place = int(list(dist.index).index("contrastive")) + 1
    text = (f"The probe recognises {rs.fmt_pm(o['probe_forget'], o['probe_forget_std'])} % under the original "
            f"model, {rs.fmt_pm(r['probe_forget'], r['probe_forget_std'])} % under Retrain and "
            f"{rs.fmt_pm(c['probe_forget'], c['probe_forget_std'])} % under CU, while CU's own classifier gets "
            f"{rs.fmt_pm(c[out], c[out + '_std'])} % of the same images right. Ranked by the "
            f"distance of their probe accuracy to Retrain's, CU is number {place} of {len(dist)} methods; the "
            f"closest is {dist.index[0]} ({dist.iloc[0]:.1f} points away, CU: {dist['contrastive']:.1f}).")
    diff = float(c["probe_forget"] - r["probe_forget"])
    verdict = (f"Here CU's probe accuracy is {abs(diff):.1f} points {'above' if diff > 0 else 'below'} Retrain's"
               f"{': the information is still in the representation' if diff > 5 else ''}.")
    return text, verdict


def tsne_panels(one: pd.DataFrame, width: float, height: float) -> Any:
    """One t-SNE panel per model of `one` (rows of a single run: `diagnostics.tsne_frame` columns plus "model"),
    side by side, each `width` × `height` inches; the legend on the last panel only."""
    import matplotlib.pyplot as plt

    from cu_core.diagnostics import plot_tsne

    models = list(dict.fromkeys(one["model"]))
    fig, axes = plt.subplots(1, len(models), figsize=(width * len(models), height), dpi=110, squeeze=False)
    for ax, name in zip(axes[0], models):
        plot_tsne(one[one["model"] == name], ax=ax, title=name)
        if ax is not axes[0][-1]:
            ax.get_legend().remove()
    fig.tight_layout()
    return fig
