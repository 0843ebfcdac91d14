"""Training an original model and its retrained reference (same recipe, retain data only).

SGD with momentum, weight decay and a cosine schedule; bf16 autocast on CUDA (and on the CPU with
`cpu_bf16`); tqdm progress. The
checkpoint is chosen on validation accuracy (`select="best_val"`) or is the last epoch (`"last"`), never on
test data. Checkpoints are cached under a hash of the full recipe, the data and the index sets, so a second
call with the same inputs loads instead of training. A partial checkpoint written after every epoch lets an
interrupted run resume where it stopped (bit-identical on CPU: batch order and augmentation come from a
generator whose state is saved). Processes that share a cache (several drivers, notebooks) train each checkpoint
once: the train-or-load of a checkpoint holds a kernel lock on `<checkpoint>.lock` (`cu_core.locks.hold`), so a
second process that needs it waits (and says so on stderr), then loads what the first wrote; when the first died,
the lock is free again and the second resumes from its partial checkpoint.
"""
from __future__ import annotations

import copy
import hashlib
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .config import ModelConfig, TrainConfig
from .data import Augment, DeviceData
from .locks import hold
from .metrics import accuracy
from .models import UnlearningNet, build_model
from .results import atomic_torch_save
from .runtime import autocast, seed_everything


@dataclass
class TrainResult:
    model: UnlearningNet
    history: list[dict[str, float]]  # one row per epoch: epoch, lr, train_loss, train_acc, val_acc, seconds
    best_epoch: int
    seconds: float  # wall time of the training itself (from the cache: of the run that made it)
    checkpoint: Path
    cache_hit: bool


def make_model(model_cfg: ModelConfig, data: DeviceData, num_classes: int, seed: int) -> UnlearningNet:
    """A freshly initialised model for `data`'s image shape, seeded."""
    torch.manual_seed(seed)
    _, channels, size, _ = data.images.shape
    return build_model(model_cfg.name, num_classes, in_channels=channels, image_size=size, head=model_cfg.head,
                       embedding=model_cfg.embedding, proj_dim=model_cfg.proj_dim)


def cache_key(model_cfg: ModelConfig, train_cfg: TrainConfig, data_identity: dict[str, Any],
              train_idx: np.ndarray, val_idx: np.ndarray, model: torch.nn.Module) -> str:
    """sha256 over everything that determines the trained weights.

    Besides the configs, the data and the index sets, the key covers the architecture itself (every
    parameter's and buffer's name and shape), so a change to a model's definition never loads stale weights.
    """
    architecture = [(name, list(t.shape)) for name, t in model.state_dict().items()]
    payload = {"model": model_cfg.__dict__, "train": train_cfg.recipe(), "data": data_identity,
               "train_idx": _sha(train_idx), "val_idx": _sha(val_idx), "architecture": architecture,
               "recipe_version": 1}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _sha(indices: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(indices, dtype=np.int64).tobytes()).hexdigest()


def train_model(model_cfg: ModelConfig, train_cfg: TrainConfig, data: DeviceData, train_idx: np.ndarray,
                val_idx: np.ndarray, num_classes: int, *, checkpoint_dir: Path,
                data_identity: dict[str, Any], device: torch.device) -> TrainResult:
    """Train on `train_idx` of `data`, select on `val_idx`; load from the cache when the key matches."""
    model = make_model(model_cfg, data, num_classes, train_cfg.seed).to(device)
    key = cache_key(model_cfg, train_cfg, data_identity, train_idx, val_idx, model)
    path = Path(checkpoint_dir) / f"{data_identity['dataset']}-{model_cfg.name}-{key[:20]}.pt"
    # one process at a time trains or loads this checkpoint; the others wait here, then find it in the cache
    with hold(path.with_suffix(".lock"), what=f"checkpoint {path.name}, which another process is training or loading"):
        return _train_or_load(model, key, path, model_cfg, train_cfg, data, train_idx, val_idx, num_classes,
                              data_identity, device)


