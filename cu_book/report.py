"""Results → tables for the book: every experiment sub-run of a profile as one row, mean ± std over seeds,
and which profile a page shows when several (or only `smoke`) exist.

Layout read (written by `python -m cu_core.experiments`):
`<results>/<profile>/<experiment>/<run_id>/runs/<sub-run>/metrics.json`. Hidden (".") staging folders are ignored.
No row is dropped silently: a sub-run whose `metrics.json` is missing or damaged fails `subruns` with a
`DataError` naming the file (or, asked for, shows as a row marked `damaged`); `damaged_subruns` lists them.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .paths import results_dir
from .results import scan_subruns, visible

NUMERIC = ["acc_forget_train", "acc_retain_train", "acc_val", "acc_test", "acc_forget_test", "acc_retain_test",
           "mia_efficacy", "paper_forget_member_rate", "paper_heldout_member_rate", "paper_attack_accuracy",
           "loss_attack_accuracy",
           "ulira_balanced_accuracy", "ulira_tpr_at_1pct_fpr", "avg_gap", "seconds", "retrain_seconds", "samples", "retrain_samples", "epochs", "probe_forget"]


DAMAGED = ("raise", "mark")
GONE = "missing: listed in"  # how `results.scan_subruns` words a sub-run its run's summary lists but that is gone


def damaged_subruns(profile: str, experiment: str | None = None,
                    root: str | Path | None = None) -> list[tuple[Path, str]]:
    """(sub-run folder, what is wrong) for every sub-run of `profile` (optionally one experiment) that is not a
    finished result: a visible sub-run folder whose `metrics.json` is missing, unreadable, not finite or breaks
    the schema (`results.metrics_problem`), or a sub-run its run's summary lists whose folder is gone."""
    return [(folder, problem) for folder, _, problem in _scan(profile, experiment, root) if problem is not None]


def _scan(profile: str, experiment: str | None, root: str | Path | None):
    """`results.scan_subruns` over every visible experiment run folder `<experiment>/<run_id>/` of `profile`."""
    base = results_dir(root) / profile
    for run in sorted(base.glob(f"{experiment or '*'}/*")):
        if run.is_dir() and visible(run, base):
            yield from scan_subruns(run)


def subruns(profile: str, experiment: str | None = None, root: str | Path | None = None, *,
            damaged: str = "raise") -> pd.DataFrame:
    """One row per sub-run (original, retrain, each method) of `profile` (optionally one experiment):
    `cu_core.experiments.runs.flatten` columns plus profile, experiment, run_id, num_forget, hardware,
    epochs_trained, forget_class (class task), data (the dataset's key, e.g. "cifar10") and path (the sub-run folder).

    A table never loses a row silently. A visible sub-run folder whose `metrics.json` is missing, damaged
    (truncated, NaN, out of range, breaking the schema: `results.metrics_problem`) or lacks what a row needs is
    either an error (`damaged="raise"`, the default: a `DataError` naming every such file and its problem, so a
    book build fails naming them; the driver recomputes such sub-runs) or a visible row (`damaged="mark"`: run,
    profile, experiment, run_id and path filled, the numbers missing, and a `damaged` column holding the problem,
    None on good rows). A sub-run that its run's summary lists but whose folder is gone is a `RuntimeWarning`
    naming it (shown on the page) or, with "mark", such a row (copies of partial results keep their summary).
    Hidden (".") staging folders are not results and are skipped."""
    import warnings

    from .errors import ConfigError, DataError
    from .experiments.runs import flatten

    if damaged not in DAMAGED:
        raise ConfigError("damaged", damaged, "one of " + ", ".join(repr(d) for d in DAMAGED))
    base = results_dir(root) / profile
    rows, bad, gone = [], [], []
    for folder, metrics, problem in _scan(profile, experiment, root):
        rel = folder.relative_to(base).parts
        if metrics is not None:
            try:
                row = flatten(metrics, rel[-1])
                row.update(profile=profile, experiment=rel[0], run_id=rel[1],
                           num_forget=metrics["config"]["split"]["num_forget"] if row["task"] == "sample" else None,
                           hardware=metrics["device"], epochs_trained=metrics["config"]["train"]["epochs"],
                           forget_class=metrics["config"]["split"]["forget_class"] if row["task"] == "class" else None,
                           data=metrics["config"]["data"]["dataset"], path=str(folder))
            except (KeyError, TypeError, ValueError) as err:  # valid by the schema, yet not a table row
                problem = f"cannot be read as a table row ({type(err).__name__}: {err})"
            else:
                if damaged == "mark":
                    row["damaged"] = None
                rows.append(row)
                continue
        (gone if problem.startswith(GONE) else bad).append((folder, problem))
        if damaged == "mark":
            rows.append({"run": rel[-1], "profile": profile, "experiment": rel[0], "run_id": rel[1],
                         "path": str(folder), "damaged": problem})
    if bad and damaged == "raise":
        listing = "; ".join(f"{folder / 'metrics.json'}: {problem}" for folder, problem in bad)
        raise DataError(f"{len(bad)} sub-run(s) of profile {profile!r} have no valid metrics.json, so their rows "
                        f"would be missing from the tables: {listing}. Run the experiment driver again (it "
                        "recomputes them), or read them with subruns(..., damaged='mark').")
    if gone and damaged == "raise":
        warnings.warn(f"{len(gone)} sub-run(s) of profile {profile!r} are not in the tables: "
                      + "; ".join(f"{folder}: {problem}" for folder, problem in gone), RuntimeWarning, stacklevel=2)
    return pd.DataFrame(rows)


