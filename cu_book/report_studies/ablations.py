"""Ablation results: one row per (knob, value, seed) sub-run, statistics and summaries."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..report import mean_std, subruns
from ._common import TASKS, _as_float, _read_json, _same_value, run_parameters, split_subrun, value_label


#: The four panels of an ablation figure per task: column → axis label.
ABLATION_METRICS: dict[str, dict[str, str]] = {
    "class": {"acc_forget_train": "forget-class train acc. (%)", "acc_retain_test": "remaining-class test acc. (%)",
              "avg_gap": "Avg. Gap to Retrain (points)", "epochs": "passes over the forget set"},
    "sample": {"acc_forget_train": "forget-set acc. (%)", "acc_test": "test acc. (%)",
               "avg_gap": "Avg. Gap to Retrain (points)", "epochs": "passes over the forget set"},
}


_REFERENCE_ACC = ("forget_train", "retain_train", "test", "forget_test", "retain_test")


_ABLATION_EXTRA = ["knob", "value", "label", "order", "run_dir"] + [
    f"{who}_acc_{k}" for who in ("original", "retrain") for k in _REFERENCE_ACC] + ["retrain_mia_efficacy"]


def expected_cases(profile: str, experiment: str) -> list[tuple[str, list[str]]]:
    """The (knob, values) cases that `profile` declares for `experiment` (values as written in the YAML), or []
    when the profile or the experiment is unknown."""
    from cu_core.errors import ConfigError
    from cu_core.experiments.grid import load_profile

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
    from cu_core.config import ModelConfig, SplitConfig
    from cu_core.errors import ConfigError
    from cu_core.experiments import runs
    from cu_core.experiments.grid import load_profile
    from cu_core.unlearn.contrastive import ContrastiveConfig

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


def best_value(table: pd.DataFrame, knob: str, column: str = "avg_gap") -> dict[str, Any]:
    """The value of `knob` with the lowest mean `column`: {"label", "mean", "std", "n"}; label None when empty."""
    stats = knob_stats(table, knob, [column]).dropna(subset=[column])
    if stats.empty:
        return {"label": None, "mean": float("nan"), "std": float("nan"), "n": 0}
    row = stats.loc[stats[column].astype(float).idxmin()]
    return {"label": str(row["label"]), "mean": float(row[column]), "std": float(row[f"{column}_std"]),
            "n": int(row["n"])}
