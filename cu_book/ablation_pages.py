"""Everything the ablation pages glue, one function per page: the knobs' figures with their captions, and the
sentences and numbers the text quotes, read from the `ablations` profile (`report_studies.ablation_both`).
Each function returns {glue name: value}; figures are matplotlib figures the page glues, then closes.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from IPython.display import Markdown

from cu_core.config import ModelConfig
from cu_core.experiments.grid import load_profile
from cu_core.unlearn.contrastive import ContrastiveConfig

from . import report
from . import report_studies as rs

PROFILE = "ablations"


def _figure(table: pd.DataFrame, knob: str, profile: str) -> dict[str, Any]:
    fig, cap = rs.knob_figure(table, knob, profile)
    return {f"fig_{knob}": fig, f"cap_{knob}": cap}


def _cu_defaults() -> dict[str, str]:
    return {"max_passes": str(ContrastiveConfig().max_passes),
            "b_sample": str(ContrastiveConfig().batch_size_for("sample"))}


def overview(profile: str = PROFILE) -> dict[str, Any]:
    """The chapter's first page: coverage of every declared knob per task, and the summary table."""
    table = rs.ablation_both(profile)
    out: dict[str, Any] = {
        "provenance": rs.provenance(table, profile if not table.empty else None, "the ablations"),
        "scale_note": report.SCALE["quick"] if not table.empty else "No ablation results were found at build time."}
    for task in rs.TASKS:
        cov = rs.coverage(rs.task_rows(table, task), profile, f"ablation_{task}")
        out[f"coverage_{task}"] = Markdown(rs.markdown_table(cov) if not cov.empty
                                           else rs.note_table("No knob is declared."))
        out[f"complete_{task}"] = f"{int((cov['missing'] == 'nothing').sum()) if not cov.empty else 0} of {len(cov)}"
    summary = rs.ablation_summary(table, profile)
    return {**out, "seeds": ", ".join(map(str, load_profile(profile).seeds)),
            "forget_class": str(rs.knob_default("forget_class", profile, "ablation_class")),
            "num_forget": str(rs.knob_default("num_forget", profile, "ablation_sample")),
            "summary": Markdown(rs.markdown_table(summary) if not summary.empty else rs.note_table(
                "No ablation results were found: run `python -m cu_core.experiments run ablations`.")),
            "n_rows": f"{len(table):d}"}


def _lambda_ul(r: pd.DataFrame, task: str) -> str:
    stats = rs.knob_stats(r, "lambda_ul", ["epochs", rs.UTILITY[task], "avg_gap"])
    if stats.empty:
        return "was not measured yet"
    best, util = rs.best_value(r, "lambda_ul"), rs.UTILITY[task]
    lo, hi = stats.iloc[0], stats.iloc[-1]
    return (f"needs {rs.fmt_pm(lo['epochs'], lo['epochs_std'])} passes at λ_UL = {lo['label']} and "
            f"{rs.fmt_pm(hi['epochs'], hi['epochs_std'])} at λ_UL = {hi['label']}; the kept accuracy is "
            f"{rs.fmt_pm(lo[util], lo[util + '_std'])} % and {rs.fmt_pm(hi[util], hi[util + '_std'])} % there, and "
            f"the lowest Avg. Gap, {rs.fmt_pm(best['mean'], best['std'])} points, is reached at λ_UL = {best['label']}")