def available(profiles: list[str], root: str | Path | None = None) -> list[str]:
    """The profiles of `profiles` that have at least one complete sub-run, in the given order."""
    base = results_dir(root)
    return [p for p in profiles if any(visible(path, base) for path in base.glob(f"{p}/*/*/runs/*/metrics.json"))]


def pick_profile(preferred: list[str], root: str | Path | None = None) -> str | None:
    """The first of `preferred` with results (e.g. ["cifar-cpu", "quick", "smoke"]), else None."""
    found = available(preferred, root)
    return found[0] if found else None


def mean_std(df: pd.DataFrame, by: list[str], columns: list[str]) -> pd.DataFrame:
    """Mean, std (ddof 1; NaN for one seed) and count per group, as columns `<col>`, `<col>_std`, `n`."""
    groups = df.groupby(by, dropna=False, sort=False)
    mean = groups[columns].mean()
    std = groups[columns].std(ddof=1).add_suffix("_std")
    return pd.concat([mean, std, groups.size().rename("n")], axis=1).reset_index()


def as_finite(value: Any) -> float | None:
    """`value` as a finite float, or None (missing, NaN, inf, not a number, a bool)."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def fmt(mean: Any, std: Any = None, digits: int = 1) -> str:
    """'84.5 ± 1.2'; '84.5' when std is missing or NaN (one seed); '–' when the mean is missing or NaN."""
    m, s = as_finite(mean), as_finite(std)
    if m is None:
        return "–"
    return f"{m:.{digits}f}" if s is None else f"{m:.{digits}f} ± {s:.{digits}f}"


def formatted(stats: pd.DataFrame, by: list[str], columns: list[str], digits: int = 1) -> pd.DataFrame:
    """`mean_std` output as 'm ± s' strings, with the seed count."""
    out = stats[by].copy()
    for col in columns:
        out[col] = [fmt(m, s, digits) for m, s in zip(stats[col], stats[f"{col}_std"])]
    out["seeds"] = stats["n"]
    return out


# --------------------------------------------------------------------------- paper vs ours
# The paper's column names (book/data/paper_tables.yaml) -> cu_core method names.
PAPER_METHODS = {"Retrain (ref)": "retrain", "Retrain": "retrain", "Contrastive": "contrastive",
                 "Boundary Shrink": "boundary_shrink", "Boundary Expansion": "boundary_expanding",
                 "SCRUB": "scrub", "UNSIR": "unsir", "Finetune": "finetune", "Neggrad": "neggrad",
                 "Fisher": "fisher", "LCODEC": "lcodec"}

# What each profile's results stand for, for the note on a page that shows them.
# The reproduction pages show the first of these profiles that has results for them.
PREFERRED_PROFILES = ["paper", "paper-gpu", "cifar-converged", "cifar-cpu", "quick", "smoke"]

SCALE = {"paper": "GPU scale: the paper's models and datasets.",
         "paper-gpu": "GPU scale, time-boxed: ResNet-18 on CIFAR-10 from `benchmarks/gpu_paper.py`, trained for "
                      "fewer epochs than the paper's 100 (see the training epochs below).",
         "cifar-converged": "CPU scale, memorising: CIFAR-10 with the small cnn4 network trained 30 epochs until it "
                            "fits its training set (as the paper's originals do), not the paper's ResNets.",
         "cifar-cpu": "CPU scale only: CIFAR-10 with the small cnn4 network trained for 5 epochs, which barely "
                      "memorises its training set: not the paper's ResNets trained to convergence.",
         "quick": "Digits only: scikit-learn's 8×8 digits with the small cnn4 network on a CPU, "
                  "a stand-in for CIFAR-10 and the paper's ResNets.",
         "smoke": "Smoke test only: digits, cnn4 and very short training; these numbers check that the "
                  "pipeline runs and say nothing about the paper's claims."}


NO_RESULTS = ("No profile has results for this page yet; the chapter's first page lists the commands that "
              "produce them.")


def paper_table(tables: dict[str, Any], name: str) -> pd.DataFrame:
    """One table of paper_tables.yaml in long form: model, eval (None for the time tables), column (the
    paper's name), method (cu_core's), value."""
    table = tables[name]
    columns = table["columns"]
    rows = []
    for row in table["rows"]:
        model, evaluated = row[0], (row[1] if len(row) == len(columns) + 2 else None)
        for column, value in zip(columns, row[-len(columns):]):
            rows.append({"model": model, "eval": evaluated, "column": column,
                         "method": PAPER_METHODS.get(column, column), "value": float(value)})
    return pd.DataFrame(rows)


def main_epochs(profile: str) -> int | None:
    """The training length a profile's experiments use unless one says otherwise (its `defaults.train_epochs`),
    or None for a profile that is not a file of `cu_core/experiments/profiles/` (e.g. `paper-gpu`)."""
    from .experiments.grid import PROFILE_DIR, load_profile

    if not (PROFILE_DIR / f"{profile}.yaml").is_file():
        return None
    epochs = load_profile(profile).defaults.get("train_epochs")
    return int(epochs) if epochs is not None else None


def canonical(df: pd.DataFrame) -> pd.DataFrame:
    """The sub-runs with a method's default settings (sub-run named after its method), one per dataset, model,
    task, forget-set size, method and seed; a `compare*` experiment's copy is kept first. Runs on originals
    trained for another length than the profile's own (`main_epochs`, e.g. the regime study's 5-epoch
    originals in `cifar-converged`) are studies, not the profile's results, and are left out."""
    if df.empty:
        return df
    keep = df[df["run"] == df["method"]].copy()
    if "epochs_trained" in keep and "profile" in keep:
        main = {p: main_epochs(p) for p in keep["profile"].unique()}
        wanted = keep["profile"].map(main)
        keep = keep[wanted.isna() | (keep["epochs_trained"] == wanted)]
    keep["_order"] = (~keep["experiment"].str.startswith("compare")).astype(int)
    keep = keep.sort_values(["_order", "experiment", "run_id"], kind="stable")
    keys = ["data", "model", "task", "num_forget", "method", "seed"]
    return keep.drop_duplicates(keys).drop(columns="_order").reset_index(drop=True)


