"""Baselines by where they act, the SalUn-protocol table, attacks, t-SNE and efficiency readers."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from cu_core.paths import results_dir
from cu_core.unlearn import METHODS

from ..report import mean_std, subruns
from ._common import _as_float, _read_json, fmt_pm, run_parameters, split_subrun


#: Where each method acts (`cu_core.unlearn.registry.Method.acts_on`; chapter 4 and question 1 group the methods by
#: it), and the untouched original.
METHOD_SPACE: dict[str, str] = {**{name: m.acts_on for name, m in METHODS.items()}, "original": "reference"}


def method_space(method: str) -> str:
    """Where `method` acts: representation, output, input, weights, retain data only, reference (or other); read
    from the registry each time, so a method registered later is placed too."""
    if method in METHODS:
        return METHODS[method].acts_on
    return "reference" if method == "original" else "other"


def attack_table(profile: str = "ablations", experiment: str = "attacks_sample",
                 root: str | Path | None = None) -> pd.DataFrame:
    """`report.subruns` of an attacks experiment plus the U-LiRA-style attack (`cu_core.ulira`) where a sub-run
    has one: ulira_balanced_accuracy and ulira_tpr_1pct_fpr (%, ideal 50 and 1), ulira_shadows."""
    df = subruns(profile, experiment, root)
    cols = ["ulira_balanced_accuracy", "ulira_tpr_1pct_fpr", "ulira_shadows"]
    if df.empty:
        return pd.DataFrame(columns=["run", "method", *cols])
    out = df.reset_index(drop=True).drop(columns=[c for c in df.columns if c.startswith("ulira_")])
    extra = []
    for path in out["path"]:
        ulira = _read_json(Path(path) / "metrics.json").get("ulira") or {}
        ba, tpr = ulira.get("balanced_accuracy"), ulira.get("tpr_at_1pct_fpr")
        extra.append({"ulira_balanced_accuracy": None if ba is None else 100 * float(ba),
                      "ulira_tpr_1pct_fpr": None if tpr is None else 100 * float(tpr),
                      "ulira_shadows": ulira.get("n_shadow")})
    out = pd.concat([out, pd.DataFrame(extra)], axis=1)
    for col in cols:
        out[col] = pd.to_numeric(out[col], errors="coerce")
    return out


def tsne_table(profile: str = "ablations", experiment: str = "geometry_class",
               root: str | Path | None = None) -> pd.DataFrame:
    """Every `tsne.csv` of an experiment's runs (x, y, part, label, index, model) with run_id and seed
    (from config.json); empty when none was written. `model` names the sub-run (original, the method, retrain)."""
    base = results_dir(root) / profile / experiment
    frames = []
    for path in sorted(base.glob("*/tsne.csv")):
        if path.parent.name.startswith("."):
            continue
        try:
            frame = pd.read_csv(path)
        except (OSError, ValueError, pd.errors.EmptyDataError):
            continue
        params = run_parameters(path.parent)
        frames.append(frame.assign(run_id=path.parent.name, seed=params.get("seed")))
    if not frames:
        return pd.DataFrame(columns=["x", "y", "part", "label", "index", "model", "run_id", "seed"])
    return pd.concat(frames, ignore_index=True)


def efficiency_table(profile: str = "ablations", task: str = "sample", root: str | Path | None = None) -> pd.DataFrame:
    """`report.subruns` of `efficiency_<task>` plus forget_size (sample task: from `contrastive-<n>`; class task:
    the class's size is unknown here, None), time_ratio_pct (unlearning / Retrain seconds), sample_ratio_pct
    (examples processed, unlearning / Retrain) and cost_per_example (their ratio; 1 = a step costs what a
    training step costs)."""
    df = subruns(profile, f"efficiency_{task}", root)
    cols = ["forget_size", "time_ratio_pct", "sample_ratio_pct", "cost_per_example"]
    if df.empty:
        return pd.DataFrame(columns=["run", *cols])
    out = df.copy()
    out["forget_size"] = [(_as_float(split_subrun(r)[1]) if task == "sample" else None) for r in out["run"]]
    secs, rsecs = pd.to_numeric(out["seconds"], errors="coerce"), pd.to_numeric(out["retrain_seconds"], errors="coerce")
    samp, rsamp = pd.to_numeric(out["samples"], errors="coerce"), pd.to_numeric(out["retrain_samples"], errors="coerce")
    out["time_ratio_pct"] = 100 * secs / rsecs
    out["sample_ratio_pct"] = 100 * samp / rsamp
    out["cost_per_example"] = out["time_ratio_pct"] / out["sample_ratio_pct"]
    return out


#: SalUn's four terms (cu_core.gap) as columns of `salun_terms`.
SALUN_TERMS = {"UA": "unlearning accuracy, 100 − forget acc.", "RA": "remaining (retain-train) acc.",
               "TA": "test acc. (class task: remaining classes)", "MIA": "MIA-efficacy"}


def salun_terms(df: pd.DataFrame) -> pd.DataFrame:
    """`df` (report.subruns rows) with SalUn's UA, RA, TA and MIA columns (%, `cu_core.gap`'s definitions) and
    the method's `space` (`method_space`)."""
    out = df.copy()
    if out.empty:
        return out.assign(UA=[], RA=[], TA=[], MIA=[], space=[])

    def num(col: str) -> pd.Series:
        return pd.to_numeric(out[col], errors="coerce")

    out["UA"] = 100 - num("acc_forget_train")
    out["RA"] = num("acc_retain_train")
    out["TA"] = np.where(out["task"] == "class", num("acc_retain_test"), num("acc_test"))
    out["MIA"] = num("mia_efficacy")
    out["space"] = [method_space(m) for m in out["method"]]
    return out


