"""Evaluation: batched inference and accuracies on every split.

One inference pass over the training array and one over the test array; every split's accuracy is read
off those predictions by index (forget, retain and validation are all positions in the training array).
"""
from __future__ import annotations

import numpy as np
import torch

from .data import DeviceData, Split
from .runtime import autocast


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
    train_pred = predict(model, train, None, batch_size=batch_size, amp=amp)[0].argmax(1).numpy()
    test_pred = predict(model, test, None, batch_size=batch_size, amp=amp)[0].argmax(1).numpy()
    train_ok = train_pred == train.labels.cpu().numpy()
    test_ok = test_pred == test.labels.cpu().numpy()
    acc = {"forget_train": train_ok[split.forget].mean(), "retain_train": train_ok[split.retain].mean(),
           "val": train_ok[split.val].mean(), "test": test_ok.mean()}
    if split.task == "class":
        acc["forget_test"] = test_ok[split.test_forget].mean()
        acc["retain_test"] = test_ok[split.test_retain].mean()
    return {k: float(v) for k, v in acc.items()}
