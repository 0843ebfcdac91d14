"""What unlearning costs against Retrain, everything counted, and why per-example ratios drift on a shared CPU.

Per unlearning sub-run (`cost_runs`), against the Retrain of the same run and seed (`seconds.retrain_train`): the
method's own time (`seconds.unlearn`), the time with its per-pass stop checks (`+ seconds.stop_checks`), the
examples it processed (`cost.samples / cost.retrain_samples`, machine-independent) and the per-example cost,
(time / samples) / (Retrain's time / Retrain's samples): 1 = a step costs per example what a training step costs.
`cost_summary` averages them over seeds beside the paper's Tables 3 and 7 (`paper_ratios`); our evaluation
afterwards belongs to no method and is counted nowhere. Retrain's seconds come from the checkpoint cache (the run
that trained it, under whatever load the machine had then); `pace` and `per_example_gap` put every timed workload
on one scale, milliseconds per example, to show how far the machine's own speed moved between runs.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cu_book import report
from cu_book.paper_compare import paper_tables
from cu_core.experiments.grid import expand, load_profile, profiles as known_profiles
from cu_core.paths import results_dir
from cu_core.results import read_metrics
from cu_core.unlearn import METHODS

PROFILES = ["paper", "paper-gpu", "cifar-converged", "cifar-cpu"]  # CIFAR-10 scales, most faithful first
FALLBACK = ["quick", "smoke"]  # digits: shown only when no CIFAR-10 profile has results
PAPER_TABLES = {"class": "table3", "sample": "table7"}  # the paper's time tables: class 5; 500 samples
RATIOS = {"time_pct": "Time ÷ Retrain, method only (%)", "time_stop_pct": "Time ÷ Retrain, with stop checks (%)",
          "examples_pct": "Examples ÷ Retrain (%)", "per_example": "Per example, method only (×)",
          "per_example_stop": "Per example, with stop checks (×)"}
_EMPTY = ["profile", "task", "num_forget", "task_label", "label", "method", "variant", "seed", "data",
          "retrain_bf16", "hardware", *RATIOS]


def is_variant(run: str) -> bool:
    """A named variant of a method (`compare_methods`' `variants`, e.g. "contrastive_lambda1"): letters, digits
    and underscores, not a method's own name. Ablation knobs ("lambda_ul-1.0") carry a hyphen and are not."""
    return bool(re.fullmatch(r"[A-Za-z0-9_]+", run)) and run not in METHODS and run != "original"


def _config_diff(m: dict[str, Any], path: Path) -> str:
    """The unlearning settings in which a variant differs from its method's own sub-run in the same run."""
    base = read_metrics(path.parent / m["method"] / "metrics.json") or {}
    a, b = m.get("unlearn_config") or {}, base.get("unlearn_config") or {}
    diff = [f"{k} {a[k]:g}" if isinstance(a[k], float) else f"{k} {a[k]}" for k in a if a[k] != b.get(k)]
    return ", ".join(diff) if b and diff else "variant"


def cost_runs(profile: str, root: str | Path | None = None) -> pd.DataFrame:
    """One row per unlearning sub-run shown, the method's own (as `report.canonical`, a `compare*` copy first; other
    training lengths than the profile's usual one labelled apart) and named variants (`is_variant`), with seconds,
    examples and the ratios of `RATIOS` (ratios in %, per-example costs as factors; NaN without samples)."""
    df = report.subruns(profile, root=root)
    if df.empty:
        return pd.DataFrame(columns=_EMPTY)
    df = df[(df["kind"] == "unlearn") & ((df["run"] == df["method"]) | df["run"].map(is_variant))].copy()
    df["_order"] = (~df["experiment"].str.startswith("compare")).astype(int)
    df = df.sort_values(["_order", "experiment", "run_id"], kind="stable").drop_duplicates(
        ["data", "model", "task", "num_forget", "epochs_trained", "run", "seed"])
    main = df["epochs_trained"].mode().iloc[0] if not df.empty else None  # the profile's own training length
    rows = []
    for r in df.itertuples():
        m = read_metrics(Path(r.path) / "metrics.json")
        s, cost = m["seconds"], m.get("cost") or {}
        retrain_s, samples, retrain_samples = s.get("retrain_train"), cost.get("samples"), cost.get("retrain_samples")
        stop = float(s.get("stop_checks") or 0.0)
        label = r.run if r.run == r.method else f"{r.run} ({_config_diff(m, Path(r.path))})"
        task = (f"class {int(r.forget_class)}" if r.task == "class" else f"{int(r.num_forget):,} samples") + (
            f", {r.epochs_trained}-epoch original" if r.epochs_trained != main else "")
        row = {"profile": profile, "experiment": r.experiment, "run_id": r.run_id, "run": r.run, "method": r.method,
               "label": label, "variant": r.run != r.method, "task": r.task, "num_forget": r.num_forget,
               "forget_class": r.forget_class, "task_label": task, "seed": r.seed, "data": r.data,
               "dataset": r.dataset, "model": r.model, "hardware": r.hardware, "epochs_trained": r.epochs_trained,
               "retrain_bf16": bool(m["config"]["train"].get("cpu_bf16", False)), "passes": m.get("epochs"),
               "unlearn_s": float(s["unlearn"]), "stop_s": stop, "retrain_s": retrain_s, "samples": samples,
               "retrain_samples": retrain_samples}
        scale = 100 / retrain_s if retrain_s and retrain_samples else np.nan
        row["time_pct"], row["time_stop_pct"] = scale * row["unlearn_s"], scale * (row["unlearn_s"] + stop)
        row["examples_pct"] = 100 * samples / retrain_samples if retrain_s and retrain_samples and samples else np.nan
        row["per_example"] = row["time_pct"] / row["examples_pct"]
        row["per_example_stop"] = row["time_stop_pct"] / row["examples_pct"]
        rows.append(row)
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=_EMPTY)


