"""Results of the studies beyond the paper, shaped for the book's chapters 4-6 (baselines, ablations, questions).

Reads what `python -m cu_core.experiments` wrote (through `cu_core.report.subruns`), from any profile:

* `ablation_<task>`: one run per (knob, seed), run ids `knob-<knob>_seed-<s>_<hash>`, sub-runs `<knob>-<value>`;
  `ablation_table` adds the knob, the value (its text, a sort order and a display label) and the original's and
  Retrain's numbers stored in each sub-run's `metrics.json`;
* `attacks_<task>`: `attack_table` adds the U-LiRA-style attack's numbers (`metrics.json["ulira"]`);
* `geometry_<task>`: `tsne_table` reads every run's `tsne.csv` (x, y, part, label, index, model);
* `efficiency_<task>`: `efficiency_table` adds forget-set size, time and example ratios.

Every reader returns an empty frame (with the documented columns) when nothing was written yet, so a page can
say what is missing instead of failing. `check_command` validates the papermill commands of the exercises
against the parameters the templates declare.
"""
from __future__ import annotations

import json
import math
import shlex
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .paths import results_dir
from .report import mean_std, subruns

TASKS = ("class", "sample")

#: The four panels of an ablation figure per task: column → axis label.
ABLATION_METRICS: dict[str, dict[str, str]] = {
    "class": {"acc_forget_train": "forget-class train acc. (%)", "acc_retain_test": "remaining-class test acc. (%)",
              "avg_gap": "Avg. Gap to Retrain (points)", "epochs": "passes over the forget set"},
    "sample": {"acc_forget_train": "forget-set acc. (%)", "acc_test": "test acc. (%)",
               "avg_gap": "Avg. Gap to Retrain (points)", "epochs": "passes over the forget set"},
}

#: Where each method of `cu_core.unlearn.METHODS` acts (chapter 4 and question 1 group the methods by it).
METHOD_SPACE: dict[str, str] = {
    "contrastive": "representation",
    "neggrad": "output", "neggrad_plus": "output", "random_label": "output", "salun": "output",
    "scrub": "output", "bad_teacher": "output",
    "unsir": "input", "boundary_shrink": "input", "boundary_expanding": "input",
    "fisher": "weights", "lcodec": "weights", "ssd": "weights",
    "finetune": "retain data only", "l1_sparse": "retain data only",
    "original": "reference", "retrain": "reference",
}

_REFERENCE_ACC = ("forget_train", "retain_train", "test", "forget_test", "retain_test")
_ABLATION_EXTRA = ["knob", "value", "label", "order", "run_dir"] + [
    f"{who}_acc_{k}" for who in ("original", "retrain") for k in _REFERENCE_ACC] + ["retrain_mia_efficacy"]


def method_space(method: str) -> str:
    """Where `method` acts: representation, output, input, weights, retain data only, reference (or other)."""
    return METHOD_SPACE.get(method, "other")


def split_subrun(name: str) -> tuple[str, str]:
    """'lambda_ce-0.0' → ('lambda_ce', '0.0'); 'forget_selection-first_n' → ('forget_selection', 'first_n').

    Knob names hold no hyphen, so the first hyphen separates knob and value; a name without one is
    (name, '')."""
    knob, _, value = name.partition("-")
    return knob, value


def value_label(value: Any) -> str:
    """A value as the figures show it: numbers without trailing zeros ('0.0' → '0', '4' → '4'), text as is."""
    number = _as_float(value)
    return f"{number:g}" if number is not None else str(value)


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _same_value(a: Any, b: Any) -> bool:
    fa, fb = _as_float(a), _as_float(b)
    if fa is not None and fb is not None:
        return math.isclose(fa, fb, rel_tol=1e-9, abs_tol=1e-12)
    return str(a).strip().lower() == str(b).strip().lower()