def _train_or_load(model: UnlearningNet, key: str, path: Path, model_cfg: ModelConfig, train_cfg: TrainConfig,
                   data: DeviceData, train_idx: np.ndarray, val_idx: np.ndarray, num_classes: int,
                   data_identity: dict[str, Any], device: torch.device) -> TrainResult:
    """`train_model`'s work, with the checkpoint's lock held."""
    if path.is_file():
        try:
            saved = torch.load(path, map_location=device, weights_only=False)
            model.load_state_dict(saved["state_dict"])
            return TrainResult(model, saved["history"], saved["best_epoch"], saved["seconds"], path, True)
        except Exception as err:  # a damaged cache entry is retrained, never trusted
            warnings.warn(f"checkpoint {path} could not be loaded ({err}); training again", stacklevel=3)
            path.unlink(missing_ok=True)

    def start() -> tuple[UnlearningNet, torch.Generator, torch.optim.Optimizer, Any]:
        """A freshly initialised model, generator, optimiser and schedule (epoch 1 of a new run)."""
        net = make_model(model_cfg, data, num_classes, train_cfg.seed).to(device)
        if device.type == "cuda" and train_cfg.channels_last:
            net = net.to(memory_format=torch.channels_last)
        gen = seed_everything(train_cfg.seed)
        opt = torch.optim.SGD(net.parameters(), lr=train_cfg.lr, momentum=train_cfg.momentum,
                              weight_decay=train_cfg.weight_decay)
        sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=train_cfg.epochs) if train_cfg.schedule ==
                 "cosine" else torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0))
        return net, gen, opt, sched

    model, generator, optimizer, scheduler = start()
    state = {"epoch": 0, "history": [], "best_acc": -1.0, "best_epoch": 0, "best_state": None, "seconds": 0.0}
    partial = path.with_suffix(".partial.pt")
    if partial.is_file():  # resume an interrupted run
        try:
            saved = torch.load(partial, map_location=device, weights_only=False)
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            scheduler.load_state_dict(saved["scheduler"])
            generator.set_state(saved["generator"])
            state = saved["state"]
        except Exception as err:  # a damaged partial checkpoint is discarded: the run starts again at epoch 1
            warnings.warn(f"partial checkpoint {partial} could not be loaded ({err}); training from the start",
                          stacklevel=3)
            partial.unlink(missing_ok=True)
            model, generator, optimizer, scheduler = start()
    augment = Augment() if train_cfg.augment else None
    bar = tqdm(range(state["epoch"], train_cfg.epochs), desc=f"train {model_cfg.name}", unit="epoch",
               disable=not train_cfg.progress, initial=state["epoch"], total=train_cfg.epochs)
    for epoch in bar:
        start = time.perf_counter()
        model.train()
        total_loss, correct, seen = 0.0, 0, 0
        lr = optimizer.param_groups[0]["lr"]
        # a last batch of one sample cannot be normalised by BatchNorm in train mode: it is dropped
        drop_last = len(train_idx) % train_cfg.batch_size == 1
        for step, (x, y) in enumerate(data.batches(train_idx, train_cfg.batch_size, shuffle=True, generator=generator,
                                                   augment=augment, drop_last=drop_last)):
            if device.type == "cuda" and train_cfg.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(device, train_cfg.amp, cpu=train_cfg.cpu_bf16):
                logits, _ = model(x)
                loss = F.cross_entropy(logits.float(), y)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"training loss is {loss.item()} at epoch {epoch + 1}, step {step + 1}; "
                                         f"the last good state is kept in {partial if partial.exists() else 'none'}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(y)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
        scheduler.step()
        val_acc = accuracy(model, data, val_idx, batch_size=train_cfg.eval_batch_size, amp=train_cfg.amp)
        state["seconds"] += time.perf_counter() - start
        state["history"].append({"epoch": epoch + 1, "lr": lr, "train_loss": total_loss / seen,
                                 "train_acc": correct / seen, "val_acc": val_acc, "seconds": state["seconds"]})
        if train_cfg.select == "last" or val_acc > state["best_acc"]:
            state.update(best_acc=val_acc, best_epoch=epoch + 1,
                         best_state={k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
        state["epoch"] = epoch + 1
        bar.set_postfix(loss=f"{total_loss / seen:.3f}", val_acc=f"{val_acc:.3f}")
        if epoch + 1 < train_cfg.epochs:
            atomic_torch_save(partial, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                        "scheduler": scheduler.state_dict(), "generator": generator.get_state(),
                                        "state": state})
    bar.close()
    model.load_state_dict(state["best_state"])
    atomic_torch_save(path, {"state_dict": copy.deepcopy(state["best_state"]), "history": state["history"],
                             "best_epoch": state["best_epoch"], "seconds": state["seconds"], "key": key,
                             "model": model_cfg.__dict__, "train": train_cfg.recipe(), "data": data_identity})
    partial.unlink(missing_ok=True)
    return TrainResult(model, state["history"], state["best_epoch"], state["seconds"], path, False)