def paper_ratios(tables: dict[str, Any] | None = None) -> pd.DataFrame:
    """The paper's times as % of its Retrain's for the same model: task, method, model, pct (Table 3: class 5,
    Table 7: 500 samples; RN18 gives CU's 3.1 % and 6.4 %)."""
    tables = tables or paper_tables()
    frames = []
    for task, name in PAPER_TABLES.items():
        p = report.paper_table(tables, name)
        retrain = p[p["method"] == "retrain"].set_index("model")["value"]
        frames.append(p.assign(task=task, pct=100 * p["value"] / p["model"].map(retrain)))
    out = pd.concat(frames, ignore_index=True)
    return out.loc[out["method"] != "retrain", ["task", "method", "model", "pct"]].reset_index(drop=True)


def shown_profiles(root: str | Path | None = None) -> list[str]:
    """The CIFAR-10 profiles of `PROFILES` with results, else the first digits profile with results, else []."""
    return report.available(PROFILES, root) or report.available(FALLBACK, root)[:1]


def cost_summary(profiles: list[str] | None = None, root: str | Path | None = None,
                 tables: dict[str, Any] | None = None) -> pd.DataFrame:
    """`cost_runs` of each profile (default `shown_profiles`) averaged over seeds: one row per profile, task and
    method (variants apart), `mean_std` columns of `RATIOS`, the seed count `n`, and `paper` (the paper's ratio
    for that method and task, CIFAR-10's class and 500-sample tasks only: 'RN18 (min–max over RN18–RN101)')."""
    profiles = profiles if profiles is not None else shown_profiles(root)
    runs = pd.concat([cost_runs(p, root) for p in profiles] or [pd.DataFrame(columns=_EMPTY)], ignore_index=True)
    by = ["profile", "task_label", "label", "method", "task", "num_forget", "data"]
    if runs.empty:
        return pd.DataFrame(columns=[*by, *RATIOS, *(f"{c}_std" for c in RATIOS), "n", "paper"])
    runs["_p"] = runs["profile"].map({p: i for i, p in enumerate(profiles)})
    runs["_t"] = (runs["task"].map({"class": 0, "sample": 1}) * 1e9 + runs["num_forget"].fillna(0).astype(float)
                  + 1e6 * runs["task_label"].str.contains("-epoch original"))  # the profile's own length first
    runs["_m"] = np.where(runs["method"] == "contrastive", runs["variant"].astype(int), 2)
    runs = runs.sort_values(["_p", "_t", "epochs_trained", "_m", "label"], kind="stable")
    out = report.mean_std(runs, by, list(RATIOS))
    texts = {key: f"{g.set_index('model')['pct'].get('RN18', np.nan):.1f} ({g['pct'].min():.1f}–{g['pct'].max():.1f})"
             for key, g in paper_ratios(tables).groupby(["task", "method"])}
    faithful = (out["data"] == "cifar10") & ((out["task"] == "class") | (out["num_forget"] == 500))
    out["paper"] = [texts.get((t, m), "–") if f and label == m else "–"
                    for t, m, f, label in zip(out["task"], out["method"], faithful, out["label"])]
    return out


