"""Run times and repeated trainings of the reproducibility appendix (`book/appendix/index.md`).

`times_table` lists, per profile, the runs finished of those planned, the wall time and compute of
`cu_book.run_times.profile_time`, the bound for parallel drivers and the longest run, with the glue readings other
pages quote (`wall_<profile>`, `compute_<profile>`, `bound2_<profile>`, `runs_<profile>`; a hyphen becomes an
underscore). `repeats_table` gathers `cu_book.repeat_training.repeated_trainings` over the profiles.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from cu_book.formatting import device_text
from cu_book.repeat_training import repeated_trainings
from cu_book.run_times import profile_time
from cu_core.experiments.grid import expand, load_profile


def clock(seconds: float) -> str:
    """1 h 02 min, 3 min 20 s, 12.3 s."""
    if seconds >= 3600:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"
    if seconds >= 60:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{seconds:.1f} s"


def times_table(profiles: Sequence[str], summaries: Mapping[str, list[dict[str, Any]]],
                quickstart: list[dict[str, Any]], results: Path,
                cores: int = 2) -> tuple[pd.DataFrame, dict[str, str]]:
    """The run-time table (one row per profile, the quickstart first if it ran) and its readings (name -> text)."""
    rows, readings = [], {}
    if quickstart:
        seconds = sum(float(m["seconds"].get("train", 0)) + float(m["seconds"].get("eval", 0)) for m in quickstart)
        rows.append({"profile": "quickstart (make book)", "runs finished": f"{len(quickstart)} of 2",
                     "wall time": clock(seconds), "compute": clock(seconds), f"{cores} drivers, at best": "–",
                     "longest run": "–", "device(s)": "; ".join(sorted({device_text(m["device"]) for m in quickstart}))})
        readings["wall_quickstart"] = clock(seconds)
    for name in profiles:
        runs = summaries[name]
        planned = len(expand(load_profile(name)))
        t = profile_time(name, results, cores=cores)
        key = name.replace("-", "_")
        text = clock(t["wall_s"]) if runs else "not run"
        readings[f"wall_{key}"] = text
        readings[f"compute_{key}"] = clock(t["compute_s"]) if runs else "not run"
        readings[f"bound2_{key}"] = clock(t["bound_s"]) if runs else "not run"
        readings[f"runs_{key}"] = f"{len(runs)} of {planned}"
        rows.append({"profile": name, "runs finished": f"{len(runs)} of {planned}", "wall time": text,
                     "compute": clock(t["compute_s"]) if runs else "–",
                     f"{cores} drivers, at best": clock(t["bound_s"]) if runs else "–",
                     "longest run": f"{t['longest_run']} ({clock(t['longest_s'])})" if runs else "–",
                     "device(s)": "; ".join(sorted({device_text(m["device"]) for m in runs})) or "–"})
    return pd.DataFrame(rows).set_index("profile"), readings


def repeats_table(profiles: Sequence[str], results: Path) -> tuple[pd.DataFrame | None, str]:
    """Every checkpoint trained more than once, by profile (None if there is none), and a sentence about them."""
    parts = [repeated_trainings(name, results).assign(profile=name) for name in profiles]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return None, "No model in these results was trained twice."
    repeats = pd.concat(parts, ignore_index=True)
    text = (f"{len(repeats)} model(s) were trained more than once; the largest spread is "
            f"{repeats['spread'].max():.2f} points of test accuracy.")
    repeats = repeats.assign(
        test_acc=[", ".join(f"{a:.2f}" for a in accs) for accs in repeats["test_acc"]],
        spread=[f"{v:.2f}" for v in repeats["spread"]], devices=["; ".join(d) for d in repeats["devices"]],
        commits=[", ".join(c) for c in repeats["commits"]],
    ).rename(columns={"test_acc": "test accuracy of each copy (%)", "spread": "spread (points)"})
    return repeats.set_index(["profile", "checkpoint"]), text
