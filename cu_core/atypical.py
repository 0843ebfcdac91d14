"""Atypical forget sets: the proxy for "memorised or unusual" training samples.

A sample is atypical when a model that did not train on it finds it hard. Proxy (cheap 2-fold cross-fitting,
in the spirit of Feldman & Zhang's memorisation scores, which average over many more subsets): the training
pool (the training set minus the validation split) is split in two seeded halves; a model with the run's
recipe is trained on each half (cached like every checkpoint); each sample's score is its cross-entropy under
the model trained on the *other* half. `forget_selection="atypical"` forgets the `num_forget` highest scores.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import paths
from .config import RunConfig
from .data import DeviceData
from .metrics import model_outputs
from .train import train_model


def heldout_losses(cfg: RunConfig, train: DeviceData, pool: np.ndarray, val: np.ndarray, num_classes: int,
                   identity: dict, device: torch.device, cache_dir: str | Path | None = None) -> np.ndarray:
    """(len(train),) cross-entropy of each pool sample under the half-model that did not see it; NaN elsewhere."""
    rng = np.random.default_rng([cfg.split.seed, 2])
    halves = np.array_split(rng.permutation(pool), 2)
    scores = np.full(len(train), np.nan)
    train_cfg = dataclasses.replace(cfg.train, progress=False)
    for k, half in enumerate(halves):
        model = train_model(cfg.model, train_cfg, train, np.sort(half), val, num_classes,
                            checkpoint_dir=paths.cache_dir(cache_dir) / "checkpoints", data_identity=identity,
                            device=device).model
        other = np.sort(halves[1 - k])
        out = model_outputs(model, train, other)
        loss = F.cross_entropy(torch.as_tensor(out.logits).float(), torch.as_tensor(out.labels), reduction="none")
        scores[other] = loss.numpy()
    return scores
