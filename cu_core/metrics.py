"""Evaluation: one batched inference pass per array, per-example outputs, accuracies on every split.

`evaluate` runs the model once over the training array and once over the test array (forget, retain and
validation sets are all positions in the training array) and keeps per-example outputs: logits,
embeddings, and derived from them loss, confidence p_y, entropy and correctness. Attacks and figures work
from these outputs (`Outputs`), which `Evaluation.save` caches in a run folder, so they re-run without
the model.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from .data import DeviceData, Split
from .results import atomic_save_npz
from .runtime import autocast

#: Split names and where their indices live: (array, attribute of Split or None for the whole array).
PARTS = {"forget_train": ("train", "forget"), "retain_train": ("train", "retain"), "val": ("train", "val"),
         "val_forget": ("train", "val_forget"), "val_retain": ("train", "val_retain"), "test": ("test", None),
         "forget_test": ("test", "test_forget"), "retain_test": ("test", "test_retain")}
ACCURACY_KEYS = ("forget_train", "retain_train", "val", "test", "forget_test", "retain_test")


@dataclass(frozen=True)
class Outputs:
    """Per-example outputs of one model: logits (N, C), labels (N,), embeddings z (N, d)."""

    logits: np.ndarray
    labels: np.ndarray
    embeddings: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, indices: np.ndarray) -> Outputs:
        return Outputs(self.logits[indices], self.labels[indices], self.embeddings[indices])

    @cached_property
    def log_probs(self) -> np.ndarray:
        """(N, C) log-softmax, computed stably in float64."""
        z = self.logits.astype(np.float64)
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    @property
    def probs(self) -> np.ndarray:
        return np.exp(self.log_probs)

    @property
    def loss(self) -> np.ndarray:
        """(N,) cross-entropy of the true label."""
        return -self.log_probs[np.arange(len(self)), self.labels]

    @property
    def confidence(self) -> np.ndarray:
        """(N,) probability of the true label, p_y."""
        return np.exp(-self.loss)

    @property
    def entropy(self) -> np.ndarray:
        """(N,) Shannon entropy of the predicted distribution (nats)."""
        return -(self.probs * self.log_probs).sum(axis=1)

    @property
    def correct(self) -> np.ndarray:
        return self.logits.argmax(axis=1) == self.labels

    def accuracy(self) -> float:
        return float(self.correct.mean()) if len(self) else float("nan")


@torch.inference_mode()
def model_outputs(model: torch.nn.Module, data: DeviceData, indices: np.ndarray | None = None, *,
                  batch_size: int = 1024, amp: bool = True) -> Outputs:
    """One batched inference pass (eval mode) over `indices` of `data` (default: all), in that order."""
    logits, embeds = predict(model, data, indices, batch_size=batch_size, amp=amp)
    idx = np.arange(len(data)) if indices is None else np.asarray(indices)
    labels = data.labels[torch.as_tensor(idx, device=data.device)].cpu().numpy()
    return Outputs(logits.numpy(), labels, embeds.numpy())


@dataclass(frozen=True)
class Evaluation:
    """A model's outputs on the whole training and test arrays, read by split."""

    train: Outputs
    test: Outputs
    split: Split

    def part(self, name: str) -> Outputs:
        """Outputs of one split: one of `PARTS` (e.g. "forget_train", "forget_test")."""
        if name not in PARTS:
            raise ValueError(f"part={name!r} is not allowed: expected one of {', '.join(PARTS)}")
        array, attr = PARTS[name]
        outputs = self.train if array == "train" else self.test
        if attr is None:
            return outputs
        indices = getattr(self.split, attr)
        if indices is None:
            raise ValueError(f"part={name!r} exists for class tasks only")
        return outputs.take(indices)

    def accuracies(self) -> dict[str, float]:
        """forget_train, retain_train, val, test (+ forget_test, retain_test for class tasks), in [0, 1]."""
        keys = ACCURACY_KEYS if self.split.task == "class" else ACCURACY_KEYS[:4]
        return {k: self.part(k).accuracy() for k in keys}

    def arrays(self) -> dict[str, np.ndarray]:
        """The per-example outputs as named arrays; split indices are not stored (see split_sha256)."""
        return {f"{a}_{f}": getattr(getattr(self, a), f) for a in ("train", "test")
                for f in ("logits", "labels", "embeddings")}

    def save(self, path: str | Path) -> Path:
        """Cache the per-example outputs (`outputs.npz`)."""
        return atomic_save_npz(path, **self.arrays())

    @classmethod
    def load(cls, path: str | Path, split: Split) -> Evaluation:
        with np.load(path) as data:
            parts = {a: Outputs(data[f"{a}_logits"], data[f"{a}_labels"], data[f"{a}_embeddings"])
                     for a in ("train", "test")}
        return cls(parts["train"], parts["test"], split)


def evaluate(model: torch.nn.Module, train: DeviceData, test: DeviceData, split: Split, *,
             batch_size: int = 1024, amp: bool = True) -> Evaluation:
    """One inference pass over each array; every split is read off by index.

    Raises `FloatingPointError` when a logit or embedding is NaN or ±inf (a diverged model): its accuracies
    would look like numbers (argmax of NaN is class 0) and no attack or table could be trusted."""
    ev = Evaluation(model_outputs(model, train, batch_size=batch_size, amp=amp),
                    model_outputs(model, test, batch_size=batch_size, amp=amp), split)
    check_finite_outputs(ev)
    return ev


def check_finite_outputs(ev: Evaluation) -> None:
    """Raise `FloatingPointError` naming the array and how many of its values are NaN or ±inf."""
    for array in ("train", "test"):
        outputs = getattr(ev, array)
        for field in ("logits", "embeddings"):
            values = getattr(outputs, field)
            bad = int(values.size - np.count_nonzero(np.isfinite(values)))
            if bad:
                raise FloatingPointError(f"the model's {field} on the {array} array hold {bad} non-finite values "
                                         f"(NaN or inf) of {values.size}: the model diverged")


@torch.inference_mode()
def predict(model: torch.nn.Module, data: DeviceData, indices: np.ndarray | None = None, *,
            batch_size: int = 1024, amp: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (N, C) and embeddings z (N, d) as float32 CPU tensors, in `indices` order (default: all)."""
    was_training = model.training
    model.eval()
    indices = np.arange(len(data)) if indices is None else np.asarray(indices)
    logits, embeds = [], []
    with autocast(data.device, amp):
        for x, _ in data.batches(indices, batch_size):
            out, z = model(x)
            logits.append(out.float().cpu())
            embeds.append(z.float().cpu())
    model.train(was_training)
    if not logits:
        return torch.empty(0), torch.empty(0)
    return torch.cat(logits), torch.cat(embeds)


def accuracy(model: torch.nn.Module, data: DeviceData, indices: np.ndarray, *, batch_size: int = 1024,
             amp: bool = True) -> float:
    """Top-1 accuracy in [0, 1] on `indices` of `data` (NaN for an empty set)."""
    if len(indices) == 0:
        return float("nan")
    logits, _ = predict(model, data, indices, batch_size=batch_size, amp=amp)
    labels = data.labels[torch.as_tensor(np.asarray(indices), device=data.device)].cpu()
    return float((logits.argmax(1) == labels).float().mean())


def split_accuracies(model: torch.nn.Module, train: DeviceData, test: DeviceData, split: Split, *,
                     batch_size: int = 1024, amp: bool = True) -> dict[str, float]:
    """Accuracies on forget_train, retain_train, val, test (+ forget_test, retain_test for class tasks)."""
    return evaluate(model, train, test, split, batch_size=batch_size, amp=amp).accuracies()
