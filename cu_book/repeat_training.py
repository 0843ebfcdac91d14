"""Models that a profile trained more than once from the same recipe, and how far apart the copies ended.

A checkpoint's cache key is a hash of the full recipe, the data and the index sets (`cu_core.train.cache_key`),
so two training sub-runs with the same checkpoint name and `cache_hit` false trained the same model twice: after
the cache was cleared, or on another machine. Within one checkout on one machine training is repeatable (the
tests check it); copies made on machines with other CPU floating-point kernels, or by commits whose code changed
in a way the recipe does not record, can differ, and a few epochs of SGD carry that into the final accuracies. The spread of those copies is the reproducibility a reader can expect when rerunning
a profile elsewhere, next to the gaps the book compares.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from cu_book.formatting import commit_text, device_text
from cu_core.paths import results_dir
from cu_core.results import read_metrics, visible

COLUMNS = ["checkpoint", "kind", "seed", "trainings", "test_acc", "spread", "devices", "commits"]


def repeated_trainings(profile: str, root: str | Path | None = None) -> pd.DataFrame:
    """One row per model that `profile`'s results trained at least twice (training sub-runs with the same
    checkpoint and `cache_hit` false; staging folders ignored): the test accuracies of the copies in % (sorted),
    their spread (max - min, points), and the devices and commits (first 8 hex digits) that trained them."""
    base = results_dir(root) / profile
    copies: dict[str, list[dict]] = {}
    for path in sorted(base.glob("*/*/runs/*/metrics.json")):
        if not visible(path, base):
            continue
        m = read_metrics(path)
        if m is None or m["kind"] not in ("original", "retrain") or m.get("cache_hit", True) or not m.get("checkpoint"):
            continue
        copies.setdefault(Path(str(m["checkpoint"])).name, []).append(m)
    rows = []
    for checkpoint, found in copies.items():
        if len(found) < 2:
            continue
        accs = sorted(100 * float(m["acc"]["test"]) for m in found)
        rows.append({"checkpoint": checkpoint, "kind": found[0]["kind"], "seed": found[0]["seed"],
                     "trainings": len(found), "test_acc": accs, "spread": accs[-1] - accs[0],
                     "devices": sorted({device_text(m["device"]) for m in found}),
                     "commits": sorted({commit_text(m.get("git_commit"), 8) for m in found})})
    return pd.DataFrame(rows, columns=COLUMNS)


__all__ = ["COLUMNS", "repeated_trainings"]