def run_parameters(run_dir: str | Path) -> dict[str, Any]:
    """The template parameters of one experiment run (its `config.json`), or {} when it is missing or broken."""
    path = Path(run_dir) / "config.json"
    try:
        return dict(json.loads(path.read_text()).get("parameters") or {})
    except (OSError, ValueError, AttributeError):
        return {}


def expected_cases(profile: str, experiment: str) -> list[tuple[str, list[str]]]:
    """The (knob, values) cases that `profile` declares for `experiment` (values as written in the YAML), or []
    when the profile or the experiment is unknown."""
    from .errors import ConfigError
    from .experiments.grid import load_profile

    try:
        spec = load_profile(profile).experiments.get(experiment) or {}
    except ConfigError:
        return []
    cases = []
    for case in spec.get("cases") or []:
        if "knob" in case:
            values = [v.strip() for v in str(case.get("values", "")).split(",") if v.strip()]
            cases.append((str(case["knob"]), values))
    return cases


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _order(knob: str, value: str, declared: dict[str, list[str]]) -> float:
    """Position of `value` in the profile's declared values of `knob`; undeclared values sort after them,
    numbers by size."""
    values = declared.get(knob, [])
    for i, v in enumerate(values):
        if _same_value(v, value):
            return float(i)
    number = _as_float(value)
    return len(values) + (number if number is not None else 1e9)


def ablation_table(profile: str = "ablations", task: str = "class", root: str | Path | None = None) -> pd.DataFrame:
    """Every complete sub-run of `<profile>/ablation_<task>` as one row: `report.subruns` columns plus

    * knob (from the run's config.json, else the sub-run name), value (text from the sub-run name), label
      (`value_label`), order (position in the profile's declared values), run_dir (the experiment run folder);
    * original_acc_<part> and retrain_acc_<part> (%, from the sub-run's metrics.json: the models of the same
      split and seed; None where a part does not exist for the task), retrain_mia_efficacy (%).

    Sorted by knob, order and seed; an empty frame when nothing was written.
    """
    df = subruns(profile, f"ablation_{task}", root)
    if df.empty:
        return pd.DataFrame(columns=_ABLATION_EXTRA)
    declared = dict(expected_cases(profile, f"ablation_{task}"))
    extra = []
    for path, name in zip(df["path"], df["run"]):
        sub = Path(path)
        run_dir = sub.parent.parent
        knob_name, value = split_subrun(name)
        knob = str(run_parameters(run_dir).get("knob") or knob_name)
        metrics = _read_json(sub / "metrics.json")
        row: dict[str, Any] = {"knob": knob, "value": value, "label": value_label(value),
                               "order": _order(knob, value, declared), "run_dir": str(run_dir)}
        for who in ("original", "retrain"):
            acc = metrics.get(f"acc_{who}") or {}
            for part in _REFERENCE_ACC:
                row[f"{who}_acc_{part}"] = None if acc.get(part) is None else 100 * float(acc[part])
        mia = (metrics.get("mia_retrain") or {}).get("mia_efficacy")
        row["retrain_mia_efficacy"] = None if mia is None else 100 * float(mia)
        extra.append(row)
    out = pd.concat([df.reset_index(drop=True), pd.DataFrame(extra)], axis=1)
    for col in [c for c in out.columns if c.startswith(("original_acc_", "retrain_acc_"))] + ["retrain_mia_efficacy"]:
        out[col] = pd.to_numeric(out[col], errors="coerce")
    return out.sort_values(["knob", "order", "seed"], kind="stable").reset_index(drop=True)


def ablation_both(profile: str = "ablations", root: str | Path | None = None) -> pd.DataFrame:
    """`ablation_table` of both tasks in one frame (column task); empty when neither has results."""
    frames = [t for t in (ablation_table(profile, task, root) for task in TASKS) if not t.empty]
    return pd.concat(frames, ignore_index=True) if frames else ablation_table(profile, "class", root)