def cost_table(summary: pd.DataFrame) -> pd.DataFrame:
    """`cost_summary` for display: index (profile, task, method), 'mean ± std' text per ratio, the seed count
    and the paper's column."""
    table = pd.DataFrame({"Profile": summary["profile"], "Task": summary["task_label"], "Method": summary["label"],
                          "Seeds": summary["n"]})
    for col, name in RATIOS.items():
        table[name] = [report.fmt(m, s, 1 if col.endswith("pct") else 2) for m, s in zip(summary[col],
                                                                                         summary[f"{col}_std"])]
    table["Paper v1: time ÷ Retrain (%), RN18 (RN18–RN101)"] = summary["paper"]
    return table.set_index(["Profile", "Task", "Method"])


def notes(profiles: list[str], root: str | Path | None = None) -> str:
    """What a reader of the table must know per profile: runs of its YAML file not finished yet ('cifar-converged:
    4 of 16 runs finished; not yet: regime (6), ...') and a Retrain trained in bf16 on the CPU while the methods
    ran in float32 (per-example costs then compare different arithmetic); '' when nothing applies."""
    base, texts = results_dir(root), []
    for name in profiles:
        if name in known_profiles():
            runs = expand(load_profile(name))
            todo = [r.experiment for r in runs if not (base / r.folder / "metrics.json").is_file()]
            if todo:
                counts = ", ".join(f"{e} ({todo.count(e)})" for e in dict.fromkeys(todo))
                texts.append(f"{name}: {len(runs) - len(todo)} of {len(runs)} runs finished; not yet: {counts}.")
        runs = cost_runs(name, root)
        if not runs.empty and runs["retrain_bf16"].any() and runs["hardware"].str.startswith("cpu").any():
            texts.append(f"{name}: Retrain (and the original) trained with bf16 autocast on the CPU, the unlearning "
                         "methods in float32, so its per-example costs include the difference in arithmetic.")
    return " ".join(texts)


def pace(profile: str, root: str | Path | None = None) -> pd.DataFrame:
    """`ms_per_example` of every timed workload of `profile`: each distinct training of an original or Retrain
    once ("training", however many runs load it from the cache) and every CU sub-run, ablation knobs included ("CU",
    `seconds.unlearn`). `assess_s`: the fixed evaluation timed right after the workload (trainings: in their own
    run only; CU: `eval` − `stop_checks`), a gauge of the machine's speed then. CU rows also have `per_example`,
    `retrain_here` (its Retrain was trained in the same experiment run, not read from the cache), `adjusted`
    (per_example × Retrain's assess_s / its own) and `work` (equal for identical computations)."""
    train, cu = {}, []
    for r in report.subruns(profile, root=root).itertuples():
        s = (m := read_metrics(Path(r.path) / "metrics.json"))["seconds"]
        if "train" in s:
            key = (r.kind, str(m.get("checkpoint")), float(s["train"]))
            row = train.setdefault(key, {"workload": "training", "kind": r.kind, "seed": r.seed, "task": r.task,
                                         "seconds": float(s["train"]), "samples": m["cost"]["samples"]})
            row["assess_s"] = float(s["eval"]) if not m.get("cache_hit", True) else row.get("assess_s", np.nan)
        elif r.method == "contrastive":
            here = read_metrics(Path(r.path).parent / "retrain" / "metrics.json")
            cfg = {k: v for k, v in (m.get("unlearn_config") or {}).items() if k != "progress"}
            stop = float(s.get("stop_checks") or 0.0)
            cu.append({"workload": "CU", "kind": r.run, "seed": r.seed, "task": r.task, "num_forget": r.num_forget,
                       "experiment": r.experiment, "seconds": float(s["unlearn"]), "samples": m["cost"]["samples"],
                       "assess_s": float(s["eval"]) - stop, "stop_s": stop, "passes": m.get("epochs"),
                       "retrain_s": s.get("retrain_train"), "retrain_samples": m["cost"].get("retrain_samples"),
                       "steps": m["cost"].get("steps"), "batch": m["config"]["train"]["batch_size"],
                       "retrain_here": bool(here and not here.get("cache_hit") and
                                            here["seconds"]["train"] == s.get("retrain_train")),
                       "work": json.dumps([r.seed, r.task, r.num_forget, m.get("checkpoint"), m["cost"], cfg],
                                          sort_keys=True)})
    out = pd.DataFrame([*train.values(), *cu])
    if out.empty:
        return out
    out["ms_per_example"] = 1000 * out["seconds"] / out["samples"]
    trained = out[(out["workload"] == "training") & (out["kind"] == "retrain")].groupby("seconds")["assess_s"].first()
    if "retrain_s" in out:
        retrain_ms = 1000 * out["retrain_s"] / out["retrain_samples"]
        out["per_example"] = np.where(out["workload"] == "CU", out["ms_per_example"] / retrain_ms, np.nan)
        retrain_assess = out["retrain_s"].map(lambda x: trained.get(x, np.nan) if pd.notna(x) else np.nan)
        out["adjusted"] = out["per_example"] * retrain_assess.astype(float) / out["assess_s"]
    return out