def pick_rows(preferred: list[str], keep: Any, root: str | Path | None = None) -> tuple[str | None, pd.DataFrame]:
    """The first profile of `preferred` whose `canonical` sub-runs, filtered by `keep(df) -> df`, are not empty,
    with those rows; (None, empty frame) when none has any."""
    for profile in preferred:
        df = canonical(subruns(profile, root=root))
        if not df.empty:
            df = keep(df)
            if not df.empty:
                return profile, df.reset_index(drop=True)
    return None, pd.DataFrame()


def _listing(values: Any) -> str:
    return ", ".join(str(v) for v in sorted(set(values), key=str))


def seeds_text(df: pd.DataFrame) -> str:
    """'0, 1, 2' when every method ran on the same seeds, else '0, 1, 2 (contrastive, retrain); 0 (others)'."""
    per_method = df.groupby("method")["seed"].apply(lambda s: tuple(sorted(set(s))))
    groups = per_method.groupby(per_method).groups  # seed tuple -> methods
    if len(groups) == 1:
        return ", ".join(map(str, next(iter(groups))))
    common = max(groups, key=lambda k: len(groups[k]))
    parts = [f"{', '.join(map(str, seeds))} ({', '.join(sorted(groups[seeds]))})"
             for seeds in sorted(groups, key=len, reverse=True) if seeds != common]
    return "; ".join(parts + [f"{', '.join(map(str, common))} (others)"])


def provenance(df: pd.DataFrame, profile: str | None, what: str = "") -> str:
    """The caption line of a results table: dataset, model, hardware, seeds, profile and (when known) training
    epochs; or, with no rows, that nothing was found (for `what`, e.g. "the ablations")."""
    if profile is None or df.empty:
        return f"No results for {what} were found." if what else "No results of any profile were found."
    seeds = seeds_text(df) if "method" in df else _listing(int(s) for s in df["seed"].dropna())
    epochs = f" Training epochs: {_listing(df['epochs_trained'].dropna())}." if "epochs_trained" in df else ""
    return (f"Dataset: {_listing(df['dataset'].dropna())}. Model: {_listing(df['model'].dropna())}. "
            f"Hardware: {_listing(df['hardware'].dropna())}. Seeds: {seeds}. Profile: {profile}.{epochs}")


