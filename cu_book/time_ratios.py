"""The time tables (the paper's Tables 3 and 7): each method's time and processed images as a percentage of
Retrain's in the same run, the paper's own times as a percentage of its Retrain's, and what the reader must know
about our Retrain (how long it trains, in which precision)."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cu_book import report
from cu_core.results import read_metrics

TIME, IMAGES = "time ÷ Retrain (%)", "images ÷ Retrain (%)"
RATIOS = {TIME: "time_ratio", IMAGES: "images_ratio"}


def with_ratios(d: pd.DataFrame) -> pd.DataFrame:
    """`d` (`cu_book.report.subruns` rows) with time_ratio and images_ratio: each sub-run's seconds and processed
    examples as % of the same run's Retrain (Retrain itself: 100)."""
    d = d.copy()
    is_retrain = d["method"] == "retrain"
    d["time_ratio"] = np.where(is_retrain, 100.0, 100 * d["seconds"] / d["retrain_seconds"])
    d["images_ratio"] = np.where(is_retrain, 100.0, 100 * d["samples"] / d["retrain_samples"])
    return d


def paper_ratios(tables: dict[str, Any], name: str) -> pd.DataFrame:
    """The paper's times in table `name` of `tables` (paper_tables.yaml) as % of its Retrain's time for the same
    model, in `cu_book.report.paper_table`'s long form (eval: TIME)."""
    p = report.paper_table(tables, name)
    retrain = p[p["method"] == "retrain"].set_index("model")["value"]
    return p.assign(value=100 * p["value"] / p["model"].map(retrain), eval=TIME)


def retrain_time(runs: pd.DataFrame) -> str:
    """Our Retrain's seconds per model (mean ± std over seeds) and how many epochs it trains."""
    retrain = runs[runs["method"] == "retrain"]
    return "; ".join(f"{m}: {report.fmt(float(g['seconds'].mean()), float(g['seconds'].std()))} s, "
                     f"{'/'.join(str(int(e)) for e in sorted(set(g['epochs_trained'].dropna())))} epochs"
                     for m, g in retrain.groupby("model"))


def bf16_retrain(runs: pd.DataFrame) -> bool:
    """Whether Retrain in `runs` trained with bf16 autocast on a CPU (`TrainConfig.cpu_bf16`, the
    `cifar-converged` profile), while every unlearning method runs in float32."""
    rt = runs[(runs["method"] == "retrain") & runs["hardware"].str.startswith("cpu")]
    return any((read_metrics(f"{p}/metrics.json") or {}).get("config", {}).get("train", {}).get("cpu_bf16", False)
               for p in rt["path"])


def precision_note(scales: list[Any]) -> str:
    """A sentence naming the scales (`cu_book.scales.Scale`) whose Retrain trained in bf16 on the CPU, or ''."""
    bf16 = [s.profile for s in scales if bf16_retrain(s.runs)]
    return (f" On {', '.join(bf16)} Retrain trains with bf16 autocast on the CPU, faster than the float32 in which "
            "every unlearning method runs, so those time ratios favour Retrain; the images ratios do not depend on "
            "it.") if bf16 else ""
