"""The class task's retain loss and the two remedies, as tables and sentences for the diagnosis page.

* `class_sweep_table`: the `ablations` profile's `class_sweep` (digits, every forget class × seed): how far CU's
  retain-test accuracy (the other classes' test images) falls below Retrain's, with and without retain-only repair
  steps after the stop, and where the traced run's rule fired.
* `remedy_table`: `cifar-converged`'s `remedies` (three seeds): CU as the paper runs it, with repair steps
  (remedy A), with a held-out floor (remedy B, sample task) and at λ_UL = 1, beside Retrain and the original.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from cu_book import report
from cu_core.results import read_metrics

from .diagnosis import COMMAND, read_passes, stop_pass

LOSS = 2.0  # points of retain-test accuracy below Retrain's that count as "loses"
SWEEP_COLUMNS = ["forget_class", "seed", "cu_passes", "retrain_retain", "cu_retain_diff", "repair_retain_diff",
                 "trace_retain_diff", "retrain_forget", "cu_forget", "repair_forget", "cu_gap", "repair_gap",
                 "trace_stop", "trace_passes"]
VARIANTS = {"original": "original (no unlearning)", "retrain": "Retrain (reference)", "contrastive": "CU (paper)",
            "contrastive_repair": "CU + repair steps (A)", "contrastive_guard": "CU + held-out floor (B)",
            "contrastive_lambda1": "CU, λ_UL = 1"}
REMEDY_VALUES = ["acc_test", "acc_retain_test", "acc_forget_train", "avg_gap", "epochs", "seconds"]
NAN = float("nan")


def _get(rows: pd.DataFrame, run: str, col: str) -> float:
    hit = rows.loc[rows["run"] == run, col]
    return float(hit.iloc[0]) if not hit.empty and pd.notna(hit.iloc[0]) else NAN


def class_sweep_table(profile: str = "ablations", experiment: str = "class_sweep",
                      root: str | Path | None = None) -> pd.DataFrame:
    """One row per (forget class, seed), sorted (`SWEEP_COLUMNS`, accuracies in %, differences in points):
    `cu_passes`; `cu_retain_diff`, `repair_retain_diff`, `trace_retain_diff`: retain-test accuracy of CU, CU with
    repair, and the traced run after all its passes, minus Retrain's; `retrain_forget`, `cu_forget`,
    `repair_forget`: accuracy on the forgotten class's test images; `cu_gap`, `repair_gap`: Avg. Gap;
    `trace_stop`: where the traced run's rule fired (`stop_pass`, NaN if never), of `trace_passes` passes. A
    sub-run not (yet) there leaves NaN. Empty (with these columns) when the experiment has no results."""
    df = report.subruns(profile, experiment, root=root)
    rows: list[dict[str, Any]] = []
    for _, g in ([] if df.empty else df.groupby("run_id", sort=False)):
        retain = _get(g, "retrain", "acc_retain_test")
        trace = g.loc[g["run"] == "contrastive_trace", "path"]
        passes = read_passes(trace.iloc[0]) if not trace.empty else pd.DataFrame()
        fired = stop_pass(passes) if not passes.empty else None
        rows.append({"forget_class": int(g["forget_class"].iloc[0]), "seed": int(g["seed"].iloc[0]),
                     "cu_passes": _get(g, "contrastive", "epochs"), "retrain_retain": retain,
                     "cu_retain_diff": _get(g, "contrastive", "acc_retain_test") - retain,
                     "repair_retain_diff": _get(g, "contrastive_repair", "acc_retain_test") - retain,
                     "trace_retain_diff": _get(g, "contrastive_trace", "acc_retain_test") - retain,
                     "retrain_forget": _get(g, "retrain", "acc_forget_test"),
                     "cu_forget": _get(g, "contrastive", "acc_forget_test"),
                     "repair_forget": _get(g, "contrastive_repair", "acc_forget_test"),
                     "cu_gap": _get(g, "contrastive", "avg_gap"),
                     "repair_gap": _get(g, "contrastive_repair", "avg_gap"),
                     "trace_stop": NAN if fired is None else float(fired),
                     "trace_passes": float(passes["pass"].max()) if not passes.empty else NAN})
    out = pd.DataFrame(rows, columns=SWEEP_COLUMNS)
    return out.sort_values(["forget_class", "seed"], kind="stable").reset_index(drop=True)


def _signed(value: float) -> str:
    """'+1.2' / '-0.3'; '0.0' for a value that rounds to zero (no '-0.0')."""
    text = f"{value:+.1f}"
    return "0.0" if text in ("+0.0", "-0.0") else text


def class_sweep_summary(table: pd.DataFrame, loss: float = LOSS) -> pd.DataFrame:
    """Per variant (CU, CU + repair, traced to the end): pairs with a value, mean and worst (lowest) retain-test
    difference to Retrain, and how many pairs lose more than `loss` points; indexed by variant."""
    out = []
    for name, col in (("CU", "cu_retain_diff"), ("CU + repair", "repair_retain_diff"),
                      ("CU traced to the end", "trace_retain_diff")):
        v = table[col].dropna() if col in table else pd.Series(dtype=float)
        out.append({"variant": name, "pairs": int(len(v)), "mean": float(v.mean()) if len(v) else NAN,
                    "worst": float(v.min()) if len(v) else NAN, "lose": int((v < -loss).sum())})
    return pd.DataFrame(out).set_index("variant")


def class_sweep_summary_display(table: pd.DataFrame, loss: float = LOSS) -> pd.DataFrame:
    """`class_sweep_summary` as text for the page (one decimal); a one-cell note when no pair has results."""
    s = class_sweep_summary(table, loss)
    if s["pairs"].sum() == 0:
        return pd.DataFrame({"Note": ["No class/seed pair has results of CU and Retrain yet."]})
    return pd.DataFrame({"variant": s.index, "pairs": s["pairs"].to_numpy(),
                         "mean (points)": ["–" if pd.isna(v) else _signed(v) for v in s["mean"]],
                         "worst (points)": ["–" if pd.isna(v) else _signed(v) for v in s["worst"]],
                         f"pairs losing > {loss:g} points": s["lose"].to_numpy()})


def class_sweep_display(table: pd.DataFrame) -> pd.DataFrame:
    """`class_sweep_table` as text for the page (one decimal, '–' for missing), indexed by class and seed."""
    if table.empty:
        return pd.DataFrame({"Note": ["No class_sweep results yet: python -m cu_core.experiments run --profile "
                                      "ablations --only class_sweep --threads 1"]})

    def num(v: Any, fmt: str = "") -> str:
        return "–" if pd.isna(v) else (fmt.format(v) if fmt else _signed(v))

    return pd.DataFrame({
        "class": table["forget_class"], "seed": table["seed"],
        "CU passes": [num(v, "{:.0f}") for v in table["cu_passes"]],
        "CU − Retrain": [num(v) for v in table["cu_retain_diff"]],
        "+ repair − Retrain": [num(v) for v in table["repair_retain_diff"]],
        "forgotten class: CU / + repair": [f"{num(a, '{:.1f}')} / {num(b, '{:.1f}')}"
                                           for a, b in zip(table["cu_forget"], table["repair_forget"])],
        "traced: stop pass": [num(v, "{:.0f}") for v in table["trace_stop"]]}).set_index(["class", "seed"])


def class_sweep_reading(table: pd.DataFrame, loss: float = LOSS) -> str:
    """The sweep in words: mean and worst retain-test loss against Retrain (which pair, after how many passes),
    how many pairs lose more than `loss` points, what repair does to that loss and to the forgotten class, and
    whether the traced runs fired where CU stopped."""
    s = class_sweep_summary(table, loss)
    pairs, lose = int(s.at["CU", "pairs"]), int(s.at["CU", "lose"])
    if pairs == 0:
        return "No forget class has results of CU and Retrain yet."
    worst = table.loc[table["cu_retain_diff"].idxmin()]
    losers = table[table["cu_retain_diff"] < -loss]
    others = table[table["cu_retain_diff"].notna() & ~table.index.isin(losers.index)]
    text = (f"Over {pairs} class/seed pairs CU's retain-test accuracy is {_signed(s.at['CU', 'mean'])} points from "
            f"Retrain's on average; the worst pair (class {int(worst['forget_class'])}, seed {int(worst['seed'])}) is "
            f"{_signed(worst['cu_retain_diff'])} after {worst['cu_passes']:.0f} passes. {lose} of {pairs} pairs lose "
            f"more than {loss:g} points")
    if len(losers) and len(others):
        text += (f"; they stopped after {losers['cu_passes'].median():.0f} passes (median), the others after "
                 f"{others['cu_passes'].median():.0f}")
    text += "."
    if s.at["CU + repair", "pairs"]:
        rep = table.dropna(subset=["repair_retain_diff"])
        text += (f" With repair steps the mean is {_signed(s.at['CU + repair', 'mean'])} and the worst "
                 f"{_signed(s.at['CU + repair', 'worst'])} points ({int(s.at['CU + repair', 'lose'])} pairs lose more "
                 f"than {loss:g}), but the forgotten class's test accuracy goes from "
                 f"{rep['cu_forget'].mean():.1f} % to "
                 f"{rep['repair_forget'].mean():.1f} % on average (Retrain: {rep['retrain_forget'].mean():.1f} %), and "
                 f"the Avg. Gap from {rep['cu_gap'].mean():.1f} to {rep['repair_gap'].mean():.1f}.")
    both = table.dropna(subset=["trace_passes", "cu_passes"])
    within = both[both["cu_passes"] <= both["trace_passes"]]  # CU stopped inside the traced run's passes
    if len(within):
        same = int((within["trace_stop"] == within["cu_passes"]).sum())
        text += (f" The traced runs fire at CU's stopping pass in {same} of the {len(within)} pairs where CU stopped "
                 f"within their {both['trace_passes'].max():.0f} passes; after all of them their retain-test accuracy "
                 f"is {_signed(s.at['CU traced to the end', 'mean'])} points from Retrain's on average (worst "
                 f"{_signed(s.at['CU traced to the end', 'worst'])}).")
    return text


def _setting(path: str, base: dict[str, Any]) -> str:
    """What a variant sub-run changed against CU's own config ('repair_steps=50'), '' for CU itself."""
    cfg = (read_metrics(Path(path) / "metrics.json") or {}).get("unlearn_config") or {}
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in cfg.items()
                     if k != "seed" and base and v != base.get(k))


