"""The quickstart page: the original and the retrained model of the `quickstart` profile, read from their runs.

Each run writes `metrics.json` (accuracies, timings, configuration, software, hardware, seed) and `history.csv` (one
row per epoch) into `<results>/quickstart/<run>/`. `load_runs` reads both runs (and says how to make them when
they are missing), `run_summary` prints where they came from, `glue_values` gives every number the page quotes
and `training_curves` draws the validation and training accuracy per epoch.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from .formatting import commit_text, device_text, shown_path

RUNS = ("original", "retrain")
SPLITS = {  # key in metrics["acc"] -> row label
    "forget_train": "Forget set: training images",
    "retain_train": "Retain set: training images",
    "val": "Validation split",
    "test": "Test set, all classes",
    "forget_test": "Test images of the forgotten class",
    "retain_test": "Test images of the other classes",
}
SELECTED_ON = {"val": "the whole validation split",
               "val_retain": "the validation images of the remaining classes"}


#: Set by `make book` to the ignored folder its quickstart runs write (book/_build/quickstart-results), so that
#: building the book rewrites no tracked file; a bare `jupyter-book build` reads the committed runs instead.
QUICKSTART_ENV = "CU_QUICKSTART_RESULTS_DIR"


def results_folder(start: str | Path | None = None) -> Path:
    """$CU_QUICKSTART_RESULTS_DIR, else $CU_RESULTS_DIR, else <repo root>/data/results: the repository root is the
    first folder at or above `start` (default: the working directory, the page's folder) that holds both cu_core/
    and book/."""
    for name in (QUICKSTART_ENV, "CU_RESULTS_DIR"):
        if os.environ.get(name):
            return Path(os.environ[name]).expanduser().resolve()
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "cu_core").is_dir() and (folder / "book").is_dir():
            return folder / "data" / "results"
    return here.parent / "data" / "results"


def load_runs(results: Path, profile: str = "quickstart", runs: tuple[str, ...] = RUNS
              ) -> tuple[dict[str, dict[str, Any]], dict[str, pd.DataFrame]]:
    """(metrics.json, history.csv) of each run of `profile` under `results`; FileNotFoundError naming every missing
    file and the command that makes them."""
    run_dirs = {kind: results / profile / kind for kind in runs}
    missing = [str(d / name) for d in run_dirs.values() for name in ("metrics.json", "history.csv")
               if not (d / name).is_file()]
    if missing:
        raise FileNotFoundError(
            "The quickstart results are missing:\n  " + "\n  ".join(missing)
            + "\nRun `make book` from the repository root: it trains the "
            "quickstart models, then builds the book. (Or point CU_RESULTS_DIR "
            "at a folder that holds them.)"
        )
    metrics = {k: json.loads((d / "metrics.json").read_text()) for k, d in run_dirs.items()}
    history = {k: pd.read_csv(d / "history.csv") for k, d in run_dirs.items()}
    return metrics, history


def run_summary(results: Path, metrics: dict[str, dict[str, Any]]) -> str:
    """The results folder (relative to the repository) and, per run, its dataset, model, hardware, seed, commit and whether its weights came
    from the checkpoint cache, one line each."""
    lines = [f"results folder: {shown_path(results)}"]
    for kind, m in metrics.items():
        lines += [f"{kind}:", f"  dataset  {m['dataset']}", f"  model    {m['config']['model']['name']}",
                  f"  hardware {device_text(m['device'])}, seed {m['seed']}",
                  f"  commit   {commit_text(m.get('git_commit'))}",
                  f"  from checkpoint cache: {bool(m.get('cache_hit'))}"]
    return "\n".join(lines)


def pct(x: Any) -> str:
    """Accuracy in [0, 1] -> percentage with two decimals, e.g. '96.25'."""
    return f"{100 * float(x):.2f}"


def one_or_both(metrics: dict[str, dict[str, Any]], field: Callable[[dict[str, Any]], Any]) -> str:
    """A provenance field, once if both runs agree, else per run."""
    values = {kind: str(field(m)) for kind, m in metrics.items()}
    if len(set(values.values())) == 1:
        return values["original"]
    return "; ".join(f"{kind}: {v}" for kind, v in values.items())


def provenance_fields(metrics: dict[str, dict[str, Any]]) -> dict[str, str]:
    """dataset, model, device and seed of the runs (`one_or_both`)."""
    return {"dataset": one_or_both(metrics, lambda m: m["dataset"]),
            "model": one_or_both(metrics, lambda m: m["config"]["model"]["name"]),
            "device": one_or_both(metrics, lambda m: device_text(m["device"])),
            "seed": one_or_both(metrics, lambda m: m["seed"])}


def glue_values(metrics: dict[str, dict[str, Any]], profile: str = "quickstart") -> dict[str, str]:
    """Every value the page quotes, keyed by its glue name: the provenance sentence and its fields, the task and
    forgotten class, and per run each split's accuracy (%), training seconds, epochs, a note when the weights
    came from the checkpoint cache, the epoch kept and what it was selected on."""
    fields = provenance_fields(metrics)
    split_cfg = metrics["original"]["config"]["split"]
    out = {"provenance": (f"Dataset: {fields['dataset']}. Model: {fields['model']}. Hardware: {fields['device']}. "
                          f"Seed: {fields['seed']}. Profile: {profile}."), **fields,
           "task": str(split_cfg.get("task", "?")), "forget_class": str(split_cfg.get("forget_class", "?"))}
    for kind, m in metrics.items():
        for split in SPLITS:
            out[f"{kind}_{split}"] = pct(m["acc"][split])
        out[f"{kind}_train_seconds"] = f"{float(m['seconds']['train']):.1f}"
        out[f"{kind}_epochs"] = str(int(m["config"]["train"]["epochs"]))
        out[f"{kind}_cache_note"] = (" (weights taken from the checkpoint cache; the time is that "
                                     "of the run that trained them)" if m.get("cache_hit") else "")
        out[f"{kind}_best_epoch"] = str(int(m["best_epoch"]))
        out[f"{kind}_selected_on"] = SELECTED_ON[m["selected_on"]]
    return out


def training_curves(metrics: dict[str, dict[str, Any]], history: dict[str, pd.DataFrame],
                    profile: str = "quickstart") -> Any:
    """Validation (solid) and training (dashed) accuracy per epoch of both runs; circles mark the epoch kept."""
    import matplotlib.pyplot as plt

    fields = provenance_fields(metrics)
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    palette = {"original": "#1f77b4", "retrain": "#d62728"}
    for kind, label in (("original", "Original model (all training data)"),
                        ("retrain", "Retrained model (retain set only)")):
        h = history[kind]
        scale = 100 if h["val_acc"].max() <= 1.0 else 1  # fractions -> %
        ax.plot(h["epoch"], scale * h["val_acc"], marker="o", markersize=3, color=palette[kind],
                label=f"{label}, validation")
        ax.plot(h["epoch"], scale * h["train_acc"], linestyle="--", linewidth=1, color=palette[kind], alpha=0.6,
                label=f"{label}, training")
        best = int(metrics[kind]["best_epoch"])
        row = h.loc[h["epoch"] == best]
        if not row.empty:
            ax.scatter(best, scale * float(row["val_acc"].iloc[0]), s=80, facecolors="none",
                       edgecolors=palette[kind], linewidths=1.5, zorder=5)
    ax.set_xlabel("Epoch")
    ax.set_ylabel("Accuracy (%)")
    ax.set_title(f"{fields['dataset']}, {fields['model']}, seed {fields['seed']}\n"
                 f"(profile: {profile}; hardware: {fields['device']})", fontsize=10)
    ax.legend(fontsize=8, loc="lower right", title="circle = selected epoch", title_fontsize=8)
    fig.tight_layout()
    return fig