def knob_default(knob: str, profile: str = "ablations", experiment: str = "ablation_sample") -> Any:
    """The value a knob (or any run setting) has when it is not varied: the experiment's parameter in the profile
    (e.g. num_forget), else the ContrastiveConfig / SplitConfig / ModelConfig default; None for an unknown name."""
    from .config import ModelConfig, SplitConfig
    from .errors import ConfigError
    from .experiments import runs
    from .experiments.grid import load_profile
    from .unlearn.contrastive import ContrastiveConfig

    try:
        prof = load_profile(profile)
        params = {**prof.defaults, **(prof.experiments.get(experiment, {}).get("params") or {})}
    except ConfigError:
        params = {}
    if knob in params:
        return params[knob]
    if knob in runs.RUN_KNOBS:
        section, field = runs.RUN_KNOBS[knob]
        return getattr({"model": ModelConfig(), "split": SplitConfig()}[section], field)
    for config in (ContrastiveConfig(), SplitConfig(), ModelConfig()):
        if hasattr(config, knob):
            return getattr(config, knob)
    return None


def knob_rows(table: pd.DataFrame, knob: str) -> pd.DataFrame:
    """The rows of one knob, in the declared order of its values."""
    if table.empty or "knob" not in table:
        return table.iloc[0:0]
    return table[table["knob"] == knob].sort_values(["order", "seed"], kind="stable").reset_index(drop=True)


def knob_stats(table: pd.DataFrame, knob: str, columns: list[str]) -> pd.DataFrame:
    """Mean, std (ddof 1; NaN for one seed) and seed count per value of `knob`: columns label, value, order,
    `<col>`, `<col>_std`, n; in the declared order. Empty when the knob has no rows."""
    rows = knob_rows(table, knob)
    if rows.empty:
        return pd.DataFrame(columns=["label", "value", "order", *columns, *[f"{c}_std" for c in columns], "n"])
    data = rows.copy()
    for col in columns:
        data[col] = pd.to_numeric(data[col], errors="coerce")
    stats = mean_std(data, ["label", "value", "order"], columns)
    return stats.sort_values("order", kind="stable").reset_index(drop=True)


def value_mean(table: pd.DataFrame, knob: str, value: Any, column: str) -> dict[str, float]:
    """Mean, std (ddof 1) and seed count of `column` at one value of `knob` (NaNs and n = 0 when absent)."""
    rows = knob_rows(table, knob)
    part = rows[[_same_value(v, value) for v in rows["value"]]] if not rows.empty else rows
    series = pd.to_numeric(part[column], errors="coerce").dropna() if not part.empty else pd.Series(dtype=float)
    nan = float("nan")
    if series.empty:
        return {"mean": nan, "std": nan, "n": 0.0}
    return {"mean": float(series.mean()), "std": float(series.std(ddof=1)) if len(series) > 1 else nan,
            "n": float(len(series))}


def mean_text(stat: dict[str, float], digits: int = 1, unit: str = "") -> str:
    """A `value_mean` as '12.3 ± 4.5 %' ('–' when missing)."""
    text = fmt_pm(stat["mean"], stat["std"], digits)
    return text if text == "–" or not unit else f"{text}{unit}"


def split_sizes(table: pd.DataFrame, task: str) -> dict[str, int]:
    """`split_sizes` of the first sub-run of `task` in a `report.subruns`-like frame (column path), or {}."""
    if table.empty or "path" not in table:
        return {}
    part = table[table["task"] == task]
    if part.empty:
        return {}
    return {k: int(v) for k, v in (_read_json(Path(part["path"].iloc[0]) / "metrics.json").get("split_sizes")
                                   or {}).items()}


def cap_text(table: pd.DataFrame, knob: str, value: Any) -> str:
    """How many runs at one value of `knob` ended at the pass cap instead of meeting the stopping condition:
    'none of 3 runs', '2 of 3 runs', or 'no run' when the value has none."""
    rows = knob_rows(table, knob)
    part = rows[[_same_value(v, value) for v in rows["value"]]] if not rows.empty else rows
    if part.empty:
        return "no run"
    capped = int((part["stop_reason"] == "max_passes").sum())
    n = len(part)
    return f"{'none' if capped == 0 else capped} of {n} run{'s' if n != 1 else ''}"