def side_by_side(paper: pd.DataFrame, ours: pd.DataFrame | list[tuple[str, pd.DataFrame]], label: str = "Ours",
                 digits: int = 2) -> pd.DataFrame:
    """A display table: the paper's rows, then ours, indexed by source, model (and eval when given), with one
    column per paper column. `paper` is `paper_table` output; `ours` has model, eval, column and text (preformatted
    strings), or is a list of (label, such frame) for several sources. A paper column without our result reads
    "not run"."""
    columns = list(dict.fromkeys(paper["column"]))
    index = ["model", "eval"] if paper["eval"].notna().any() else ["model"]
    top = paper.assign(text=[f"{v:.{digits}f}" for v in paper["value"]])
    frames = []
    for source, part in [("Paper (v1)", top), *(ours if isinstance(ours, list) else [(label, ours)])]:
        if part.empty:
            continue
        wide = part.pivot_table(index=index, columns="column", values="text", aggfunc="first", sort=False)
        wide = wide.reindex(columns=columns).fillna("not run")
        frames.append(pd.concat({source: wide}, names=["Source"]))
    table = pd.concat(frames)
    table.columns.name = None
    table.index.names = ["Source"] + [{"model": "Model", "eval": "Eval"}[i] for i in index]
    return table


def verdict(ok: bool | None) -> str:
    """'holds', 'does not hold', or 'not tested at this scale' (ok is None)."""
    return "not tested at this scale" if ok is None else ("holds" if ok else "does not hold")


def natural_key(name: str) -> tuple[str, int]:
    """Sort key that puts resnet18 before resnet34 before resnet101."""
    match = re.search(r"\d+", name)
    return (name[:match.start()] if match else name, int(match.group()) if match else -1)


def ours_long(df: pd.DataFrame, evals: dict[str | None, str], columns: list[str], digits: int = 1) -> pd.DataFrame:
    """Our numbers in `paper_table`'s long form: model, eval, column, method, mean, std, n and text ('m ± s').
    `evals` maps the paper's evaluated set (None for the time tables) to our column; `columns` are the paper's
    column names (a method without results has no row)."""
    wanted = {PAPER_METHODS[c]: c for c in columns}
    rows = []
    if df.empty:
        return pd.DataFrame(columns=["model", "eval", "column", "method", "mean", "std", "n", "text"])
    sub = df[df["method"].isin(wanted)]
    stats = mean_std(sub, ["model", "method"], list(evals.values()))
    stats = stats.sort_values("model", key=lambda s: s.map(natural_key), kind="stable")
    for _, r in stats.iterrows():
        for evaluated, col in evals.items():
            if pd.isna(r[col]):
                continue
            rows.append({"model": r["model"], "eval": evaluated, "column": wanted[r["method"]],
                         "method": r["method"], "mean": float(r[col]), "std": float(r[f"{col}_std"]),
                         "n": int(r["n"]), "text": fmt(float(r[col]), float(r[f"{col}_std"]), digits)})
    return pd.DataFrame(rows, columns=["model", "eval", "column", "method", "mean", "std", "n", "text"])


def nested(long: pd.DataFrame, value: str) -> dict[str, dict[str, dict[Any, float]]]:
    """`paper_table` / `ours_long` output as {model: {method: {eval: value}}}, the input of a claim's rule."""
    out: dict[str, dict[str, dict[Any, float]]] = {}
    for _, r in long.iterrows():
        out.setdefault(r["model"], {}).setdefault(r["method"], {})[r["eval"]] = float(r[value])
    return out


def judge(rule: Any, values: dict[str, dict[str, dict[Any, float]]]) -> tuple[bool | None, str]:
    """Apply `rule(methods) -> (ok or None, why)` to each model of `values`; the claim holds when it holds for
    every model tested, is untested (None) when no model could be tested. `why` names the model when there are
    several."""
    results = {model: rule(methods) for model, methods in values.items()}
    tested = {m: r for m, r in results.items() if r[0] is not None}
    if not tested:
        reasons = {r[1] for r in results.values()}
        return None, "; ".join(sorted(reasons)) if reasons else "No profile has results for this table"
    ok = all(r[0] for r in tested.values())
    if len(results) == 1:
        return ok, next(iter(results.values()))[1]
    return ok, "; ".join(f"{m}: {r[1]}" for m, r in results.items())


def paper_count(rule: Any, paper: pd.DataFrame) -> str:
    """How many of the paper's models satisfy `rule` on the paper's own numbers, e.g. '4 of 4 models'."""
    results = [rule(methods)[0] for methods in nested(paper, "value").values()]
    return f"{sum(bool(r) for r in results)} of {len(results)} models"
