"""Numbers as the book prints them: mean ± std over seeds, finite values only, natural model order."""
from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd


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


def natural_key(name: str) -> tuple[str, int]:
    """Sort key that puts resnet18 before resnet34 before resnet101."""
    match = re.search(r"\d+", name)
    return (name[:match.start()] if match else name, int(match.group()) if match else -1)


def device_text(device: Any) -> str:
    """A recorded device description as the book prints it: 'cpu (1 threads, …)' -> 'cpu (1 thread, …)'."""
    return re.sub(r"\b1 threads\b", "1 thread", str(device))


def commit_text(commit: Any, digits: int = 12) -> str:
    """A recorded git commit as the book prints it: its first `digits` hex digits, and '(uncommitted changes)'
    instead of the '+dirty' marker; 'not recorded' when missing."""
    if not commit or str(commit) == "None":
        return "not recorded"
    text = str(commit)
    dirty = text.endswith("+dirty")
    return text.removesuffix("+dirty")[:digits] + (" (uncommitted changes)" if dirty else "")


def shown_path(path: Any) -> str:
    """A folder as the book prints it: relative to the repository root when inside it (no machine path), else
    only its last two parts after '…/'."""
    from pathlib import Path

    from cu_core.paths import project_root

    p = Path(path).resolve()
    try:
        return p.relative_to(project_root().resolve()).as_posix() or "."
    except ValueError:
        return "…/" + "/".join(p.parts[-2:])