def paired_delta(table: pd.DataFrame, knob: str, column: str, base: Any, other: Any) -> dict[str, float]:
    """`column` at value `other` minus at value `base`, paired by seed: {"mean", "std" (ddof 1, NaN for one
    pair), "n" (pairs), "base", "other" (the means over the paired seeds)}; n = 0 and NaNs when no seed has both."""
    rows = knob_rows(table, knob)
    nan = float("nan")
    empty = {"mean": nan, "std": nan, "n": 0.0, "base": nan, "other": nan}
    if rows.empty:
        return empty
    pick = {}
    for key, wanted in (("base", base), ("other", other)):
        part = rows[[_same_value(v, wanted) for v in rows["value"]]]
        pick[key] = pd.to_numeric(part.set_index("seed")[column], errors="coerce").groupby(level=0).mean()
    joined = pd.concat(pick, axis=1).dropna()
    if joined.empty:
        return empty
    diff = joined["other"] - joined["base"]
    return {"mean": float(diff.mean()), "std": float(diff.std(ddof=1)) if len(diff) > 1 else nan,
            "n": float(len(diff)), "base": float(joined["base"].mean()), "other": float(joined["other"].mean())}


def coverage(table: pd.DataFrame, profile: str, experiment: str) -> pd.DataFrame:
    """Per knob declared by the profile (and any other knob found): the declared values, the values found, the
    seeds found and whether it is complete. Columns knob, declared, found, seeds, missing (text)."""
    declared = expected_cases(profile, experiment)
    knobs = [k for k, _ in declared]
    if not table.empty and "knob" in table:
        knobs += [k for k in dict.fromkeys(table["knob"]) if k not in knobs]
    rows = []
    values_of = dict(declared)
    for knob in knobs:
        part = knob_rows(table, knob)
        found = list(dict.fromkeys(part["label"])) if not part.empty else []
        wanted = [value_label(v) for v in values_of.get(knob, [])]
        missing = [v for v in wanted if not any(_same_value(v, f) for f in found)]
        seeds = sorted({int(s) for s in part["seed"]}) if not part.empty else []
        rows.append({"knob": knob, "declared": ", ".join(wanted), "found": ", ".join(found),
                     "seeds": ", ".join(map(str, seeds)) or "none",
                     "missing": "nothing" if not missing else ("every value" if len(missing) == len(wanted)
                                                               else ", ".join(missing))})
    return pd.DataFrame(rows, columns=["knob", "declared", "found", "seeds", "missing"])


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


def provenance(df: pd.DataFrame, profile: str | None, what: str = "") -> str:
    """A caption line: dataset (display name), model(s), hardware, seeds, profile; or why there is nothing."""
    if profile is None or df.empty:
        return f"No results{(' for ' + what) if what else ''} were found."

    def listing(col: str) -> str:
        return ", ".join(sorted({str(v) for v in df[col].dropna()}, key=str)) or "unknown"

    seeds = ", ".join(str(int(s)) for s in sorted(set(df["seed"].dropna())))
    return (f"Dataset: {listing('dataset')}. Model: {listing('model')}. Hardware: {listing('hardware')}. "
            f"Seeds: {seeds or 'none'}. Profile: {profile}.")


def fmt_pm(mean: Any, std: Any = None, digits: int = 1) -> str:
    """'12.3 ± 4.5'; '12.3' when std is missing or NaN (one seed); '–' when the mean is missing or NaN."""
    m, s = _as_float(mean), _as_float(std)
    if m is None:
        return "–"
    return f"{m:.{digits}f}" if s is None else f"{m:.{digits}f} ± {s:.{digits}f}"


def delta_text(delta: dict[str, float], digits: int = 1) -> str:
    """A `paired_delta` as '+12.3 ± 4.5 points (3 seeds)' ('–' when no seed has both values)."""
    if not delta["n"]:
        return "–"
    m, s, n = delta["mean"], delta["std"], int(delta["n"])
    spread = "" if math.isnan(s) else f" ± {s:.{digits}f}"
    return f"{m:+.{digits}f}{spread} points ({n} seed{'s' if n != 1 else ''})"