def remedy_table(profile: str = "cifar-converged", experiment: str = "remedies",
                 root: str | Path | None = None) -> pd.DataFrame:
    """Per task and variant (`VARIANTS` order): mean and std over seeds (`<col>`, `<col>_std`, n) of
    `REMEDY_VALUES` (%, points, passes, seconds); the original's Avg. Gap is that of doing nothing
    (`original_gap`); `setting`: what the variant changes in CU's config; `capped`: its runs that ended at the pass
    cap (Eq. 9 never counted). Empty when not run yet."""
    from cu_book.report_studies.studies import original_gap

    df = report.subruns(profile, experiment, root=root)
    if df.empty:
        return pd.DataFrame(columns=["task", "variant", "label", "setting", "n", "capped", *REMEDY_VALUES])
    df = df[df["run"].isin(VARIANTS)].reindex(
        columns=[*df.columns, *(c for c in (*REMEDY_VALUES, "stop_reason") if c not in df)])
    stats = report.mean_std(df, ["task", "run"], REMEDY_VALUES).rename(columns={"run": "variant"})
    for task, part in df.groupby("task"):
        gap, at = original_gap(part), (stats["task"] == task) & (stats["variant"] == "original")
        stats.loc[at, ["avg_gap", "avg_gap_std"]] = [gap["mean"], gap["std"]]
    cu = df[df["run"] == "contrastive"]
    base = {t: (read_metrics(Path(p) / "metrics.json") or {}).get("unlearn_config") or {}
            for t, p in zip(cu["task"], cu["path"])}
    first = df.drop_duplicates(["task", "run"]).set_index(["task", "run"])["path"]
    stats["setting"] = [_setting(first[(t, v)], base.get(t, {})) if v.startswith("contrastive_") else ""
                        for t, v in zip(stats["task"], stats["variant"])]
    capped = df.assign(capped=df["stop_reason"].eq("max_passes")).groupby(["task", "run"])["capped"].sum()
    stats["capped"] = [int(capped.get((t, v), 0)) for t, v in zip(stats["task"], stats["variant"])]
    stats["label"] = stats["variant"].map(VARIANTS)
    stats["_o"] = stats["variant"].map(list(VARIANTS).index)
    return stats.sort_values(["task", "_o"]).drop(columns="_o").reset_index(drop=True)


