"""Ablations of contrastive unlearning (one knob, several values) and the embedding projections of the
geometry template. Every value is validated before the first run starts."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..config import RunConfig
from ..metrics import Evaluation
from . import runs
from .knobs import ablation_plan, parse_values  # noqa: F401  (read as ablations.<name>)


def ablation_runs(out: str | Path, cfg: RunConfig, knob: str, values: str, *, preset: str = "defaults",
                  base_overrides: str = "") -> pd.DataFrame:
    """Contrastive unlearning once per value of `knob`; one table row per value (column "value")."""
    rows = []
    for value, run_cfg, overrides, name in ablation_plan(cfg, knob, values, preset=preset,
                                                         base_overrides=base_overrides):
        metrics = runs.unlearning(out, name, run_cfg, "contrastive", preset=preset, overrides=overrides)
        rows.append({"value": value, **runs.flatten(metrics, name)})
    return pd.DataFrame(rows)


def embedding_frames(out: str | Path, cfg: RunConfig, names: list[str], *, max_points: int = 300,
                     seed: int = 0) -> pd.DataFrame:
    """A t-SNE of each sub-run's embeddings (forget set, remaining training set, test set), one per model
    (their embedding spaces differ); column "model" names the sub-run."""
    from ..diagnostics import tsne_frame
    from ..pipeline import prepare

    split = prepare(cfg).split
    frames = []
    for name in names:
        ev = Evaluation.load(runs.run_dir(out, name) / "outputs.npz", split)
        parts = {"forget": ev.part("forget_train"), "retain": ev.part("retain_train"), "test": ev.part("test")}
        frames.append(tsne_frame(parts, max_per_part=max_points, seed=seed).assign(model=name))
    return pd.concat(frames, ignore_index=True)


__all__ = ["ablation_plan", "ablation_runs", "embedding_frames", "parse_values"]