def plot_knob(table: pd.DataFrame, knob: str, *, default: Any = None, tasks: tuple[str, ...] = TASKS,
              title: str = "") -> Any:
    """One figure for one knob: a row per task with results, the four `ABLATION_METRICS` panels of that task;
    mean ± std over seeds per value, Retrain's value of the same split as a grey cross on the accuracy panels,
    the default value's tick label in bold. `table` holds both tasks (column task). Returns the Figure, or None
    when the knob has no rows in any task."""
    import matplotlib.pyplot as plt

    present = [t for t in tasks if not knob_rows(table[table["task"] == t] if "task" in table else table, knob).empty]
    if not present:
        return None
    fig, axes = plt.subplots(len(present), 4, figsize=(13, 3.1 * len(present)), dpi=110, squeeze=False)
    for r, task in enumerate(present):
        rows = table[table["task"] == task]
        metrics = ABLATION_METRICS[task]
        stats = knob_stats(rows, knob, list(metrics))
        ref_cols = {"acc_forget_train": "retrain_acc_forget_train", "acc_test": "retrain_acc_test",
                    "acc_retain_test": "retrain_acc_retain_test"}
        refs = knob_stats(rows, knob, [c for c in ref_cols.values() if c in rows])
        x = np.arange(len(stats))
        for c, (col, label) in enumerate(metrics.items()):
            ax = axes[r][c]
            mean = stats[col].astype(float).to_numpy()
            std = np.nan_to_num(stats[f"{col}_std"].astype(float).to_numpy())
            ax.errorbar(x, mean, yerr=std, fmt="o-", color="C0", capsize=4, label="CU, mean ± std")
            ref = ref_cols.get(col)
            if ref is not None and ref in refs:
                ax.scatter(x, refs[ref].astype(float), marker="x", color="0.4", s=50, zorder=3, label="Retrain")
            ax.set_xticks(x, list(stats["label"]))
            if default is not None:
                for tick, value in zip(ax.get_xticklabels(), stats["value"]):
                    if _same_value(value, default):
                        tick.set_fontweight("bold")
            ax.set_xlabel(knob + (" (bold: default)" if default is not None else ""))
            ax.set_ylabel(label)
            if c == 0:
                n = int(stats["n"].min()) if len(stats) else 0
                ax.set_title(f"{task} task (seeds per value ≥ {n})", fontsize=9, loc="left")
                ax.legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def ablation_summary(table: pd.DataFrame, profile: str = "ablations") -> pd.DataFrame:
    """One row per (knob, task) with results: the default value and its Avg. Gap, the value with the lowest
    mean Avg. Gap and that gap (mean ± std over seeds), the range of mean passes, and the seeds found."""
    cols = ["knob", "task", "default", "gap at default", "lowest-gap value", "lowest gap", "passes (range of means)",
            "seeds"]
    rows = []
    if table.empty:
        return pd.DataFrame(columns=cols)
    declared = [k for task in TASKS for k, _ in expected_cases(profile, f"ablation_{task}")]
    for knob in dict.fromkeys(declared + list(table["knob"])):
        for task in TASKS:
            part = table[table["task"] == task]
            stats = knob_stats(part, knob, ["avg_gap", "epochs"])
            if stats.empty:
                continue
            default = knob_default(knob, profile, f"ablation_{task}")
            at = stats[[_same_value(v, default) for v in stats["value"]]]
            best = best_value(part, knob)
            passes = stats["epochs"].astype(float)
            seeds = sorted({int(x) for x in knob_rows(part, knob)["seed"]})
            rows.append({"knob": knob, "task": task, "default": value_label(default),
                         "gap at default": fmt_pm(at["avg_gap"].iloc[0], at["avg_gap_std"].iloc[0]) if len(at) else "–",
                         "lowest-gap value": best["label"] or "–", "lowest gap": fmt_pm(best["mean"], best["std"]),
                         "passes (range of means)": f"{passes.min():.1f} – {passes.max():.1f}",
                         "seeds": ", ".join(map(str, seeds))})
    return pd.DataFrame(rows, columns=cols)


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


