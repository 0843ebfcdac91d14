"""One training run end to end: data → split → model (original or retrained) → accuracies → result files.

`run_training` is what `python -m cu_core train` calls; notebooks and the experiment driver call it too.
"""
from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from . import paths
from .config import RunConfig
from .data import ArrayDataset, DeviceData, Split, load_dataset, make_split, normalization_stats
from .errors import ConfigError
from .metrics import split_accuracies
from .results import device_description, git_commit, to_jsonable, versions, write_run_dir
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


def prepare(cfg: RunConfig, *, cache_dir: str | Path | None = None) -> Prepared:
    """Load the dataset, compute normalisation, make the split and move both arrays to the device."""
    d = cfg.data
    load = dict(source=d.source, download=d.download, digits_size=d.digits_size, cache_dir=cache_dir)
    train: ArrayDataset = load_dataset(d.dataset, "train", d.data_dir, **load)
    test: ArrayDataset = load_dataset(d.dataset, "test", d.data_dir, **load)
    mean, std = normalization_stats(train, d.normalization)
    s = cfg.split
    split = make_split(train.labels, test.labels, task=s.task, forget_class=s.forget_class,
                       num_forget=s.num_forget, seed=s.seed, val_fraction=s.val_fraction,
                       forget_selection=s.forget_selection, class_drop_last=s.class_drop_last,
                       num_classes=len(train.classes))
    device = resolve_device(cfg.train.device)
    identity = {"dataset": d.dataset, "source": train.source, "normalization": d.normalization,
                "digits_size": d.digits_size if d.dataset == "digits" else None, "n_train": len(train)}
    return Prepared(cfg, DeviceData(train, mean, std, device), DeviceData(test, mean, std, device), split,
                    len(train.classes), train.display, identity, device)


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


def selection_split(split: Split, retrain: bool) -> str:
    """Name of the validation part a model is selected on (and whose accuracy history.csv's val_acc is)."""
    return "val_retain" if retrain and split.task == "class" else "val"


def check_out_dir(out_dir: str | Path | None) -> None:
    """Refuse an output path that cannot become a results folder, before any work."""
    if out_dir is not None and Path(out_dir).exists() and not Path(out_dir).is_dir():
        raise ConfigError("out", str(out_dir), "a directory path (an existing file is in the way)")


def run_training(cfg: RunConfig, *, retrain: bool = False, out_dir: str | Path | None = None,
                 cache_dir: str | Path | None = None) -> dict[str, Any]:
    """Train (or load) the original or retrained model, evaluate it and write `out_dir` atomically.

    Writes `metrics.json` (schema in README.md) and `history.csv`; returns the metrics dict.
    """
    check_out_dir(out_dir)
    prep = prepare(cfg, cache_dir=cache_dir)
    result = train_reference(prep, retrain=retrain, cache_dir=cache_dir)
    start = time.perf_counter()
    acc = split_accuracies(result.model, prep.train, prep.test, prep.split,
                           batch_size=cfg.train.eval_batch_size, amp=cfg.train.amp)
    metrics = {
        "kind": "retrain" if retrain else "original",
        "acc": acc,
        "seconds": {"train": result.seconds, "eval": time.perf_counter() - start},
        "config": cfg.to_dict(),
        "dataset": prep.display,
        "split_sha256": prep.split.sha256,
        "split_sizes": prep.split.sizes(),
        "checkpoint": str(result.checkpoint),
        "cache_hit": result.cache_hit,
        "best_epoch": result.best_epoch,
        "selected_on": selection_split(prep.split, retrain),
        "seed": cfg.train.seed,
        "versions": versions(),
        "device": device_description(prep.device),
        "git_commit": git_commit(),
    }
    if out_dir is not None:
        write_run_dir(out_dir, {"metrics.json": json.dumps(to_jsonable(metrics), indent=2) + "\n",
                                "history.csv": history_csv(result.history)})
    return metrics


def history_csv(history: list[dict[str, float]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["epoch", "lr", "train_loss", "train_acc", "val_acc", "seconds"],
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    return out.getvalue()


def quickstart(results_dir: str | Path | None = None, cache_dir: str | Path | None = None,
               cfg: RunConfig | None = None) -> dict[str, dict[str, Any]]:
    """The default (smallest) experiment: the original and the retrained model of the default config.

    Writes `<results>/quickstart/original/` and `<results>/quickstart/retrain/`.
    """
    cfg = cfg or RunConfig()
    root = paths.results_dir(results_dir) / "quickstart"
    return {kind: run_training(cfg, retrain=kind == "retrain", out_dir=root / kind, cache_dir=cache_dir)
            for kind in ("original", "retrain")}


__all__ = ["Prepared", "check_out_dir", "history_csv", "prepare", "quickstart", "run_training", "train_reference"]
