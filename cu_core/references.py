"""A run's data and its reference models: `prepare` (data → split → device) and the models trained on it.

`train_reference` gives the original model (trained on forget ∪ retain) or the retrained reference (retain only);
`train_reference_on` a model of the same recipe on any index set (the U-LiRA shadows of `cu_core.ulira`). Every
model goes through the checkpoint cache of `cu_core.train`. Re-exported by `cu_core.pipeline`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import paths
from .config import RunConfig
from .data import ArrayDataset, DeviceData, Part, Split, load_dataset, make_split, normalization_stats
from .runtime import resolve_device
from .train import TrainResult, train_model


@dataclass
class Prepared:
    """A run's data on its device, with the split and the data's identity (for cache keys)."""

    cfg: RunConfig
    train: DeviceData
    test: DeviceData
    split: Split
    num_classes: int
    display: str  # dataset name for tables and figures, e.g. "CIFAR-10 (JPEG copy)"
    identity: dict[str, Any]
    device: torch.device

    def parts(self, stop_rule: str | None = None) -> tuple[Part, Part, Part]:
        """(forget, retain, held-out) sets for an unlearning method. Held-out is the validation split, or
        the whole test set for CU's paper rule (`stop_rule="test"`)."""
        split = self.split
        heldout = (Part(self.test, np.arange(len(self.test)), "test") if stop_rule == "test"
                   else Part(self.train, split.val, "val"))
        return Part(self.train, split.forget, "forget"), Part(self.train, split.retain, "retain"), heldout


def prepare(cfg: RunConfig, *, cache_dir: str | Path | None = None) -> Prepared:
    """Load the dataset, compute normalisation, make the split and move both arrays to the device."""
    d = cfg.data
    load = dict(source=d.source, download=d.download, digits_size=d.digits_size, cache_dir=cache_dir,
                archive_sha256=d.archive_sha256)
    train: ArrayDataset = load_dataset(d.dataset, "train", d.data_dir, **load)
    test: ArrayDataset = load_dataset(d.dataset, "test", d.data_dir, **load)
    mean, std = normalization_stats(train, d.normalization)
    s = cfg.split
    common = dict(task=s.task, forget_class=s.forget_class, num_forget=s.num_forget, seed=s.seed,
                  val_fraction=s.val_fraction, class_drop_last=s.class_drop_last, num_classes=len(train.classes))
    atypical = s.task == "sample" and s.forget_selection == "atypical"
    split = make_split(train.labels, test.labels, forget_selection="random" if atypical else s.forget_selection,
                       **common)
    device = resolve_device(cfg.train.device)
    identity = {"dataset": d.dataset, "source": train.source, "normalization": d.normalization,
                "digits_size": d.digits_size if d.dataset == "digits" else None, "n_train": len(train)}
    train_data = DeviceData(train, mean, std, device, identity)
    if atypical:  # the same validation split and pool; the forget set by held-out loss (cu_core.atypical)
        from .atypical import heldout_losses

        pool = np.sort(np.concatenate([split.forget, split.retain]))
        scores = heldout_losses(cfg, train_data, pool, split.val, len(train.classes), identity, device, cache_dir)
        split = make_split(train.labels, test.labels, forget_selection="atypical", scores=scores, **common)
    return Prepared(cfg, train_data, DeviceData(test, mean, std, device, identity), split, len(train.classes),
                    train.display, identity, device)


def train_reference(prep: Prepared, *, retrain: bool, cache_dir: str | Path | None = None) -> TrainResult:
    """The original model (trained on forget ∪ retain) or the retrained reference (retain only).

    The retrained model of a class task is selected on the validation images of the remaining classes
    (it can never classify the forgotten class, so those images carry no information for selection).
    """
    split = prep.split
    idx = split.retain if retrain else split.train
    val = getattr(split, selection_split(split, retrain))
    return train_model(prep.cfg.model, prep.cfg.train, prep.train, idx, val, prep.num_classes,
                       checkpoint_dir=paths.cache_dir(cache_dir) / "checkpoints", data_identity=prep.identity,
                       device=prep.device)


def train_reference_on(prep: Prepared, train_idx: np.ndarray, *, seed: int,
                       cache_dir: str | Path | None = None) -> TrainResult:
    """A model with the run's recipe trained on `train_idx` (e.g. a shadow model), selected on validation."""
    train_cfg = dataclasses.replace(prep.cfg.train, seed=seed)
    return train_model(prep.cfg.model, train_cfg, prep.train, train_idx, prep.split.val, prep.num_classes,
                       checkpoint_dir=paths.cache_dir(cache_dir) / "checkpoints", data_identity=prep.identity,
                       device=prep.device)


def selection_split(split: Split, retrain: bool) -> str:
    """Name of the validation part a model is selected on (and whose accuracy history.csv's val_acc is)."""
    return "val_retain" if retrain and split.task == "class" else "val"