def method_table(df: pd.DataFrame, digits: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(display table, numeric stats) of every method in `df` (one task and forget-set size): where it acts,
    UA, RA, TA, MIA-efficacy, Avg. Gap (mean ± std over seeds), unlearning seconds and seeds; Retrain first,
    then by mean Avg. Gap; the original model last. The stats frame has `<col>`, `<col>_std`, n per method."""
    cols = ["UA", "RA", "TA", "MIA", "avg_gap", "seconds"]
    terms = salun_terms(df)
    if terms.empty:
        return pd.DataFrame(), pd.DataFrame()
    for col in cols:
        terms[col] = pd.to_numeric(terms[col], errors="coerce")
    stats = mean_std(terms, ["method", "space"], cols)
    rank = stats["method"].map({"retrain": -1.0, "original": 1e9}).fillna(stats["avg_gap"].fillna(1e8))
    stats = stats.assign(_rank=rank).sort_values("_rank", kind="stable").drop(columns="_rank").reset_index(drop=True)
    table = pd.DataFrame({"Method": stats["method"], "Acts on": stats["space"]})
    for col, name in [("UA", "UA (%)"), ("RA", "RA (%)"), ("TA", "TA (%)"), ("MIA", "MIA-eff. (%)"),
                      ("avg_gap", "Avg. Gap ↓"), ("seconds", "Seconds")]:
        d = 2 if col == "seconds" else digits
        table[name] = [fmt_pm(m, s, d) for m, s in zip(stats[col], stats[f"{col}_std"])]
    table["Seeds"] = stats["n"].astype(int)
    return table, stats


#: The comparison slots of a profile: the class task, the paper's (smallest) sample task, SalUn's 10 % (largest).
SLOTS: dict[str, str] = {"class": "class task (forget one class)", "sample": "sample task (random images)",
                         "sample10": "sample task, SalUn's 10 % of the training set"}


def slot_rows(df: pd.DataFrame, slot: str) -> pd.DataFrame:
    """Rows of one slot of `SLOTS`: the class task; the smallest sample forget set; the largest when there are
    several (`sample10`, empty otherwise)."""
    if df.empty:
        return df
    if slot == "class":
        return df[df["task"] == "class"]
    sample = df[df["task"] == "sample"]
    sizes = sorted(set(sample["num_forget"].dropna()))
    if not sizes or (slot == "sample10" and len(sizes) < 2):
        return sample.iloc[0:0]
    return sample[sample["num_forget"] == (sizes[0] if slot == "sample" else sizes[-1])]


def headline(df: pd.DataFrame, digits: int = 1) -> pd.DataFrame:
    """CU against Retrain and the best baseline (lowest mean Avg. Gap, CU excluded) in each slot of `SLOTS`
    present in `df` (one profile's sub-runs): the `method_table` columns with a Slot ("class", "500 random
    images", ...) and a Role column (Retrain, CU, best baseline)."""
    parts = []
    for slot in SLOTS:
        rows = slot_rows(df, slot)
        table, stats = method_table(rows, digits)
        if table.empty:
            continue
        label = "class" if slot == "class" else f"{int(rows['num_forget'].iloc[0])} random images"
        label += " (SalUn's 10 %)" if slot == "sample10" else ""
        others = stats[~stats["method"].isin(["retrain", "original", "contrastive"])].dropna(subset=["avg_gap"])
        roles = {"retrain": "Retrain", "contrastive": "CU"}
        if not others.empty:
            roles[str(others.iloc[0]["method"])] = "best baseline"
        for method, role in roles.items():
            hit = table[table["Method"] == method]
            if not hit.empty:
                parts.append(hit.assign(Slot=label, Role=role))
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    return out[["Slot", "Role"] + [c for c in out.columns if c not in ("Slot", "Role")]]


def noise_floor(df: pd.DataFrame) -> float:
    """Retrain's own seed spread: the mean over UA, RA, TA and MIA of their std (ddof 1) across Retrain's seeds,
    in points; NaN with fewer than two Retrain seeds. A gap below it cannot be told from Retrain."""
    terms = salun_terms(df[df["method"] == "retrain"]) if not df.empty else df
    if len(terms) < 2:
        return float("nan")
    return float(np.nanmean([pd.to_numeric(terms[c], errors="coerce").std(ddof=1) for c in SALUN_TERMS]))


def original_gap(df: pd.DataFrame) -> dict[str, float]:
    """The Avg. Gap of doing nothing: the original model's UA, RA, TA and MIA against Retrain of the same seed,
    mean ± std over seeds ({"mean", "std", "n"}); a method's gap is only informative well below it."""
    terms = salun_terms(df[df["method"].isin(["original", "retrain"])]) if not df.empty else df
    nan = float("nan")
    if terms.empty:
        return {"mean": nan, "std": nan, "n": 0.0}
    wide = terms.pivot_table(index="seed", columns="method", values=list(SALUN_TERMS), aggfunc="mean")
    gaps = []
    for seed in wide.index:
        try:
            gaps.append(float(np.nanmean([abs(wide.loc[seed, (t, "original")] - wide.loc[seed, (t, "retrain")])
                                          for t in SALUN_TERMS])))
        except KeyError:
            continue
    gaps = [g for g in gaps if not math.isnan(g)]
    if not gaps:
        return {"mean": nan, "std": nan, "n": 0.0}
    return {"mean": float(np.mean(gaps)), "std": float(np.std(gaps, ddof=1)) if len(gaps) > 1 else nan,
            "n": float(len(gaps))}
