"""How long a profile's runs took: the wall time the driver measured, and the compute its sub-runs measured.

For each finished experiment run (one executed template, `<results>/<profile>/<experiment>/<run_id>/`):

- **wall**: `seconds.wall` of the run's summary `metrics.json`, as the driver timed it (every attempt of a run
  that was interrupted and resumed, for runs made by a driver that records attempts; the last attempt only for
  older ones). It includes starting the notebook's kernel and loading the data.
- **compute**: what the sub-runs timed themselves: each unlearning sub-run's `unlearn` and `eval` seconds (its
  `eval` includes the stopping checks), each reference model's `eval`, and the `train` seconds of each distinct
  trained model **once per profile**. Runs share a checkpoint cache, so a model that several runs use (the
  original model of a seed) is paid for by the run that trained it (`cache_hit` false) and loaded by the
  others. Compute is what one driver would spend on the profile from an empty cache, whatever was resumed or
  run twice, but not free of contention: seconds measured while other jobs shared the cores are longer.

`profile_time` adds the elapsed time that `cores` one-thread drivers would need at best: the larger of the
compute shared evenly and the longest single run (a run cannot be split between drivers).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from cu_book.formatting import device_text
from cu_core.paths import results_dir
from cu_core.results import read_metrics, visible

COLUMNS = ["experiment", "run_id", "wall_s", "compute_s", "train_s", "sub_runs", "attempts", "device"]


def _sub_runs(run_dir: Path) -> list[dict[str, Any]]:
    found = [read_metrics(p) for p in sorted(run_dir.glob("runs/*/metrics.json"))]
    return [m for m in found if m is not None]


def _retrain_key(m: dict[str, Any]) -> str:
    cfg = m["config"]
    return json.dumps(["retrain", m.get("split_sha256"), cfg["data"], cfg["model"], cfg["train"], cfg["split"]],
                      sort_keys=True, default=str)


def _models(m: dict[str, Any]) -> list[tuple[str, float, bool]]:
    """(model key, training seconds, trained here) for each model a sub-run trained or used. An original model
    is known by its checkpoint; a retrained one by its split and recipe (unlearning sub-runs name only the
    original's checkpoint)."""
    seconds = m["seconds"]
    if "train" in seconds:  # an original or retrained reference model
        key = _retrain_key(m) if m["kind"] == "retrain" else str(m.get("checkpoint"))
        return [(key, float(seconds["train"]), not m.get("cache_hit", False))]
    used = []
    if "original_train" in seconds and m.get("checkpoint"):
        used.append((str(m["checkpoint"]), float(seconds["original_train"]), False))
    if "retrain_train" in seconds:
        used.append((_retrain_key(m), float(seconds["retrain_train"]), False))
    return used


def run_times(profile: str, root: str | Path | None = None) -> pd.DataFrame:
    """One row per finished run of `profile` (columns `COLUMNS`, seconds as floats), in folder order.

    `train_s` is the training this run paid for (models it trained that no earlier-listed run of the profile
    trained); `compute_s` includes it. Runs without sub-runs count their wall time as compute."""
    base = results_dir(root) / profile
    runs = []
    for path in sorted(base.glob("*/*/metrics.json")):
        summary = read_metrics(path)
        if visible(path, base) and summary is not None and summary.get("kind") == "experiment":
            runs.append((path.parent, summary, _sub_runs(path.parent)))
    # Who pays for each trained model: the first run that trained it (a cache miss), else the first that used it.
    payer: dict[str, tuple[int, float, bool]] = {}
    for index, (_, _, subs) in enumerate(runs):
        for m in subs:
            for key, seconds, miss in _models(m):
                if key not in payer or (miss and not payer[key][2]):
                    payer[key] = (index, seconds, miss)
    rows = []
    for index, (folder, summary, subs) in enumerate(runs):
        train = sum(seconds for owner, seconds, _ in payer.values() if owner == index)
        work = sum(float(m["seconds"].get("unlearn", 0.0)) + float(m["seconds"].get("eval", 0.0)) for m in subs)
        wall = float(summary["seconds"]["wall"])
        rows.append({"experiment": folder.parent.name, "run_id": folder.name, "wall_s": wall,
                     "compute_s": train + work if subs else wall, "train_s": train, "sub_runs": len(subs),
                     "attempts": len(summary.get("attempts") or [wall]),
                     "device": device_text(summary.get("device", ""))})
    return pd.DataFrame(rows, columns=COLUMNS)


def profile_time(profile: str, root: str | Path | None = None, cores: int = 2) -> dict[str, Any]:
    """Totals over `run_times`: runs, wall_s, compute_s, longest_s and longest_run (the run with the most
    compute), and bound_s = max(compute_s / cores, longest_s), the least elapsed time `cores` drivers need."""
    if cores < 1:
        raise ValueError(f"cores must be a positive integer, got {cores!r}")
    table = run_times(profile, root)
    if table.empty:
        return {"runs": 0, "wall_s": 0.0, "compute_s": 0.0, "longest_s": 0.0, "longest_run": None,
                "bound_s": 0.0, "cores": cores}
    longest = table.loc[table["compute_s"].idxmax()]
    compute = float(table["compute_s"].sum())
    return {"runs": len(table), "wall_s": float(table["wall_s"].sum()), "compute_s": compute,
            "longest_s": float(longest["compute_s"]), "longest_run": f"{longest['experiment']}/{longest['run_id']}",
            "bound_s": max(compute / cores, float(longest["compute_s"])), "cores": cores}


__all__ = ["COLUMNS", "profile_time", "run_times"]