def med(x: pd.Series) -> float:
    """The median of `x` as a float (NaN when empty)."""
    return float(x.median()) if len(x.dropna()) else float("nan")


def per_example_gap(profile: str = "cifar-cpu", task: str = "sample", num_forget: int | None = 500,
                    root: str | Path | None = None) -> dict[str, Any]:
    """The numbers behind CU's per-example cost on one task of `profile` (medians over every CU sub-run of the
    task, ablation knobs included, each against its own seed's Retrain): per-example ratio overall, with Retrain
    trained in the same run and read from the cache; the machine's speed (ms per training example) over all the
    profile's distinct trainings; CU's speed; the largest group of identical CU computations and how far their
    times lie apart; the assess-adjusted ratio; and the stop checks' share. {} when the task has no CU run."""
    p = pace(profile, root)
    if p.empty or "per_example" not in p:
        return {}
    cu = p[(p["workload"] == "CU") & (p["task"] == task)]
    cu = cu[cu["num_forget"] == num_forget] if task == "sample" else cu
    cu = cu.dropna(subset=["per_example"]).astype({"retrain_here": bool})
    if cu.empty:
        return {}
    trainings = p[p["workload"] == "training"]["ms_per_example"]
    biggest = cu[cu["work"] == cu.groupby("work").size().idxmax()]
    denominators = 1000 * cu["retrain_s"] / cu["retrain_samples"]
    cached_ms = med(denominators[~cu["retrain_here"]])
    canonical = cu[cu["kind"] == "contrastive"]
    return {
        "runs": len(cu), "per_example": med(cu["per_example"]), "per_example_min": float(cu["per_example"].min()),
        "per_example_max": float(cu["per_example"].max()), "cu_ms": med(cu["ms_per_example"]),
        "here_runs": int(cu["retrain_here"].sum()), "here": med(cu.loc[cu["retrain_here"], "per_example"]),
        "cached_runs": int((~cu["retrain_here"]).sum()), "cached": med(cu.loc[~cu["retrain_here"], "per_example"]),
        "trainings": len(trainings), "train_ms": med(trainings), "train_ms_min": float(trainings.min()),
        "train_ms_max": float(trainings.max()), "pooled": med(cu["ms_per_example"]) / med(trainings),
        "retrain_ms_min": float(denominators.min()), "retrain_ms_max": float(denominators.max()),
        "cached_retrain_ms": cached_ms, "cached_retrain_rank": int((trainings <= cached_ms + 1e-9).sum()),
        "identical_runs": len(biggest), "identical_s_min": float(biggest["seconds"].min()),
        "identical_s_max": float(biggest["seconds"].max()),
        "identical_spread": float(biggest["seconds"].max() / biggest["seconds"].min()),
        "identical_pe_min": float(biggest["per_example"].min()),
        "identical_pe_max": float(biggest["per_example"].max()),
        "identical_assess_spread": float(biggest["assess_s"].max() / biggest["assess_s"].min()),
        "adjusted_runs": int(cu["adjusted"].notna().sum()), "adjusted": med(cu["adjusted"]),
        "stop_share": med(100 * canonical["stop_s"] / canonical["seconds"]),
        "examples_per_pass": med(canonical["samples"] / canonical["passes"]),
        "stop_s_per_pass": med(canonical["stop_s"] / canonical["passes"]),
        "unlearn_s_per_pass": med(canonical["seconds"] / canonical["passes"]),
        "images_per_step": med(canonical["samples"] / canonical["steps"]), "retrain_batch": med(canonical["batch"]),
    }