def _lambda_ul_end(r: pd.DataFrame, task: str, cap: int) -> str:
    """Whether a weaker contrastive term changes only the number of passes or also where the run ends (the
    forget-set accuracy at the stop, across the values of λ_UL), and which values had a run end at the pass cap."""
    stats = rs.knob_stats(r, "lambda_ul", ["acc_forget_train", "epochs"]).dropna(subset=["acc_forget_train"])
    if stats.empty:
        return "The end points of the λ_UL runs were not measured yet."
    lo, hi = stats.loc[stats["acc_forget_train"].idxmin()], stats.loc[stats["acc_forget_train"].idxmax()]
    spread = float(hi["acc_forget_train"] - lo["acc_forget_train"])
    rows = rs.knob_rows(r, "lambda_ul")
    capped = [f"λ_UL = {lab} ({int((p >= cap).sum())} of {len(p)} run{'' if len(p) == 1 else 's'})"
              for lab, p in ((lab, pd.to_numeric(part["epochs"], errors="coerce"))
                             for lab, part in rows.groupby("label", sort=False)) if (p >= cap).any()]
    text = (f"The end point moves too: at the stop the forget-set accuracy ranges from {lo['acc_forget_train']:.1f} % "
            f"(λ_UL = {lo['label']}) to {hi['acc_forget_train']:.1f} % (λ_UL = {hi['label']}), so the weight changes "
            "where the stopping rule fires, not only how many passes it takes." if spread > 5 else
            f"The end point barely moves (forget-set accuracy at the stop between {lo['acc_forget_train']:.1f} % and "
            f"{hi['acc_forget_train']:.1f} %): a weaker contrastive term mostly costs more passes.")
    return text + (" Runs that hit the " + str(cap) + "-pass cap, where the rule never fired: " + "; ".join(capped) + "."
                   if capped else f" No run hit the {cap}-pass cap.")


def _variant_diff(r: pd.DataFrame) -> list[float]:
    """Per seed, the largest difference between the paper's and the official code's variant over five columns."""
    cols = ["acc_forget_train", "acc_retain_train", "acc_test", "avg_gap", "epochs"]
    diffs = []
    for _, part in (r.groupby("seed") if not r.empty else []):
        if set(part["value"]) >= {"paper", "official"}:
            a = part[part["value"] == "paper"][cols].astype(float).to_numpy()[0]
            b = part[part["value"] == "official"][cols].astype(float).to_numpy()[0]
            diffs.append(float(np.nanmax(np.abs(a - b))))
    return diffs


def losses(profile: str = PROFILE) -> dict[str, Any]:
    """The loss page: λ_CE, λ_UL, the temperature τ and the paper-vs-code variant."""
    table = rs.ablation_both(profile)
    out: dict[str, Any] = {f"default_{k}": rs.value_label(rs.knob_default(k, profile))
                           for k in ("lambda_ul", "lambda_ce", "temperature", "omega")}
    out.update(_cu_defaults())
    for knob in ("lambda_ce", "lambda_ul", "temperature", "variant"):
        out.update(_figure(table, knob, profile))
    tau = rs.knob_default("temperature")
    for task in rs.TASKS:
        r, util = rs.task_rows(table, task), rs.UTILITY[task]
        delta = lambda knob, col, a, b: rs.change_text(rs.paired_delta(r, knob, col, a, b))  # noqa: E731
        out[f"lce_{task}_util"] = delta("lambda_ce", util, 1, 0)
        out[f"lce_{task}_forget"] = delta("lambda_ce", "acc_forget_train", 1, 0)
        out[f"lce_{task}_gap"] = delta("lambda_ce", "avg_gap", 1, 0)
        out[f"lce_{task}_passes0"] = rs.mean_text(rs.value_mean(r, "lambda_ce", 0, "epochs"))
        out[f"lce_{task}_retain0"] = rs.mean_text(rs.value_mean(r, "lambda_ce", 0, "acc_retain_train"), unit=" %")
        out[f"lul_{task}"] = _lambda_ul(r, task)
        out[f"lul_{task}_end"] = _lambda_ul_end(r, task, ContrastiveConfig().max_passes)
        best = rs.best_value(r, "temperature")
        out[f"tau_{task}_util"] = rs.change_text(rs.paired_delta(r, "temperature", util, tau, 0.1))
        out[f"tau_{task}_best"] = ("–" if best["label"] is None else
                                   f"τ = {best['label']} ({rs.fmt_pm(best['mean'], best['std'])} points)")
        out[f"tau_{task}_default"] = rs.mean_text(rs.value_mean(r, "temperature", tau, "avg_gap"))
        diffs = _variant_diff(rs.knob_rows(r, "variant"))
        out[f"var_{task}_maxdiff"] = "–" if not diffs else f"{max(diffs):.2f}"
        out[f"var_{task}_seeds"] = f"{len(diffs):d}"
        out[f"var_{task}_gap"] = delta("variant", "avg_gap", "paper", "official")
    return out