def remedy_display(table: pd.DataFrame) -> pd.DataFrame:
    """`remedy_table` as 'mean ± std' text, indexed by task and variant; a note naming the command when empty."""
    if table.empty:
        return pd.DataFrame({"Note": [f"Not run yet: {COMMAND}"]})
    names = {"acc_test": "test acc. (%)", "acc_retain_test": "retain-test acc. (%)",
             "acc_forget_train": "forget acc. (%)", "avg_gap": "Avg. Gap", "epochs": "passes", "seconds": "seconds"}
    out = table[["task", "label", "setting"]].rename(columns={"label": "variant"})
    for col, name in names.items():
        out[name] = [report.fmt(m, s, 0 if col == "seconds" else 1) for m, s in zip(table[col], table[f"{col}_std"])]
    out["seeds"] = table["n"].astype(int)
    return out.set_index(["task", "variant"])


def remedy_reading(table: pd.DataFrame) -> str:
    """What a user should set, per task, from the numbers: the CU variant with the lowest mean Avg. Gap when it beats
    the paper's CU by more than the larger of their seed stds (else: no remedy beats it beyond the seed spread), and
    where it stands against doing nothing; or that the remedies have not been run yet. With one seed there is no
    spread to judge by: the reading reports that seed and recommends nothing."""
    if table.empty:
        return f"The remedies have not been run yet, so this page recommends nothing from them; the runs: {COMMAND}."
    texts = []
    for task, t in table.groupby("task", sort=False):
        t = t.set_index("variant")
        if "contrastive" not in t.index:
            continue
        cu, rest = t.loc["contrastive"], t[t.index.str.startswith("contrastive_")]
        cap = "; ".join(f"{r['label']} ran to the pass cap on {int(r['capped'])} of {int(r['n'])} seed"
                        f"{'' if int(r['n']) == 1 else 's'} (its stop never counted)"
                        for _, r in t[t.index.str.startswith("contrastive")].iterrows() if r["capped"] > 0)
        cap = f" {cap[0].upper()}{cap[1:]}." if cap else ""
        cu_sd = 0.0 if pd.isna(cu["avg_gap_std"]) else float(cu["avg_gap_std"])
        better = rest[rest["avg_gap"] < cu["avg_gap"] - rest["avg_gap_std"].fillna(0.0).clip(lower=cu_sd)]
        n = int(cu["n"])
        head = f"{task.capitalize()} task ({n} seed{'' if n == 1 else 's'}): the paper's CU has an Avg. Gap of " \
               f"{report.fmt(cu['avg_gap'], cu['avg_gap_std'])}"
        orig = t["avg_gap"].get("original", NAN)
        head += "" if pd.isna(orig) else f" (doing nothing: {orig:.1f})"
        if better.empty:
            texts.append(head + ("; no remedy lowers it on this seed." if n < 2 else
                                 "; no remedy lowers it beyond the seed spread, so keep the paper's settings.") + cap)
            continue
        b = better.sort_values("avg_gap").iloc[0]
        verdict = "below" if pd.notna(orig) and b["avg_gap"] < orig else "still not below"
        advice = (f"set {b['setting']}." if n > 1 else "one seed has no spread to judge by, so this is not a "
                  "recommendation yet: the other seeds decide.")
        texts.append(head + f"; {b['label']} ({b['setting']}) lowers it to {report.fmt(b['avg_gap'], b['avg_gap_std'])}"
                            f", {verdict} doing nothing, at a test accuracy of {b['acc_test']:.1f} % "
                            f"(CU: {cu['acc_test']:.1f} %): {advice}{cap}")
    return " ".join(texts) or "The remedies ran without a CU row to compare them with."