def placeholder_figure(message: str, xlabel: str = "", ylabel: str = "") -> Any:
    """A small figure that says what is missing (a page glues it where a result figure would go)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 1.8), dpi=110)
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return fig


def knob_figure(table: pd.DataFrame, knob: str, profile: str = "ablations") -> tuple[Any, str]:
    """(`plot_knob` figure or a placeholder, caption provenance) for one knob of `ablation_both` output; the
    profile's default value is bold."""
    rows = knob_rows(table, knob)
    fig = plot_knob(table, knob, default=knob_default(knob, profile)) if not rows.empty else None
    if fig is None:
        fig = placeholder_figure(f"No results for the knob {knob!r} yet (profile {profile}).", knob, "metric")
    tasks = ", ".join(t for t in TASKS if t in set(rows.get("task", [])))
    what = f"the {knob} ablation"
    cap = provenance(rows, profile if not rows.empty else None, what)
    return fig, (cap + f" Tasks: {tasks}." if tasks else cap)


def change_text(delta: dict[str, float], digits: int = 1, unit: str = "points") -> str:
    """A `paired_delta` in words: 'drops by 98.8 ± 1.2 points (98.8 → 0.0; 3 seeds)', 'rises by …', or
    'does not change (…)' when the mean change rounds to 0; 'was not measured' when no seed has both values."""
    if not delta["n"]:
        return "was not measured (no seed has both values yet)"
    m, s, n = delta["mean"], delta["std"], int(delta["n"])
    spread = "" if math.isnan(s) else f" ± {s:.{digits}f}"
    where = f"{delta['base']:.{digits}f} → {delta['other']:.{digits}f}; {n} seed{'s' if n != 1 else ''}"
    if round(m, digits) == 0:
        return f"does not change ({where})"
    return f"{'drops' if m < 0 else 'rises'} by {abs(m):.{digits}f}{spread} {unit} ({where})"


def best_value(table: pd.DataFrame, knob: str, column: str = "avg_gap") -> dict[str, Any]:
    """The value of `knob` with the lowest mean `column`: {"label", "mean", "std", "n"}; label None when empty."""
    stats = knob_stats(table, knob, [column]).dropna(subset=[column])
    if stats.empty:
        return {"label": None, "mean": float("nan"), "std": float("nan"), "n": 0}
    row = stats.loc[stats[column].astype(float).idxmin()]
    return {"label": str(row["label"]), "mean": float(row[column]), "std": float(row[f"{column}_std"]),
            "n": int(row["n"])}


