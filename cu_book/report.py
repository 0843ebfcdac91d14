"""Results → tables for the book: every experiment sub-run of a profile as one row, mean ± std over seeds,
and which profile a page shows when several (or only `smoke`) exist.

Layout read (written by `python -m cu_core.experiments`):
`<results>/<profile>/<experiment>/<run_id>/runs/<sub-run>/metrics.json`. Hidden (".") staging folders are ignored.
No row is dropped silently: a sub-run whose `metrics.json` is missing or damaged fails `subruns` with a
`DataError` naming the file (or, asked for, shows as a row marked `damaged`); `damaged_subruns` lists them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from cu_core.paths import results_dir
from cu_core.results import scan_subruns, visible

# the formatting and the paper's tables, read by the pages as `report.<name>` too
from .formatting import as_finite, fmt, formatted, mean_std, natural_key  # noqa: F401
from .formatting import device_text
from .paper_compare import (PAPER_METHODS, judge, nested, ours_long, paper_count, paper_table,  # noqa: F401
                            side_by_side, verdict)

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

    from cu_core.errors import ConfigError, DataError
    from cu_core.experiments.runs import flatten

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
                           hardware=device_text(metrics["device"]), epochs_trained=metrics["config"]["train"]["epochs"],
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


def main_epochs(profile: str) -> int | None:
    """The training length a profile's experiments use unless one says otherwise (its `defaults.train_epochs`),
    or None for a profile that is not a file of `cu_core/experiments/profiles/` (e.g. `paper-gpu`)."""
    from cu_core.experiments.grid import PROFILE_DIR, load_profile

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


