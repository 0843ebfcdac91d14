"""Modern baselines on SalUn's protocol, for the baselines page of the "Beyond the paper" chapter.

For one profile (`profile_rows`: the canonical sub-runs plus CU at λ_UL = 1 as a method of its own) and each
slot of `rs.SLOTS` (class task, the paper's sample task, SalUn's 10 %): the method table with the Avg. Gap
(`slot_texts`: table, caption and where CU places against the noise floor and against doing nothing), the Avg.
Gap figure coloured by where each method acts (`gap_figure`), what separates the methods (`reading`) and the
headline rows (`headline_markdown`). `knobs_markdown` shows CU's stopping-rule and λ_UL study beside them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cu_book import report
from cu_book import report_studies as rs
from cu_book import scales
from cu_book.beyond import SPACES, space_colours, space_legend, table_or_note

VARIANTS = ["contrastive_lambda1"]  # CU at λ_UL = 1, shown as its own row
LEGEND = SPACES[:-1]  # the figure shows no reference rows


def profile_rows(profile: str, root: str | Path | None = None) -> pd.DataFrame:
    """`report.canonical` sub-runs of `profile` plus the `VARIANTS` sub-runs, each as a method of its own."""
    return scales.with_variants(report.subruns(profile, root=root), VARIANTS)


def findings(rows: pd.DataFrame, stats: pd.DataFrame) -> str:
    """CU's Avg. Gap in one slot, its place among the methods, the next or lowest one, Retrain's noise floor and
    the gap of doing nothing; says so when CU ends farther from Retrain than the untouched original, or not clearly
    closer (within the original's spread over seeds)."""
    if stats.empty or "contrastive" not in set(stats["method"]):
        return "CU has no result here yet."
    ranked = stats[~stats["method"].isin(["retrain", "original"])].dropna(subset=["avg_gap"]).reset_index(drop=True)
    if "contrastive" not in set(ranked["method"]):
        return "CU has no Avg. Gap here (its Retrain reference or its attack result is missing)."
    cu = ranked[ranked["method"] == "contrastive"].iloc[0]
    best = ranked.iloc[0]
    place = int(ranked.index[ranked["method"] == "contrastive"][0]) + 1
    nf, og = rs.noise_floor(rows), rs.original_gap(rows)
    other = ranked.iloc[1] if place == 1 and len(ranked) > 1 else best
    text = (f"CU's Avg. Gap is {rs.fmt_pm(cu['avg_gap'], cu['avg_gap_std'])} points, place {place} of "
            f"{len(ranked)} methods; {'the next' if place == 1 else 'the lowest'} is {other['method']}'s, "
            f"{rs.fmt_pm(other['avg_gap'], other['avg_gap_std'])}. "
            f"Retrain's noise floor is {rs.fmt_pm(nf, None, 2)} points, and doing nothing (the original model) scores "
            f"{rs.fmt_pm(og['mean'], og['std'])}.")
    spread = 0.0 if np.isnan(og["std"]) else float(og["std"])
    if og["n"] and cu["avg_gap"] > og["mean"] + spread:
        times = f", {cu['avg_gap'] / og['mean']:.1f} times as far" if og["mean"] > 0 else ""
        text += (f" CU ends farther from Retrain than the untouched original model ({cu['avg_gap']:.1f} against "
                 f"{og['mean']:.1f} points{times}): in this setting CU moves the model away from Retrain, "
                 "not toward it.")
    elif og["n"] and cu["avg_gap"] >= og["mean"] - spread:
        text += (" CU is not clearly closer to Retrain than the untouched original model here (within the "
                 "original's spread over seeds), so this setting cannot separate CU from doing nothing.")
    return text


def slot_texts(df: pd.DataFrame, slot: str, profile: str) -> tuple[str, str, str]:
    """One slot's (Markdown method table or note, caption with the forget-set size and provenance, findings and
    CU's cost) from `profile_rows`."""
    rows = rs.slot_rows(df, slot)
    table, stats = rs.method_table(rows)
    if table.empty:
        return (rs.note_table(f"No `{profile}` results for the {rs.SLOTS[slot]} were found at build time."),
                f"{rs.SLOTS[slot]}: not run yet.", "Not run yet.")
    size = f" ({int(rows['num_forget'].iloc[0])} images)" if slot != "class" else ""
    return (rs.markdown_table(table), rs.SLOTS[slot] + size + ". " + rs.provenance(rows, profile),
            f"{findings(rows, stats)} {rs.cu_cost_reading(rows)}")


def reading(df: pd.DataFrame) -> str:
    """What separates the methods, in words, from the class and the sample slots."""
    parts = []
    _, cls = rs.method_table(rs.slot_rows(df, "class"))
    if not cls.empty and "retrain" in set(cls["method"]):
        ua_r = float(cls.loc[cls["method"] == "retrain", "UA"].iloc[0])
        meth = cls[~cls["method"].isin(["retrain", "original"])]
        done = [f"{m} ({sp})" for m, sp, ua in zip(meth["method"], meth["space"], meth["UA"]) if abs(ua - ua_r) <= 5]
        kept = [m for m, ua in zip(meth["method"], meth["UA"]) if ua <= 10]
        parts.append(f"In the class task the terms that separate the methods are UA (did the class go?) and TA (did "
                     f"the other classes survive?). Within 5 points of Retrain's UA ({ua_r:.1f} %): "
                     f"{', '.join(done) or 'no method'}. Still recognising the class (UA ≤ 10 %): "
                     f"{', '.join(kept) or 'no method'}.")
    rows = rs.slot_rows(df, "sample")
    if not rows.empty:
        og, nf = rs.original_gap(rows), rs.noise_floor(rows)
        parts.append(f"In the sample task the original model, untouched, is {rs.fmt_pm(og['mean'], og['std'])} points "
                     f"from Retrain, against a noise floor of {rs.fmt_pm(nf, None, 2)} points: "
                     + ("the forget images left little trace to remove, so the methods' gaps cannot be ranked "
                        "meaningfully here." if og["n"] and og["mean"] <= 3 * (nf if nf == nf else 0) + 1
                        else "there is a measurable trace to remove, and the gaps can be compared."))
    return " ".join(parts) or "No results to read yet."


def gap_figure(df: pd.DataFrame, title: str) -> Any:
    """Avg. Gap per method (mean ± std over seeds), one panel per slot with results, colour = where the method
    acts, Retrain's noise floor dashed; a placeholder figure without results."""
    import matplotlib.pyplot as plt

    blocks = [(slot, stats, rows) for slot in rs.SLOTS
              for rows in [rs.slot_rows(df, slot)] for stats in [rs.method_table(rows)[1]] if not stats.empty]
    if not blocks:
        return rs.placeholder_figure(f"No results for {title} yet.", "Avg. Gap to Retrain (points)", "method")
    colours = space_colours()
    fig, axes = plt.subplots(1, len(blocks), figsize=(5.2 * len(blocks), 5.2), dpi=110, squeeze=False)
    for ax, (slot, stats, rows) in zip(axes[0], blocks):
        s = stats[~stats["method"].isin(["retrain", "original"])].dropna(subset=["avg_gap"])
        y = np.arange(len(s))
        ax.barh(y, s["avg_gap"], xerr=np.nan_to_num(s["avg_gap_std"].astype(float)),
                color=[colours[sp] if sp in LEGEND else "0.5" for sp in s["space"]], capsize=3)
        ax.set_yticks(y, s["method"])
        ax.invert_yaxis()
        nf = rs.noise_floor(rows)
        if not np.isnan(nf):
            ax.axvline(nf, color="0.3", linestyle="--", linewidth=1, label="Retrain's noise floor")
            ax.legend(fontsize=8, loc="lower right")
        ax.set_xlabel("Avg. Gap to Retrain (points, lower is better)")
        ax.set_ylabel("method")
        ax.set_title(rs.SLOTS[slot], fontsize=10)
    space_legend(fig, LEGEND, marker=False, y=1.02)
    fig.suptitle(title, fontsize=9, y=1.08)
    fig.tight_layout()
    return fig


def headline_markdown(df: pd.DataFrame, profile: str) -> str:
    """`rs.headline` (Retrain, CU and the best baseline per slot) as Markdown, or a note without results."""
    return table_or_note(rs.headline(df), f"No `{profile}` results were found at build time.")


def knobs_markdown(knobs: pd.DataFrame, profile: str = "cifar-cpu") -> str:
    """A knob study (`rs.ablation_table`) as `rs.knob_overview` rows with the original and Retrain for scale, or a
    note that it has no results yet."""
    if knobs.empty:
        return rs.note_table(f"The `{profile}` knob study has no results yet.")
    return rs.markdown_table(rs.knob_overview(knobs, knobs))