def markdown_table(df: pd.DataFrame) -> str:
    """A DataFrame as a Markdown (MyST) table, cells as text; '|' in a cell is escaped."""
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(cell(c) for c in df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def note_table(text: str) -> str:
    """A one-cell Markdown table holding a note (e.g. what is missing), for places that must hold a table."""
    return markdown_table(pd.DataFrame({"Note": [text]}))


# --------------------------------------------------------------------------- exercises
def check_command(command: str) -> dict[str, str]:
    """Validate an exercise's papermill command; returns its parameters (name → value text).

    Checks: `papermill <notebooks/template.ipynb> <out.ipynb>` then only `-p name value` pairs; every name is
    declared by the template (papermill's own inspection); ints parse, and a str parameter is not given a text
    that papermill's `-p` would turn into a number or a bool (e.g. `-p values 4`); the values build a valid `RunConfig`
    (`experiments.params.run_config`); an ablation's knob and values parse (`ablations.parse_values`) and every
    value gives a valid ContrastiveConfig; JSON overrides are valid for the method. Raises ValueError otherwise.
    """
    import papermill

    from .errors import ConfigError
    from .experiments.ablations import parse_values
    from .experiments.params import run_config, unlearn_config
    from .paths import project_root

    words = shlex.split(command)
    if len(words) < 3 or words[0] != "papermill":
        raise ValueError(f"not a `papermill <template> <output>` command: {command!r}")
    template = project_root() / words[1]
    if not template.is_file() or template.suffix != ".ipynb":
        raise ValueError(f"no template {words[1]!r}")
    rest = words[3:]
    if len(rest) % 3 or any(flag != "-p" for flag in rest[0::3]):
        raise ValueError(f"only `-p name value` pairs may follow the output path: {command!r}")
    declared = papermill.inspect_notebook(str(template))
    given = dict(zip(rest[1::3], rest[2::3]))
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ValueError(f"{words[1]} declares no parameter {unknown} (it declares {', '.join(declared)})")
    typed: dict[str, Any] = {}
    for name, spec in declared.items():
        text = given.get(name)
        default = spec["default"]
        if text is None:
            typed[name] = json.loads(default) if default.startswith('"') else _literal(default)
        elif spec["inferred_type_name"] == "int":
            try:
                typed[name] = int(text)
            except ValueError:
                raise ValueError(f"{name} must be an int, got {text!r}") from None
        else:
            if text in ("True", "False", "None") or _as_float(text) is not None:
                raise ValueError(f"papermill's -p turns {text!r} into a {type(_literal(text)).__name__}, but "
                                 f"{name} is a str: write it with -r or as a list of at least two values")
            typed[name] = text
    keys = ("dataset", "data_source", "model", "head", "train_epochs", "task", "forget_class", "num_forget",
            "forget_selection", "seed", "device")
    try:
        cfg = run_config(**{k: typed[k] for k in keys if k in typed})
        method = typed.get("method", "contrastive")
        if "knob" in typed:
            from .experiments import runs

            base = typed.get("base_overrides", "")
            for value in parse_values(typed["knob"], typed["values"], cfg):
                if typed["knob"] in runs.RUN_KNOBS:
                    runs.with_knob(cfg, typed["knob"], value)  # validates the changed RunConfig
                overrides = base if typed["knob"] in runs.RUN_KNOBS else {
                    **(json.loads(base) if base.strip() else {}), typed["knob"]: value}
                unlearn_config("contrastive", preset=typed.get("preset", "defaults"), overrides=overrides)
        elif method != "retrain":
            unlearn_config(method, preset=typed.get("preset", "defaults"),
                           overrides=typed.get("method_overrides", ""))
    except (ConfigError, KeyError, ValueError) as err:
        raise ValueError(f"invalid exercise command {command!r}: {err}") from None
    return {k: str(v) for k, v in given.items()}


def _literal(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def exercises_markdown(items: list[tuple[str, str]]) -> str:
    """A numbered Markdown list of exercises, each a sentence and its (validated) papermill command."""
    lines = []
    for i, (text, command) in enumerate(items, 1):
        check_command(command)
        lines += [f"{i}. {text}", "", "   ```bash", f"   {command}", "   ```", ""]
    return "\n".join(lines)


__all__ = [
    "ABLATION_METRICS",
    "METHOD_SPACE",
    "SALUN_TERMS",
    "TASKS",
    "ablation_both",
    "ablation_summary",
    "ablation_table",
    "attack_table",
    "best_value",
    "cap_text",
    "change_text",
    "check_command",
    "coverage",
    "delta_text",
    "efficiency_table",
    "exercises_markdown",
    "expected_cases",
    "fmt_pm",
    "knob_default",
    "knob_figure",
    "knob_rows",
    "knob_stats",
    "markdown_table",
    "mean_text",
    "method_space",
    "method_table",
    "noise_floor",
    "note_table",
    "original_gap",
    "paired_delta",
    "placeholder_figure",
    "plot_knob",
    "provenance",
    "run_parameters",
    "salun_terms",
    "split_sizes",
    "split_subrun",
    "tsne_table",
    "value_label",
    "value_mean",
]
