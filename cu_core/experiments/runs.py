"""What the templates call: sub-runs written under one experiment folder, skipped when already complete.

An experiment run (one executed template) writes its sub-runs to `<out_dir>/runs/<name>/`, each an ordinary
results folder (`metrics.json` in the schema of `cu_core.schema`, `history.csv`, ...). A sub-run whose
`metrics.json` is complete is loaded instead of recomputed, so an interrupted template resumes where it stopped.
`table` flattens sub-runs into one row each for the templates' tables and plots and for the book.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import RunConfig
from ..pipeline import run_training, run_unlearning
from ..errors import ConfigError, check_name
from ..results import read_metrics
from ..unlearn import METHODS
from .params import parse_overrides, unlearn_config

# Ablation knobs: the field of ContrastiveConfig, or of the RunConfig section, each one changes.
RUN_KNOBS = {"num_forget": ("split", "num_forget"), "head": ("model", "head"), "model": ("model", "name"),
             "forget_selection": ("split", "forget_selection")}


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


def parse_variants(text: str, *, preset: str = "defaults", seed: int = 0) -> dict[str, tuple[str, dict[str, Any]]]:
    """Extra sub-runs of a template: a JSON object `{"name": {"method": M, field: value, ...}}` → {name: (M,
    overrides)}, every config built once here so that a bad name, method or field fails before any training."""
    variants: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, spec in parse_overrides(text, "variants").items():
        if not (isinstance(name, str) and name.replace("_", "").isalnum()):
            raise ConfigError("variants", name, "sub-run names of letters, digits and underscores")
        if name in METHODS or name == "original":
            raise ConfigError("variants", name, "a name that is not a method's own sub-run")
        if not isinstance(spec, dict) or spec.get("method") not in METHODS:
            raise ConfigError(f"variants.{name}", spec, "an object with a 'method' among " + ", ".join(METHODS))
        overrides = {k: v for k, v in spec.items() if k != "method"}
        unlearn_config(spec["method"], preset=preset, overrides=overrides, seed=seed)
        variants[name] = (spec["method"], overrides)
    return variants


def with_knob(cfg: RunConfig, knob: str, value: Any) -> RunConfig:
    """`cfg` with one RunConfig knob (`RUN_KNOBS`) changed."""
    section, field = RUN_KNOBS[knob]
    return dataclasses.replace(cfg, **{section: dataclasses.replace(getattr(cfg, section), **{field: value})})


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
