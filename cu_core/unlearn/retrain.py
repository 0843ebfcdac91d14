"""Retrain: the oracle. A fresh model of the same architecture trained from scratch on the retain set.

The recipe is a `TrainConfig` (Retrain must use exactly the original model's recipe; the pipeline passes the
run's own). Training goes through `cu_core.train.train_model`, so the checkpoint cache is shared with the
retrained reference of `python -m cu_core train --retrain`: the same recipe, data and split load the same
weights. A class task's model is selected on the validation images of the remaining classes, as the reference.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from .. import paths
from ..config import ModelConfig, TrainConfig, setting
from ..data import Part
from ..errors import ConfigError
from ..train import train_model
from .base import UnlearnResult


@dataclass(frozen=True)
class RetrainConfig(TrainConfig):
    cache_dir: str | None = setting(None, "checkpoint cache; unset: $CU_CACHE_DIR or <project>/data/cache")

    def recipe(self) -> dict[str, Any]:
        return {k: v for k, v in super().recipe().items() if k != "cache_dir"}


def retrain(model: torch.nn.Module, forget: Part, retain: Part, val: Part, config: RetrainConfig, *, task: str,
            num_classes: int) -> UnlearnResult:
    """Train `model`'s architecture from scratch (seeded by `config.seed`) on `retain`; select on `val`."""
    spec = getattr(model, "spec", None)
    if spec is None:
        raise ConfigError("model", type(model).__name__, "a model made by cu_core.models.build_model (it records "
                          "how to rebuild itself)")
    model_cfg = ModelConfig(name=spec["name"], head=spec["head"], embedding=spec["embedding"], proj_dim=spec["proj_dim"])
    val_idx = val.indices[val.labels != forget.labels[0]] if task == "class" else val.indices
    result = train_model(model_cfg, config, retain.data, retain.indices, val_idx, num_classes,
                         checkpoint_dir=paths.cache_dir(config.cache_dir) / "checkpoints",
                         data_identity=retain.data.identity, device=retain.data.device)
    epochs = len(result.history)
    return UnlearnResult(result.model.eval(), result.history, [], "retrained",
                         epochs * math.ceil(len(retain) / config.batch_size),
                         {"unlearn": result.seconds, "eval": 0.0}, epochs * len(retain))


METHODS = (("retrain", ("class", "sample"), RetrainConfig, retrain,
            "Retrain (oracle): from scratch on the retain set with the original model's recipe",
            {"display": "Retrain", "acts_on": "reference", "paper_name": "Retrain", "reference": True}),)
__all__ = ["METHODS", "RetrainConfig", "retrain"]
