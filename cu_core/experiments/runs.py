"""What the templates call: sub-runs written under one experiment folder, skipped when already complete.

An experiment run (one executed template) writes its sub-runs to `<out_dir>/runs/<name>/`, each an ordinary
results folder (`metrics.json` in the schema of `cu_core.schema`, `history.csv`, ...). A sub-run whose
`metrics.json` is complete is loaded instead of recomputed, so an interrupted template resumes where it stopped.
`table` flattens sub-runs into one row each for the templates' tables and plots and for the book.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..config import RunConfig
from ..pipeline import run_training, run_unlearning
from ..errors import check_name
from ..results import read_metrics
from .knobs import RUN_KNOBS, parse_variants, with_knob  # noqa: F401  (read as runs.<name>)
from .overrides import unlearn_config

def run_dir(out_dir: str | Path, name: str) -> Path:
    """The folder of sub-run `name` (a safe name: no path separator, no '..') of an experiment folder."""
    check_name("sub-run name", name, dots=True)
    return Path(out_dir) / "runs" / name


def reference(out_dir: str | Path, cfg: RunConfig, kind: str) -> dict[str, Any]:
    """The original (`kind="original"`) or retrained model of `cfg`, as sub-run `kind`."""
    path = run_dir(out_dir, kind)
    return read_metrics(path / "metrics.json") or run_training(cfg, retrain=kind == "retrain", out_dir=path)


def unlearning(out_dir: str | Path, name: str, cfg: RunConfig, method: str, *, preset: str = "defaults",
               overrides: dict[str, Any] | str = "", ulira_shadows: int = 0) -> dict[str, Any]:
    """One method on `cfg`'s task as sub-run `name` (validated before any work)."""
    mcfg = unlearn_config(method, preset=preset, overrides=overrides, seed=cfg.split.seed)
    path = run_dir(out_dir, name)
    return read_metrics(path / "metrics.json") or run_unlearning(cfg, mcfg, method=method, out_dir=path,
                                                                 ulira_shadows=ulira_shadows)


def table(out_dir: str | Path) -> pd.DataFrame:
    """One row per complete sub-run of an experiment folder: method, accuracies (%), attacks, gap, seconds."""
    rows = [flatten(m, p.parent.name) for p in sorted(Path(out_dir).glob("runs/*/metrics.json"))
            if (m := read_metrics(p)) is not None]
    return pd.DataFrame(rows)


def flatten(m: dict[str, Any], name: str = "") -> dict[str, Any]:
    """The headline numbers of one metrics.json as a flat row (accuracies and attack rates in %)."""
    split = m["config"]["split"]
    row: dict[str, Any] = {"run": name, "kind": m["kind"], "method": m.get("method", m["kind"]),
                           "task": split["task"], "seed": split["seed"], "dataset": m["dataset"],
                           "model": m["config"]["model"]["name"], "device": m["device"]}
    row.update({f"acc_{k}": None if v is None else 100 * v for k, v in m["acc"].items()})
    mia = m.get("mia") or {}
    row.update({k: None if mia.get(k) is None else 100 * mia[k]
                for k in ("mia_efficacy", "paper_forget_member_rate", "paper_heldout_member_rate",
                          "paper_attack_accuracy", "loss_attack_accuracy")})
    if m.get("ulira"):  # the U-LiRA-style attack: balanced accuracy (chance 50 %) and TPR at 1 % FPR, in %
        row["ulira_balanced_accuracy"] = 100 * m["ulira"]["balanced_accuracy"]
        row["ulira_tpr_at_1pct_fpr"] = 100 * m["ulira"]["tpr_at_1pct_fpr"]
    gap = m.get("gap") or {}
    row["avg_gap"] = gap.get("avg_gap")
    seconds = m["seconds"]
    row["seconds"] = seconds.get("unlearn", seconds.get("train"))
    row["retrain_seconds"] = seconds.get("retrain_train")
    cost = m.get("cost") or {}
    row["samples"] = cost.get("samples")
    row["retrain_samples"] = cost.get("retrain_samples")
    row["epochs"] = m.get("epochs")
    row["stop_reason"] = m.get("stop_reason")
    row["probe_forget"] = None if not m.get("probe") else 100 * m["probe"]["probe_forget_acc"]
    return row