def sampling(profile: str = PROFILE) -> dict[str, Any]:
    """The sampling page: ω (retain samples per forget sample), retain sampling, and a batch without positives."""
    table = rs.ablation_both(profile)
    out: dict[str, Any] = {"default_omega": rs.value_label(rs.knob_default("omega", profile)), **_cu_defaults()}
    for knob in ("omega", "retain_sampling", "no_positive"):
        out.update(_figure(table, knob, profile))
    for task in rs.TASKS:
        r, util = rs.task_rows(table, task), rs.UTILITY[task]
        for value in (1, 8):
            out[f"omega_{task}_passes{value}"] = rs.mean_text(rs.value_mean(r, "omega", value, "epochs"))
            out[f"omega_{task}_samples{value}"] = rs.mean_text(rs.value_mean(r, "omega", value, "samples"), digits=0)
            out[f"omega_{task}_gapsd{value}"] = rs.fmt_pm(rs.value_mean(r, "omega", value, "avg_gap")["std"])
        out[f"omega_{task}_cap1"] = rs.cap_text(r, "omega", 1)
        out[f"omega_{task}_gap"] = rs.change_text(rs.paired_delta(r, "omega", "avg_gap", 1, 4))
        out[f"omega_{task}_util"] = rs.change_text(rs.paired_delta(r, "omega", util, 1, 8))
        for col, key in (("avg_gap", "gap"), (util, "util")):
            out[f"rs_{task}_{key}"] = rs.change_text(rs.paired_delta(r, "retain_sampling", col, "random",
                                                                     "sequential"))
        for value in ("random", "sequential"):
            out[f"rs_{task}_{value}_sd"] = rs.fmt_pm(rs.value_mean(r, "retain_sampling", value, "avg_gap")["std"])
    r = rs.task_rows(table, "sample")
    out["np_gap"] = rs.change_text(rs.paired_delta(r, "no_positive", "avg_gap", "skip", "add_one"))
    out["np_forget"] = rs.change_text(rs.paired_delta(r, "no_positive", "acc_forget_train", "skip", "add_one"))
    return out


def forget_sets(profile: str = PROFILE) -> dict[str, Any]:
    """The forget-set page (sample task): its size and how its samples are chosen."""
    table = rs.ablation_both(profile)
    r = rs.task_rows(table, "sample")
    out: dict[str, Any] = {**_figure(table, "num_forget", profile), **_figure(table, "forget_selection", profile),
                           "nf_default": rs.value_label(rs.knob_default("num_forget", profile, "ablation_sample"))}
    sizes = rs.knob_stats(r, "num_forget", ["avg_gap", "epochs", "acc_forget_train", "retrain_acc_forget_train"])
    if sizes.empty:
        out.update(nf_small="–", nf_large="–", nf_text="was not measured yet")
    else:
        lo, hi = sizes.iloc[0], sizes.iloc[-1]
        pm = lambda row, col: rs.fmt_pm(row[col], row[f"{col}_std"])  # noqa: E731
        out.update(nf_small=lo["label"], nf_large=hi["label"], nf_text=(
            f"is {pm(lo, 'avg_gap')} points with {lo['label']} forget images and {pm(hi, 'avg_gap')} points with "
            f"{hi['label']}, after {pm(lo, 'epochs')} and {pm(hi, 'epochs')} passes; the forget-set accuracy ends at "
            f"{pm(lo, 'acc_forget_train')} % and {pm(hi, 'acc_forget_train')} %, against Retrain's "
            f"{pm(lo, 'retrain_acc_forget_train')} % and {pm(hi, 'retrain_acc_forget_train')} %"))
    for value in ("random", "first_n", "atypical"):
        for col in ("acc_forget_train", "retrain_acc_forget_train", "original_acc_forget_train", "avg_gap", "epochs",
                    "acc_test"):
            out[f"fs_{value}_{col}"] = rs.mean_text(rs.value_mean(r, "forget_selection", value, col))
    out["fs_gap"] = rs.change_text(rs.paired_delta(r, "forget_selection", "avg_gap", "random", "atypical"))
    at = rs.value_mean(r, "forget_selection", "atypical", "acc_forget_train")["mean"]
    rt = rs.value_mean(r, "forget_selection", "atypical", "retrain_acc_forget_train")["mean"]
    out["fs_verdict"] = "–" if at != at or rt != rt else (
        f"{'above' if at > rt else 'below'} Retrain's by {abs(at - rt):.1f} points")
    return out


def stopping(profile: str = PROFILE) -> dict[str, Any]:
    """The stopping page: Eq. 8/9 on the validation split, the paper's test-set rule, and no held-out set."""
    table = rs.ablation_both(profile)
    out: dict[str, Any] = {**_figure(table, "stop_rule", profile), "max_passes": _cu_defaults()["max_passes"],
                           "val_forget": str(rs.split_sizes(table, "class").get("val_forget", "–"))}
    for task in rs.TASKS:
        r = rs.task_rows(table, task)
        for rule in ("val", "test", "no_heldout"):
            out[f"sr_{task}_{rule}_passes"] = rs.mean_text(rs.value_mean(r, "stop_rule", rule, "epochs"))
            out[f"sr_{task}_{rule}_gap"] = rs.mean_text(rs.value_mean(r, "stop_rule", rule, "avg_gap"))
            out[f"sr_{task}_{rule}_cap"] = rs.cap_text(r, "stop_rule", rule)
        for rule in ("test", "no_heldout"):
            for key, col in (("dgap", "avg_gap"), ("dforget", "acc_forget_train"), ("dutil", rs.UTILITY[task])):
                out[f"sr_{task}_{rule}_{key}"] = rs.change_text(rs.paired_delta(r, "stop_rule", col, "val", rule))
    return out


def architecture(profile: str = PROFILE) -> dict[str, Any]:
    """The architecture page: the SupCon head against a linear one, and cnn4 against a small ViT."""
    table = rs.ablation_both(profile)
    out: dict[str, Any] = {"proj_dim": f"{ModelConfig().proj_dim:d}", "vit_caveat": rs.vit_caveat(table)}
    for knob, (base, other) in {"head": ("supcon", "linear"), "model": ("cnn4", "vit_tiny")}.items():
        out.update(_figure(table, knob, profile))
        for task in rs.TASKS:
            r, util = rs.task_rows(table, task), rs.UTILITY[task]
            out[f"{knob}_{task}_gap"] = rs.change_text(rs.paired_delta(r, knob, "avg_gap", base, other))
            out[f"{knob}_{task}_passes"] = rs.change_text(rs.paired_delta(r, knob, "epochs", base, other),
                                                          unit="passes")
            for value in (base, other):
                mean = lambda col: rs.mean_text(rs.value_mean(r, knob, value, col))  # noqa: E731
                out[f"{knob}_{task}_{value}_orig"] = mean("original_acc_test")
                out[f"{knob}_{task}_{value}_util"] = mean(util)
                out[f"{knob}_{task}_{value}_rutil"] = mean("retrain_" + util)
    return out


PAGES = {"index": overview, "losses": losses, "sampling": sampling, "forget_sets": forget_sets,
         "stopping": stopping, "architecture": architecture}
